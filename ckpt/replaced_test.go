package ckpt

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReplacedFile: a database held open read-write is replaced after the
// checkpoint by a copy restored from a backup (same path, another inode):
// the restart warns "DB was replaced since the checkpoint" (as CONVEX warns
// of a changed file, and goes on: the process then has the new file open).
// The same file written in place is "changed", not replaced.
func TestReplacedFile(t *testing.T) {
	needRoot(t)
	for _, replace := range []bool{true, false} {
		t.Run(fmt.Sprintf("replaced=%v", replace), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "db")
			if err := os.WriteFile(db, []byte("SQLite format 3\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
			result := filepath.Join(dir, "result")
			cmd := start(t, dir, cprog(t, "dbfile"), db, result)
			waitFor(t, "ready", func() bool { _, err := os.Stat(result + ".ready"); return err == nil })
			img := filepath.Join(dir, "img")
			checkpointKill(t, cmd, img)
			if replace {
				// cp from the backup, then rename over: a new inode.
				bak := filepath.Join(dir, "db.bak")
				if err := os.WriteFile(bak, []byte("SQLite backup!!"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(bak, db); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(db, []byte("SQLite written in place"), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			p, err := Restart(context.Background(), img, RestartOptions{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			var fdst, st unix.Stat_t
			errFD := unix.Stat(fmt.Sprintf("/proc/%d/fd/3", p.PID), &fdst)
			unix.Stat(db, &st)
			unix.Kill(p.PID, unix.SIGUSR1)
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				t.Fatalf("restarted program: status %#x", ws)
			}
			replaced := db + " was replaced since the checkpoint"
			changed := db + ": changed since the checkpoint"
			want, not := replaced, changed
			if !replace {
				want, not = changed, replaced
			}
			if got := log.String(); !strings.Contains(got, want) || strings.Contains(got, not) {
				t.Fatalf("restart warnings %q, want %q and not %q", got, want, not)
			}
			if errFD != nil || fdst.Ino != st.Ino {
				t.Errorf("fd 3 is inode %d (%v), the file at %s is %d", fdst.Ino, errFD, db, st.Ino)
			}
		})
	}
}

// TestReplacedWhileRestarting: a file the check before the restart found
// as it was checkpointed, replaced before the restart opened it, is warned
// of once opened (replacedMeanwhile); one already warned of is not warned
// of twice, and one that is still the same is not warned of.
func TestReplacedWhileRestarting(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.WriteFile(db, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := statRef(db, db)
	f := fileDesc{FD: 3, Kind: fdFile, Path: db, File: &ref}
	open := func() int {
		fd, err := unix.Open(db, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	var log bytes.Buffer
	r := &restorer{log: slog.New(slog.NewTextHandler(&log, nil))}
	p := &rproc{meta: &imageMeta{Comm: "db", PID: 42}}
	r.replacedMeanwhile(p, f, open())
	if log.Len() != 0 {
		t.Fatalf("the same file warned of: %s", log.String())
	}
	bak := filepath.Join(dir, "bak")
	if err := os.WriteFile(bak, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bak, db); err != nil {
		t.Fatal(err)
	}
	r.replacedMeanwhile(p, f, open())
	if got := log.String(); strings.Count(got, db+" was replaced since the checkpoint (while the restart ran)") != 1 {
		t.Fatalf("warnings %q, want one of %s replaced", got, db)
	}
	r.replacedMeanwhile(p, f, open())
	if got := log.String(); strings.Count(got, "was replaced") != 1 {
		t.Fatalf("warned twice: %q", got)
	}
}
