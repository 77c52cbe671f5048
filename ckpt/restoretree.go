package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openDescriptions opens, in the restorer, every open file description the
// tree had: files and directories at their offsets, devices, terminals, and
// pipes refilled with the bytes that were in transit. Each process then
// takes copies of the ones it held (builder.openFiles). It also makes and
// fills one memfd per shared memory object.
func (r *restorer) openDescriptions() error {
	r.descs = map[string]int{}
	r.shm = map[string]int{}
	r.tmpfsKept = map[string]bool{}
	r.pipes = map[uint64][2]int{}
	inTransit := map[uint64]pipeData{}
	for _, p := range r.procs {
		for _, pd := range p.meta.Pipes {
			inTransit[pd.Ino] = pd
		}
	}
	ends := map[int]bool{} // pipe ends already used by a description
	// Inotify instances watching removed files come last: they watch
	// the files the first pass made again (inotifywatch.go). TCP
	// connections come after the other descriptors: a listener binds
	// its port as the program did, before the accepted ends that share
	// it (repairConnect binds those over any owner of the port; a
	// listener bound after them, SO_REUSEADDR or not, is refused
	// EADDRINUSE). The descriptors are in the order of their names in
	// /proc/PID/fd (10 before 6), not of their numbers.
	for pass := range 3 {
		for _, p := range r.procs {
			for _, f := range p.meta.Files {
				if f.Kind == fdClosed || f.Kind == fdSocket || p.closed[f.FD] {
					continue // sockets: restoreUnix, once the rest is open
				}
				conn := f.Kind == fdInet && f.Inet != nil && f.Inet.State == inetEstablished
				if _, ok := r.descs[f.Desc]; ok || watchesRemoved(f) != (pass == 2) || conn != (pass == 1) {
					continue
				}
				if err := r.tmpfsFirst(p, f); err != nil {
					return err
				}
				var fd int
				// As whoever restarts it, not as the process (privdrop.go).
				err := asFileUser(r.openCreds(p), func() error {
					var err error
					fd, err = r.openDescription(p, f, inTransit, ends)
					return err
				})
				if err != nil {
					return r.fail(p, err)
				}
				r.descs[f.Desc] = fd
			}
		}
	}
	if err := r.fifosOpen(); err != nil {
		return r.fail(r.root, err)
	}
	if err := r.finishInet(); err != nil {
		return r.fail(r.root, err)
	}
	if err := r.connectPendingTCP(); err != nil {
		return r.fail(r.root, err)
	}
	if err := r.restoreUnix(); err != nil {
		return r.fail(r.root, err)
	}
	for _, p := range r.procs {
		if err := r.makeShm(p); err != nil {
			return r.fail(p, err)
		}
	}
	return nil
}

// descFlags are the open file status flags F_SETFL can restore.
const descFlags = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME

