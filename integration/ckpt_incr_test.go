package integration

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// chkpnt -T, then chkpnt -b against that image with -k KILL: the second
// image is incremental (-v says so), restart reads through the chain and
// the program ends as an uninterrupted run; chkpnt --merge makes the image
// self-contained (it restarts with its parent gone); restart of an image
// whose parent is gone fails with a one-line message.
func TestCkptChkpntIncremental(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	ref := ckptReference(t, prog)
	s := ckptMidway(t, prog, dir, dir, "-T")
	ckptWaitLines(t, s.out, ckptLines(s.out)+2)
	incr := filepath.Join(dir, "incr")
	r := ckptRun(t, dir, "chkpnt", "-v", "--parent", s.image, "-f", incr, "-k", "KILL", strconv.Itoa(s.pid))
	ckptWantCode(t, "chkpnt -b IMAGE -k KILL", r, 0)
	if !strings.Contains(r.stderr, "(incremental)") {
		t.Errorf("chkpnt -v -b: %q, want it to say (incremental)", r.stderr)
	}
	s.proc.waitKilledBy(t, syscall.SIGKILL)
	// The restored program writes on from where it was.
	r = ckptRun(t, dir, "restart", incr)
	ckptWantCode(t, "restart INCREMENTAL", r, ckptExit)
	ckptSameOutput(t, s.out, ref)

	r = ckptRun(t, dir, "chkpnt", "--merge", incr, "42")
	ckptWantFailure(t, "chkpnt --merge IMAGE PID", r, "--merge takes no pid")
	r = ckptRun(t, dir, "chkpnt", "-v", "--merge", incr)
	ckptWantCode(t, "chkpnt --merge", r, 0)
	if !strings.Contains(r.stderr, "1 images merged") {
		t.Errorf("chkpnt -v --merge: %q", r.stderr)
	}
	parent := filepath.Join(dir, "parent")
	if err := renameFile(s.image, parent); err != nil {
		t.Fatal(err)
	}
	r = ckptRun(t, dir, "restart", incr)
	ckptWantCode(t, "restart MERGED", r, ckptExit)
	ckptSameOutput(t, s.out, ref)
}

// The parent of an incremental image gone: a one-line error.
func TestCkptRestartParentMissing(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	s := ckptMidway(t, prog, dir, dir, "-T")
	incr := filepath.Join(dir, "incr")
	r := ckptRun(t, dir, "chkpnt", "-b", s.image, "-f", incr, "-k", "KILL", strconv.Itoa(s.pid))
	ckptWantCode(t, "chkpnt -b IMAGE -k KILL", r, 0)
	s.proc.waitKilledBy(t, syscall.SIGKILL)
	if err := renameFile(s.image, filepath.Join(dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	r = ckptRun(t, dir, "restart", incr)
	ckptWantFailure(t, "restart INCREMENTAL without its parent", r, "parent checkpoint unusable", "image")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("restart: %q, want one line", r.stderr)
	}
}

func renameFile(from, to string) error { return syscall.Rename(from, to) }
