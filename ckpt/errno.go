package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errno is the errno value that stands for err (liblazarus's chkpnt(3) and
// restart(3) set errno to it; the CONVEX guide's tables): EEXIST for an
// existing image, ESRCH for a missing process, EAGAIN for a pid (or SysV
// IPC id) in use,
// EPIPE for a pipe to a process outside the tree, EPERM for what the owner
// rules refuse, EINTR for an interrupted operation, the system call's own
// errno (EACCES, ENOENT, ENOSPC, EFBIG, EROFS, ENAMETOOLONG, EPERM...) for
// a failed one, ENOEXEC for a file that is not a good image, ENOTSUP for
// state the engine cannot save or restore, EIO for anything else; 0 for
// nil.
func Errno(err error) syscall.Errno {
	var (
		pidInUse *PIDInUseError
		ipcInUse *IPCInUseError
		conflict *ConflictError
		unckpt   *UncheckpointableError
		errno    syscall.Errno
	)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.Is(err, ErrExists):
		return syscall.EEXIST
	case errors.Is(err, ErrNoProcess):
		return syscall.ESRCH
	case errors.As(err, &pidInUse), errors.As(err, &ipcInUse):
		return syscall.EAGAIN
	case errors.As(err, &conflict):
		return syscall.EINVAL
	case errors.Is(err, ErrNotOwner):
		return syscall.EPERM
	case errors.As(err, &unckpt):
		if unckpt.FD >= 0 && strings.Contains(unckpt.Msg, "pipe") {
			return syscall.EPIPE
		}
		return syscall.ENOTSUP
	case errors.Is(err, ErrNotImage), errors.Is(err, ErrCorrupt), errors.Is(err, ErrIncompatible):
		return syscall.ENOEXEC
	case errors.Is(err, ErrMultithreaded), errors.Is(err, ErrUnsupported):
		return syscall.ENOTSUP
	case errors.As(err, &errno) && errno != 0:
		return errno
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES
	}
	return syscall.EIO
}

// StatusLine is the outcome line chkpnt and restart write to their
// --status-fd descriptor: "ok" followed by extra (restart: the pid), or
// "errno N NAME MESSAGE", N being Errno(err).
func StatusLine(err error, extra string) string {
	if err == nil {
		if extra != "" {
			return "ok " + extra + "\n"
		}
		return "ok\n"
	}
	e := Errno(err)
	name := unix.ErrnoName(e)
	if name == "" {
		name = "E?"
	}
	return fmt.Sprintf("errno %d %s %s\n", int(e), name, strings.ReplaceAll(err.Error(), "\n", " "))
}