func (r *restorer) openDescription(p *rproc, f fileDesc, inTransit map[uint64]pipeData, ends map[int]bool) (int, error) {
	switch f.Kind {
	case fdFifo:
		return r.openFifo(p, f)
	case fdInet:
		if f.Inet != nil && f.Inet.State == inetPending {
			return r.openPendingTCP(p, f)
		}
		return r.openInet(p, f)
	case fdPTY:
		return r.ptyDescription(p, f)
	case fdMqueue:
		return r.openMqueue(f) // mqueue.go
	case fdPipe:
		pp, ok := r.pipes[f.Ino]
		if !ok {
			var err error
			if pp, err = makePipe(inTransit[f.Ino]); err != nil {
				return -1, fmt.Errorf("pipe create failed: %w", err)
			}
			r.pipes[f.Ino] = pp
		}
		end := pp[1]
		if f.Flags&unix.O_ACCMODE == unix.O_RDONLY {
			end = pp[0]
		}
		fd := end
		if ends[end] {
			// A second description of the same end (reopened through
			// /proc/PID/fd): open the pipe anew.
			var err error
			fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", end), f.Flags&unix.O_ACCMODE|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, fmt.Errorf("fd %d: reopen pipe: %w", f.FD, err)
			}
		} else {
			ends[end] = true
			if fd, err := unix.Dup(end); err == nil {
				unix.CloseOnExec(fd)
				end = fd
			} else {
				return -1, err
			}
			fd = end
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, f.Flags&descFlags); err != nil {
			return -1, fmt.Errorf("fcntl %d %#x: %w", f.FD, f.Flags&descFlags, err)
		}
		return fd, nil
	case fdAnon:
		if f.Anon == nil {
			return -1, fmt.Errorf("fd %d: %s: no state saved", f.FD, f.Path)
		}
		a := f.Anon
		if a.Type == "pidfd" {
			return r.openPidfd(f)
		}
		if a.Type == "inotify" && r.opts.Force {
			// -F: a watched file that is gone loses its watch (as
			// the kernel drops a watch when its file is removed),
			// not the whole instance.
			b := *a
			b.Inotify = nil
			for _, w := range a.Inotify {
				if w.Inode != "" {
					b.Inotify = append(b.Inotify, w)
					continue
				}
				if _, err := os.Stat(w.Path); err != nil {
					r.warn("%s(%d) fd %d: inotify watch %d on %s dropped: %v (forced)", p.comm(), p.meta.PID, f.FD, w.WD, w.Path, err)
					continue
				}
				b.Inotify = append(b.Inotify, w)
			}
			a = &b
		}
		if a.Type == "inotify" {
			var err error
			var done func()
			if a, done, err = r.removedWatchPaths(a); err != nil {
				return -1, fmt.Errorf("fd %d: %s: %w", f.FD, f.Path, err)
			}
			defer done()
		}
		fd, err := openAnon(a, f.Flags)
		if err != nil {
			return -1, fmt.Errorf("fd %d: %s: %w", f.FD, f.Path, err)
		}
		if f.Anon.Type == "eventfd" {
			if err := fillEventfd(fd, f.Anon.Count); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("fd %d: eventfd counter: %w", f.FD, err)
			}
		}
		return fd, nil
	case fdTTY:
		path := f.Path
		if f.CTTY && r.ptySessionTTY(p) {
			return r.openDevTTYIn(p, f.Flags&(unix.O_ACCMODE|descFlags))
		}
		if f.CTTY {
			path = "/dev/tty"
			if p.ttyNull && r.opts.Terminal != nil {
				fd, err := unix.Dup(int(r.opts.Terminal.Fd()))
				if err == nil {
					unix.CloseOnExec(fd)
				}
				return fd, err
			}
			if p.ttyNull {
				path = "/dev/null"
			}
		}
		fd, err := unix.Open(path, f.Flags&(unix.O_ACCMODE|descFlags)|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", path, err)
		}
		if !f.CTTY {
			if err := checkOpened(fd, f, p.meta.Creds.UID[0]); err != nil {
				return -1, err
			}
		}
		return fd, nil
	}
	if f.Unlinked {
		return r.openUnlinked(p, f)
	}
	flags := f.Flags&^(unix.O_CREAT|unix.O_TRUNC|unix.O_EXCL) | unix.O_NOCTTY | unix.O_CLOEXEC
	fd, err := r.openFile(p, f, flags)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", f.Path, err)
	}
	if err := checkOpened(fd, f, p.meta.Creds.UID[0]); err != nil {
		return -1, err
	}
	r.replacedMeanwhile(p, f, fd)
	if (f.Kind == fdFile || f.Kind == fdDir) && f.Flags&unix.O_PATH == 0 {
		// (An O_PATH descriptor has no offset: lseek fails with EBADF.)
		if _, err := unix.Seek(fd, f.Pos, 0); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("lseek %s: %w", f.Path, err)
		}
	}
	return fd, nil
}

// replacedMeanwhile warns of a file found replaced only once opened: the
// check before the restart (restorer.check, sameFile) saw the file that
// was checkpointed, and another took its name since.
func (r *restorer) replacedMeanwhile(p *rproc, f fileDesc, fd int) {
	ref := f.File
	if f.Kind != fdFile || ref == nil || ref.Ino == 0 || f.Flags&unix.O_NOFOLLOW != 0 || r.replaced[ref.Path] {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Ino == ref.Ino && st.Dev == ref.Dev {
		return
	}
	r.noteReplaced(ref.Path)
	r.warn("%s(%d) fd %d: %v (while the restart ran)", p.comm(), p.meta.PID, f.FD, &FileChangedError{Path: ref.Path, Replaced: true})
}

// makePipe creates a pipe with the checkpointed capacity and the bytes
// that were in transit (CONVEX: "Any data that is in transit through a
// pipe will be stored and replaced").
func makePipe(pd pipeData) ([2]int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return p, err
	}
	if pd.Size > 0 {
		if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pd.Size); err != nil && len(pd.Data) > 65536 {
			unix.Close(p[0])
			unix.Close(p[1])
			return p, fmt.Errorf("set pipe size %d: %w", pd.Size, err)
		}
	}
	if err := writePackets(p[1], pd); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return p, fmt.Errorf("unable to restore pipe data buffer: %w", err)
	}
	return p, nil
}

