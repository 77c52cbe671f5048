package queue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"lazarus/jobs"
)

const golden3 = "testdata/schema3.db"

// TestSchema3Golden opens a database written by the schema 3 code (before
// arrays and dependencies): its jobs read as plain jobs, and arrays and
// dependencies stored afterwards survive a reopen.
func TestSchema3Golden(t *testing.T) {
	path := copyFile(t, golden3)
	s := openStore(t, path)
	if s.Unreadable() != 0 {
		t.Errorf("%d unreadable records", s.Unreadable())
	}
	v := s.View()
	done, held := v.Job(1), v.Job(2)
	if done == nil || done.State != jobs.Finished || done.Attrs.Priority != 5 || done.Array != nil || done.Depend != nil {
		t.Errorf("job 1 = %+v", done)
	}
	if held == nil || held.State != jobs.Held || held.Array != nil || held.Depend != nil {
		t.Errorf("job 2 = %+v", held)
	}
	if id, err := s.Submitted(1001, "key3"); err != nil || id != 2 {
		t.Errorf("submission key of job 2: %d, %v", id, err)
	}
	a, err := jobs.ParseArray("1-100000%5")
	if err != nil {
		t.Fatal(err)
	}
	arr := newJob(s, "batch", 1000)
	arr.Array = a
	arr.Depend = &jobs.Depend{Conds: []jobs.Cond{{Kind: jobs.DepAfterOK, ID: 1, Done: true}, {Kind: jobs.DepAfterAny, ID: jobs.ArrayForm(7)}}, Waiting: true}
	if err := s.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateJob(arr.ID, func(j *jobs.Job) error { return j.SetSubjob(3, jobs.SubRecord) }); err != nil {
		t.Fatal(err)
	}
	sub := arr.Subjob(3)
	if err := s.Submit(sub, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	got := s.View().Job(arr.ID)
	if got == nil || got.Array == nil || got.Array.Spec() != "1-100000%5" || got.Array.Len() != 100000 {
		t.Fatalf("array job after reopen = %+v", got)
	}
	if st, _ := got.Array.State(3); st != jobs.SubRecord {
		t.Errorf("subjob 3 state %q, want %q", st, jobs.SubRecord)
	}
	if d := got.Depend; d == nil || !d.Waiting || len(d.Conds) != 2 || !d.Conds[0].Done || d.Conds[1].ID != jobs.ArrayForm(7) {
		t.Errorf("depend after reopen = %+v", d)
	}
	if r := s.View().Job(jobs.SubjobID(arr.ID, 3)); r == nil || r.Array != nil {
		t.Errorf("subjob record after reopen = %+v", r)
	}
	// A subjob's id is not allocated: the next job id follows the array's.
	if id := s.NextID(); id != arr.ID+1 {
		t.Errorf("NextID = %d, want %d", id, arr.ID+1)
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lazarus.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// StartSubjob writes the subjob's record and its array's byte together,
// once: a second start of the same subjob, or of one that is held, is
// refused and changes nothing.
func TestStartSubjob(t *testing.T) { forBackends(t, testStartSubjob) }

func testStartSubjob(t *testing.T, f *fixture) {
	s := f.open(t)
	if err := s.CreateQueue(NewQueue("batch", t0)); err != nil {
		t.Fatal(err)
	}
	arr := newJob(s, "batch", 1000)
	arr.Array, _ = jobs.ParseArray("0-4")
	arr.Array.States[3] = jobs.SubHeld
	if err := s.Submit(arr, []byte("#!/bin/sh\necho sub\n"), []byte("A=1\x00"), nil); err != nil {
		t.Fatal(err)
	}
	sub, err := s.StartSubjob(arr.ID, 2, func(a, sub *jobs.Job) error {
		if st, _ := a.Array.State(2); st != jobs.SubRecord {
			t.Errorf("array's byte given to fn: %q", st)
		}
		return sub.Start(t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	v := s.View()
	if got := v.Job(jobs.SubjobID(arr.ID, 2)); got == nil || got.State != jobs.Running || got != sub {
		t.Errorf("subjob record %+v", got)
	}
	if st, _ := v.Job(arr.ID).Array.State(2); st != jobs.SubRecord {
		t.Errorf("array's byte %q after the start", st)
	}
	if script, _ := s.Script(sub.ID); string(script) != "#!/bin/sh\necho sub\n" {
		t.Errorf("subjob's script %q: want its array's", script)
	}
	for _, index := range []int{2, 3, 9} {
		if _, err := s.StartSubjob(arr.ID, index, func(_, sub *jobs.Job) error { return sub.Start(t0) }); !errors.Is(err, ErrNotQueued) {
			t.Errorf("start of subjob %d: %v, want ErrNotQueued", index, err)
		}
	}
	var got []int
	for r := range s.View().Subjobs(arr.ID) {
		got = append(got, r.ID.Index())
	}
	if len(got) != 1 || got[0] != 2 {
		t.Errorf("Subjobs = %v, want [2]", got)
	}
}
