package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// /dev/tty open in a process whose control terminal is a pty of the tree
// (a session the tree made on a pair it holds): that descriptor is not
// the restart's terminal but the pair's slave, as /dev/tty (its own
// device, 5:0, and what it reaches is the session's terminal). The
// restorer opening /dev/tty would reach its own terminal, so the process
// opens it itself, once its session has taken the new slave
// (takePTYControl), and the restorer takes that description like the
// others it opens.

// ptySessionTTY tells whether p's control terminal is the slave of a pty
// pair of the tree, by the image (the pairs are not made yet when the
// restart checks what it needs).
func (r *restorer) ptySessionTTY(p *rproc) bool {
	if p.meta.TTY == 0 || p.meta.SID == 0 {
		return false
	}
	for _, q := range r.procs {
		for _, f := range q.meta.Files {
			if f.Kind == fdPTY && f.Pty != nil && f.Pty.Pair != nil && f.Pty.Pair.Session == p.meta.SID {
				return true
			}
		}
	}
	return false
}

// openDevTTYIn opens /dev/tty with flags in process p and returns a
// descriptor of ours of that description.
func (r *restorer) openDevTTYIn(p *rproc, flags int) (int, error) {
	b := p.b
	if b == nil {
		return -1, fmt.Errorf("/dev/tty: process %d is not built", p.meta.PID)
	}
	path, err := b.putString(scratchData, "/dev/tty")
	if err != nil {
		return -1, err
	}
	got, err := b.call("openat", unix.SYS_OPENAT, ^uint64(99) /* AT_FDCWD */, path, uint64(flags|unix.O_NOCTTY|unix.O_CLOEXEC), 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/tty in process %d (its control terminal, a pty of the tree): %w", p.meta.PID, err)
	}
	defer b.call("close", unix.SYS_CLOSE, got)
	fd, err := grabFD(b.pid, int(got))
	if err != nil {
		return -1, fmt.Errorf("/dev/tty of process %d: pidfd_getfd: %w", p.meta.PID, err)
	}
	return fd, nil
}
