package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/jobs"
)

func start(t *testing.T, s *Store, arr jobs.ID, index int) {
	t.Helper()
	if _, err := s.StartSubjob(arr, index, func(_, sub *jobs.Job) error { return sub.Start(t0) }); err != nil {
		t.Fatalf("start of %s: %v", jobs.SubjobID(arr, index), err)
	}
}

func modRevOf(t *testing.T, cl *clientv3.Client, key string) int64 {
	t.Helper()
	r, err := cl.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) == 0 {
		return 0
	}
	return r.Kvs[0].ModRevision
}

// A subjob's start (after the array's first, which begins it) writes the
// subjob's record and the array's starts key, not the array's record of
// 100 kB; every view shows the subjob started, a reload too.
func TestEtcdSubjobStartLeavesArrayRecord(t *testing.T) {
	f, a, b := twoNodes(t, 1)
	arr := newJob(a, "batch", 1)
	arr.Array, _ = jobs.ParseArray("0-99999")
	if err := a.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	start(t, a, arr.ID, 0)
	be := a.be.(*etcdStore)
	cl := f.etcd.Client()
	key := be.jobKey(arr.ID)
	before := modRevOf(t, cl, key)
	rev0 := revision(t, f)
	for i := 1; i <= 5; i++ {
		start(t, a, arr.ID, i*10000)
	}
	if got := modRevOf(t, cl, key); got != before {
		t.Errorf("array record rewritten by the starts (mod revision %d, was %d)", got, before)
	}
	// What the five starts wrote: five subjob records and the starts key.
	r, err := cl.Get(t.Context(), "/lazarus/", clientv3.WithPrefix(), clientv3.WithMinModRev(rev0+1), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range r.Kvs {
		keys = append(keys, string(kv.Key))
	}
	if len(keys) != 6 || keys[0] != be.startsKey(arr.ID) && keys[5] != be.startsKey(arr.ID) {
		t.Errorf("keys written by five starts: %q", keys)
	}
	check := func(s *Store, what string) {
		t.Helper()
		v := s.View()
		for i := 0; i <= 5; i++ {
			if st, _ := v.Job(arr.ID).Array.State(i * 10000); st != jobs.SubRecord {
				t.Errorf("%s: subjob %d is %c, want started", what, i*10000, st)
			}
		}
		if st, _ := v.Job(arr.ID).Array.State(1); st != jobs.SubQueued {
			t.Errorf("%s: subjob 1 is %c, want queued", what, st)
		}
	}
	check(a, "this store")
	waitView(t, b, "the starts", func(v *View) bool { return v.Job(jobs.SubjobID(arr.ID, 50000)) != nil })
	check(b, "another store")
	checkConsistent(t, a)
	checkConsistent(t, b)
	c := f.node(t, f.etcd.NewClient(t))
	check(c, "a store opened after")
	// Started once: not again, on any store.
	if _, err := b.StartSubjob(arr.ID, 20000, func(_, sub *jobs.Job) error { return sub.Start(t0) }); !errors.Is(err, ErrNotQueued) {
		t.Errorf("second start: %v, want ErrNotQueued", err)
	}
	// The next change of the array's record stores the view's bytes.
	if _, err := a.UpdateJob(arr.ID, func(j *jobs.Job) error { j.Vars = []string{"X=1"}; return nil }); err != nil {
		t.Fatal(err)
	}
	raw, err := cl.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := decodeJob(uint64(arr.ID), raw.Kvs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := stored.Array.State(30000); st != jobs.SubRecord {
		t.Errorf("array record after an update: subjob 30000 is %c, want started", st)
	}
	checkConsistent(t, a)
}

// A change of the array computed from a view that has not seen a start
// made elsewhere is a conflict, computed again: a subjob that started is
// never marked deleted.
func TestEtcdArrayChangeSeesStarts(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	arr := newJob(a, "batch", 1)
	arr.Array, _ = jobs.ParseArray("0-9")
	if err := a.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	start(t, a, arr.ID, 0)
	waitView(t, b, "the array begun", func(v *View) bool { return v.Job(jobs.SubjobID(arr.ID, 0)) != nil })
	runs := 0
	_, err := b.UpdateJob(arr.ID, func(j *jobs.Job) error {
		runs++
		if runs == 1 {
			// Another node starts subjob 3 after this view was taken.
			start(t, a, arr.ID, 3)
		}
		st, _ := j.Array.State(3)
		if st != jobs.SubQueued {
			return errors.New("subjob 3 has started")
		}
		return j.SetSubjob(3, jobs.SubDeleted)
	})
	if err == nil || err.Error() != "subjob 3 has started" {
		t.Errorf("deletion of subjob 3 after its start elsewhere: %v (fn ran %d times)", err, runs)
	}
	waitView(t, b, "subjob 3", func(v *View) bool { return v.Job(jobs.SubjobID(arr.ID, 3)) != nil })
	if st, _ := b.View().Job(arr.ID).Array.State(3); st != jobs.SubRecord {
		t.Errorf("subjob 3 is %c, want started", st)
	}
	checkConsistent(t, a)
	checkConsistent(t, b)
}

// Removing a subjob whose start only the overlay shows stores its byte
// in the array's record: it does not fall back to queued (and start
// again).
func TestEtcdSubjobRemovalKeepsByte(t *testing.T) {
	f := newFixture(t, "etcd")
	s := f.open(t)
	arr := newJob(s, "batch", 1)
	arr.Array, _ = jobs.ParseArray("0-9")
	if err := s.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	start(t, s, arr.ID, 0)
	start(t, s, arr.ID, 5)
	if _, err := s.DeleteJob(jobs.SubjobID(arr.ID, 5), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = f.open(t)
	if st, _ := s.View().Job(arr.ID).Array.State(5); st != jobs.SubRecord {
		t.Errorf("subjob 5 after its removal and a reload: %c, want %c (its array's sync makes it deleted)", st, jobs.SubRecord)
	}
	if _, err := s.StartSubjob(arr.ID, 5, func(_, sub *jobs.Job) error { return sub.Start(t0) }); !errors.Is(err, ErrNotQueued) {
		t.Errorf("start of a removed subjob: %v, want ErrNotQueued", err)
	}
	// The array's removal takes its starts key.
	if _, err := s.DeleteJob(arr.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := modRevOf(t, f.etcd.Client(), s.be.(*etcdStore).startsKey(arr.ID)); got != 0 {
		t.Errorf("starts key left after the array's removal")
	}
	checkConsistent(t, s)
}

// A prefix of layout 5 (every start stored in the array's record) is
// migrated to 6 at open: its records read as they did, and starts after
// it leave the array's record alone.
func TestEtcdMigrate5to6(t *testing.T) {
	f := newFixture(t, "etcd")
	cl := f.etcd.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Layout 5, as a lazarusd of it left it: an array whose subjob 2 has
	// started (byte R, and its record), a queue, the id counter.
	arr := &jobs.Job{ID: 1, Name: "arr", Queue: "batch", State: jobs.Queued,
		Owner:     jobs.Owner{UID: 1, GID: 1, Name: "u1"},
		Submitted: t0, Changed: t0, Workdir: "/tmp", Script: "/spool/x", Resources: jobs.Resources{NCPUs: 1}}
	arr.Array, _ = jobs.ParseArray("0-3")
	arr.State = jobs.Begun
	sub := arr.Subjob(2)
	if err := sub.Start(t0); err != nil {
		t.Fatal(err)
	}
	arr.SetSubjob(2, jobs.SubRecord)
	ad, _ := encodeJob(arr)
	sd, _ := encodeJob(sub)
	for k, v := range map[string]string{
		"/lazarus/meta/schema_version":                     "5",
		"/lazarus/meta/last_id":                            "1",
		"/lazarus/jobs/0000000000000001":                   string(ad),
		fmt.Sprintf("/lazarus/jobs/%016x", uint64(sub.ID)): string(sd),
	} {
		if _, err := cl.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(f.spool, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeSpool(f.spool, []spoolFile{{spoolPath(f.spool, 1), encodeSpool([]byte("#!/bin/sh\n"), nil)}}); err != nil {
		t.Fatal(err)
	}
	s := f.open(t)
	r, err := cl.Get(ctx, "/lazarus/meta/schema_version")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.Kvs[0].Value); got != strconv.Itoa(etcdSchemaVersion) {
		t.Errorf("schema version after open: %s, want %d", got, etcdSchemaVersion)
	}
	v := s.View()
	if st, _ := v.Job(1).Array.State(2); st != jobs.SubRecord || v.Job(sub.ID) == nil {
		t.Errorf("migrated array: subjob 2 is %c (record %v)", st, v.Job(sub.ID) != nil)
	}
	before := modRevOf(t, cl, "/lazarus/jobs/0000000000000001")
	start(t, s, 1, 3)
	if got := modRevOf(t, cl, "/lazarus/jobs/0000000000000001"); got != before {
		t.Error("a start after the migration rewrote the array's record")
	}
	if st, _ := s.View().Job(1).Array.State(3); st != jobs.SubRecord {
		t.Errorf("subjob 3 is %c, want started", st)
	}
	checkConsistent(t, s)
	s.Close()
	// Layout 6 is refused by what knows only 5, as newer.
	if r, _ := cl.Get(ctx, "/lazarus/meta/schema_version"); string(r.Kvs[0].Value) == "5" {
		t.Error("version not moved")
	}
}
