package ckpt

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// A port whose listener (no SO_REUSEADDR) is gone but whose accepted end
// closed first and is in TIME_WAIT refuses a new listener; once
// releaseOrphanedPort has removed that end, the bind succeeds. A port a
// live socket holds stays refused.
func TestReleaseOrphanedPort(t *testing.T) {
	needRoot(t)
	lis, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	loop := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(lis, loop); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lis, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(lis)
	port := sa.(*unix.SockaddrInet4).Port
	local := &unix.SockaddrInet4{Addr: loop.Addr, Port: port}
	cli, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	defer unix.Close(cli)
	if err := unix.Connect(cli, local); err != nil {
		t.Fatal(err)
	}
	acc, _, err := unix.Accept(lis)
	if err != nil {
		t.Fatal(err)
	}
	// A live listener: nothing of it is removed.
	if n, err := releaseOrphanedPort(local); err != nil || n != 0 {
		t.Fatalf("releaseOrphanedPort with live sockets = %d, %v; want 0, nil", n, err)
	}
	unix.Close(acc) // the accepted end closes first: FIN_WAIT, then TIME_WAIT
	unix.Close(lis)
	buf := make([]byte, 1)
	unix.Read(cli, buf) // its end of file: the FIN came
	unix.Close(cli)
	again := func() error {
		s, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		defer unix.Close(s)
		if err := unix.Bind(s, local); err != nil {
			return err
		}
		return unix.Listen(s, 1)
	}
	if err := again(); !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("a new listener on the port of a TIME_WAIT end: %v, want EADDRINUSE", err)
	}
	n, err := releaseOrphanedPort(local)
	if err != nil || n < 1 {
		t.Fatalf("releaseOrphanedPort = %d, %v; want at least 1, nil", n, err)
	}
	if err := again(); err != nil {
		t.Fatalf("a new listener after releaseOrphanedPort: %v", err)
	}
}
