package queue

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"lazarus/jobs"
)

var update = flag.Bool("update", false, "rewrite testdata/schema1.db")

const golden = "testdata/schema1.db"

// writeGolden creates the schema 1 database kept in testdata, so that a
// later schema's migration is tested against a file this code wrote.
func writeGolden(t *testing.T) {
	os.Remove(golden)
	s, err := Open(golden, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := NewQueue("batch", t0)
	q.Priority = 3
	if err := s.CreateQueue(q); err != nil {
		t.Fatal(err)
	}
	done := newJob(s, "batch", 1000)
	done.Resources = jobs.Resources{NCPUs: 2, Mem: 1 << 30, Walltime: time.Hour}
	done.Checkpoint = jobs.Policy{Kind: jobs.CheckpointInterval, Interval: 2 * time.Hour}
	if err := s.Submit(done, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateJob(done.ID, func(j *jobs.Job) error {
		if err := j.Start(t0.Add(time.Minute)); err != nil {
			return err
		}
		return j.End(jobs.Result{End: t0.Add(time.Hour), UserCPU: 3 * time.Second, SysCPU: time.Second})
	}); err != nil {
		t.Fatal(err)
	}
	queued := newJob(s, "batch", 1001)
	queued.ExportEnv = true
	queued.Vars = []string{"A=1"}
	if err := s.Submit(queued, []byte("#!/bin/sh\necho queued\n"), []byte("HOME=/home/u\x00"), nil); err != nil {
		t.Fatal(err)
	}
	held := newJob(s, "batch", 1000)
	held.State = jobs.Held
	held.After = t0.Add(24 * time.Hour)
	if err := s.Submit(held, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func copyGolden(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lazarus.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSchema1Golden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	s := openStore(t, copyGolden(t))
	if s.Unreadable() != 0 {
		t.Errorf("%d unreadable records", s.Unreadable())
	}
	v := s.View()
	if q := v.Queue("batch"); q == nil || q.Priority != 3 {
		t.Errorf("queue batch = %+v", q)
	}
	done := v.Job(1)
	if done == nil || done.State != jobs.Finished || len(done.Segments) != 1 ||
		done.Segments[0].CPU() != 4*time.Second || done.Resources.Mem != 1<<30 ||
		done.Checkpoint.Interval != 2*time.Hour {
		t.Errorf("job 1 = %+v", done)
	}
	if q := v.Job(2); q == nil || q.State != jobs.Queued || !q.ExportEnv || len(q.Vars) != 1 {
		t.Errorf("job 2 = %+v", q)
	}
	if env, _ := s.Env(2); string(env) != "HOME=/home/u\x00" {
		t.Errorf("job 2 env = %q", env)
	}
	if script, _ := s.Script(2); string(script) != "#!/bin/sh\necho queued\n" {
		t.Errorf("job 2 script = %q", script)
	}
	if h := v.Job(3); h == nil || h.State != jobs.Held || !h.After.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("job 3 = %+v", h)
	}
	if id := s.NextID(); id != 4 {
		t.Errorf("NextID = %d, want 4", id)
	}
	// Schema 3: the submission index exists, and purging a job of schema 1
	// (which has no key) works.
	if id, dup, err := s.SubmitOnce("k", newJob(s, "batch", 1000), nil, nil, nil); err != nil || dup {
		t.Errorf("keyed submission on a migrated database: %d, %v, %v", id, dup, err)
	}
	if _, err := s.DeleteJob(1, nil); err != nil {
		t.Errorf("delete a schema 1 job: %v", err)
	}
	// Schema 5: the accounting outbox exists (and is empty).
	if recs, err := s.Accounting(10); err != nil || len(recs) != 0 {
		t.Errorf("accounting outbox of a migrated database: %v, %v", recs, err)
	}
	if err := s.AccountingDone(1); err != nil {
		t.Errorf("AccountingDone on a migrated database: %v", err)
	}
	checkConsistent(t, s)
}

func TestUnreadableRecordSkipped(t *testing.T) {
	path := copyGolden(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		if err := b.Put(idKey(2), []byte("{not json")); err != nil {
			return err
		}
		return b.Put(idKey(9), []byte(`{"id":9,"state":"sleeping"}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path)
	if got := s.Unreadable(); got != 2 {
		t.Errorf("Unreadable() = %d, want 2", got)
	}
	if s.View().Job(1) == nil || s.View().Job(3) == nil {
		t.Error("good records were not loaded")
	}
	if id := s.NextID(); id != 10 {
		t.Errorf("NextID = %d, want 10 (past the unreadable record)", id)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := copyGolden(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("99"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open = %v, want ErrNewerSchema", err)
	}
}

func TestNewDatabaseGetsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s := openStore(t, path)
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != strconv.Itoa(SchemaVersion) {
			t.Errorf("schema_version = %q", v)
		}
		for _, b := range [][]byte{bucketJobs, bucketScript, bucketEnv, bucketQueues, bucketSubmissions, bucketSubmitKeys, bucketAccounting} {
			if tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
}