// makeShm creates the memfds of the shared memory objects p maps, and
// fills them from p's image, or from the image of the member that saved
// the content (restarting a subtree without it).
func (r *restorer) makeShm(p *rproc) error {
	for _, rg := range p.meta.Regions {
		if rg.Kind == regionShmem {
			if err := r.makeShmRegion(p, rg); err != nil {
				return err
			}
		}
	}
	return nil
}

// shmSize is how large the shared memory object key is: as far as the
// tree's mappings of it reach.
func (r *restorer) shmSize(key string) int64 {
	var size int64
	for _, q := range r.procs {
		for _, rg := range q.meta.Regions {
			if rg.Kind == regionShmem && rg.Shm == key {
				size = max(size, int64(rg.Offset+rg.End-rg.Start))
			}
		}
	}
	return size
}

// makeShmRegion makes (or finds) the object of p's shared memory region
// rg and fills it, once for all the processes that map it.
func (r *restorer) makeShmRegion(p *rproc, rg region) error {
	size := r.shmSize(rg.Shm)
	if _, ok := r.shm[rg.Shm]; !ok {
		if fd, ok := r.unlinkedShm(rg.Shm); ok {
			// The mapped file is an unlinked file the tree has open:
			// mapped as it is (unlinked.go).
			r.shm[rg.Shm], r.tmpfsKept[rg.Shm] = fd, true
		} else if fd, ok := r.mappedUnlinked(p, rg, size); ok {
			r.shm[rg.Shm] = fd // filled below, from the image
		}
	}
	fd, ok := r.shm[rg.Shm]
	if !ok && rg.Tmpfs && rg.File != nil {
		var err error
		var kept bool
		if fd, kept, err = r.openTmpfsFile(p, rg, size); err != nil {
			return err
		}
		r.shm[rg.Shm] = fd
		if kept {
			r.tmpfsKept[rg.Shm] = true
		}
	} else if !ok {
		var err error
		var filled bool
		if fd, filled, err = r.newShmObject(rg, size); err != nil {
			return err
		}
		r.shm[rg.Shm] = fd
		if filled {
			r.tmpfsKept[rg.Shm] = true // content there: not refilled
		}
	}
	if r.tmpfsKept[rg.Shm] {
		return nil
	}
	src, srg := p, rg
	if len(rg.Extents) == 0 {
		if ok || rg.ShmImage == "" || r.shmFilled(rg.Shm) {
			if !ok && rg.ShmImage == "" {
				// All zero: nothing to fill.
				return sealShm(fd, rg)
			}
			return nil
		}
		// Its content is in an image outside the restored subtree.
		owner, err := readImage(findMember(filepath.Dir(p.img.Path), rg.ShmImage, p.meta.Checkpoint), r.opts.Key)
		if err != nil {
			return fmt.Errorf("shared memory %s: %w", rg.Shm, err)
		}
		if owner.meta.Checkpoint != p.meta.Checkpoint {
			return &ImageError{Path: owner.Path, Err: fmt.Errorf("%w: shared memory %s: image of another checkpoint (id %s) than %s (id %s)",
				ErrCorrupt, rg.Shm, owner.meta.Checkpoint, p.img.Path, p.meta.Checkpoint)}
		}
		if p.authentic && !owner.authentic {
			return &ImageError{Path: owner.Path, Err: fmt.Errorf("%w: shared memory %s of authentic %s: the image is not authentic", ErrCorrupt, rg.Shm, p.img.Path)}
		}
		found := false
		for _, orr := range owner.meta.Regions {
			if orr.Shm == rg.Shm && len(orr.Extents) > 0 {
				src, srg, found = &rproc{img: owner, meta: owner.meta}, orr, true
				break
			}
		}
		if !found {
			return fmt.Errorf("shared memory %s: not in %s", rg.Shm, rg.ShmImage)
		}
	}
	p, rg = src, srg
	img, err := openImage(p.img.Path)
	if err != nil {
		return err
	}
	mf := fdWriter(fd)
	for _, e := range rg.Extents {
		buf := make([]byte, e.Len)
		check := p.img.checkSegment(e)
		if p.img.comp != nil {
			err = p.img.streamSegment(img, e, check, func(at uint64, b []byte) error {
				copy(buf[at:], b)
				return nil
			})
		} else if _, err = img.ReadAt(buf, int64(p.img.dataStart+e.Off)); err == nil {
			check.h.write(buf)
		} else {
			err = fmt.Errorf("read failed: unable to fill region from chkpnt file: %w", err)
		}
		if err != nil {
			img.Close()
			return err
		}
		if err := check.verify(); err != nil {
			img.Close()
			return err
		}
		if err := writeNonZeroFile(mf, buf, int64(rg.Offset+e.Addr-rg.Start)); err != nil {
			img.Close()
			return fmt.Errorf("fill shared memory: %w", err)
		}
	}
	img.Close()
	if !ok {
		if err := sealShm(fd, rg); err != nil {
			return err
		}
	}
	return nil
}

