package ckpt

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSetuidMappedFileReplaced: a process that ran with more rights than
// the restore's owner (real uid nobody, effective and file system uid
// root, as a set-uid program run by nobody) had a file of nobody's mapped.
// Its image is authentic (checkpointed with the key); nobody then
// replaces the file by a symbolic link to a file of root's that only root
// may read. Forced, the restore only warned of the change and mapped
// root's file into the process, opened with its root identity; it is
// refused now, naming the file. (A shared mapping of it is refused
// already: such files are reopened without following links.)
func TestSetuidMappedFileReplaced(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	key := []byte("the host's key, 32 bytes long...")
	mapped := filepath.Join(dir, "mapped")
	if err := os.WriteFile(mapped, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(mapped, 65534, 65534)
	ready := filepath.Join(dir, "ready")
	cmd := exec.Command("python3", "-c", `
import mmap, os, sys, time
f = open(sys.argv[1], "r+b")
m = mmap.mmap(f.fileno(), 4096, mmap.MAP_PRIVATE, mmap.PROT_READ)
f.close()
os.setgroups([65534])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 0, 0)
open(sys.argv[2], "w").close()
while True:
    time.sleep(0.05)
`, mapped, ready)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, "the program to take nobody's real uid", func() bool { _, err := os.Stat(ready); return err == nil })
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Signal: unix.SIGKILL, Key: key}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	precious := filepath.Join(dir, "precious")
	if err := os.WriteFile(precious, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(mapped)
	if err := os.Symlink(precious, mapped); err != nil {
		t.Fatal(err)
	}
	owner := &Owner{UID: 65534, GID: 65534, Groups: []int{65534}}
	p, err := Restart(context.Background(), img, RestartOptions{Key: key, Owner: owner, Force: true})
	if err == nil {
		unix.Kill(p.PID, unix.SIGKILL)
		p.Wait()
		t.Fatalf("restart mapped root's file in place of nobody's, for a process with root's file system identity")
	}
	if !strings.Contains(err.Error(), mapped) || !strings.Contains(err.Error(), "more rights") {
		t.Errorf("restart: %v; want the replaced file named", err)
	}
	if got, _ := os.ReadFile(precious); string(got) != "root's\n" {
		t.Errorf("root's file: %q", got)
	}
}
