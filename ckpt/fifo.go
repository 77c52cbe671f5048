package ckpt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Named pipes (FIFOs). At checkpoint every end must be in the tree (a
// process outside holding the FIFO is CONVEX's pipe error); the bytes in
// transit are copied with tee(2), which works on FIFOs as on pipes, through
// a read end: one of the tree's, or one the engine opens itself (O_NONBLOCK,
// so it never waits for a writer) when the tree only writes. At restart the
// FIFO is made again where it was if its path is gone (and removed again
// once every end is open, if it had been unlinked); the restorer holds it
// open for reading and writing while it opens the tree's ends, so no open
// waits for the other side, and refills it through that hold.

func fifoKey(f fileDesc) string {
	return fmt.Sprintf("%d:%d", f.File.Dev, f.File.Ino)
}

// linkFifos checks who else holds each FIFO of the tree and saves the bytes
// in transit.
func (t *dumpTree) linkFifos() error {
	fifos := map[string][]fdRef{}
	var keys []string
	for _, d := range t.procs {
		for i := range d.meta.Files {
			if f := &d.meta.Files[i]; f.Kind == fdFifo && f.File != nil {
				k := fifoKey(*f)
				if fifos[k] == nil {
					keys = append(keys, k)
				}
				fifos[k] = append(fifos[k], fdRef{d, i})
			}
		}
	}
	if len(fifos) == 0 {
		return nil
	}
	outside := t.fifosOutside(fifos)
	for _, k := range keys {
		refs := fifos[k]
		if who := outside[k]; who != "" {
			for _, r := range refs {
				f := r.file()
				msg := fmt.Sprintf(": fifo %s is also open in %s, outside of selected processes", f.File.Path, who)
				if err := r.d.uncheckpointable(f.FD, msg); err != nil {
					return err
				}
				f.Kind, f.Reason = fdClosed, strings.TrimPrefix(msg, ": ")
			}
			continue
		}
		if err := saveFifo(refs); err != nil {
			return err
		}
	}
	return nil
}

// fifosOutside names, for each FIFO, a process outside the tree that holds
// it open ("comm(pid) fd N").
func (t *dumpTree) fifosOutside(fifos map[string][]fdRef) map[string]string {
	out := map[string]string{}
	t.outsideFDs(func(pid int, fd string) {
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, fd), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return
		}
		k := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
		if fifos[k] != nil && out[k] == "" {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			out[k] = fmt.Sprintf("%s(%d) fd %s", strings.TrimSpace(string(comm)), pid, fd)
		}
	})
	return out
}

// saveFifo copies the bytes in a FIFO onto its first descriptor.
func saveFifo(refs []fdRef) error {
	r := refs[0]
	for _, x := range refs {
		if x.file().Flags&unix.O_ACCMODE != unix.O_WRONLY {
			r = x
			break
		}
	}
	f := r.file()
	var src int
	var err error
	if f.Flags&unix.O_ACCMODE != unix.O_WRONLY {
		src, err = fdCopy(r.d.pid, f.FD)
	} else {
		// The tree only writes: a read end of our own, which never waits.
		src, err = unix.Open(fmt.Sprintf("/proc/%d/fd/%d", r.d.pid, f.FD), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d: fifo %s: %w", r.d.comm, r.d.pid, f.FD, f.File.Path, err)
	}
	defer unix.Close(src)
	pd, err := teeAll(src)
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d: fifo %s drain: %w", r.d.comm, r.d.pid, f.FD, f.File.Path, err)
	}
	pd.packetMode(refs)
	refs[0].file().Fifo = &pd
	return nil
}

// teeAll copies the bytes buffered in pipe or FIFO src without consuming
// them.
func teeAll(src int) (pipeData, error) {
	size, err := unix.FcntlInt(uintptr(src), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return pipeData{}, err
	}
	pd := pipeData{Size: size}
	n, err := unix.IoctlGetInt(src, unix.TIOCINQ)
	if err != nil || n == 0 {
		return pd, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return pd, err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, size); err != nil {
		return pd, err
	}
	got, err := unix.Tee(src, p[1], n, unix.SPLICE_F_NONBLOCK)
	if err != nil {
		return pd, err
	}
	pd.Data, pd.Packets, err = readPackets(p[0], int(got))
	return pd, err
}

