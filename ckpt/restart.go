package ckpt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RestartOptions are the options of Restart; the zero value is the default
// of the restart command.
type RestartOptions struct {
	Force    bool // restore despite errors: new PID if taken, missing files left closed (-F)
	CopyBack bool // copy files saved with chkpnt -C back to their places first (-C)
	// CopiesRequired: the copies of unlinked files beside the image are
	// part of it even with Force: one missing, or not the copy the image
	// recorded, fails the restart (the batch system then falls back to an
	// older generation) instead of leaving the descriptor closed.
	CopiesRequired bool
	Signal         syscall.Signal // sent when the restore is complete; 0: SIGCONT (-k)
	NoSignal       bool           // send no signal (-k 0)
	Stopped        bool           // leave the process stopped (-z)
	Logger         *slog.Logger   // warnings (Warn), -v details (Info), -X (Debug); nil: silent
	// PIDRetry is how long a taken PID is waited for, once a second;
	// 0 means the CONVEX 10 seconds.
	PIDRetry time.Duration
	// SignalAll sends Signal to every process of the tree, not just the
	// root (-K).
	SignalAll bool
	// Terminal, with Force and no control terminal, replaces the
	// descriptors that were the control terminal; nil: /dev/null.
	Terminal *os.File
	// Owner, if set, is the user the restore runs for: the image may not
	// ask for more than this user has (see Owner). nil: the image's own
	// credentials, as root restores them (a warning says when they are not
	// the image file's owner's).
	Owner *Owner
	// Key authenticates images: one whose HMAC verifies with Key is
	// restored as recorded, whatever Owner says; one that does not is
	// treated as the Owner's own file.
	Key []byte
	// Choices, if set, are the decisions of an interactive restart (-i),
	// by the pids and descriptors of the images: processes not restarted
	// (their restarted children become children of their nearest restarted
	// ancestor), descriptors left closed or opened on another path.
	Choices *Choices
	// Detach makes the root a child of the caller's parent instead of the
	// caller's (CONVEX restart -W: the restored process takes restart's
	// place), so whoever started the caller can wait for it. The caller
	// cannot Wait for it then. The caller's parent also sees one short-
	// lived extra child end, killed: the stub the root was cloned from.
	Detach bool
	// Lazy runs the tree as soon as its state is back and loads its
	// private anonymous memory as it touches it, verified segment by
	// segment (lazy.go); Process.Loaded tells when the image is not
	// needed any more. The caller must live until then.
	Lazy bool
	// Track leaves a dirty-page tracker in every restored process (not
	// with Lazy), as CheckpointOptions.Track does, noted beside each
	// image: the next checkpoint against the image is incremental
	// (retrack_linux_amd64.go).
	Track bool
}

// Process is a restarted process. Its parent is the caller of Restart, or
// with RestartOptions.Detach the caller's parent.
type Process struct {
	PID  int
	Comm string
	// Detached: the process is not the caller's child (Detach); Wait
	// fails. Stub is then the pid of the process it was cloned from, also
	// a child of the caller's parent, already ended: that parent reaps it.
	Detached bool
	Stub     int

	// giveBack, if set, makes the caller's process group the foreground
	// group of the terminal again once the process has ended (CONVEX).
	giveBack func()
	lazy     *lazyLoader // Lazy: loads the pages still missing
	// tracer, if set, is the thread the process was cloned from, kept
	// until Wait sees it end: the process has a parent-death signal,
	// which the kernel sends when that thread ends (attrs.go).
	tracer *tracer
}

// Wait waits for the process to end and returns its wait status. After a
// lazy restore it also waits for the loader, and returns its error when a
// segment failed its check (the tree was killed for it).
func (p *Process) Wait() (unix.WaitStatus, error) {
	if p.Detached {
		return 0, fmt.Errorf("wait for pid %d: %w", p.PID, ErrDetached)
	}
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(p.PID, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, os.NewSyscallError("wait4", err)
		}
		if ws.Exited() || ws.Signaled() {
			if p.giveBack != nil {
				p.giveBack()
			}
			if p.tracer != nil {
				p.tracer.stop()
				p.tracer = nil
			}
			return ws, p.LoadErr()
		}
	}
}

