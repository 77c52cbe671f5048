package ckpt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// procState is the state letter of /proc/PID/stat, or 0 if pid is gone.
func procState(pid int) byte {
	st, err := readStat(pid)
	if err != nil {
		return 0
	}
	return st.State
}

func tracerPID(t *testing.T, pid int) string {
	t.Helper()
	return statusField(t, pid, "TracerPid")
}

// TestStoppedChild: a child stopped by SIGTSTP (its parent has collected
// the stop). The checkpoint must neither hang nor resume it; after a
// restart it is stopped again, its parent gets no second stop report, and
// a SIGCONT resumes it and is reported to the parent.
func TestStoppedChild(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	cmd := start(t, dir, cprog(t, "jobstop"), dir)
	var kids []int
	waitFor(t, "the child", func() bool { kids = childrenOf(cmd.Process.Pid); return len(kids) > 0 })
	if len(kids) != 1 {
		t.Fatalf("children %v, want 1", kids)
	}
	child := kids[0]
	t.Cleanup(func() { unix.Kill(child, unix.SIGKILL) })
	waitFor(t, "the child stopped", func() bool { return lines(events) >= 1 })
	beat := func() string { b, _ := os.ReadFile(filepath.Join(dir, "beat")); return string(b) }
	before := beat()

	// A checkpoint that lets the tree run on leaves the child as it was.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Checkpoint(ctx, cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "probe"), Tree: true}); err != nil {
		t.Fatalf("checkpoint of the running tree: %v", err)
	}
	if got := procState(child); got != 'T' {
		t.Fatalf("child state after the checkpoint %q, want 'T'", got)
	}
	if got := tracerPID(t, child); got != "0" {
		t.Fatalf("child TracerPid after the checkpoint %s, want 0", got)
	}
	if got := beat(); got != before {
		t.Fatalf("child ran during the checkpoint: beat %q, was %q", got, before)
	}

	img := filepath.Join(dir, "jobstop")
	res := checkpointTreeKill(t, cmd, img)
	unix.Kill(child, unix.SIGKILL)
	waitFor(t, "the old child to be reaped", func() bool { return procState(child) == 0 || procState(child) == 'Z' })
	m, err := ReadImage(res.Images[1])
	if err != nil {
		t.Fatal(err)
	}
	if m.meta.JobStop == nil || m.meta.JobStop.Signal != int(unix.SIGTSTP) || !m.meta.JobStop.Waited {
		t.Fatalf("child's saved job stop %+v, want SIGTSTP, waited", m.meta.JobStop)
	}
	os.WriteFile(events, nil, 0o644)

	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() {
		unix.Kill(child, unix.SIGKILL)
		unix.Kill(p.PID, unix.SIGKILL)
		p.Wait()
	})
	waitFor(t, "the restored child", func() bool { return procState(child) != 0 })
	if got := procState(child); got != 'T' {
		t.Fatalf("restored child state %q, want 'T' (stopped)", got)
	}
	stopped := beat()
	if err := unix.Kill(child, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the parent to see the SIGCONT", func() bool { return lines(events) >= 1 })
	b, _ := os.ReadFile(events)
	if got := strings.Split(strings.TrimSpace(string(b)), "\n")[0]; got != "cont" {
		t.Fatalf("parent's first wait report after the restart %q, want \"cont\" (no second stop)", got)
	}
	waitFor(t, "the child to run on", func() bool { return beat() != stopped })
}

// TestWaitIsBounded: a wait for a traced task that never stops ends at its
// deadline, or when its context is canceled, with an error instead of
// hanging; and the task is then let go as it was (untraced, running).
func TestWaitIsBounded(t *testing.T) {
	needRoot(t)
	cmd := start(t, t.TempDir(), "sleep", "600")
	pid := cmd.Process.Pid
	waitFor(t, "sleep to sleep", func() bool { return procState(pid) == 'S' })
	runtime.LockOSThread() // ptrace requests come from the seizing thread
	defer runtime.UnlockOSThread()
	if err := ptraceSeize(pid, 0); err != nil {
		t.Fatal(err)
	}
	// Seized, not interrupted: it does not stop.
	_, err := waitStopUntil(context.Background(), pid, time.Now().Add(100*time.Millisecond))
	var te *StopTimeoutError
	if !errors.As(err, &te) || te.PID != pid {
		t.Fatalf("wait with a deadline: got %v, want a StopTimeoutError for pid %d", err, pid)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := waitStopUntil(ctx, pid, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a canceled context: got %v, want context.Canceled", err)
	}
	if err := ptraceDetach(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("detach of a running tracee: got %v, want ESRCH (what release meets)", err)
	}
	if err := detachRunning(pid); err != nil {
		t.Fatalf("detachRunning: %v", err)
	}
	if got := tracerPID(t, pid); got != "0" {
		t.Fatalf("TracerPid after detachRunning %s, want 0", got)
	}
	waitFor(t, "sleep to sleep again", func() bool { return procState(pid) == 'S' })
}
