package ckpt

// Pidfds. A pidfd names one struct pid: after a restart it must name the
// same process, which is a member of the tree (under its pid now), or a
// process that is gone, which the pidfd keeps reporting as gone (poll
// readable, pidfd_send_signal ESRCH). The kernel shows what a pidfd
// names in its fdinfo ("Pid:", -1 once the process is gone).

import (
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

const pidfdThread = unix.O_EXCL // PIDFD_THREAD

// checkPidfd refuses a pidfd the restore could not give the same meaning:
// one of a process outside the tree, or of a single thread.
func (d *dumper) checkPidfd(f *fileDesc, members map[int]bool) error {
	a := f.Anon
	if f.Kind != fdAnon || a == nil || a.Type != "pidfd" {
		return nil
	}
	switch {
	case f.Flags&pidfdThread != 0:
		return d.uncheckpointable(f.FD, ": pidfd of a thread (PIDFD_THREAD) is not checkpointable")
	case a.PidfdPID == -1:
		return nil
	case a.PidfdPID <= 0:
		return d.uncheckpointable(f.FD, ": pidfd of a process in another PID namespace is not checkpointable")
	case !members[a.PidfdPID] || !d.tree.isProcess(a.PidfdPID):
		return d.uncheckpointable(f.FD, fmt.Sprintf(": pidfd of pid %d, outside the checkpointed tree", a.PidfdPID))
	}
	return nil
}

// isProcess reports whether pid is a process (not only a thread) of the
// tree.
func (t *dumpTree) isProcess(pid int) bool {
	for _, d := range t.procs {
		if d.pid == pid {
			return true
		}
	}
	return false
}

// openPidfd opens, in the restorer, a pidfd like f's.
func (r *restorer) openPidfd(f fileDesc) (int, error) {
	a := f.Anon
	flags := f.Flags & unix.O_NONBLOCK // PIDFD_NONBLOCK
	if a.PidfdPID == -1 {
		return r.deadPidfd(flags)
	}
	for _, q := range r.procs {
		if q.meta.PID == a.PidfdPID {
			fd, err := unix.PidfdOpen(q.pid, flags)
			if err != nil {
				return -1, fmt.Errorf("fd %d: pidfd_open %d: %w", f.FD, q.pid, err)
			}
			unix.CloseOnExec(fd)
			return fd, nil
		}
	}
	return -1, fmt.Errorf("fd %d: pidfd of pid %d, which is not in the restored tree", f.FD, a.PidfdPID)
}

// deadPidfd returns a pidfd of a process that has ended and been reaped:
// one started for it, stopped before it runs a single instruction of its
// own (the stub's executable under ptrace, as createRoot starts it), then
// killed and reaped.
func (r *restorer) deadPidfd(flags int) (int, error) {
	pidfd := -1
	cmd := exec.Command(r.root.meta.Exe.Path)
	cmd.Args = []string{"pidfd"}
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, PidFD: &pidfd}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("pidfd of a process gone: start: %w", err)
	}
	unix.Kill(cmd.Process.Pid, unix.SIGKILL)
	for {
		if _, err := waitStop(cmd.Process.Pid); err != nil {
			break
		}
	}
	cmd.Process.Release()
	if pidfd < 0 {
		return -1, fmt.Errorf("pidfd of a process gone: none returned")
	}
	if flags != 0 {
		if _, err := unix.FcntlInt(uintptr(pidfd), unix.F_SETFL, flags); err != nil {
			unix.Close(pidfd)
			return -1, err
		}
	}
	unix.CloseOnExec(pidfd)
	return pidfd, nil
}
