package integration

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/testenv"
)

// ckptDetached runs restart -W (and extra options) on image with its
// status line on descriptor 3, and returns the restored pid, the stub's pid
// (both our children now: restart -W puts the root in restart's place)
// and restart's stderr.
func ckptDetached(t *testing.T, dir, image string, extra ...string) (pid, stub int, stderr string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	args := append(append([]string{"-W", "--status-fd", "3"}, extra...), image)
	cmd := exec.Command(bin("restart"), args...)
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{w}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ok" {
		t.Fatalf("restart %s: got status line %q, want \"ok PID STUB\"", strings.Join(args, " "), line)
	}
	pid, _ = strconv.Atoi(f[1])
	stub, _ = strconv.Atoi(f[2])
	if got := strings.TrimSpace(out.String()); got != f[1] {
		t.Errorf("restart -W: got stdout %q, want the pid %s", got, f[1])
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	})
	// The stub has ended; it is ours to reap, as a shell reaps it.
	var ws syscall.WaitStatus
	if got, err := syscall.Wait4(stub, &ws, 0, nil); got != stub || !ws.Signaled() {
		t.Errorf("stub %d: got %d %v %s, want it ended by SIGKILL", stub, got, err, ckptWaitString(ws))
	}
	return pid, stub, errb.String()
}

// ckptWaitChild waits (bounded) for our child pid to end.
func ckptWaitChild(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	deadline := time.Now().Add(2 * ckptDeadline)
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		if got == pid {
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running after %v", pid, 2*ckptDeadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart -W: restart does not stay; the restored process is the child of
// restart's parent (here the test), which waits for it and gets its exit
// status, with the output of an uninterrupted run (CONVEX: restart
// "becomes" the target).
func TestCkptRestartNoWait(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	ref := ckptReference(t, prog)
	s := ckptKilled(t, prog, dir)
	pid, _, _ := ckptDetached(t, dir, s.image)
	if pid != s.pid {
		t.Errorf("restart -W: got pid %d, want the old pid %d", pid, s.pid)
	}
	if got := ckptPPID(pid); got != os.Getpid() {
		t.Errorf("restart -W: got parent %d, want restart's parent, the test (%d)", got, os.Getpid())
	}
	ws := ckptWaitChild(t, pid)
	if !ws.Exited() || ws.ExitStatus() != ckptExit {
		t.Errorf("restored process: got %s, want exit %d", ckptWaitString(ws), ckptExit)
	}
	ckptSameOutput(t, s.out, ref)
}

// restart -t: only with -W (the guide's message); the root is left
// stopped, a debugger attaches to it (gdb -p), and once continued it ends
// as an uninterrupted run.
func TestCkptRestartTraced(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	ref := ckptReference(t, prog)
	s := ckptKilled(t, prog, dir)
	r := ckptRun(t, dir, "restart", "-t", s.image)
	ckptWantFailure(t, "restart -t without -W", r, "invalid option combination: -t option specified without -W")
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		testenv.Unavailable(t, "needs gdb (restart -t is for debuggers)")
	}
	pid, _, stderr := ckptDetached(t, dir, s.image, "-t")
	if !strings.Contains(stderr, "gdb -p "+strconv.Itoa(pid)) {
		t.Errorf("restart -W -t: got stderr %q, want it to say how to attach", stderr)
	}
	if got := ckptState(pid); got != 'T' {
		t.Fatalf("restart -W -t: got state %q, want 'T' (stopped for a debugger)", got)
	}
	if got := ckptLines(s.out); got != s.lines {
		t.Errorf("restart -W -t: got %d lines while stopped, want %d", got, s.lines)
	}
	out, err := exec.Command(gdb, "-nx", "-batch", "-p", strconv.Itoa(pid), "-ex", "info registers rip", "-ex", "detach").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rip") || !strings.Contains(string(out), "detached") {
		t.Fatalf("gdb -p %d: %v\n%s", pid, err, out)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	ws := ckptWaitChild(t, pid)
	if !ws.Exited() || ws.ExitStatus() != ckptExit {
		t.Errorf("restored process: got %s, want exit %d", ckptWaitString(ws), ckptExit)
	}
	ckptSameOutput(t, s.out, ref)
}
