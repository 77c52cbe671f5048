package ckpt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/testenv"
)

// TestTCPPairInTree: a server and its client, one tree, with bytes queued
// in both directions of their loopback connection (send queues full,
// receive queues unread) at the checkpoint. Restarted, each end gets every
// byte, in order, none twice, and sees the same addresses: the programs
// check it themselves and the output is that of an uninterrupted run.
func TestTCPPairInTree(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "tcppair")
	for _, fam := range []string{"4", "6"} {
		t.Run("ipv"+fam, func(t *testing.T) {
			dir := t.TempDir()
			ref := filepath.Join(dir, "ref.txt")
			if b, err := exec.Command(prog, ref, fam).CombinedOutput(); err != nil {
				t.Fatalf("reference run: %v %s", err, b)
			}
			out := filepath.Join(dir, "out.txt")
			cmd := start(t, dir, prog, out, fam)
			waitFor(t, "progress", func() bool { return lines(out) >= 2 })
			img := filepath.Join(dir, "pair")
			res := checkpointTreeKill(t, cmd, img)
			queued := map[string]int{}
			for _, p := range res.Images {
				m, err := ReadImage(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range m.meta.Files {
					if f.Kind == fdInet && f.Inet.TCP != nil {
						queued["send"] += len(f.Inet.TCP.SendQ)
						queued["receive"] += len(f.Inet.TCP.RecvQ)
						queued["ends"]++
					}
				}
			}
			if queued["ends"] != 2 || queued["send"] == 0 || queued["receive"] == 0 {
				t.Fatalf("saved connection ends %v, want 2 ends with bytes in send and receive queues", queued)
			}
			// The client alone cannot have its connection back (repair
			// mode would make one to an address nobody holds), and the
			// failed restart leaves nothing behind.
			if _, err := Restart(context.Background(), res.Images[1], RestartOptions{}); err == nil || !strings.Contains(err.Error(), "its other end is not restarted with it") {
				t.Fatalf("restart of the client alone: %v, want its connection refused", err)
			}
			if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
				b, _ := os.ReadFile(out)
				t.Fatalf("restarted pair: %v; output ends %q", ws, tail(b))
			}
			sameFiles(t, out, ref)
		})
	}
	// A checkpoint that lets the pair run on leaves the connection
	// working (out of repair mode): the run ends as an uninterrupted one.
	t.Run("continue", func(t *testing.T) {
		dir := t.TempDir()
		ref := filepath.Join(dir, "ref.txt")
		if b, err := exec.Command(prog, ref, "4").CombinedOutput(); err != nil {
			t.Fatalf("reference run: %v %s", err, b)
		}
		out := filepath.Join(dir, "out.txt")
		cmd := start(t, dir, prog, out, "4")
		waitFor(t, "progress", func() bool { return lines(out) >= 2 })
		if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "pair"), Tree: true}); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		if err := cmd.Wait(); err != nil {
			b, _ := os.ReadFile(out)
			t.Fatalf("pair after a checkpoint: %v; output ends %q", err, tail(b))
		}
		sameFiles(t, out, ref)
	})
}

// TestTCPListeners: IPv4, IPv6-only and v4-mapped listening sockets come
// back on their addresses with their options and accept a new connection
// after the restart.
func TestTCPListeners(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "listener")
	for _, tc := range []struct{ name, mode, network, host string }{
		{"ipv4", "4", "tcp4", "127.0.0.1"},
		{"ipv6", "6", "tcp6", "::1"},
		{"v4-mapped", "m", "tcp4", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, portFile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "port")
			cmd := start(t, dir, prog, out, portFile, tc.mode)
			waitFor(t, "the port", func() bool { return lines(portFile) == 1 })
			b, _ := os.ReadFile(portFile)
			port := strings.TrimSpace(string(b))
			img := filepath.Join(dir, "listener")
			checkpointKill(t, cmd, img)
			p, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			c, err := net.Dial(tc.network, net.JoinHostPort(tc.host, port))
			if err != nil {
				waitProc(t, p)
				t.Fatalf("connect to the restarted listener: %v", err)
			}
			fmt.Fprint(c, "ping")
			reply := make([]byte, 64)
			n, _ := c.Read(reply)
			c.Close()
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				b, _ := os.ReadFile(out)
				t.Fatalf("restarted listener: %v, output %q", ws, b)
			}
			if got := string(reply[:n]); got != "pong ping" {
				t.Errorf("reply %q, want %q", got, "pong ping")
			}
			if got, _ := os.ReadFile(out); string(got) != "accepted, options same\n" {
				t.Errorf("output %q, want the options unchanged", got)
			}
		})
	}
}