// Restart rebuilds the process saved in the image at path, and with it the
// tree of processes checkpointed under it, as a child of the caller, every
// process with its old PID. It returns once the tree runs (or is stopped,
// with Stopped). On error no part of the tree is left behind.
func Restart(ctx context.Context, path string, opts RestartOptions) (*Process, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(discardHandler{})
	}
	root, procs, err := loadTree(path, opts.Key)
	if err != nil {
		return nil, err
	}
	if opts.Choices != nil {
		if procs, err = applyChoices(root, procs, opts.Choices); err != nil {
			return nil, err
		}
	}
	r := &restorer{opts: opts, log: log, root: root, procs: procs, epollFilled: map[string]bool{}, locksDone: map[string]bool{}}
	defer r.closeCopies()
	for _, p := range procs {
		if err := r.checkOwner(p); err != nil {
			return nil, err
		}
	}
	// Every copy is checked before any goes back (copies.go).
	if err := r.checkCopies(); err != nil {
		return nil, err
	}
	if opts.CopyBack {
		// The copies go back first: they are what the checks look at.
		for _, p := range procs {
			if err := r.copyBack(p); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range procs {
		if err := r.check(p); err != nil {
			return nil, err
		}
	}
	if err := r.checkIPC(); err != nil {
		return nil, err
	}
	t := newTracer()
	var proc *Process
	err = t.do(func() error {
		var err error
		proc, err = r.run(ctx)
		return err
	})
	if err != nil {
		t.stop()
		return nil, err
	}
	if !root.keepsParentThread() {
		t.stop()
	} else {
		proc.tracer = t
	}
	return proc, nil
}

// rproc is one process of the tree being restored.
type rproc struct {
	img      *Image
	meta     *imageMeta
	parent   *rproc
	children []*rproc
	pid      int          // its pid now, as the restorer sees it
	closed   map[int]bool // descriptors restored closed
	ttyNull  bool         // terminal descriptors go to /dev/null (-F without a terminal)
	// levels: its pid now in each PID namespace from the root's down to
	// its own (pidns.go, rproc.pidIn).
	levels []int
	// authentic: the image's metadata carries a valid HMAC with
	// RestartOptions.Key, so it is restored as recorded whatever the Owner.
	authentic bool
	b         *builder
	cow       cowState   // memory shared with its parent (cowshare.go)
	tables    tableState // tables shared with its parent (sharedtables.go)
	// reapedGhost: it reaped the ghost leader of a child's session or
	// group (ghost.go), whose SIGCHLD must go.
	reapedGhost bool
}

func (p *rproc) comm() string { return p.meta.Comm }

// wantPID is the pid the process must get: inside its PID namespace if it
// was in one.
func (p *rproc) wantPID() int {
	if p.meta.NSPID != 0 {
		return p.meta.NSPID
	}
	return p.meta.PID
}

// maxTreeMembers bounds the processes of one restored tree: a batch job's
// tree is a few processes to a few hundred; 4096 leaves room for large
// ones while a hostile image cannot make the restorer read without end.
const maxTreeMembers = 4096

// loadTree reads the image at path and, recursively, the images of its
// children, which live in the same directory. With key, each image's
// metadata is authenticated (rproc.authentic). The tree must be one: no
// image twice (a cycle or a repeated child, compared by device and inode),
// at most maxTreeMembers, every member of the root's checkpoint.
func loadTree(path string, key []byte) (*rproc, []*rproc, error) {
	img, err := readImageChain(path, key)
	if err != nil {
		return nil, nil, err
	}
	root := &rproc{img: img, meta: img.meta, closed: map[int]bool{}, authentic: img.chainAuthentic()}
	procs := []*rproc{root}
	// Images by the file they were read from: one read twice is a cycle
	// or a child named twice.
	seen := map[[2]uint64]string{img.file: path}
	dir := filepath.Dir(path)
	for i := 0; i < len(procs); i++ {
		p := procs[i]
		for _, name := range p.meta.Children {
			if err := checkChildName(name); err != nil {
				return nil, nil, &ImageError{Path: p.img.Path, Err: err}
			}
			if len(procs) >= maxTreeMembers {
				return nil, nil, &ImageError{Path: path, Err: fmt.Errorf("%w: more than %d processes in the tree", ErrCorrupt, maxTreeMembers)}
			}
			cpath := findMember(dir, name, img.meta.Checkpoint) // copies.go
			cimg, err := readImageChain(cpath, key)
			if err != nil {
				return nil, nil, fmt.Errorf("member of the tree of %s: %w", path, err)
			}
			if prev, ok := seen[cimg.file]; ok {
				return nil, nil, &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: child %s is %s again: the tree has a cycle or names an image twice", ErrCorrupt, name, prev)}
			}
			seen[cimg.file] = cpath
			if cimg.meta.Checkpoint != img.meta.Checkpoint {
				return nil, nil, &ImageError{Path: cpath, Err: fmt.Errorf("%w: member of another checkpoint (id %s) than its root %s (id %s)",
					ErrCorrupt, cimg.meta.Checkpoint, path, img.meta.Checkpoint)}
			}
			c := &rproc{img: cimg, meta: cimg.meta, parent: p, closed: map[int]bool{}, authentic: cimg.chainAuthentic()}
			p.children = append(p.children, c)
			procs = append(procs, c)
		}
	}
	return root, procs, nil
}

type restorer struct {
	// firstFD: the first holder of each description (fdowner.go).
	firstFD map[string]firstHolder
	opts    RestartOptions
	log     *slog.Logger
	root    *rproc
	procs   []*rproc // parents before children
	stub    int      // the process the root was cloned from (startStub)
	// setters: per PID namespace, what sets its last pid (lastpid.go).
	setters map[uint64]*pidSetter

	descs map[string]int    // open file descriptions, opened by the restorer
	shm   map[string]int    // shared memory objects (memfds)
	pipes map[uint64][2]int // pipes by inode
	inet  *inetRestore      // TCP and UDP sockets (inetsock.go)
	ipc   *ipcRestore       // SysV IPC objects (sysvrestore.go)
	// unlinked: the unlinked files made again, by inode (unlinked.go).
	unlinked map[string]int
	lazy     *lazyLoader // RestartOptions.Lazy: serves the tree's faults
	// tmpfsKept: shared memory objects whose tmpfs file was still there
	// (tmpfsmap.go): mapped as they are, not refilled.
	tmpfsKept map[string]bool
	created   []int  // pids created so far, for the all-or-nothing cleanup
	pidfd     uint64 // our pidfd, inherited by the whole tree at this number
	rootLevel int    // level of the root's PID namespace below ours
	// netns: the network namespaces made, by their inode at the
	// checkpoint (netns.go).
	netns map[uint64]int
	// userNetNS: the user namespaces made with a network namespace in
	// them, by the network namespace's inode (usernsnet.go).
	userNetNS map[uint64]int
	// replaced: the files warned of as replaced since the checkpoint.
	replaced map[string]bool
	winch    bool             // the terminal's window size changed: send SIGWINCH
	ptys     map[int]*ptyOpen // pty pairs of the tree by old number (ptyrestore.go)
	tcpWait  []pendingConn    // clients of connections waiting in a listener (tcppending.go)

	fifos       map[string]*fifoHold // named pipes being opened, by file
	epollFilled map[string]bool      // epoll descriptions whose interest list is back
	locksDone   map[string]bool      // descriptions whose flock/OFD locks are back
	cow         cowRestore           // cowshare.go
	// copies: the copies beside the images checked before the restore
	// (checkCopies), open until makeUnlinked or copyBack reads them
	// (copies.go).
	copies map[string]*os.File
}

func (r *restorer) warn(format string, args ...any) { r.log.Warn(fmt.Sprintf(format, args...)) }
func (r *restorer) info(format string, args ...any) { r.log.Info(fmt.Sprintf(format, args...)) }

func (r *restorer) fail(p *rproc, err error) error {
	return &RestoreError{Comm: p.comm(), PID: p.meta.PID, Err: err}
}

// forceable is an error that -F turns into a warning.
func (r *restorer) forceable(err error) error {
	if r.opts.Force {
		r.warn("%v (forced)", err)
		return nil
	}
	return err
}

// check runs the CONVEX restart checks before anything is started.
func (r *restorer) check(p *rproc) error {
	m := p.meta
	if m.Zombie != nil {
		return nil
	}
	if err := r.checkSecurity(p); err != nil {
		return err
	}
	if err := r.checkAttrs(p); err != nil {
		return err
	}
	fp := localFingerprint(nil)
	have := map[string]bool{}
	for _, f := range fp.CPUFlags {
		have[f] = true
	}
	var missing []string
	for _, f := range m.Fingerprint.CPUFlags {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		err := fmt.Errorf("%s: contains instructions unsupported by this machine's architecture (%v): %w", p.img.Path, missing, ErrIncompatible)
		if e := r.forceable(err); e != nil {
			return e
		}
	}
	if m.Fingerprint.Kernel != fp.Kernel {
		r.info("%s: checkpointed under kernel %s, restarting under %s", p.img.Path, m.Fingerprint.Kernel, fp.Kernel)
	}
	if m.VDSOSum != "" {
		if sum, err := selfVDSOSum(); err == nil && sum != m.VDSOSum {
			err := fmt.Errorf("%s: the vDSO of this kernel differs from the checkpointed one (kernel %s, now %s): %w",
				p.img.Path, m.Fingerprint.Kernel, fp.Kernel, ErrIncompatible)
			if e := r.forceable(err); e != nil {
				return e
			}
		}
	}
	if _, err := os.Stat(m.Exe.Path); err != nil {
		return r.fail(p, fmt.Errorf("executable: %w", err))
	}
	for _, rg := range m.Regions {
		if rg.File == nil || (rg.Kind != regionFile && rg.Kind != regionShared) {
			continue
		}
		if err := sameFile(rg.File); err != nil {
			var fc *FileChangedError
			if !errors.As(err, &fc) {
				err = fmt.Errorf("%s: %w", rg.File.Path, err)
			}
			if fc != nil && fc.Replaced && r.exceedsOwner(p) {
				// It maps its files with its own rights (a set-uid
				// program's, root's): another file at the path is never
				// mapped for it, forced or not (privdrop.go).
				return r.fail(p, fmt.Errorf("map file %w: it ran with more rights than uid %d, who may have replaced it", err, r.opts.Owner.UID))
			}
			if e := r.forceable(r.fail(p, fmt.Errorf("map file %w", err))); e != nil {
				return e
			}
		}
	}
	if fi, err := os.Stat(m.Cwd); err != nil || !fi.IsDir() {
		if err == nil {
			err = syscall.ENOTDIR
		}
		return r.fail(p, fmt.Errorf("chdir %s: %w", m.Cwd, err))
	}
	for _, f := range m.Files {
		switch f.Kind {
		case fdClosed:
			if f.Reason == reasonIgnored {
				r.info("%s(%d) fd %d %s: %s, restored closed", p.comm(), m.PID, f.FD, f.Path, f.Reason)
			} else {
				r.warn("%s(%d) fd %d %s: was not checkpointable (%s), restored closed", p.comm(), m.PID, f.FD, f.Path, f.Reason)
			}
			p.closed[f.FD] = true
		case fdTTY:
			if !f.CTTY {
				// Another terminal than the control terminal: restored
				// as it was (CONVEX), but never a pty slave by its number.
				if err := refuseTerminal(f); err != nil {
					if e := r.forceable(r.fail(p, err)); e != nil {
						return e
					}
					p.closed[f.FD] = true
					continue
				}
				if _, err := os.Stat(f.Path); err != nil {
					if e := r.forceable(r.fail(p, fmt.Errorf("open %s: %w", f.Path, err))); e != nil {
						return e
					}
					p.closed[f.FD] = true
				}
				continue
			}
			if r.ptySessionTTY(p) {
				continue // the process opens it (ptydevtty.go)
			}
			if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
				tty.Close()
				continue
			}
			err := r.fail(p, fmt.Errorf("fd %d: %s was its control terminal and restart has no control terminal (use -F to point it to /dev/null)", f.FD, f.Path))
			if e := r.forceable(err); e != nil {
				return e
			}
			p.ttyNull = true
		case fdFile, fdDir, fdDevice:
			if f.Unlinked {
				if p.closed[f.FD] {
					continue // its copy refused, forced (checkCopies)
				}
				if err := r.checkUnlinkedCopy(p, f); err != nil {
					if e := r.forceable(r.fail(p, fmt.Errorf("fd %d: the content of unlinked file %s: %w", f.FD, f.Path, err))); e != nil {
						return e
					}
					p.closed[f.FD] = true
				}
				continue
			}
			stat := os.Stat
			if f.Flags&unix.O_NOFOLLOW != 0 {
				stat = os.Lstat // the symlink itself (O_PATH|O_NOFOLLOW)
			}
			if _, err := stat(f.Path); err != nil {
				if _, _, ok := r.tmpfsObject(f); ok && errors.Is(err, os.ErrNotExist) {
					continue // made again with its mapping's content (tmpfsFirst)
				}
				if e := r.forceable(r.fail(p, fmt.Errorf("open %s: %w", f.Path, errors.Unwrap(err)))); e != nil {
					return e
				}
				r.warn("%s(%d) fd %d %s: missing, restored closed", p.comm(), m.PID, f.FD, f.Path)
				p.closed[f.FD] = true
				continue
			}
			if err := r.checkOpenable(p, f); err != nil {
				if e := r.forceable(err); e != nil {
					return e
				}
				p.closed[f.FD] = true
				continue
			}
			if f.Kind == fdFile && f.File != nil && f.Flags&unix.O_NOFOLLOW == 0 {
				if err := sameFile(f.File); err != nil {
					// A warning, as CONVEX gives for a file changed since
					// the checkpoint; the restart goes on.
					r.warn("%s(%d) fd %d: %v", p.comm(), m.PID, f.FD, err)
					if fc, ok := err.(*FileChangedError); ok && fc.Replaced {
						r.noteReplaced(f.File.Path)
					}
				}
			}
		}
	}
	return nil
}

