package ckpt

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUnixSockets: each program sets up unix sockets, is checkpointed
// (-k KILL), restarted, checkpointed and restarted again, and then checks from the inside that every
// object is as it was: the datagrams of two clients with their boundaries
// and sender addresses, a listener with an established connection (bytes
// queued both ways) and one waiting to be accepted, descriptors in flight
// (a file only the queue holds, a pipe end), a seqpacket pair with records
// and a shut-down half, an abstract name and an unlinked path.
func TestUnixSockets(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "unixsocks")
	for _, mode := range []string{"dgram", "listen", "rights", "passsock", "seqpacket", "names", "fifos"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
			cmd := start(t, dir, prog, mode, out, gofile)
			waitFor(t, mode+" set up", func() bool { return lines(out) >= 1 })
			img := filepath.Join(dir, mode+".img")
			checkpointKill(t, cmd, img)
			// A chain: the restarted process is checkpointed again
			// before it looks at anything.
			p, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			img2 := filepath.Join(dir, mode+".2.img")
			if _, err := Checkpoint(context.Background(), p.PID, CheckpointOptions{File: img2, Signal: unix.SIGKILL}); err != nil {
				unix.Kill(p.PID, unix.SIGKILL)
				waitProc(t, p)
				t.Fatalf("checkpoint of the restarted process: %v", err)
			}
			if ws := waitProc(t, p); ws.Signal() != unix.SIGKILL {
				t.Fatalf("restarted process after chkpnt -k KILL: %v", ws)
			}
			if err := os.WriteFile(gofile, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ws := restartWait(t, img2, RestartOptions{})
			b, _ := os.ReadFile(out)
			if ws.ExitStatus() != 0 || string(b) != "ready\nok\n" {
				t.Fatalf("restarted %s: %v, output %q, want ok", mode, ws, b)
			}
		})
	}
}

