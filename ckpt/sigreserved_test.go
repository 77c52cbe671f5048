package ckpt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReservedSignals: the engine's single steps raise SIGTRAP, and
// glibc's SIGEV_THREAD timers signal their helper thread with signal 32. A
// checkpoint must leave a running program's SIGTRAP handler, mask and
// pending signals as they were, and so must a restart, after which the
// timer's thread goes on receiving its signal (the program is not killed
// by signal 32).
func TestReservedSignals(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	result := filepath.Join(dir, "result")
	cmd := start(t, dir, cprog(t, "reserved", "-pthread"), result)
	waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
	said := func() string { b, _ := os.ReadFile(result); return strings.TrimSpace(string(b)) }

	// The running program, checkpointed and let go, checks itself.
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "probe")}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if err := unix.Kill(cmd.Process.Pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "round 1", func() bool { return lines(result) >= 1 || procState(cmd.Process.Pid) == 'Z' })
	if got := said(); got != "ok 1" {
		t.Fatalf("after a checkpoint the running program says %q, want \"ok 1\"", got)
	}

	img := filepath.Join(dir, "reserved")
	checkpointKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := unix.Kill(p.PID, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	ws := waitProc(t, p)
	if got := said(); ws.ExitStatus() != 0 || ws.Signaled() || got != "ok 1\nok 2" {
		t.Fatalf("restarted program: status %#x (signal %d), says %q, want exit 0 and \"ok 1\\nok 2\"", int(ws), ws.Signal(), got)
	}
}