// shmFilled reports whether a restored process holds the content of the
// shared memory object key itself.
func (r *restorer) shmFilled(key string) bool {
	for _, p := range r.procs {
		for _, rg := range p.meta.Regions {
			if rg.Shm == key && len(rg.Extents) > 0 {
				return true
			}
		}
	}
	return false
}

// joinGroups puts every process into its process group, now that every
// group leader exists.
func (r *restorer) joinGroups() error {
	byPID := map[int]*rproc{}
	for _, p := range r.procs {
		byPID[p.meta.PID] = p
	}
	for _, p := range r.procs {
		m := p.meta
		if m.Zombie != nil || m.PGID == m.PID || m.SID == m.PID {
			continue
		}
		leader, ok := byPID[m.PGID]
		if !ok || leader.meta.Zombie != nil {
			continue // a group outside the tree: the inherited one stays
		}
		if err := r.joinGroup(p, leader); err != nil {
			return r.fail(p, fmt.Errorf("setpgrp %d: %w", m.PGID, err))
		}
	}
	return nil
}

// pidInside is the process's pid as it sees itself.
func (p *rproc) pidInside() int {
	if len(p.levels) > 0 {
		return p.levels[len(p.levels)-1]
	}
	if p.meta.NSPID != 0 && p.b != nil {
		return p.wantPID()
	}
	return p.pid
}

// becomeZombie makes a restored zombie exit as it had: with its exit code,
// or killed by its signal. It stays a zombie until its parent reaps it.
func (r *restorer) becomeZombie(p *rproc) error {
	b := p.b
	defer b.mem.Close()
	ws := unix.WaitStatus(p.meta.Zombie.Status)
	var err error
	if ws.Exited() {
		_, err = b.call("exit_group", unix.SYS_EXIT_GROUP, uint64(ws.ExitStatus()))
	} else {
		sig := ws.Signal()
		zero := make([]byte, 32)
		addr, perr := b.put(scratchData, zero)
		if perr != nil {
			return perr
		}
		// No core file, default action, unblocked: then deliver it.
		b.call("prlimit64", unix.SYS_PRLIMIT64, 0, unix.RLIMIT_CORE, addr, 0)
		// SIGKILL and SIGSTOP have no action to set (EINVAL).
		if sig != unix.SIGKILL && sig != unix.SIGSTOP {
			if _, err := b.call("rt_sigaction", unix.SYS_RT_SIGACTION, uint64(sig), addr, 0, 8); err != nil {
				return fmt.Errorf("sigvec (%d): %w", sig, err)
			}
		}
		if err := ptraceSetSigMask(b.pid, 0); err != nil {
			return err
		}
		if err := ptraceCont(b.pid, sig); err != nil {
			return err
		}
		for err == nil {
			_, err = waitStop(b.pid)
		}
	}
	var exited *ExitedError
	if errors.As(err, &exited) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("did not exit")
	}
	return err
}