// sameFile tells whether the file at ref.Path still is what was
// checkpointed: the same file (device and inode: a file restored from a
// backup, or copied over by a rename, is another, which a program such as
// SQLite notices), and unchanged (size and modification time).
func sameFile(ref *fileRef) error {
	var st unix.Stat_t
	if err := unix.Stat(ref.Path, &st); err != nil {
		return err
	}
	if ref.Ino != 0 && (st.Ino != ref.Ino || st.Dev != ref.Dev) {
		return &FileChangedError{Path: ref.Path, Replaced: true}
	}
	if st.Size != ref.Size || st.Mtim.Nano() != ref.Mtime {
		return &FileChangedError{Path: ref.Path}
	}
	return nil
}

// noteReplaced records that the restart warned of path replaced.
func (r *restorer) noteReplaced(path string) {
	if r.replaced == nil {
		r.replaced = map[string]bool{}
	}
	r.replaced[path] = true
}

// copyBack writes the copies of p's files back, as the owner of p's files
// (see restorer.fileCreds).
func (r *restorer) copyBack(p *rproc) error {
	runtime.LockOSThread() // asFileUser changes this thread's identity only
	defer runtime.UnlockOSThread()
	return asFileUser(r.fileCreds(p), func() error { return r.copyBackFiles(p) })
}

