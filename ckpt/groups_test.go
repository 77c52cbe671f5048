package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestGroupMemberOutside: a process group led by the checkpointed process
// has a member outside the tree (a shell pipeline: the leader and a process
// that is not its child). The checkpoint must refuse, naming the outside
// member, instead of writing an image that a restart refuses with "pid N
// in use"; and a restart that does find the pid held by a process group
// says so and names the holder.
func TestGroupMemberOutside(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	leader := exec.Command("sleep", "600")
	leader.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leader.Process.Kill(); leader.Wait() })
	outside := exec.Command("sleep", "600")
	outside.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: leader.Process.Pid}
	if err := outside.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outside.Process.Kill(); outside.Wait() })

	img := filepath.Join(dir, "img")
	_, err := Checkpoint(context.Background(), leader.Process.Pid, CheckpointOptions{File: img, Tree: true})
	var ue *UncheckpointableError
	want := fmt.Sprintf("sleep(%d)", outside.Process.Pid)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "process group") {
		t.Fatalf("checkpoint: got %v, want a refusal naming the process group's outside member %s", err, want)
	}

	// An image taken while the group was the leader's alone, restarted
	// while another process holds the group.
	outside.Process.Kill()
	outside.Wait()
	if _, err := Checkpoint(context.Background(), leader.Process.Pid, CheckpointOptions{File: img, Tree: true}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	holder := exec.Command("sleep", "600")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: leader.Process.Pid}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	leader.Process.Kill()
	leader.Wait()
	_, err = Restart(context.Background(), img, RestartOptions{PIDRetry: 1})
	var pe *PIDInUseError
	want = fmt.Sprintf("in use as the process group of sleep(%d)", holder.Process.Pid)
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("restart: got %v, want a PIDInUseError %q", err, want)
	}
}

// TestPIDHolderThread: a tid taken by a thread of another process is
// named with that process (a restart's "pid N for COMM in use" would
// otherwise name no one: the thread is no process of /proc's list).
func TestPIDHolderThread(t *testing.T) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if tid == self || tid == 0 {
			continue
		}
		st, err := readStat(self)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pidHolder(tid), fmt.Sprintf("as a thread of %s(%d)", st.Comm, self); got != want {
			t.Errorf("pidHolder(%d) = %q, want %q", tid, got, want)
		}
		if got := pidHolder(self); got != "" {
			t.Errorf("pidHolder of a process = %q, want \"\" (the message names it)", got)
		}
		return
	}
	t.Fatalf("the test process has no thread but its main one")
}