// TestUnixPeerOutside: a socket whose peer is outside the tree is the
// CONVEX error naming the peer: the process holding it, or the address of
// the listener outside where its connection waits to be accepted.
func TestUnixPeerOutside(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		sock func(t *testing.T, dir string) *os.File
		want string
	}{
		{"peer held by the test", func(t *testing.T, dir string) *os.File {
			sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			mine := os.NewFile(uintptr(sp[0]), "mine")
			t.Cleanup(func() { mine.Close() })
			return os.NewFile(uintptr(sp[1]), "theirs")
		}, " fd 3 is socket (its peer ckpt.test("},
		{"waiting in a listener of the test", func(t *testing.T, dir string) *os.File {
			path := filepath.Join(dir, "outside.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.(*net.UnixConn).File()
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, " fd 3 is socket (its connection to "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
			f := tc.sock(t, dir)
			cmd := exec.Command(cprog(t, "unixsocks"), "outside", out, gofile)
			cmd.Dir = dir
			cmd.ExtraFiles = []*os.File{f}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitFor(t, "set up", func() bool { return lines(out) >= 1 })
			_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img"), CheckOnly: true})
			var ue *UncheckpointableError
			if !errors.As(err, &ue) || ue.FD != 3 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkpoint: %v, want %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// startForced starts unixsocks forced with fd 3 a unix socket whose peer
// the test holds, fd 4 a pty slave whose master the test holds, fd 5 a TCP
// connection to a listener of the test.
func startForced(t *testing.T, mode, dir, out, gofile string) (*exec.Cmd, func()) {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(sp[0]), "mine"), os.NewFile(uintptr(sp[1]), "theirs")
	_, slave, _ := openPTY(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "outside.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	fifoMine, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fifoTheirs, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cprog(t, "unixsocks"), mode, out, gofile)
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{theirs, slave, tcp, pw, fifoTheirs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	tcp.Close()
	conn.Close()
	pw.Close()
	fifoTheirs.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, func() {
		mine.Close()
		accepted.Close()
		ln.Close()
		pr.Close()
		fifoMine.Close()
	}
}

// TestForcedImageRestarts: every kind of descriptor that cannot be saved
// (a unix socket to the outside, also in flight in a socket of the
// process; a pty slave of an outside master; a TCP connection to the
// outside; a pipe to the outside; a FIFO also open outside) is in an epoll
// set with an eventfd. chkpnt -F succeeds, and
// restart -F brings the process back with all of them closed everywhere:
// the epoll set holds the eventfd alone, the message in flight arrives
// without the descriptor.
func TestForcedImageRestarts(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd, closeOutside := startForced(t, "forced", dir, out, gofile)
	defer closeOutside()
	waitFor(t, "set up", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "forced.img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Force: true, Signal: unix.SIGKILL}); err != nil {
		t.Fatalf("chkpnt -F: %v", err)
	}
	cmd.Wait()
	m, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	closed := map[int]string{}
	for _, f := range m.meta.Files {
		if f.Kind == fdClosed {
			closed[f.FD] = f.Reason
		}
	}
	for fd := 3; fd <= 7; fd++ {
		if _, ok := closed[fd]; !ok {
			t.Errorf("fd %d was saved, want it saved closed (closed: %v)", fd, closed)
		}
	}
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := restartWait(t, img, RestartOptions{Force: true})
	b, _ := os.ReadFile(out)
	if ws.ExitStatus() != 0 || string(b) != "ready\nok\n" {
		t.Fatalf("restart -F: %v, output %q, want ok", ws, b)
	}
}

// TestForcedInotifyWatchGone: a watched file removed between checkpoint
// and restart costs restart -F that one watch, not the inotify instance:
// the other watch still reports under its descriptor.
func TestForcedInotifyWatchGone(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	watched, file, other := filepath.Join(dir, "watched"), filepath.Join(dir, "file"), filepath.Join(dir, "other")
	os.Mkdir(watched, 0o755)
	os.WriteFile(file, nil, 0o644)
	os.WriteFile(other, nil, 0o644)
	cmd := start(t, dir, cprog(t, "inotify"), out, gofile, watched, file, other)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := Restart(t.Context(), img, RestartOptions{NoSignal: true}); err == nil {
		t.Fatal("restart without -F of an inotify watching a removed file succeeded")
	}
	p, err := Restart(t.Context(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatalf("restart -F: %v", err)
	}
	os.WriteFile(gofile, nil, 0o644)
	os.WriteFile(filepath.Join(watched, "new"), nil, 0o644)
	os.WriteFile(filepath.Join(watched, "newer"), nil, 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got, _ := os.ReadFile(out)
	if want := "ready 1 3\nevent wd 1\nevent wd 1\n"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestUnixSocketsNamespaced: in a PID namespace of its own (as the batch
// system runs jobs) the datagrams come back with their sender's
// credentials as the receiver sees them: its own pid inside (1), though
// the restarted tree has other pids outside.
func TestUnixSocketsNamespaced(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd := Namespaced(exec.Command(cprog(t, "unixsocks"), "dgram", out, gofile))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "set up", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "ns.img")
	checkpointTreeKill(t, cmd, img)
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := restartWait(t, img, RestartOptions{})
	b, _ := os.ReadFile(out)
	if ws.ExitStatus() != 0 || string(b) != "ready\nok\n" {
		t.Fatalf("restarted: %v, output %q, want ok", ws, b)
	}
}

// TestUnixSocketsTree: a listener shared by a parent and its child, the
// child connected to it with bytes queued both ways, a datagram pair
// shared by both: checkpointed as a tree, each process finds its end.
func TestUnixSocketsTree(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd := start(t, dir, cprog(t, "unixsocks"), "tree", out, gofile)
	waitFor(t, "set up", func() bool { return lines(out) >= 2 })
	img := filepath.Join(dir, "tree.img")
	checkpointTreeKill(t, cmd, img)
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := restartWait(t, img, RestartOptions{})
	b, _ := os.ReadFile(out)
	if ws.ExitStatus() != 0 || string(b) != "ready\nready\nok\n" {
		t.Fatalf("restarted: %v, output %q, want ok", ws, b)
	}
}