func (r *restorer) copyBackFiles(p *rproc) error {
	for _, f := range p.meta.Files {
		if f.Copy == "" || f.Unlinked {
			continue
		}
		src, err := r.takeCopy(p, f) // checked: the image's own (copies.go)
		if err != nil {
			return r.fail(p, fmt.Errorf("file copy from %s to %s failed: %w", f.Copy, f.Path, err))
		}
		mode := os.FileMode(0o644)
		if f.File != nil {
			mode = os.FileMode(f.File.Mode & 0o7777)
		}
		err = writeFileAtomic(f.Path, src, mode, true)
		src.Close()
		if err != nil {
			return r.fail(p, fmt.Errorf("file copy from %s to %s failed: %w", f.Copy, f.Path, err))
		}
		if f.File != nil {
			// The copy is the checkpointed content: give it the old mtime
			// so the changed-file check does not complain.
			t := time.Unix(0, f.File.Mtime)
			os.Chtimes(f.Path, t, t)
		}
		r.info("%s(%d) fd %d: copied %s back to %s", p.comm(), p.meta.PID, f.FD, f.Copy, f.Path)
	}
	return nil
}

// run does the restore on the tracer thread: create every process (each
// cloned from its parent, so every parent/child link, session and process
// group comes back), then rebuild each, then let them all go.
func (r *restorer) run(ctx context.Context) (proc *Process, retErr error) {
	defer r.closeAll()
	defer func() {
		if retErr != nil {
			// All or nothing: every process created so far goes.
			r.killAll()
			if r.lazy != nil {
				r.lazy.stop()
				if r.lazy.err != nil {
					// A segment failed its check while the restore went on.
					retErr = r.lazy.err
				}
			}
			reapAll(r.created, 10*time.Second)
			r.undoIPC()
		}
	}()
	stopProf.take() // what came before this restore
	stage := stopProf.stages()
	defer func() {
		if p := stopProf.take(); p != "" {
			r.log.Debug("restore, count/total: " + p)
		}
	}()
	if err := r.openPTYs(); err != nil {
		return nil, err
	}
	r.planTables()
	r.planCow(ctx)
	if err := r.createRoot(ctx); err != nil {
		return nil, err
	}
	for _, p := range r.procs {
		if p.cow.late {
			continue // created from its parent's build (cloneHeirs)
		}
		if err := r.createChildren(ctx, p); err != nil {
			return nil, err
		}
	}
	stage("create")
	if err := r.createIPC(); err != nil {
		return nil, err
	}
	if err := r.openDescriptions(); err != nil {
		return nil, err
	}
	r.closePTYControl()
	for _, p := range r.procs {
		if p.meta.Zombie != nil {
			continue
		}
		if err := p.b.build(); err != nil {
			return nil, r.fail(p, err)
		}
	}
	stage("build")
	if err := r.joinGroups(); err != nil {
		return nil, err
	}
	if err := r.restoreAutogroups(); err != nil { // procmisc.go
		return nil, err
	}
	if err := r.finishIPC(); err != nil {
		return nil, r.fail(r.root, err)
	}
	if err := r.ptyForeground(); err != nil {
		return nil, err
	}
	if err := r.restoreSignals(); err != nil {
		return nil, err
	}
	// Zombies exit now that their parents are built (their SIGCHLD was
	// flushed from the parents; the parents' own pending signals are
	// queued after).
	for _, p := range r.procs {
		if p.meta.Zombie != nil {
			if err := r.becomeZombie(p); err != nil {
				return nil, r.fail(p, err)
			}
		}
	}
	for _, p := range r.procs {
		if p.b != nil && p.meta.Zombie == nil && (p.b.hasZombieChild() || p.reapedGhost) {
			if err := p.b.flushSIGCHLD(); err != nil {
				return nil, r.fail(p, err)
			}
		}
	}
	if r.opts.Track && r.lazy == nil {
		// Last: the memory is the image's (retrack_linux_amd64.go).
		for _, p := range r.procs {
			if p.b == nil || p.meta.Zombie != nil {
				continue
			}
			if err := p.b.armTracker(r.opts.Key); err != nil {
				r.log.Info(fmt.Sprintf("%s(%d): no dirty-page tracker: %v", p.comm(), p.pid, err))
			}
		}
	}
	stage("signals")
	r.closeSetters() // lastpid.go: no helper is left to the tree
	giveBack := r.takeTerminal()
	var stopping []*rproc
	for i := len(r.procs) - 1; i >= 0; i-- {
		p := r.procs[i]
		if p.meta.Zombie != nil {
			continue
		}
		sig := r.opts.Signal
		switch {
		case r.opts.Stopped:
			sig = unix.SIGSTOP
		case r.opts.NoSignal:
			sig = 0
		case sig == 0:
			sig = unix.SIGCONT
		case p != r.root && !r.opts.SignalAll:
			sig = unix.SIGCONT
		}
		if p == r.root && r.winch {
			// Queued while it is still stopped: handled before it runs
			// on, so it never reads the terminal with the old size.
			unix.Kill(p.pid, unix.SIGWINCH)
		}
		if err := p.b.collectStops(); err != nil {
			return nil, r.fail(p, err)
		}
		sig = p.finishSignal(sig)
		if err := p.b.finish(sig); err != nil {
			return nil, r.fail(p, err)
		}
		if sig == unix.SIGSTOP {
			stopping = append(stopping, p)
		}
	}
	// SIGSTOP is taken as each process runs on after the detach: the
	// restart reports them stopped only once they are (a caller that read
	// the state right after saw a restart -z's process running).
	for _, p := range stopping {
		if err := waitStopped(p.pid); err != nil {
			return nil, r.fail(p, err)
		}
	}
	stage("finish")
	if r.lazy != nil {
		r.lazy.seal(r.created)
	}
	return &Process{PID: r.root.pid, Comm: r.root.comm(), Detached: r.opts.Detach, Stub: r.stub, giveBack: giveBack, lazy: r.lazy}, nil
}

