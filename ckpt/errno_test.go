package ckpt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestErrno(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"exists", fmt.Errorf("x.img: %w", ErrExists), syscall.EEXIST},
		{"no process", fmt.Errorf("pid 5: %w", ErrNoProcess), syscall.ESRCH},
		{"pid in use", &PIDInUseError{PID: 5, Comm: "x"}, syscall.EAGAIN},
		{"pid in use wrapped", &RestoreError{Comm: "x", PID: 5, Err: &PIDInUseError{PID: 5}}, syscall.EAGAIN},
		{"ipc id in use", &IPCInUseError{Kind: "shmid", ID: 5, Comm: "x"}, syscall.EAGAIN},
		{"conflict", &ConflictError{Dir: "a", File: "b/c"}, syscall.EINVAL},
		{"owner", &OwnerError{Path: "x", Msg: "uid"}, syscall.EPERM},
		{"pipe outside", &UncheckpointableError{Comm: "x", PID: 5, FD: 3, Msg: ": pipe source is outside of selected processes"}, syscall.EPIPE},
		{"socket", &UncheckpointableError{Comm: "x", PID: 5, FD: 3, Msg: "is socket"}, syscall.ENOTSUP},
		{"not an image", fmt.Errorf("x: %w", ErrNotImage), syscall.ENOEXEC},
		{"corrupt", fmt.Errorf("x: %w", ErrCorrupt), syscall.ENOEXEC},
		{"canceled", fmt.Errorf("checkpoint: %w", context.Canceled), syscall.EINTR},
		{"missing file", &fs.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, syscall.ENOENT},
		{"no space", fmt.Errorf("write x: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"read-only", &fs.PathError{Op: "open", Path: "x", Err: syscall.EROFS}, syscall.EROFS},
		{"too big", fmt.Errorf("write: %w", syscall.EFBIG), syscall.EFBIG},
		{"ptrace", os.NewSyscallError("ptrace", syscall.EPERM), syscall.EPERM},
		{"other", errors.New("something"), syscall.EIO},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Errno(c.err); got != c.want {
				t.Errorf("Errno(%v): got %v (%d), want %v (%d)", c.err, got, int(got), c.want, int(c.want))
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	for _, c := range []struct {
		err   error
		extra string
		want  string
	}{
		{nil, "", "ok\n"},
		{nil, "1234", "ok 1234\n"},
		{fmt.Errorf("x.img: %w", ErrExists), "", "errno 17 EEXIST x.img: file exists\n"},
		{errors.New("two\nlines"), "", "errno 5 EIO two lines\n"},
	} {
		if got := StatusLine(c.err, c.extra); got != c.want {
			t.Errorf("StatusLine(%v, %q): got %q, want %q", c.err, c.extra, got, c.want)
		}
	}
}
