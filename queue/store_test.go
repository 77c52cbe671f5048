package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"lazarus/jobs"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newJob(s *Store, queue string, uid uint32) *jobs.Job {
	id := s.NextID()
	return &jobs.Job{
		ID: id, Name: fmt.Sprintf("job%d", id), Queue: queue, State: jobs.Queued,
		Owner:     jobs.Owner{UID: uid, GID: uid, Groups: []uint32{uid, 100}, Name: fmt.Sprintf("u%d", uid)},
		Submitted: t0, Changed: t0, Workdir: "/tmp", Script: "/spool/x",
		Stdout: "/tmp/o", Stderr: "/tmp/e", Rerunnable: true,
		Resources: jobs.Resources{NCPUs: 1}, Checkpoint: jobs.DefaultPolicy,
	}
}

func submit(t *testing.T, s *Store, queue string, uid uint32) *jobs.Job {
	t.Helper()
	j := newJob(s, queue, uid)
	if err := s.Submit(j, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	return j
}

func ids(seq func(func(*jobs.Job) bool)) []jobs.ID {
	var out []jobs.ID
	for j := range seq {
		out = append(out, j.ID)
	}
	return out
}

func TestSubmitUpdateDeleteSurviveReopen(t *testing.T) {
	forBackends(t, testSubmitUpdateDeleteSurviveReopen)
}

func testSubmitUpdateDeleteSurviveReopen(t *testing.T, f *fixture) {
	s := f.open(t)
	if err := s.CreateQueue(NewQueue("batch", t0)); err != nil {
		t.Fatal(err)
	}
	a := submit(t, s, "batch", 1000)
	b := submit(t, s, "batch", 1001)
	c := submit(t, s, "batch", 1000)
	if _, err := s.UpdateJob(b.ID, func(j *jobs.Job) error { return j.Start(t0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateJob(c.ID, func(j *jobs.Job) error { return j.Hold("root", t0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteJob(a.ID, nil); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(newJob(s, "batch", 1), nil, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after close: %v", err)
	}

	s2 := f.open(t)
	checkConsistent(t, s2)
	v := s2.View()
	if v.Job(a.ID) != nil {
		t.Error("deleted job came back")
	}
	if got := v.Job(b.ID); got == nil || got.State != jobs.Running || len(got.Segments) != 1 {
		t.Errorf("job b after reopen: %+v", got)
	}
	if got := v.Job(c.ID); got == nil || got.State != jobs.Held || got.Reason != "held by root" {
		t.Errorf("job c after reopen: %+v", got)
	}
	if next := s2.NextID(); next <= c.ID {
		t.Errorf("NextID after reopen = %d, want > %d", next, c.ID)
	}
	if got := ids(v.JobsOf(1000)); !slices.Equal(got, []jobs.ID{c.ID}) {
		t.Errorf("JobsOf(1000) = %v", got)
	}
	if got := ids(v.JobsInState(jobs.Running)); !slices.Equal(got, []jobs.ID{b.ID}) {
		t.Errorf("JobsInState(running) = %v", got)
	}
}

func TestDeletedLastIDNotReused(t *testing.T) { forBackends(t, testDeletedLastIDNotReused) }

func testDeletedLastIDNotReused(t *testing.T, f *fixture) {
	s := f.open(t)
	j := submit(t, s, "batch", 1)
	if _, err := s.DeleteJob(j.ID, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := f.open(t)
	if next := s2.NextID(); next <= j.ID {
		t.Errorf("id %d reused after delete and reopen (got %d)", j.ID, next)
	}
}

func TestPendingOrder(t *testing.T) { forBackends(t, testPendingOrder) }

func testPendingOrder(t *testing.T, f *fixture) {
	s := f.open(t)
	var want []jobs.ID
	for i := range 6 {
		q := "a"
		if i%2 == 1 {
			q = "b"
		}
		j := submit(t, s, q, 1)
		if q == "a" {
			want = append(want, j.ID)
		}
	}
	// Running and held jobs leave the pending index; requeued ones are in it.
	if _, err := s.UpdateJob(want[0], func(j *jobs.Job) error { return j.Start(t0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateJob(want[1], func(j *jobs.Job) error { return j.Hold("x", t0) }); err != nil {
		t.Fatal(err)
	}
	if got := ids(s.View().Pending("a")); !slices.Equal(got, want[2:]) {
		t.Errorf("Pending(a) = %v, want %v", got, want[2:])
	}
	if _, err := s.UpdateJob(want[0], func(j *jobs.Job) error { return j.Lost("crash", t0) }); err != nil {
		t.Fatal(err)
	}
	wantAfter := []jobs.ID{want[0], want[2]}
	if got := ids(s.View().Pending("a")); !slices.Equal(got, wantAfter) {
		t.Errorf("Pending(a) after requeue = %v, want %v", got, wantAfter)
	}
	counts := s.View().QueueCounts()
	if got := counts["b"][jobs.Queued]; got != 3 || len(counts["a"]) != 3 {
		t.Errorf("QueueCounts = %v, want 3 queued in b and three states in a", counts)
	}
	if got := len(ids(s.View().Unended())); got != 6 {
		t.Errorf("Unended has %d jobs, want 6", got)
	}
}

func TestConcurrentWrites(t *testing.T) { forBackends(t, testConcurrentWrites) }

func testConcurrentWrites(t *testing.T, f *fixture) {
	s := f.open(t)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				j := newJob(s, "batch", uint32(w))
				if err := s.Submit(j, []byte("#!/bin/sh\n"), []byte("A=1\x00"), nil); err != nil {
					errs <- err
					return
				}
				// Racing updates of the same job must not lose one.
				if _, err := s.UpdateJob(j.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "X=1"); return nil }); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for j := range s.View().Jobs() {
		n++
		if len(j.Vars) != 1 {
			t.Errorf("job %d vars = %v", j.ID, j.Vars)
		}
	}
	if n != workers*each {
		t.Errorf("%d jobs, want %d", n, workers*each)
	}
	checkConsistent(t, s)
	s.Close()
	checkConsistent(t, f.open(t))
}

func TestScriptAndEnv(t *testing.T) { forBackends(t, testScriptAndEnv) }

func testScriptAndEnv(t *testing.T, f *fixture) {
	s := f.open(t)
	j := newJob(s, "batch", 1)
	j.ExportEnv = true
	if err := s.Submit(j, []byte("echo hi\n"), []byte("HOME=/x\x00"), nil); err != nil {
		t.Fatal(err)
	}
	if env, err := s.Env(j.ID); err != nil || string(env) != "HOME=/x\x00" {
		t.Errorf("Env = %q, %v", env, err)
	}
	if script, err := s.Script(j.ID); err != nil || string(script) != "echo hi\n" {
		t.Errorf("Script = %q, %v", script, err)
	}
	if _, err := s.UpdateJob(j.ID, func(j *jobs.Job) error { return j.Start(t0) }); err != nil {
		t.Fatal(err)
	}
	if env, _ := s.Env(j.ID); string(env) != "HOME=/x\x00" {
		t.Errorf("an update lost the environment: %q", env)
	}
	if _, err := s.DeleteJob(j.ID, nil); err != nil {
		t.Fatal(err)
	}
	if env, _ := s.Env(j.ID); env != nil {
		t.Errorf("environment outlived its job: %q", env)
	}
	if script, _ := s.Script(j.ID); script != nil {
		t.Errorf("script outlived its job: %q", script)
	}
}

func TestUpdateErrorsChangeNothing(t *testing.T) { forBackends(t, testUpdateErrorsChangeNothing) }

func testUpdateErrorsChangeNothing(t *testing.T, f *fixture) {
	s := f.open(t)
	j := submit(t, s, "batch", 1)
	boom := errors.New("boom")
	if _, err := s.UpdateJob(j.ID, func(j *jobs.Job) error { j.Name = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("error = %v", err)
	}
	if got := s.View().Job(j.ID).Name; got != j.Name {
		t.Errorf("failed update changed the name to %q", got)
	}
	if _, err := s.UpdateJob(999, func(*jobs.Job) error { return nil }); !errors.Is(err, ErrNoJob) {
		t.Errorf("update of unknown job: %v", err)
	}
	if _, err := s.DeleteJob(j.ID, func(*jobs.Job) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("delete error = %v", err)
	}
	if s.View().Job(j.ID) == nil {
		t.Error("refused delete removed the job")
	}
	checkConsistent(t, s)
}

func TestQueues(t *testing.T) { forBackends(t, testQueues) }

func testQueues(t *testing.T, f *fixture) {
	s := f.open(t)
	if err := s.CreateQueue(NewQueue("batch", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateQueue(NewQueue("batch", t0)); !errors.Is(err, ErrQueueExists) {
		t.Errorf("second create: %v", err)
	}
	if _, err := s.UpdateQueue("batch", func(q *Queue) error { return q.Set("priority", "5") }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateQueue("batch", func(q *Queue) error { return q.Set("priority", "high") }); !errors.Is(err, ErrBadQueue) {
		t.Errorf("bad priority: %v", err)
	}
	if _, err := s.UpdateQueue("nope", func(q *Queue) error { return nil }); !errors.Is(err, ErrNoQueue) {
		t.Errorf("update of unknown queue: %v", err)
	}
	inUse := errors.New("in use")
	if err := s.DeleteQueue("batch", func(*View) error { return inUse }); !errors.Is(err, inUse) {
		t.Errorf("refused delete: %v", err)
	}
	s.Close()
	s = f.open(t)
	q := s.View().Queue("batch")
	if q == nil || q.Priority != 5 || !q.Enabled || !q.Started {
		t.Fatalf("queue after reopen: %+v", q)
	}
	if err := s.DeleteQueue("batch", nil); err != nil {
		t.Fatal(err)
	}
	if s.View().Queue("batch") != nil {
		t.Error("queue still there")
	}
	checkConsistent(t, s)
}

func TestWatchJob(t *testing.T) { forBackends(t, testWatchJob) }

func testWatchJob(t *testing.T, f *fixture) {
	s := f.open(t)
	j := submit(t, s, "batch", 1)
	other := submit(t, s, "batch", 1)
	ws := memdb.NewWatchSet()
	s.View().WatchJob(ws, j.ID)
	if _, err := s.UpdateJob(other.ID, func(j *jobs.Job) error { return j.Hold("x", t0) }); err != nil {
		t.Fatal(err)
	}
	if !ws.Watch(time.After(10 * time.Millisecond)) {
		t.Error("watch fired for a change of another job")
	}
	go func() {
		if _, err := s.UpdateJob(j.ID, func(j *jobs.Job) error { return j.Hold("x", t0) }); err != nil {
			t.Error(err)
		}
	}()
	if ws.Watch(time.After(30 * time.Second)) {
		t.Error("watch did not fire when the job changed")
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lazarus.db")
	openStore(t, path)
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
}

// The checkpoint fields of schema 2 survive a reopen, in jobs and queues.
func TestCheckpointFieldsSurviveReopen(t *testing.T) {
	forBackends(t, testCheckpointFieldsSurviveReopen)
}

func testCheckpointFieldsSurviveReopen(t *testing.T, f *fixture) {
	s := f.open(t)
	q := NewQueue("long", t0)
	for _, a := range [][2]string{{"ckpt_min", "0.5"}, {"ckpt_default", "2"}, {"ckpt_keep", "3"}} {
		if err := q.Set(a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Set("ckpt_min", "x"); !errors.Is(err, ErrBadQueue) {
		t.Errorf("bad ckpt_min: %v", err)
	}
	if err := s.CreateQueue(q); err != nil {
		t.Fatal(err)
	}
	j := submit(t, s, "long", 1000)
	want := j.Copy()
	want.State = jobs.Requeued
	want.Segments = []jobs.Segment{{Start: t0, End: t0.Add(time.Hour), ExitCode: -1, Restart: true, Generation: 2, Base: 2 * time.Hour}}
	want.Checkpoints = []jobs.Generation{
		{N: 3, Time: t0, Dir: "/spool/1.ckpt/3", Root: "job", Size: 1 << 20, Duration: time.Second,
			Frozen: time.Millisecond, Processes: 2, Elapsed: 3 * time.Hour},
		{N: 2, Time: t0, Dir: "/spool/1.ckpt/2", Root: "job", Bad: "restart failed: corrupt"},
	}
	want.LastGeneration, want.RestartFrom = 4, 2
	want.CheckpointError, want.CheckpointErrorTime = "no space left on device", t0
	want.Checkpointing = &jobs.CheckpointOp{Gen: 4, Requeue: true, Hold: true, By: "bob", Started: t0}
	want.Events = []jobs.Event{{Time: t0, Text: "checkpoint 4 failed"}}
	if _, err := s.UpdateJob(j.ID, func(c *jobs.Job) error { *c = *want.Copy(); return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = f.open(t)
	got := s.View().Job(j.ID)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("job after reopen:\n%+v\nwant\n%+v", got, want)
	}
	gq := s.View().Queue("long")
	if gq.CkptMin != 30*time.Minute || gq.CkptDefault.Interval != 2*time.Hour || gq.CkptKeep != 3 {
		t.Errorf("queue after reopen: %+v", gq)
	}
	if gq.Get("ckpt_min") != "30m" || gq.Get("ckpt_default") != "2" {
		t.Errorf("queue attributes: %q %q", gq.Get("ckpt_min"), gq.Get("ckpt_default"))
	}
}

func TestSubmitOnce(t *testing.T) { forBackends(t, testSubmitOnce) }

func testSubmitOnce(t *testing.T, f *fixture) {
	s := f.open(t)
	once := func(s *Store, key string, uid uint32) (jobs.ID, bool) {
		t.Helper()
		id, dup, err := s.SubmitOnce(key, newJob(s, "batch", uid), []byte("#!/bin/sh\n"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return id, dup
	}
	first, dup := once(s, "k1", 1000)
	if dup {
		t.Fatal("first submission reported as a duplicate")
	}
	if again, dup := once(s, "k1", 1000); again != first || !dup {
		t.Errorf("same key again: job %d (dup %v), want %d (dup true)", again, dup, first)
	}
	if other, dup := once(s, "k1", 1001); other == first || dup {
		t.Errorf("same key from another uid: job %d (dup %v), want a new job", other, dup)
	}
	if got := ids(s.View().Jobs()); len(got) != 2 {
		t.Errorf("jobs after three submissions, two of them one: %v", got)
	}

	// Concurrent submissions with one key make one job.
	var wg sync.WaitGroup
	got := make([]jobs.ID, 16)
	for i := range got {
		wg.Go(func() {
			id, _, err := s.SubmitOnce("k2", newJob(s, "batch", 1000), nil, nil, nil)
			if err != nil {
				t.Error(err)
			}
			got[i] = id
		})
	}
	wg.Wait()
	for _, id := range got {
		if id != got[0] {
			t.Fatalf("concurrent submissions with one key: jobs %v", got)
		}
	}

	// The index is durable: a reopened store answers with the same job.
	s.Close()
	s = f.open(t)
	if again, dup := once(s, "k1", 1000); again != first || !dup {
		t.Errorf("same key after reopening: job %d (dup %v), want %d", again, dup, first)
	}
	// A key expires with its job.
	if _, err := s.DeleteJob(first, nil); err != nil {
		t.Fatal(err)
	}
	if id, err := s.Submitted(1000, "k1"); err != nil || id != 0 {
		t.Errorf("key of a deleted job: %d, %v", id, err)
	}
	if again, dup := once(s, "k1", 1000); again == first || dup {
		t.Errorf("key of a deleted job: job %d (dup %v), want a new one", again, dup)
	}
	if _, _, err := s.SubmitOnce("", newJob(s, "batch", 1), nil, nil, nil); err == nil {
		t.Error("empty key accepted")
	}
	checkConsistent(t, s)
}

func TestPBSAttributesSurviveReopen(t *testing.T) { forBackends(t, testPBSAttributesSurviveReopen) }

func testPBSAttributesSurviveReopen(t *testing.T, f *fixture) {
	s := f.open(t)
	j := submit(t, s, "batch", 1000)
	want := j.Copy()
	want.Attrs = jobs.Attributes{Account: "acct", Project: "proj", Priority: -7, Keep: "oe",
		Shell: "/bin/bash", Group: "users", Slurm: true}
	want.Resources.CPUTime, want.Resources.MPIProcs, want.Resources.OMPThreads = 90*time.Second, 2, 3
	want.Resources.Select, want.Resources.Chunks, want.Resources.Place = "2:ncpus=1", 2, "scatter:excl"
	if _, err := s.UpdateJob(j.ID, func(c *jobs.Job) error { *c = *want.Copy(); return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = f.open(t)
	if got := s.View().Job(j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("job after reopen:\n%+v\nwant\n%+v", got, want)
	}
}

// UpdateJobs changes several jobs at once or not at all, and ids that
// share a lock stripe do not deadlock.
func TestUpdateJobs(t *testing.T) { forBackends(t, testUpdateJobs) }

func testUpdateJobs(t *testing.T, f *fixture) {
	s := f.open(t)
	a, b := submit(t, s, "batch", 1000), submit(t, s, "batch", 1000)
	js, err := s.UpdateJobs([]jobs.ID{a.ID, b.ID}, func(js []*jobs.Job) error {
		js[0].Name, js[1].Name = "first", "second"
		return nil
	})
	if err != nil || js[0].Name != "first" || js[1].Name != "second" {
		t.Fatalf("UpdateJobs: %v, %v", js, err)
	}
	_, err = s.UpdateJobs([]jobs.ID{a.ID, b.ID}, func(js []*jobs.Job) error {
		js[0].Name = "changed"
		return errors.New("no")
	})
	if err == nil || s.View().Job(a.ID).Name != "first" {
		t.Errorf("a failed update changed a job: %v, %q", err, s.View().Job(a.ID).Name)
	}
	if _, err := s.UpdateJobs([]jobs.ID{a.ID, 999999}, func([]*jobs.Job) error { return nil }); !errors.Is(err, ErrNoJob) {
		t.Errorf("unknown job: %v", err)
	}
	// Same stripe: a and a job whose id is a's plus the number of stripes.
	for s.View().Job(a.ID+jobs.ID(len(s.jobLocks))) == nil {
		submit(t, s, "batch", 1000)
	}
	same := a.ID + jobs.ID(len(s.jobLocks))
	if _, err := s.UpdateJobs([]jobs.ID{a.ID, same}, func([]*jobs.Job) error { return nil }); err != nil {
		t.Errorf("ids on one lock stripe: %v", err)
	}
	s.Close()
	s = f.open(t)
	if got := s.View().Job(b.ID).Name; got != "second" {
		t.Errorf("after reopen: %q", got)
	}
	checkConsistent(t, s)
}
