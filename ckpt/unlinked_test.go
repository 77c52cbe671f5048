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

// TestUnlinkedFiles: unlinked files come back as the same files, checked
// from the inside by the program after the restart: size, holes, mode
// and owner; two descriptions (and a child's own) of one file are one
// file again, its shared mapping too; in its own directory; a file still
// linked under another name is that file; a memfd has its name and seals.
func TestUnlinkedFiles(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result")
	cmd := start(t, dir, cprog(t, "unlinked"), files, result)
	waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL, SignalAll: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	// One copy per unlinked file (the sparse file, the O_TMPFILE file,
	// the memfd), not per descriptor; sparse.
	var copies []string
	for _, c := range res.Copies {
		copies = append(copies, filepath.Base(c))
		var st unix.Stat_t
		if err := unix.Stat(c, &st); err == nil && st.Size == 1<<20 && st.Blocks >= 64 {
			t.Errorf("copy %s of the sparse file has %d blocks: its holes were filled", c, st.Blocks)
		}
	}
	if len(copies) != 3 {
		t.Errorf("copies %v, want 3 (one per unlinked file)", copies)
	}
	for _, m := range res.Images[1:] {
		im, _ := ReadImage(m)
		waitFor(t, "old member reaped", func() bool { return procState(im.PID) == 0 })
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: status %#x", ws)
	}
	b, _ := os.ReadFile(result)
	if got := strings.TrimSpace(string(b)); got != "ok" {
		t.Fatalf("after the restart the program says %q", got)
	}
}

// TestUnlinkedCopyOfRefusedCheckpoint: a checkpoint refused after the
// copies of the tree's unlinked files were written (a pipe to a process
// outside the tree) leaves none of them beside the image, so the next
// checkpoint to that name finds it free.
func TestUnlinkedCopyOfRefusedCheckpoint(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result")
	imgs := filepath.Join(dir, "imgs")
	if err := os.Mkdir(imgs, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cprog(t, "unlinked"), files, result)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe() // its other end is the test's: outside the tree
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range childrenOf(cmd.Process.Pid) { // its child too
			unix.Kill(c, unix.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
	for round := 0; round < 2; round++ {
		_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(imgs, "img"), Tree: true})
		if err == nil || !strings.Contains(err.Error(), "outside of selected processes") {
			t.Fatalf("round %d: checkpoint: %v, want the pipe refused", round, err)
		}
		left, _ := os.ReadDir(imgs)
		for _, e := range left {
			t.Errorf("round %d: left beside the image: %s", round, e.Name())
		}
	}
	if err := cmd.Process.Signal(unix.Signal(0)); err != nil {
		t.Errorf("the program did not run on: %v", err)
	}
}
