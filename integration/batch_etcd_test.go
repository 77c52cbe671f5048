package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/internal/etcdtest"
	"lazarus/jobs"
)

// A daemon with etcd_endpoints keeps its jobs in etcd (and their scripts
// in shared_dir), not in lazarus.db: a job runs, qstat shows it, a
// restarted daemon finds it, and what etcd holds is the job's record.
func TestBatchEtcdStore(t *testing.T) {
	t.Parallel()
	c := etcdtest.New(t, 1)
	shared := filepath.Join(t.TempDir(), "shared")
	b := newBatch(t, fmt.Sprintf("etcd_endpoints = %s\netcd_insecure = true\nshared_dir = %s\netcd_prefix = /site/lazarus\n",
		strings.Join(c.Endpoints(), ","), shared))
	id := b.qsub(b.script("hello.sh", "#!/bin/sh\necho hello from etcd\n"))
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Fatalf("job = %+v, want finished", j)
	}
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("hello.sh.o%d", id))); got != "hello from etcd\n" {
		t.Errorf("output = %q", got)
	}
	held := b.qsub("-h", b.script("later.sh", "#!/bin/sh\necho later\n"))
	b.waitState(held, "held")
	if _, err := os.Stat(filepath.Join(b.home, "lazarus.db")); err == nil {
		t.Error("lazarus.db created with etcd_endpoints set")
	}
	if _, err := os.Stat(filepath.Join(shared, "scripts", fmt.Sprintf("%d.job", held))); err != nil {
		t.Errorf("the held job's script in shared_dir: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := c.Client().Get(ctx, fmt.Sprintf("/site/lazarus/jobs/%016x", held))
	if err != nil || len(r.Kvs) != 1 || !strings.Contains(string(r.Kvs[0].Value), "later.sh") {
		t.Errorf("etcd's record of job %d: %v, %v", held, r, err)
	}

	// A restarted daemon has every job, and runs the held one when
	// released.
	b.stop()
	b.start()
	if j := b.job(id); j.State != "finished" {
		t.Errorf("after a restart: job %d %s", id, j.State)
	}
	b.mustRun("qrls", fmt.Sprint(held))
	if j := b.waitState(held, "finished", "failed"); j.State != "finished" {
		t.Fatalf("released job = %+v", j)
	}
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("later.sh.o%d", held))); got != "later\n" {
		t.Errorf("output of the released job = %q", got)
	}
	// qdel removes a job's record from etcd, and its script from shared_dir.
	gone := b.qsub("-h", b.script("gone.sh", "#!/bin/sh\necho gone\n"))
	b.waitState(gone, "held")
	b.mustRun("qdel", fmt.Sprint(gone))
	b.waitFor("the record to leave etcd", func() bool {
		r, err := c.Client().Get(ctx, fmt.Sprintf("/site/lazarus/jobs/%016x", gone), clientv3.WithCountOnly())
		return err == nil && r.Count == 0
	})
	if _, err := os.Stat(filepath.Join(shared, "scripts", fmt.Sprintf("%d.job", gone))); !os.IsNotExist(err) {
		t.Errorf("the deleted job's script in shared_dir: %v", err)
	}
}

// A daemon whose etcd does not answer does not start, and says why.
func TestBatchEtcdUnreachable(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	conf := "etcd_endpoints = http://127.0.0.1:1\netcd_insecure = true\nshared_dir = " + filepath.Join(home, "shared") + "\n"
	if err := os.WriteFile(filepath.Join(home, "lazarus.conf"), []byte(testConf+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin("lazarusd"))
	cmd.Env = append(os.Environ(), "LAZARUS_HOME="+home)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("lazarusd did not give up on an unreachable etcd; output:\n%s", out)
	}
	if err == nil {
		t.Fatalf("lazarusd started without its etcd; output:\n%s", out)
	}
	if !strings.Contains(string(out), "etcd at http://127.0.0.1:1") {
		t.Errorf("lazarusd's message does not name its etcd:\n%s", out)
	}
}

// An array job on etcd: its subjobs' starts write their own records, not
// the array's (queue's layout 6), and the array runs to its end as on
// bbolt, its subjobs' outputs all there, also after a restart.
func TestBatchEtcdArray(t *testing.T) {
	t.Parallel()
	c := etcdtest.New(t, 1)
	shared := filepath.Join(t.TempDir(), "shared")
	b := newBatch(t, fmt.Sprintf("etcd_endpoints = %s\netcd_insecure = true\nshared_dir = %s\n", strings.Join(c.Endpoints(), ","), shared))
	script := b.script("sweep.sh", "#!/bin/sh\n#PBS -J 0-7\necho \"index=$PBS_ARRAY_INDEX\"\n")
	r := b.runWith(cmdOpts{dir: b.work}, "qsub", script)
	if r.code != 0 {
		t.Fatalf("qsub: %v", r)
	}
	id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
	if err != nil || !id.IsArrayForm() {
		t.Fatalf("qsub printed %q", r.stdout)
	}
	n := id.Base()
	if arr := b.waitEnded(id); arr.State != "finished" || arr.ArrayCount["Expired"] != 8 {
		t.Fatalf("array after its end: %+v", arr)
	}
	for i := range 8 {
		if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("sweep.sh.o%d.%d", n, i))); got != fmt.Sprintf("index=%d\n", i) {
			t.Errorf("subjob %d output %q", i, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Seven starts after the first (which begins the array, and writes
	// its record): seven versions of its starts key.
	if r, err := c.Client().Get(ctx, fmt.Sprintf("/lazarus/array_starts/%016x", uint64(n))); err != nil || len(r.Kvs) != 1 || r.Kvs[0].Version != 7 {
		t.Errorf("the array's starts key: %v, %v", r, err)
	}
	b.stop()
	b.start()
	if l := b.status(false, id); len(l) != 1 || l[0].State != "finished" {
		t.Errorf("after a restart: array %+v", l)
	}
}