func (r *restorer) closeAll() {
	for _, fd := range r.descs {
		unix.Close(fd)
	}
	for _, fd := range r.shm {
		unix.Close(fd)
	}
	for _, fd := range r.unlinked {
		unix.Close(fd)
	}
	for _, p := range r.pipes {
		unix.Close(p[0])
		unix.Close(p[1])
	}
	r.closePTYs()
	r.closeSetters() // lastpid.go
	r.closeNetNS()
}

// createRoot starts the stub and clones the root out of it, with its
// checkpointed PID (see startStub). The clone uses CLONE_PARENT so its
// parent is the stub's: us, the restart process, or with Detach our own
// parent. A root that was the init of a
// PID namespace comes back as the init (pid 1) of a fresh one.
func (r *restorer) createRoot(ctx context.Context) error {
	root := r.root
	cmd, err := startStub(root.meta.Exe.Path, root.comm(), r.opts.Detach)
	if cmd == nil {
		return r.fail(root, fmt.Errorf("fork: %w", err))
	}
	stub := cmd.Process.Pid
	r.stub = stub
	defer func() {
		unix.Kill(stub, unix.SIGKILL)
		for {
			if _, err := waitStop(stub); err != nil {
				break
			}
		}
		cmd.Process.Release()
	}()
	if err != nil {
		return r.fail(root, fmt.Errorf("fork: %w", err))
	}
	if err := ptraceSetOptions(stub, restoreTraceOptions); err != nil {
		return err
	}
	sb, err := newBuilder(r, &rproc{meta: root.meta, img: root.img}, stub, 0)
	if err != nil {
		return r.fail(root, err)
	}
	defer sb.mem.Close()
	// A pidfd of ours, opened here in our PID namespace and inherited by
	// every process of the tree: through it each takes its descriptors
	// (pidfd_getfd), even from inside a new PID namespace where our pid
	// means nothing.
	pidfd, err := sb.call("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(os.Getpid()), 0)
	if err != nil {
		return r.fail(root, fmt.Errorf("pidfd_open: %w", err))
	}
	r.pidfd = pidfd
	flags := uint64(unix.CLONE_PARENT)
	if root.meta.NSPID == 1 {
		flags |= unix.CLONE_NEWPID | unix.CLONE_NEWNS
	}
	if root.meta.IPC != nil && root.meta.IPC.OwnNS {
		// Its SysV objects come back in a namespace of their own,
		// where their ids are free (sysvrestore.go).
		flags |= unix.CLONE_NEWIPC
	}
	pid, err := r.clone(ctx, sb, root, flags)
	if err != nil {
		return err
	}
	root.pid = pid
	root.b, err = newBuilder(r, root, pid, sb.scratch)
	if err != nil {
		return r.fail(root, err)
	}
	return nil
}

// createChildren sets up p's session and process group, then clones each
// of its children out of it.
func (r *restorer) createChildren(ctx context.Context, p *rproc) error {
	if p.meta.Zombie != nil {
		return nil
	}
	m := p.meta
	switch {
	case m.SID == m.PID && (p != r.root || m.TTY == 0 || r.ptyCTTY(p)):
		// A session leader (the root keeps restart's session, and its
		// terminal, if it had a terminal itself, not a pty of the tree).
		if _, err := p.b.call("setsid", unix.SYS_SETSID); err != nil {
			return r.fail(p, fmt.Errorf("setsid: %w", err))
		}
		if err := r.takePTYControl(p); err != nil {
			return err
		}
	case m.PGID == m.PID:
		if _, err := p.b.call("setpgid", unix.SYS_SETPGID, 0, 0); err != nil {
			return r.fail(p, fmt.Errorf("setpgrp to %d: %w", m.PGID, err))
		}
	}
	if p == r.root && m.NSPID == 1 {
		// The /proc of its new PID namespace, before a child copies
		// the mount namespace (restoreMountNS).
		if err := p.b.mountProc(); err != nil {
			return r.fail(p, err)
		}
	}
	if err := r.restoreMountNS(p); err != nil { // mountns.go
		return err
	}
	if err := r.restoreTimeNS(p); err != nil { // timens.go
		return err
	}
	if err := r.restoreNetNS(p); err != nil { // netns.go
		return err
	}
	if err := r.restoreCgroupNS(p); err != nil { // cgroupns.go
		return err
	}
	if err := r.mountNSProc(p); err != nil { // pidns.go
		return err
	}
	before, after := pidNSOrder(p, p.children) // pidns.go
	for i, cs := range [][]*rproc{before, after} {
		if i == 1 {
			if err := r.unsharePIDNS(p); err != nil {
				return err
			}
		}
		cs, err := r.cloneGhosted(ctx, p, cs, i == 1) // ghost.go
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.cow.heir {
				continue // cloned once p's memory is built (cloneHeirs)
			}
			pid, err := r.clone(ctx, p.b, c, c.tableFlags()|c.nsCloneFlags())
			if err != nil {
				return err
			}
			c.pid = pid
			if c.b, err = newBuilder(r, c, pid, p.b.scratch); err != nil {
				return r.fail(c, err)
			}
		}
	}
	return nil
}

