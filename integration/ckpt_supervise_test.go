package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chkpnt -S USR2 -- COMMAND: each USR2 to chkpnt checkpoints the command's
// tree into the image, replaced each time, and the command runs on; chkpnt
// exits with the command's status; the image (the second checkpoint)
// restarts to the output of an uninterrupted run.
func TestCkptSupervisedSignal(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	ref := ckptReference(t, prog)
	out := filepath.Join(dir, "out")
	image := filepath.Join(dir, "img")
	// Its output goes to files: the command inherits it, and a pipe to a
	// process outside the tree (the test) is not checkpointable.
	logf := filepath.Join(t.TempDir(), "log")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	sup := exec.Command(bin("chkpnt"), append([]string{"-S", "USR2", "-f", image, "--", prog}, ckptFinite(out)...)...)
	sup.Dir, sup.Stdout, sup.Stderr = dir, lf, lf
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { sup.Wait(); close(done) }()
	t.Cleanup(func() { sup.Process.Kill(); <-done })
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(ckptDeadline)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("chkpnt -S: no %s after %v", what, ckptDeadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Each checkpoint renames a new file into place: a new inode.
	inode := func() uint64 {
		var st syscall.Stat_t
		if syscall.Stat(image, &st) != nil {
			return 0
		}
		return st.Ino
	}
	last := uint64(0)
	for n := 1; n <= 2; n++ {
		before := ckptLines(out)
		waitFor("progress", func() bool { return ckptLines(out) > before+2 })
		if err := syscall.Kill(sup.Process.Pid, syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		waitFor("new image", func() bool { ino := inode(); return ino != 0 && ino != last })
		last = inode()
	}
	select {
	case <-done:
	case <-time.After(2 * ckptDeadline):
		t.Fatal("chkpnt -S: still running after the command's end")
	}
	b, _ := os.ReadFile(logf)
	if code := sup.ProcessState.ExitCode(); code != ckptExit {
		t.Errorf("chkpnt -S USR2 -- ckstep: got exit %d, want the command's %d\n%s", code, ckptExit, b)
	}
	for _, want := range []string{"checkpoint 1 of " + prog, "checkpoint 2 of " + prog, "written: " + image} {
		if !strings.Contains(string(b), want) {
			t.Errorf("chkpnt -S stderr: got %q, want %q in it", b, want)
		}
	}
	ckptSameOutput(t, out, ref)
	if entries := ckptDirEntries(t, dir); len(entries) != 2 {
		t.Errorf("directory: got %v, want only out and img (no temporary left)", entries)
	}
	rr := ckptRun(t, dir, "restart", image)
	ckptWantCode(t, "restart of the supervised image", rr, ckptExit)
	ckptSameOutput(t, out, ref)

	bad := ckptRun(t, dir, "chkpnt", "-S", "KILL", "--", prog)
	ckptWantFailure(t, "chkpnt -S KILL", bad, "cannot be the checkpoint signal")
	bad = ckptRun(t, dir, "chkpnt", "-S", "USR2")
	ckptWantFailure(t, "chkpnt -S without a command", bad, "a command to run is expected")
}
