package integration

// chkpnt -C -F and restart -C with the copies beside an image (ckpt's
// copies.go): the copies are one restart point with the image.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ckptHiddenCopies lists the hidden copies of pid's descriptor fd in dir
// (.COMM.PID.FD.ID).
func ckptHiddenCopies(t *testing.T, dir string, pid, fd int) []string {
	t.Helper()
	var out []string
	prefix := fmt.Sprintf(".ckstep.%d.%d.", pid, fd)
	for _, n := range ckptDirEntries(t, dir) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// chkpnt -F -C over an image with copies: the new copies replace the old
// ones under the CONVEX name and the old image's hidden copies go; the
// restart -C of the new image gives the output of an uninterrupted run.
// A second image under the same copy names without -F is refused.
func TestCkptCopiesForce(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	ref := ckptReference(t, prog)
	p := ckptStart(t, dir, prog, ckptFinite(out)...)
	ckptWaitLines(t, out, ckptAt)
	fd := ckptFDOf(p.pid, out)
	pid := strconv.Itoa(p.pid)
	ckptWantCode(t, "chkpnt -C -f image PID", ckptRun(t, dir, "chkpnt", "-C", "-f", "image", pid), 0)
	first := ckptHiddenCopies(t, dir, p.pid, fd)
	if len(first) != 1 {
		t.Fatalf("hidden copies after the first checkpoint: %q, want one", first)
	}
	visible := filepath.Join(dir, fmt.Sprintf("ckstep.%d.out.%d", p.pid, fd))
	r := ckptRun(t, dir, "chkpnt", "-C", "-f", "other", pid)
	ckptWantFailure(t, "chkpnt -C -f other PID (the copy's name taken)", r, filepath.Base(visible)+": file exists")
	ckptNoFile(t, filepath.Join(dir, "other"))
	ckptWaitLines(t, out, ckptAt+2)
	ckptWantCode(t, "chkpnt -C -F -k KILL -f image PID", ckptRun(t, dir, "chkpnt", "-C", "-F", "-k", "KILL", "-f", "image", pid), 0)
	p.waitKilledBy(t, syscall.SIGKILL)
	saved, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	second := ckptHiddenCopies(t, dir, p.pid, fd)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("hidden copies after chkpnt -F: %q, want one, not the first checkpoint's %q", second, first)
	}
	if got, _ := os.ReadFile(visible); !bytes.Equal(got, saved) {
		t.Fatalf("%s after chkpnt -F: got %q, want the file as checkpointed the second time: %q", visible, got, saved)
	}
	if err := os.WriteFile(out, []byte("overwritten after the checkpoint\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ckptWantCode(t, "restart -C image", ckptRun(t, t.TempDir(), "restart", "-C", filepath.Join(dir, "image")), ckptExit)
	ckptSameOutput(t, out, ref)
}

// A copy changed after the checkpoint is refused by restart -C in one
// line, before anything is copied back: the file it would have replaced is
// left as it is, and no process is started.
func TestCkptCopiesRefused(t *testing.T) {
	t.Parallel()
	c := ckptCheckpointCopy(t, false)
	f, err := os.OpenFile(c.copy, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	f.ReadAt(b, 1)
	b[0] ^= 1
	f.WriteAt(b, 1)
	f.Close()
	now := []byte("written after the checkpoint\n")
	if err := os.WriteFile(c.out, now, 0o644); err != nil {
		t.Fatal(err)
	}
	r := ckptRun(t, t.TempDir(), "restart", "-C", c.image)
	ckptWantFailure(t, "restart -C IMAGE (a copy changed)", r, "not the copy this checkpoint made", "its content is not the image's copy")
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("restart: %d lines on stderr, want one: %q", n+1, r.stderr)
	}
	if got, _ := os.ReadFile(c.out); !bytes.Equal(got, now) {
		t.Errorf("%s after the refused restart -C: got %q, want it untouched", c.out, got)
	}
}
