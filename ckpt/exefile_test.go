package ckpt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChildExecutable: a child running another program than its parent
// has its own /proc/PID/exe after the restart, not its parent's.
func TestChildExecutable(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	cmd := start(t, dir, "/bin/sh", "-c", sleep+" 300 & wait")
	var child int
	waitFor(t, "the child", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		_, err := fmt.Sscan(string(b), &child)
		return err == nil && readExe(child) == sleep
	})
	shell := readExe(cmd.Process.Pid)
	img := filepath.Join(dir, "tree")
	checkpointTreeKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer func() {
		unix.Kill(child, unix.SIGKILL)
		waitProc(t, p)
	}()
	if got := readExe(p.PID); got != shell {
		t.Errorf("restarted root's exe %q, want %q", got, shell)
	}
	if got := readExe(child); got != sleep {
		t.Errorf("restarted child's exe %q, want %q", got, sleep)
	}
}

func readExe(pid int) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return s
}
