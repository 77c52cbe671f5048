package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A self-checkpoint (liblazarus's chkpnt with pid 0) has the program wait,
// blocked reading a pipe, while a chkpnt it started checkpoints it; chkpnt
// holds the pipe's write end and writes the outcome into it ("ok" once the
// image is durable, or the error). That read end is the self-checkpoint
// channel (CheckpointOptions.SelfChannel): its writer is outside the tree
// by design, so it is not refused, and the image records, as the bytes in
// transit in it, SelfRestarted; the restart recreates the pipe with them
// queued and no writer, so the restored program reads SelfRestarted where
// the running one reads chkpnt's "ok": the program tells the two apart
// from the bytes alone, like fork's return value.

// SelfRestarted is what a restored program reads from its self-checkpoint
// channel (followed by end of file).
const SelfRestarted = "restarted\n"

// isSelfChannel tells whether descriptor r is the
// self-checkpoint channel: a pipe's read end held by the root.
func (t *dumpTree) isSelfChannel(r fdRef) bool {
	f := r.file()
	return t.opts.SelfChannel > 0 && r.d.pid == t.rootPID && f.FD == t.opts.SelfChannel &&
		f.Kind == fdPipe && f.Flags&unix.O_ACCMODE == unix.O_RDONLY
}

// holdsSelfChannel tells whether the self-checkpoint channel is one of
// a pipe's descriptors.
func (t *dumpTree) holdsSelfChannel(refs []fdRef) bool {
	for _, r := range refs {
		if t.isSelfChannel(r) {
			return true
		}
	}
	return false
}

// saveSelfChannel records the channel's content as SelfRestarted. The
// pipe is empty while the checkpoint runs (chkpnt writes only once it is
// done); bytes in it, which would be lost, and another descriptor of it
// are refused.
func (t *dumpTree) saveSelfChannel(ino uint64, refs []fdRef) error {
	for _, r := range refs {
		if !t.isSelfChannel(r) {
			f := r.file()
			return &UncheckpointableError{Comm: r.d.comm, PID: r.d.pid, FD: f.FD, Msg: "shares the self-checkpoint channel"}
		}
	}
	r := refs[0]
	if n, err := queuedInPipe(r.d.pid, r.file().FD); err != nil {
		return fmt.Errorf("%s(%d) fd %d: self-checkpoint channel: %w", r.d.comm, r.d.pid, r.file().FD, err)
	} else if n > 0 {
		return &UncheckpointableError{Comm: r.d.comm, PID: r.d.pid, FD: r.file().FD,
			Msg: fmt.Sprintf("is a self-checkpoint channel with %d bytes in it", n)}
	}
	r.d.meta.Pipes = append(r.d.meta.Pipes, pipeData{Ino: ino, Data: []byte(SelfRestarted)})
	return nil
}

// queuedInPipe is the number of bytes waiting in the pipe descriptor fd
// of process pid.
func queuedInPipe(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	c, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_getfd: %w", err)
	}
	defer unix.Close(c)
	return unix.IoctlGetInt(c, unix.TIOCINQ)
}