// fifoHold is a FIFO the restorer holds open while the tree's ends open.
type fifoHold struct {
	fd      int
	path    string // where it is opened
	created bool   // made by the restorer; removed again if it was unlinked
	remove  bool
	owner   creds
}

// openFifo opens one end of a FIFO of the tree.
func (r *restorer) openFifo(p *rproc, f fileDesc) (int, error) {
	if r.fifos == nil {
		r.fifos = map[string]*fifoHold{}
	}
	k := fifoKey(f)
	h := r.fifos[k]
	if h == nil {
		var err error
		if h, err = r.holdFifo(p, f); err != nil {
			return -1, err
		}
		r.fifos[k] = h
	}
	if f.Fifo != nil && len(f.Fifo.Data) > 0 {
		if f.Fifo.Size > 0 {
			unix.FcntlInt(uintptr(h.fd), unix.F_SETPIPE_SZ, f.Fifo.Size)
		}
		if err := writePackets(h.fd, *f.Fifo); err != nil {
			return -1, fmt.Errorf("fd %d: refill fifo %s: %w", f.FD, f.File.Path, err)
		}
	}
	fd, err := unix.Open(h.path, f.Flags&unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open fifo %s: %w", h.path, err)
	}
	if err := checkFifo(fd, h.fd); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("open fifo %s: %w", h.path, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, f.Flags&descFlags); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fcntl %d: %w", f.FD, err)
	}
	return fd, nil
}

// holdFifo opens the FIFO of f for reading and writing, making it first if
// its path is gone. It runs with the rights of the image's owner.
func (r *restorer) holdFifo(p *rproc, f fileDesc) (*fifoHold, error) {
	h := &fifoHold{path: f.File.Path, owner: r.fileCreds(p)}
	var st unix.Stat_t
	err := unix.Lstat(h.path, &st)
	switch {
	case err == nil && !f.Unlinked && st.Mode&unix.S_IFMT == unix.S_IFIFO:
	case err == nil && f.Unlinked:
		// Another file took the name: a FIFO of ours beside it.
		h.path = filepath.Join(filepath.Dir(h.path), fmt.Sprintf(".%s.restart-%d", filepath.Base(h.path), os.Getpid()))
		fallthrough
	case err != nil:
		if err := unix.Mkfifo(h.path, f.File.Mode&0o7777); err != nil {
			return nil, fmt.Errorf("fd %d: mkfifo %s: %w", f.FD, h.path, err)
		}
		h.created, h.remove = true, f.Unlinked
	default:
		return nil, fmt.Errorf("fd %d: %s is no fifo any more", f.FD, h.path)
	}
	fd, err := unix.Open(h.path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fd %d: open fifo %s: %w", f.FD, h.path, err)
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return nil, fmt.Errorf("fd %d: %s is no fifo", f.FD, h.path)
	}
	h.fd = fd
	return h, nil
}

// checkFifo checks that fd opened the FIFO held as hold (the path was not
// swapped in between).
func checkFifo(fd, hold int) error {
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return err
	}
	if err := unix.Fstat(hold, &b); err != nil {
		return err
	}
	if a.Dev != b.Dev || a.Ino != b.Ino {
		return fmt.Errorf("the fifo changed while it was opened")
	}
	return nil
}

// fifosOpen lets go of the FIFOs once the tree's ends are open, and
// removes those that had been unlinked.
func (r *restorer) fifosOpen() error {
	for _, h := range r.fifos {
		unix.Close(h.fd)
		if h.remove {
			if err := asFileUser(h.owner, func() error { return unix.Unlink(h.path) }); err != nil {
				return fmt.Errorf("unlink fifo %s: %w", h.path, err)
			}
		}
	}
	r.fifos = nil
	return nil
}