// TestUDPQueued: connected and bound UDP sockets with datagrams waiting;
// after the restart each gets them in order, whole, from the same senders.
func TestUDPQueued(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "udppair")
	dir := t.TempDir()
	out, goFile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	cmd := start(t, dir, prog, out, goFile)
	waitFor(t, "datagrams queued", func() bool { return lines(out) == 1 })
	img := filepath.Join(dir, "udp")
	res := checkpointKill(t, cmd, img)
	m, err := ReadImage(res.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range m.meta.Files {
		if f.Kind == fdInet {
			n += len(f.Inet.Dgrams)
		}
	}
	if n != 12 {
		t.Fatalf("%d datagrams saved, want 12", n)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := waitProc(t, p)
	b, _ := os.ReadFile(out)
	if want := "queued\nb: 5 datagrams\na: 3 datagrams\nc: 4 datagrams\n"; ws.ExitStatus() != 0 || string(b) != want {
		t.Fatalf("restarted: %v, output %q, want %q", ws, b, want)
	}
}

// TestTCPOutside: a connection to a process outside the tree is refused,
// naming both addresses; with -F it is saved closed and the restarted
// process (restart -F) no longer has it.
func TestTCPOutside(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	dir := t.TempDir()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := start(t, dir, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d; exec sleep 600", port))
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(time.Minute):
		t.Fatal("no connection from the target")
	}
	defer conn.Close()
	waitFor(t, "sleep", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		return string(b) == "sleep\n"
	})
	local := conn.RemoteAddr().String()
	want := fmt.Sprintf("sleep(%d) fd 3 is socket (TCP %s -> 127.0.0.1:%d, peer outside the tree)", cmd.Process.Pid, local, port)
	_, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{CheckOnly: true})
	var ue *UncheckpointableError
	if !errors.As(err, &ue) || err.Error() != want {
		t.Fatalf("checkpoint: %v, want %q", err, want)
	}
	img := filepath.Join(dir, "outside")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Force: true, Signal: syscall.SIGKILL})
	if err != nil {
		t.Fatalf("checkpoint -F: %v", err)
	}
	cmd.Wait()
	_ = res
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatalf("restart -F: %v", err)
	}
	defer func() {
		syscall.Kill(p.PID, syscall.SIGKILL)
		p.Wait()
	}()
	if _, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/fd/3"); err == nil {
		t.Errorf("restarted process has fd 3; want it closed")
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID)); string(b) != "sleep\n" {
		t.Errorf("restarted process is %q, want sleep", b)
	}
}

// TestTmpfsSharedMapping: a shared mapping of a file in /dev/shm whose
// file was deleted after the checkpoint (as a reboot or the program itself
// would): the restarted process finds its bytes, and the file is back at
// its path, mapped (what it stores shows in the file). With keepfd the
// program also holds the descriptor it mapped the file with: the restart
// does not refuse it as a missing file, and it comes back to the very
// file made again, at its offset.
func TestTmpfsSharedMapping(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "shmfile")
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepfd=%v", keep), func(t *testing.T) {
			dir := t.TempDir()
			out, goFile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
			shm := fmt.Sprintf("/dev/shm/lazarus-test-%d-%v", os.Getpid(), keep)
			t.Cleanup(func() { os.Remove(shm) })
			args := []string{out, goFile, shm}
			if keep {
				args = append(args, "keepfd")
			}
			cmd := start(t, dir, prog, args...)
			waitFor(t, "the mapping filled", func() bool { return lines(out) == 1 })
			img := filepath.Join(dir, "shm")
			checkpointKill(t, cmd, img)
			if err := os.Remove(shm); err != nil {
				t.Fatal(err)
			}
			p, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			if err := os.WriteFile(goFile, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ws := waitProc(t, p)
			b, _ := os.ReadFile(out)
			if want := "filled\nmemory same, file mapped\n"; ws.ExitStatus() != 0 || string(b) != want {
				t.Fatalf("restarted: %v, output %q, want %q", ws, b, want)
			}
		})
	}
}

// TestJavaHsperfdata: a Java program restarted after its performance data
// file (/tmp/hsperfdata_USER/PID, mapped shared by the JVM) was deleted
// ends as an uninterrupted run.
func TestJavaHsperfdata(t *testing.T) {
	needRoot(t)
	java, err1 := exec.LookPath("java")
	javac, err2 := exec.LookPath("javac")
	if err1 != nil || err2 != nil {
		// Java is optional, even under CI: .ci/run does not install a
		// JDK (hundreds of megabytes for one test), so this test runs
		// where one is installed (Debian's openjdk-17-jdk-headless).
		testenv.Unavailable(t, "needs java and javac (.ci/run installs default-jdk-headless)")
	}
	dir := t.TempDir()
	if b, err := exec.Command(javac, "-d", dir, "testdata/Compute.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v %s", err, b)
	}
	args := func(out string) []string {
		return []string{"-Xint", "-Xmx64m", "-XX:+UseSerialGC", "-cp", dir, "Compute", out, "150"}
	}
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, java, args(ref)...)
	cmd := start(t, dir, java, args(out)...)
	waitFor(t, "progress", func() bool { return lines(out) >= 20 })
	perf := fmt.Sprintf("/tmp/hsperfdata_root/%d", cmd.Process.Pid)
	if _, err := os.Stat(perf); err != nil {
		t.Fatalf("the JVM has no performance data file: %v", err)
	}
	img := filepath.Join(dir, "java")
	checkpointKill(t, cmd, img)
	os.Remove(perf)
	t.Cleanup(func() { os.Remove(perf) })
	if lines(out) >= lines(ref) {
		t.Fatal("it finished before the checkpoint; make it longer")
	}
	if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	sameFiles(t, out, ref)
}

// TestTCPOtherStates: a connection whose peer closed (CLOSE_WAIT) is
// refused with its state named.
func TestTCPOtherStates(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := start(t, t.TempDir(), "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d; exec sleep 600", port))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	local := c.RemoteAddr().String()
	c.Close() // the target's end goes to CLOSE_WAIT
	waitFor(t, "sleep", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		return string(b) == "sleep\n"
	})
	want := fmt.Sprintf("sleep(%d) fd 3 is socket (TCP %s -> 127.0.0.1:%d in state CLOSE_WAIT: not checkpointable)", cmd.Process.Pid, local, port)
	var got error
	waitFor(t, "CLOSE_WAIT", func() bool {
		_, got = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{CheckOnly: true})
		return got != nil && got.Error() == want
	})
}
