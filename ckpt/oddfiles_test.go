package ckpt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOddDescriptors: each kind of descriptor or state a restart could not
// reopen by its path is either restored (the program checks it from the
// inside after the restart) or refused at checkpoint time, naming what is
// wrong; with Force the descriptor comes back closed. None may fail only
// at restart.
func TestOddDescriptors(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "oddfds")
	tests := []struct {
		mode   string
		refuse string // part of the checkpoint's error; "" restored
		forced string // what the program sees after a forced checkpoint
	}{
		{mode: "opath"},
		{mode: "symlink"},
		{mode: "nofd"},
		{mode: "zombie"},
		{mode: "ns", refuse: "fd 3: net:[", forced: "closed"},
		{mode: "deaddir", refuse: "working directory ", forced: "ok"},
		{mode: "dirfd", refuse: "unlinked directory", forced: "closed"},
		{mode: "devnode", refuse: "device node ", forced: "closed"},
		{mode: "deadproc", refuse: "which has ended", forced: "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			dir := t.TempDir()
			result := filepath.Join(dir, "result")
			cmd := start(t, dir, prog, tt.mode, result)
			waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
			img := filepath.Join(dir, "img")
			opts := CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL, SignalAll: true}
			if tt.refuse != "" {
				_, err := Checkpoint(context.Background(), cmd.Process.Pid, opts)
				var ue *UncheckpointableError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.refuse) {
					t.Fatalf("checkpoint: got %v, want an UncheckpointableError with %q", err, tt.refuse)
				}
				if _, err := os.Stat(img); err == nil {
					t.Fatalf("refused checkpoint left image %s", img)
				}
				opts.Force = true
			}
			res, err := Checkpoint(context.Background(), cmd.Process.Pid, opts)
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			cmd.Wait()
			for _, m := range res.Images[1:] {
				im, err := ReadImage(m)
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "old member reaped", func() bool { return procState(im.PID) == 0 })
			}
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
			want := "ok"
			if tt.forced != "" {
				want = tt.forced
			}
			b, _ := os.ReadFile(result)
			if got := strings.TrimSpace(string(b)); got != want {
				t.Fatalf("after the restart the program says %q, want %q", got, want)
			}
		})
	}
}
