package queue

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sweep removes old spool files that no job names (a submission that
// failed after writing its file, a job's file left after its removal,
// a temporary never renamed), keeps every job's file, young orphans (a
// submission may be in flight) and files that are not the store's, and
// logs each removal.
func TestEtcdSweepSpool(t *testing.T) {
	var logBuf bytes.Buffer
	f := &fixture{backend: "etcd", etcd: newFixture(t, "etcd").etcd, prefix: "/lazarus",
		spool: filepath.Join(t.TempDir(), "spool"),
		opts:  Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}}
	s := f.node(t, f.etcd.NewClient(t))
	kept := newJob(s, "batch", 1)
	if err := s.Submit(kept, []byte("echo kept\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	gone := newJob(s, "batch", 2)
	if err := s.Submit(gone, []byte("echo gone\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteJob(gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) string {
		p := filepath.Join(f.spool, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A job's file left behind (removed while its node was away), a
	// failed submission's file (its id never committed), a temporary.
	leftover := write(filepath.Base(spoolPath(f.spool, gone.ID)), old)
	failed := write(filepath.Base(spoolPath(f.spool, s.NextID())), old)
	tmp := write("."+filepath.Base(spoolPath(f.spool, 99))+".tmp123", old)
	young := write(filepath.Base(spoolPath(f.spool, s.NextID())), time.Now())
	foreign := write("README", old)
	if err := os.Chtimes(spoolPath(f.spool, kept.ID), old, old); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepSpool(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("swept %d files, want 3", n)
	}
	for _, p := range []string{leftover, failed, tmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: not swept (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range []string{young, foreign, spoolPath(f.spool, kept.ID)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s swept: %v", filepath.Base(p), err)
		}
	}
	if got, err := s.Script(kept.ID); err != nil || string(got) != "echo kept\n" {
		t.Errorf("script of the kept job: %q, %v", got, err)
	}
	if got := logBuf.String(); strings.Count(got, "orphan") != 3 || !strings.Contains(got, "job_id="+strconv.FormatUint(uint64(gone.ID), 10)) {
		t.Errorf("log of the sweep:\n%s", got)
	}
	// bbolt has no spool: nothing to sweep.
	b := newFixture(t, "bbolt").open(t)
	if n, err := b.SweepSpool(time.Hour); n != 0 || err != nil {
		t.Errorf("bbolt sweep: %d, %v", n, err)
	}
}
