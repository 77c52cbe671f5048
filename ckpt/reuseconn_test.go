package ckpt

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTCPReuseAcrossRestarts: a listener with SO_REUSEADDR and accepted
// ends of its own at descriptors whose names in /proc/PID/fd sort before
// the listener's, checkpointed, restarted, checkpointed again from the
// restarted run and restarted again: the second restart binds the
// listener (the accepted ends must come after it, and must have kept the
// listener's SO_REUSEADDR through repair mode), every connection works
// and every SO_REUSEADDR reads as in an uninterrupted run.
func TestTCPReuseAcrossRestarts(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "reuseconn")
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.txt")
	if b, err := exec.Command(prog, ref, "40", "0").CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v %s", err, b)
	}
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, prog, out, "40", "50")
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	first := filepath.Join(dir, "first")
	checkpointKill(t, cmd, first)
	p, err := Restart(context.Background(), first, RestartOptions{})
	if err != nil {
		t.Fatalf("first restart: %v", err)
	}
	at := lines(out)
	waitFor(t, "progress after the first restart", func() bool { return lines(out) >= at+5 })
	second := filepath.Join(dir, "second")
	if _, err := Checkpoint(context.Background(), p.PID, CheckpointOptions{File: second, Signal: unix.SIGKILL}); err != nil {
		unix.Kill(p.PID, unix.SIGKILL)
		waitProc(t, p)
		t.Fatalf("second checkpoint: %v", err)
	}
	if ws := waitProc(t, p); ws.Signal() != unix.SIGKILL {
		t.Fatalf("restarted run after the second checkpoint: %v, want killed by SIGKILL", ws)
	}
	if lines(out) >= 40 {
		t.Fatalf("the run was over before the second checkpoint")
	}
	if ws := restartWait(t, second, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("second restart: %v", ws)
	}
	sameFiles(t, out, ref)
}