// flushSIGCHLD takes away the SIGCHLD its restored zombie children just
// sent, unless one was pending at checkpoint time.
func (b *builder) flushSIGCHLD() error {
	for _, ps := range b.p.meta.Signals.Pending {
		if len(ps.Info) >= 4 && binary.LittleEndian.Uint32(ps.Info) == uint32(unix.SIGCHLD) {
			return nil
		}
	}
	buf := make([]byte, 32)
	binary.LittleEndian.PutUint64(buf, 1<<(unix.SIGCHLD-1))
	addr, err := b.put(scratchData, buf) // sigset at +0, zero timeout at +16
	if err != nil {
		return err
	}
	if _, err := b.call("rt_sigtimedwait", unix.SYS_RT_SIGTIMEDWAIT, addr, 0, addr+16, 8); err != nil && errnoOf(err) != unix.EAGAIN {
		return fmt.Errorf("flush SIGCHLD: %w", err)
	}
	return nil
}

// takeTerminal hands the control terminal to the restored tree, as CONVEX
// restart does: the checkpointed terminal settings come back (not the
// speed, nor the window size: a different size is announced with
// SIGWINCH), and the root's process group becomes the foreground group.
// It returns what gives the terminal back to restart's own group once the
// root has ended, or nil.
func (r *restorer) takeTerminal() func() {
	root := r.root
	t := root.meta.Terminal
	if t == nil || root.ttyNull || root.meta.TTY == 0 {
		return nil
	}
	tty, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if cur, err := unix.IoctlGetTermios(tty, unix.TCGETS); err == nil {
		speed := uint32(unix.CBAUD | unix.CBAUDEX | unix.CIBAUD)
		tio := *cur
		tio.Iflag, tio.Oflag, tio.Lflag, tio.Line = t.Iflag, t.Oflag, t.Lflag, t.Line
		tio.Cflag = t.Cflag&^speed | cur.Cflag&speed
		copy(tio.Cc[:], t.Cc)
		if err := unix.IoctlSetTermios(tty, unix.TCSETS, &tio); err != nil {
			r.warn("%s(%d): tcsetattr: %v", root.comm(), root.meta.PID, err)
		}
	}
	if ws, err := unix.IoctlGetWinsize(tty, unix.TIOCGWINSZ); err == nil && (ws.Row != t.Rows || ws.Col != t.Cols) {
		r.info("%s(%d): using current window size: %2d rows %2d cols", root.comm(), root.meta.PID, ws.Row, ws.Col)
		r.winch = true
	}
	if root.meta.PGID != root.meta.PID {
		unix.Close(tty)
		return nil
	}
	own := unix.Getpgrp()
	withTTOUIgnored(func() {
		if err := unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, root.pid); err != nil {
			r.warn("tcsetpgrp %s(%d) pgrp %d: %v", root.comm(), root.meta.PID, root.pid, err)
		}
	})
	return func() {
		withTTOUIgnored(func() { unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, own) })
		unix.Close(tty)
	}
}

// withTTOUIgnored runs f with SIGTTOU ignored: a background process that
// changes the foreground group of its terminal gets one.
func withTTOUIgnored(f func()) {
	signal.Ignore(unix.SIGTTOU)
	defer signal.Reset(unix.SIGTTOU)
	f()
}

// asFileUser runs f (on this, the tracer's, OS thread) with the
// filesystem identity c (fsuid, fsgid and groups): the process's owner's,
// see restorer.fileCreds. Files
// are then opened with its rights, not root's: an image cannot be used to
// open, through a symbolic link put in place of one of its files, what its
// owner could not. Root's identity comes back afterwards. As another user
// than root, restart opens files with its own rights already.
func asFileUser(c creds, f func() error) error {
	if os.Geteuid() != 0 || (c.UID[3] == 0 && c.GID[3] == 0) {
		return f()
	}
	groups, err := unix.Getgroups()
	if err != nil {
		return err
	}
	// Raw system calls: they change this thread only, which is what we
	// want (the Go runtime's own Setgroups changes every thread).
	if err := unix.Setgroups(c.Groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	unix.Setfsgid(c.GID[3])
	unix.Setfsuid(c.UID[3])
	defer func() {
		unix.Setfsuid(0)
		unix.Setfsgid(0)
		unix.Setgroups(groups)
	}()
	return f()
}