// clone makes the process traced by b clone a new process that gets c's
// pid, and returns the new process's pid as we see it. A pid in use is
// retried once a second (CONVEX), then an error; with Force the process
// gets a new pid.
func (r *restorer) clone(ctx context.Context, b *builder, c *rproc, flags uint64) (int, error) {
	want := c.wantPID()
	if flags&unix.CLONE_NEWPID != 0 {
		want = 1
	}
	tids := c.setTIDs(want)
	// struct clone_args (CLONE_ARGS_SIZE_VER2), then the set_tid array.
	args := make([]byte, 88+4*len(tids))
	le := binary.LittleEndian
	le.PutUint64(args[0:], flags)
	if flags&unix.CLONE_PARENT == 0 {
		// exit_signal: SIGCHLD but for a child made by clone with
		// another (or none), which its parent waits for with __WALL or
		// __WCLONE. (With CLONE_PARENT the kernel takes the parent's.)
		sig := uint64(unix.SIGCHLD)
		if c.meta.ExitSignal != nil {
			sig = uint64(*c.meta.ExitSignal)
		}
		le.PutUint64(args[32:], sig)
	}
	tidSet := false
	setTid := func(on bool) {
		tidSet = on
		if on {
			le.PutUint64(args[64:], b.scratch+scratchData+88)
			le.PutUint64(args[72:], uint64(len(tids)))
			for i, t := range tids {
				le.PutUint32(args[88+4*i:], uint32(t))
			}
		} else {
			le.PutUint64(args[64:], 0)
			le.PutUint64(args[72:], 0)
		}
	}
	setTid(true)
	var child int
	b.t.onEvent = func(ev int) error {
		if ev == unix.PTRACE_EVENT_CLONE || ev == unix.PTRACE_EVENT_FORK {
			msg, err := ptraceGetEventMsg(b.pid)
			child = int(msg)
			return err
		}
		return nil
	}
	defer func() { b.t.onEvent = nil }()
	retry := r.opts.PIDRetry
	if retry == 0 {
		retry = 10 * time.Second
	}
	deadline := time.Now().Add(retry)
	var said time.Time
	for {
		addr, err := b.put(scratchData, args)
		if err != nil {
			return 0, err
		}
		child = 0
		_, err = b.call("clone3", unix.SYS_CLONE3, addr, 88)
		if err == nil {
			break
		}
		switch errnoOf(err) {
		case unix.EEXIST:
			// The pid taken is ours to name when it is in our namespace:
			// a member of a namespace made in the tree (pidns.go) can
			// only collide there, the namespaces below are new.
			taken, ours := want, c.meta.NSPID == 0
			if len(c.meta.NSPids) > 0 && r.root.meta.NSPID == 0 {
				taken, ours = c.meta.NSPids[0], true
			}
			if r.opts.Force {
				r.warn("pid %d for %s in use; restarting under a new pid (forced)", taken, c.comm())
				setTid(false)
				continue
			}
			if time.Now().After(deadline) {
				e := &PIDInUseError{PID: taken, Comm: c.comm()}
				if ours {
					e.Holder = pidHolder(taken)
				}
				return 0, e
			}
			// Tried again every 20 ms (a process killed just before,
			// the usual case, frees its pid once reaped), said once a
			// second (CONVEX).
			if time.Since(said) >= time.Second {
				r.info("pid %d for %s in use, retrying", taken, c.comm())
				said = time.Now()
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		case unix.EPERM:
			if !tidSet {
				break // not the pid: the namespaces asked for
			}
			if r.opts.Force {
				r.warn("not allowed to choose pid %d for %s; restarting under a new pid (forced)", want, c.comm())
				setTid(false)
				continue
			}
			return 0, r.fail(c, fmt.Errorf("setpid: only root may restore a process under its old pid %d (use -F for a new pid): %w", want, err))
		}
		return 0, r.fail(c, fmt.Errorf("fork: failed for %s(%d): %w", c.comm(), want, err))
	}
	if child <= 0 {
		return 0, r.fail(c, errors.New("fork: the new process was not reported"))
	}
	r.created = append(r.created, child)
	// The clone starts traced by us, stopped.
	if _, err := waitStop(child); err != nil {
		return 0, r.fail(c, fmt.Errorf("fork: %w", err))
	}
	if err := r.noteLevels(c, child); err != nil {
		return 0, r.fail(c, err)
	}
	if c.pidInside() != want {
		r.info("%s(%d) restarted under pid %d", c.comm(), c.meta.PID, c.pidInside())
	}
	return child, nil
}

// reapAll collects the exit of every traced pid, giving up after timeout
// (a zombie whose exit we saw already is its parent's to reap).
// It returns the pids it did not collect.
func reapAll(pids []int, timeout time.Duration) (left []int) {
	deadline := time.Now().Add(timeout)
	left = append([]int(nil), pids...)
	for len(left) > 0 && time.Now().Before(deadline) {
		var still []int
		for _, pid := range left {
			var ws unix.WaitStatus
			got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
			switch {
			case err != nil && err != unix.EINTR:
				// not ours to wait for (any more)
			case got == pid && (ws.Exited() || ws.Signaled()):
			default:
				still = append(still, pid)
			}
		}
		left = still
		if len(left) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return left
}

// vdsoSyscall finds a syscall instruction in the vDSO of pid.
func vdsoSyscall(pid int, mem *os.File) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return 0, err
	}
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		b := make([]byte, m.End-m.Start)
		if _, err := mem.ReadAt(b, int64(m.Start)); err != nil {
			return 0, err
		}
		if i := indexSyscall(b); i >= 0 {
			return m.Start + uint64(i), nil
		}
	}
	return 0, fmt.Errorf("pid %d: no syscall instruction in the vdso", pid)
}

func selfVDSOSum() (string, error) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return "", err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return "", err
	}
	for _, m := range maps {
		if m.Path == "[vdso]" {
			f, err := os.Open("/proc/self/mem")
			if err != nil {
				return "", err
			}
			defer f.Close()
			b := make([]byte, m.End-m.Start)
			if _, err := f.ReadAt(b, int64(m.Start)); err != nil && err != io.EOF {
				return "", err
			}
			return vdsoSum(b), nil
		}
	}
	return "", errors.New("no vdso")
}

// sortedRegions returns the regions ordered by address.
func sortedRegions(rs []region) []region {
	out := append([]region(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
