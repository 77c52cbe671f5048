package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSharedTablesRefused: two processes of a tree sharing their memory
// (CLONE_VM without CLONE_THREAD), or two siblings sharing a descriptor
// table their parent does not (CLONE_PARENT|CLONE_FILES), cannot come back
// sharing them: the checkpoint refuses, naming both, and leaves the tree
// running untraced.
func TestSharedTablesRefused(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "sharetab")
	for _, tt := range []struct{ mode, want string }{
		{"vm", "memory (clone CLONE_VM without CLONE_THREAD)"},
		{"siblings", "file descriptor table (clone CLONE_FILES)"},
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

// TestSharedTables: a child made by clone(CLONE_FILES), clone(CLONE_FS) or
// both comes back sharing its parent's descriptor table, fs struct or both
// (kcmp says so), and only those: after the restart a descriptor one opens
// is seen by the other, a chdir of one moves the other, exactly as the
// sharing says; the descriptor opened before the clone is there once, at
// its offset.
func TestSharedTables(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "tablesync")
	for _, tt := range []struct {
		mode      string
		files, fs bool
	}{
		{"files", true, false},
		{"fs", false, true},
		{"both", true, true},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			dir, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"sub", "sub2"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"byparent", "bychild"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := start(t, dir, prog, tt.mode, dir)
			waitFor(t, "ready", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			img := filepath.Join(dir, "img")
			res := checkpointTreeKill(t, cmd, img)
			if len(res.Images) != 2 {
				t.Fatalf("images %v, want 2", res.Images)
			}
			p, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			kids := childrenOf(p.PID)
			if len(kids) != 1 {
				unix.Kill(p.PID, unix.SIGKILL)
				waitProc(t, p)
				t.Fatalf("restarted parent has children %v, want one", kids)
			}
			for _, k := range []struct {
				typ  int
				name string
				want bool
			}{{kcmpFiles, "descriptor table", tt.files}, {kcmpFS, "fs struct", tt.fs}, {kcmpVM, "memory", false}} {
				c, err := kcmp(p.PID, kids[0], k.typ)
				if err != nil {
					t.Fatalf("kcmp: %v", err)
				}
				if got := c == 0; got != k.want {
					t.Errorf("restarted parent and child share their %s: %v, want %v", k.name, got, k.want)
				}
			}
			unix.Kill(p.PID, unix.SIGUSR1)
			ws := waitProc(t, p)
			result, _ := os.ReadFile(filepath.Join(dir, "result"))
			child, _ := os.ReadFile(filepath.Join(dir, "child.log"))
			if ws.ExitStatus() != 0 {
				t.Errorf("restarted tree: %v, want exit 0\nparent: %s\nchild: %s", ws, result, child)
			}
		})
	}
}
