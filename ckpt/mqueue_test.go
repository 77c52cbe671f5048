package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMqueueNameTaken: a tree killed after its checkpoint leaves its named
// queues behind in a shared IPC namespace. Its restart then fails naming
// the queue; with Force the queue of that name is replaced by the saved
// one, and the program finds its queues as they were.
func TestMqueueNameTaken(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "kobj_mqueue", "-lrt")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, out)
	pid := cmd.Process.Pid
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	names := []string{fmt.Sprintf("kobj-mq-%d", pid), fmt.Sprintf("kobj-mq2-%d", pid), fmt.Sprintf("kobj-mq3-%d", pid), fmt.Sprintf("kobj-mq4-%d", pid)}
	t.Cleanup(func() {
		for _, n := range names {
			mqUnlink(n)
		}
	})
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	waitReaped(t, res)
	_, err = Restart(context.Background(), img, RestartOptions{})
	if err == nil || !strings.Contains(err.Error(), "/kobj-mq-") || !strings.Contains(err.Error(), "file exists") {
		t.Fatalf("restart with the queues still there: %v, want it refused naming the queue (file exists)", err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatalf("forced restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	got, _ := os.ReadFile(out)
	if !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the forced restart: %v: %s", ws, got)
	}
}
