package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedTablesRefused: two processes of a tree sharing a descriptor
// table (CLONE_FILES), an fs struct (CLONE_FS) or their memory (CLONE_VM)
// cannot come back sharing them: the checkpoint refuses, naming both, and
// leaves the tree running untraced.
func TestSharedTablesRefused(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "sharetab")
	for _, tt := range []struct{ mode, want string }{
		{"files", "file descriptor table (clone CLONE_FILES)"},
		{"fs", "working directory, root and umask (clone CLONE_FS)"},
		{"vm", "memory (clone CLONE_VM, vfork)"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready")
			cmd := start(t, dir, prog, tt.mode, ready)
			waitFor(t, "ready", func() bool { _, err := os.Stat(ready); return err == nil })
			img := filepath.Join(dir, "img")
			_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
			var ue *UncheckpointableError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "shares its "+tt.want+" with sharetab(") {
				t.Fatalf("checkpoint: %v, want an UncheckpointableError about %s", err, tt.want)
			}
			if _, err := os.Stat(img); err == nil {
				t.Fatal("refused checkpoint left an image")
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			if err != nil || !strings.Contains(string(b), "TracerPid:\t0\n") || procState(cmd.Process.Pid) == 'T' {
				t.Fatalf("the tree after the refusal (%v), state %c:\n%s\nwant running, untraced", err, procState(cmd.Process.Pid), b)
			}
		})
	}
}
