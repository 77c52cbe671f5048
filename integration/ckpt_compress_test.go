package integration

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lazarus/ckpt"
)

// TestCkptChkpntCompress: chkpnt -z writes a compressed image (its
// metadata says so), restart brings the process back and it finishes as an
// uninterrupted run does; --compress-level takes 1 to 4 and refuses
// anything else with one line and exit 2.
func TestCkptChkpntCompress(t *testing.T) {
	t.Parallel()
	prog := ckptProg(t)
	ref := ckptReference(t, prog)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"z", []string{"-z"}},
		{"compress-level-3", []string{"--compress-level", "3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := ckptMidway(t, prog, dir, dir, append(c.args, "-k", "KILL")...)
			s.proc.waitKilledBy(t, syscall.SIGKILL)
			img, err := ckpt.ReadImage(s.image)
			if err != nil {
				t.Fatal(err)
			}
			if img.Compressed() != "zstd" {
				t.Fatalf("chkpnt %s: image compression %q, want zstd", strings.Join(c.args, " "), img.Compressed())
			}
			if _, err := ckpt.VerifyImage(s.image, nil); err != nil {
				t.Fatalf("VerifyImage: %v", err)
			}
			r := ckptRun(t, dir, "restart", s.image)
			ckptWantCode(t, "restart IMAGE", r, ckptExit)
			ckptSameOutput(t, s.out, ref)
		})
	}
	t.Run("bad-level", func(t *testing.T) {
		dir := t.TempDir()
		for _, lv := range []string{"0", "5", "-1"} {
			r := ckptRun(t, dir, "chkpnt", "--compress-level", lv, "1")
			ckptWantFailure(t, "chkpnt --compress-level "+lv, r, "--compress-level")
			if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("chkpnt --compress-level %s: %v, want one line and exit 2", lv, r)
			}
		}
	})
}

// TestClibCompress: chkpnt(3) with CHKPNT_COMPRESS checkpoints the program
// into a compressed image, which restart brings back with its memory.
func TestClibCompress(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "compress.c")
	dir := t.TempDir()
	clibWant(t, "compress", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	img, err := ckpt.ReadImage(filepath.Join(dir, "z.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if img.Compressed() != "zstd" {
		t.Fatalf("CHKPNT_COMPRESS: image compression %q, want zstd", img.Compressed())
	}
	clibWant(t, "restart z.ckpt", clibRun(t, clibCmd(t, dir, bin("restart"), "z.ckpt")), true, 0, dir)
	if got := clibRead(t, filepath.Join(dir, "out")); got != "checkpointed\nresumed, memory intact\n" {
		t.Fatalf("output: got %q, want checkpointed, resumed", got)
	}
}
