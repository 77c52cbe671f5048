package ckpt

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// startIPC starts testdata/sysvipc in mode, in an IPC namespace of its own
// if own, and waits until its objects are made.
func startIPC(t *testing.T, dir, mode string, own bool) (*exec.Cmd, string) {
	t.Helper()
	result := filepath.Join(dir, "result")
	cmd := exec.Command(cprog(t, "sysvipc"), mode, result)
	cmd.Dir = dir
	if own {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
	return cmd, result
}

// restartIPC restarts img, lets the program check its objects (SIGUSR1)
// and returns what it says.
func restartIPC(t *testing.T, img, result string) string {
	t.Helper()
	os.Remove(result)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := unix.Kill(p.PID, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: status %#x", ws)
	}
	b, _ := os.ReadFile(result)
	return strings.TrimSpace(string(b))
}

// TestSysVIPC: the segments (keyed, removed while attached, attached
// twice and read-only, attached in part and split by mprotect, shared with
// a child, attached by nobody), a semaphore set and a message queue of a
// tree in its own IPC namespace come back with their ids, keys, modes,
// owners, contents and attachments, in a new namespace: the program
// checks each through its old id (shmctl, shmdt, semctl, msgrcv). Two
// restarts of one image run side by side.
func TestSysVIPC(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd, result := startIPC(t, dir, "all", true)
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL, SignalAll: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	root, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	ipc := root.meta.IPC
	if ipc == nil || !ipc.OwnNS || len(ipc.Shm) != 4 || len(ipc.Sem) != 2 || len(ipc.Msg) != 1 || len(ipc.Msg[0].Messages) != 3 {
		t.Fatalf("image IPC state %+v, want its own namespace, 4 segments, 2 semaphore sets, 1 queue of 3", ipc)
	}
	if u := root.meta.SemUndo; len(u) != 1 || len(u[0].Adj) != 1 || u[0].Adj[0] != -1 {
		t.Errorf("the root's SEM_UNDO adjustments %+v, want -1 to one set", u)
	}
	for _, s := range ipc.Shm {
		if s.Data == "" {
			t.Fatalf("segment %d: no data file", s.ID)
		}
	}
	for _, m := range res.Images[1:] {
		im, _ := ReadImage(m)
		waitFor(t, "old member reaped", func() bool { return procState(im.PID) == 0 })
	}
	if got := restartIPC(t, img, result); got != "ok" {
		t.Fatalf("after the restart the program says %q", got)
	}
	// The image is unchanged by a restart: a second one finds the same.
	if got := restartIPC(t, img, result); got != "ok" {
		t.Fatalf("after a second restart the program says %q", got)
	}
}

// TestSysVIPCCorruptSegment: a segment file changed since the checkpoint is
// refused (its SHA-256 is in the metadata), and no process is left.
func TestSysVIPCCorruptSegment(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd, _ := startIPC(t, dir, "all", true)
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL, SignalAll: true}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	root, _ := ReadImage(img)
	// Hostile metadata, checksums made right: refused by the reader.
	good, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(m *imageMeta){
		"data-outside":  func(m *imageMeta) { m.IPC.Shm[0].Data = "../../etc/passwd" },
		"no-size":       func(m *imageMeta) { m.IPC.Shm[0].Size = 0 },
		"message-type0": func(m *imageMeta) { m.IPC.Msg[0].Messages[0].Type = 0 },
		"no-semaphores": func(m *imageMeta) { m.IPC.Sem[0].Values = nil },
	} {
		p := forge(t, dir, name, parseRaw(t, good).editMeta(t, edit).bytes(true, false, nil))
		if _, err := ReadImage(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: ReadImage: %v, want ErrCorrupt", name, err)
		}
	}
	seg := filepath.Join(dir, root.meta.IPC.Shm[0].Data)
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("x"), 10)
	f.Close()
	_, err = Restart(context.Background(), img, RestartOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "segment") {
		t.Fatalf("restart with a changed segment file: %v, want ErrCorrupt about the segment", err)
	}
}

// TestSysVIPCHostNamespace: in the checkpointer's own namespace the
// tree's segment is saved (it is attached by a member); while the old
// segment still holds the id the restart fails, naming it, and once it
// is removed the restart gets that id back.
func TestSysVIPCHostNamespace(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd, result := startIPC(t, dir, "host", false)
	b, _ := os.ReadFile(result)
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("segment id %q: %v", b, err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, ipcRMID, nil) })
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Signal: unix.SIGKILL}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	root, _ := ReadImage(img)
	if ipc := root.meta.IPC; ipc == nil || ipc.OwnNS || len(ipc.Shm) != 1 || ipc.Shm[0].ID != id {
		t.Fatalf("image IPC state %+v, want segment %d in the caller's namespace", ipc, id)
	}
	_, err = Restart(context.Background(), img, RestartOptions{})
	var inUse *IPCInUseError
	if !errors.As(err, &inUse) || inUse.ID != id || !strings.Contains(err.Error(), "shmid "+strconv.Itoa(id)+" for sysvipc in use") {
		t.Fatalf("restart while the old segment exists: %v, want shmid %d in use", err, id)
	}
	if _, err := unix.SysvShmCtl(id, ipcRMID, nil); err != nil {
		t.Fatal(err)
	}
	if got := restartIPC(t, img, result); got != "ok" {
		t.Fatalf("after the restart the program says %q", got)
	}
}
