package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/internal/etcdtest"
	"lazarus/jobs"
)

// twoNodes opens two stores on one etcd prefix, each through a client of
// its own, as two daemons on two hosts would.
func twoNodes(t *testing.T, members int) (f *fixture, a, b *Store) {
	t.Helper()
	f = &fixture{backend: "etcd", etcd: etcdtest.New(t, members), prefix: "/lazarus",
		spool: filepath.Join(t.TempDir(), "spool")}
	return f, f.node(t, f.etcd.NewClient(t)), f.node(t, f.etcd.NewClient(t))
}

func (f *fixture) node(t *testing.T, cl *clientv3.Client) *Store {
	t.Helper()
	s, err := f.openEtcd(t, cl, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitView waits (a bounded while) until cond holds in s's view.
func waitView(t *testing.T, s *Store, what string, cond func(*View) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond(s.View()) {
		if time.Now().After(deadline) {
			t.Fatalf("the view never showed %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A store's view follows the changes of another store on the same prefix,
// and a WatchSet on it (qstat -w) fires for them.
func TestEtcdViewSeesOtherNode(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	if err := a.CreateQueue(NewQueue("batch", t0)); err != nil {
		t.Fatal(err)
	}
	j := newJob(a, "batch", 1000)
	ws := memdb.NewWatchSet()
	if b.View().WatchJob(ws, j.ID) != nil {
		t.Fatal("job in B's view before it was submitted")
	}
	if err := a.Submit(j, []byte("#!/bin/sh\necho a\n"), []byte("A=1\x00"), nil); err != nil {
		t.Fatal(err)
	}
	if ws.Watch(time.After(time.Minute)) {
		t.Fatal("B's watch did not fire for A's submission")
	}
	got := b.View().Job(j.ID)
	if got == nil || got.Name != j.Name || got.Queue != "batch" {
		t.Fatalf("B's view of A's job: %+v", got)
	}
	waitView(t, b, "A's queue", func(v *View) bool { return v.Queue("batch") != nil })
	// B reads the script A stored, from the shared spool.
	if script, err := b.Script(j.ID); err != nil || string(script) != "#!/bin/sh\necho a\n" {
		t.Errorf("B's Script = %q, %v", script, err)
	}
	if env, err := b.Env(j.ID); err != nil || string(env) != "A=1\x00" {
		t.Errorf("B's Env = %q, %v", env, err)
	}
	// B changes it, A sees the change; B deletes it, A sees it go.
	if _, err := b.UpdateJob(j.ID, func(j *jobs.Job) error { return j.Hold("bob", t0) }); err != nil {
		t.Fatal(err)
	}
	waitView(t, a, "B's hold", func(v *View) bool { j := v.Job(j.ID); return j != nil && j.State == jobs.Held })
	if ids := ids(a.View().JobsInState(jobs.Held)); !slices.Equal(ids, []jobs.ID{j.ID}) {
		t.Errorf("A's held jobs: %v", ids)
	}
	if _, err := b.DeleteJob(j.ID, nil); err != nil {
		t.Fatal(err)
	}
	waitView(t, a, "B's deletion", func(v *View) bool { return v.Job(j.ID) == nil })
	checkConsistent(t, a)
	checkConsistent(t, b)
}

// Two nodes changing one job at once lose none of each other's updates:
// a change computed from a record the other node has replaced is computed
// again from the newer one.
func TestEtcdConcurrentUpdatesTwoNodes(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	j := submit(t, a, "batch", 1)
	waitView(t, b, "the job", func(v *View) bool { return v.Job(j.ID) != nil })
	const each = 25
	var runs atomic.Int32
	var wg sync.WaitGroup
	for n, s := range []*Store{a, b} {
		for w := range 2 {
			wg.Go(func() {
				for i := range each {
					_, err := s.UpdateJob(j.ID, func(j *jobs.Job) error {
						runs.Add(1)
						j.Vars = append(j.Vars, fmt.Sprintf("N%d_%d=%d", n, w, i))
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, s := range []*Store{a, b} {
		waitView(t, s, "every update", func(v *View) bool { return len(v.Job(j.ID).Vars) == 4*each })
		checkConsistent(t, s)
	}
	vars := a.View().Job(j.ID).Vars
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v] {
			t.Errorf("update %s stored twice", v)
		}
		seen[v] = true
	}
	t.Logf("%d updates, fn ran %d times", 4*each, runs.Load())
}

// Job ids are unique across nodes, and a submission key names one job
// even when two nodes submit with it at once.
func TestEtcdIDsAndKeysClusterWide(t *testing.T) {
	f, a, b := twoNodes(t, 1)
	c := f.node(t, f.etcd.NewClient(t))
	var mu sync.Mutex
	got := map[jobs.ID]bool{}
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, c} {
		wg.Go(func() {
			for range 30 {
				id := s.NextID()
				mu.Lock()
				if id == 0 || got[id] {
					t.Errorf("id %d handed out twice (or none)", id)
				}
				got[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	ids := make([]jobs.ID, 6)
	for i := range ids {
		s := []*Store{a, b, c}[i%3]
		wg.Go(func() {
			id, _, err := s.SubmitOnce("same-key", newJob(s, "batch", 1000), nil, nil, nil)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == 0 {
			t.Fatalf("submissions with one key on three nodes: jobs %v", ids)
		}
	}
	for _, s := range []*Store{a, b, c} {
		// SubmitOnce answered with the job: its view has it.
		if s.View().Job(ids[0]) == nil {
			t.Errorf("job %d answered by SubmitOnce is not in the view", ids[0])
		}
		if n := len(slices.Collect(s.View().Jobs())); n != 1 {
			t.Errorf("%d jobs for one key", n)
		}
	}
	// The key expires with the job, on every node.
	if _, err := b.DeleteJob(ids[0], nil); err != nil {
		t.Fatal(err)
	}
	if id, err := c.Submitted(1000, "same-key"); err != nil || id != 0 {
		t.Errorf("key of a deleted job: %d, %v", id, err)
	}
}

// Scripts and environments live in the spool directory, not in etcd, and
// leave it with their job.
func TestEtcdSpool(t *testing.T) {
	f := newFixture(t, "etcd")
	s := f.open(t)
	arr := newJob(s, "batch", 1)
	arr.Array, _ = jobs.ParseArray("1-3")
	script := []byte(strings.Repeat("echo big script\n", 200000)) // 3.2 MB: more than etcd takes
	if err := s.Submit(arr, script, []byte("E=1\x00"), nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{fmt.Sprintf("%d.job", arr.ID)} {
		if _, err := os.Stat(filepath.Join(f.spool, name)); err != nil {
			t.Errorf("spool file: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := f.etcd.Client().Get(ctx, "/lazarus/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range r.Kvs {
		if len(kv.Value) > 10000 {
			t.Errorf("etcd key %s holds %d bytes", kv.Key, len(kv.Value))
		}
	}
	sub, err := s.StartSubjob(arr.ID, 2, func(_, sub *jobs.Job) error { return sub.Start(t0) })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Script(sub.ID); err != nil || !slices.Equal(got, script) {
		t.Errorf("subjob's script: %d bytes, %v", len(got), err)
	}
	// Deleting a subjob's record leaves its array's files alone.
	if _, err := s.DeleteJob(sub.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Script(arr.ID); !slices.Equal(got, script) {
		t.Error("the deletion of a subjob removed its array's script")
	}
	if _, err := s.DeleteJob(arr.ID, nil); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(f.spool)
	if len(left) != 0 {
		t.Errorf("spool after the deletion: %v", left)
	}
}

// An array of 100,000 subjobs is one compact record, in one transaction.
func TestEtcdLargeArray(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	arr := newJob(a, "batch", 1)
	arr.Array, _ = jobs.ParseArray("0-99999")
	if err := a.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartSubjob(arr.ID, 99999, func(_, sub *jobs.Job) error { return sub.Start(t0) }); err != nil {
		// B may not have seen the array yet: wait, then start.
		waitView(t, b, "the array", func(v *View) bool { return v.Job(arr.ID) != nil })
		if _, err := b.StartSubjob(arr.ID, 99999, func(_, sub *jobs.Job) error { return sub.Start(t0) }); err != nil {
			t.Fatal(err)
		}
	}
	waitView(t, a, "the subjob's start", func(v *View) bool {
		st, _ := v.Job(arr.ID).Array.State(99999)
		return st == jobs.SubRecord && v.Job(jobs.SubjobID(arr.ID, 99999)) != nil
	})
	// The same subjob does not start twice, on any node.
	if _, err := a.StartSubjob(arr.ID, 99999, func(_, sub *jobs.Job) error { return sub.Start(t0) }); !errors.Is(err, ErrNotQueued) {
		t.Errorf("second start: %v, want ErrNotQueued", err)
	}
	checkConsistent(t, a)
}

// A change larger than one etcd transaction is refused, and changes
// nothing.
func TestEtcdTooLarge(t *testing.T) {
	s := newFixture(t, "etcd").open(t)
	var ids []jobs.ID
	for range etcdMaxTxnOps + 1 {
		ids = append(ids, submit(t, s, "batch", 1).ID)
	}
	_, err := s.UpdateJobs(ids, func(js []*jobs.Job) error {
		for _, j := range js {
			j.Name = "changed"
		}
		return nil
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("UpdateJobs of %d jobs: %v, want ErrTooLarge", len(ids), err)
	}
	for j := range s.View().Jobs() {
		if j.Name == "changed" {
			t.Fatalf("job %d changed", j.ID)
		}
	}
}

// A three-member cluster keeps serving with one member killed, and the
// member catches up when it comes back.
func TestEtcdOneMemberKilled(t *testing.T) {
	t.Parallel() // waits for etcd elections
	f, a, b := twoNodes(t, 3)
	j := submit(t, a, "batch", 1)
	for i := range 3 {
		f.etcd.Kill(i)
		if _, err := a.UpdateJob(j.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "X=1"); return nil }); err != nil {
			t.Fatalf("update with member %d killed: %v", i, err)
		}
		k := submit(t, b, "batch", 2)
		waitView(t, a, "B's job", func(v *View) bool { return v.Job(k.ID) != nil })
		f.etcd.Restart(i)
	}
	waitView(t, b, "every update", func(v *View) bool { return len(v.Job(j.ID).Vars) == 3 })
	checkConsistent(t, a)
	checkConsistent(t, b)
}

// Without a quorum a write fails, with an error, and the view does not
// show it; once the quorum is back, writes work again and views follow.
func TestEtcdNoQuorum(t *testing.T) {
	t.Parallel() // waits for etcd elections
	f := &fixture{backend: "etcd", etcd: etcdtest.New(t, 3), prefix: "/lazarus",
		spool: filepath.Join(t.TempDir(), "spool")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := OpenEtcd(ctx, f.etcd.MemberClient(t, 2), f.prefix, EtcdOptions{SpoolDir: f.spool, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	j := submit(t, a, "batch", 1)
	k := newJob(a, "batch", 1)
	f.etcd.Kill(0)
	f.etcd.Kill(1)
	if err := a.Submit(k, nil, nil, nil); !errors.Is(err, ErrWrite) {
		t.Errorf("submission without quorum: %v, want ErrWrite", err)
	}
	if _, err := a.UpdateJob(j.ID, func(j *jobs.Job) error { return j.Hold("x", t0) }); !errors.Is(err, ErrWrite) {
		t.Errorf("update without quorum: %v, want ErrWrite", err)
	}
	if a.View().Job(k.ID) != nil {
		t.Error("a failed submission is in the view")
	}
	if got := a.View().Job(j.ID); got.State != jobs.Queued {
		t.Errorf("a failed update is in the view: %s", got.State)
	}
	if id := a.NextID(); id != 0 {
		t.Errorf("NextID without quorum: %d, want 0", id)
	}
	f.etcd.RestartNoWait(0)
	f.etcd.Restart(1)
	// (The failed hold may still take effect now, as any etcd write
	// whose answer was lost: this change is valid either way.)
	if _, err := a.UpdateJob(j.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "BACK=1"); return nil }); err != nil {
		t.Fatalf("update after the quorum is back: %v", err)
	}
	b := f.node(t, f.etcd.MemberClient(t, 0))
	waitView(t, b, "the update", func(v *View) bool { return slices.Contains(v.Job(j.ID).Vars, "BACK=1") })
	checkConsistent(t, a)
}

// A store whose watch fell behind a compaction reloads its view.
func TestEtcdWatchAfterCompaction(t *testing.T) {
	t.Parallel() // waits for etcd elections
	f := &fixture{backend: "etcd", etcd: etcdtest.New(t, 3), prefix: "/lazarus",
		spool: filepath.Join(t.TempDir(), "spool")}
	a := f.node(t, f.etcd.MemberClient(t, 0))
	b := f.node(t, f.etcd.MemberClient(t, 2))
	first := submit(t, a, "batch", 1)
	waitView(t, b, "the first job", func(v *View) bool { return v.Job(first.ID) != nil })
	f.etcd.Kill(2) // B's watch is cut
	var later []jobs.ID
	for range 5 {
		later = append(later, submit(t, a, "batch", 1).ID)
	}
	if _, err := a.DeleteJob(first.ID, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.etcd.Client().Compact(ctx, a.be.revision(), clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	f.etcd.Restart(2)
	waitView(t, b, "the jobs submitted while it was cut off", func(v *View) bool {
		for _, id := range later {
			if v.Job(id) == nil {
				return false
			}
		}
		return v.Job(first.ID) == nil
	})
	checkConsistent(t, b)
	if n := b.be.(*etcdStore).reloads.Load(); n == 0 {
		t.Error("B's view was not reloaded")
	}
	// And it follows on from there.
	k := submit(t, a, "batch", 1)
	waitView(t, b, "a job after the reload", func(v *View) bool { return v.Job(k.ID) != nil })
}

// A queue deleted on one node, and changed on another at the same time:
// one of them wins, nothing is half done.
func TestEtcdQueuesTwoNodes(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	if err := a.CreateQueue(NewQueue("q", t0)); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateQueue(NewQueue("q", t0)); !errors.Is(err, ErrQueueExists) {
		t.Errorf("create on B of A's queue: %v, want ErrQueueExists", err)
	}
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for n := range 10 {
				if _, err := s.UpdateQueue("q", func(q *Queue) error { q.Priority += 1; return nil }); err != nil {
					t.Errorf("node %d update %d: %v", i, n, err)
				}
			}
		})
	}
	wg.Wait()
	waitView(t, b, "20 updates", func(v *View) bool { return v.Queue("q").Priority == 20 })
	// The deletion's check sees a job B submitted.
	j := submit(t, b, "q", 1)
	err := a.DeleteQueue("q", func(v *View) error {
		if v.Job(j.ID) == nil {
			return nil
		}
		return errors.New("queue has jobs")
	})
	if err == nil {
		t.Error("deletion of a queue with a job another node submitted")
	}
}

// A write retried after an attempt whose outcome is unknown (a leader
// lost) takes failed compares for its own commit only when every record
// is as it would have left it.
func TestEtcdWitness(t *testing.T) {
	rng := func(kvs ...*mvccpb.KeyValue) *etcdserverpb.ResponseOp {
		return &etcdserverpb.ResponseOp{Response: &etcdserverpb.ResponseOp_ResponseRange{
			ResponseRange: &etcdserverpb.RangeResponse{Kvs: kvs}}}
	}
	kv := func(v string) *mvccpb.KeyValue { return &mvccpb.KeyValue{Key: []byte("k"), Value: []byte(v)} }
	txn := etcdTxn{witness: []witness{{key: "a", data: []byte("new")}, {key: "b", deleted: true}}}
	tests := []struct {
		name string
		resp []*etcdserverpb.ResponseOp
		want bool
	}{
		{"ours", []*etcdserverpb.ResponseOp{rng(kv("new")), rng()}, true},
		{"another value", []*etcdserverpb.ResponseOp{rng(kv("other")), rng()}, false},
		{"not deleted", []*etcdserverpb.ResponseOp{rng(kv("new")), rng(kv("x"))}, false},
		{"absent", []*etcdserverpb.ResponseOp{rng(), rng()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := txn.committed(tt.resp); got != tt.want {
				t.Errorf("committed = %v, want %v", got, tt.want)
			}
		})
	}
}

// A spool file that is not one, or is cut short, is an error, not a
// script.
func TestSpoolFileChecked(t *testing.T) {
	dir := t.TempDir()
	if err := writeSpool(dir, []spoolFile{{spoolPath(dir, 7), encodeSpool([]byte("echo x\n"), []byte("A=1\x00"))}}); err != nil {
		t.Fatal(err)
	}
	if script, env, err := readSpool(dir, 7); err != nil || string(script) != "echo x\n" || string(env) != "A=1\x00" {
		t.Errorf("readSpool = %q, %q, %v", script, env, err)
	}
	if script, env, err := readSpool(dir, 8); script != nil || env != nil || err != nil {
		t.Errorf("readSpool of no file = %q, %q, %v", script, env, err)
	}
	full, _ := os.ReadFile(spoolPath(dir, 7))
	for name, data := range map[string][]byte{"truncated": full[:len(spoolMagic)+9], "not spool": []byte("#!/bin/sh\n")} {
		os.WriteFile(spoolPath(dir, 9), data, 0o600)
		if _, _, err := readSpool(dir, 9); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

// Two nodes starting the same subjobs at once: each starts once.
func TestEtcdSubjobStartsOnce(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	arr := newJob(a, "batch", 1)
	arr.Array, _ = jobs.ParseArray("0-9")
	if err := a.Submit(arr, []byte("#!/bin/sh\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	waitView(t, b, "the array", func(v *View) bool { return v.Job(arr.ID) != nil })
	var started [2]atomic.Int32
	var wg sync.WaitGroup
	for n, s := range []*Store{a, b} {
		wg.Go(func() {
			for i := range 10 {
				_, err := s.StartSubjob(arr.ID, i, func(_, sub *jobs.Job) error { return sub.Start(t0) })
				switch {
				case err == nil:
					started[n].Add(1)
				case !errors.Is(err, ErrNotQueued):
					t.Errorf("node %d, subjob %d: %v", n, i, err)
				}
			}
		})
	}
	wg.Wait()
	if got := started[0].Load() + started[1].Load(); got != 10 {
		t.Errorf("%d starts of 10 subjobs (node A %d, node B %d)", got, started[0].Load(), started[1].Load())
	}
	waitView(t, a, "every subjob", func(v *View) bool { return len(slices.Collect(v.Subjobs(arr.ID))) == 10 })
	checkConsistent(t, a)
}

// On etcd as in bbolt: a record that cannot be read is reported and
// skipped, and a prefix written by a newer schema is refused.
func TestEtcdUnreadableAndNewerSchema(t *testing.T) {
	f := newFixture(t, "etcd")
	s := f.open(t)
	j := submit(t, s, "batch", 1)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := f.etcd.Client()
	for k, v := range map[string]string{"/lazarus/jobs/00000000000003e8": "{not json", "/lazarus/jobs/zz": "{}",
		"/lazarus/queues/q": `{"name":"other"}`} {
		if _, err := cl.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	s = f.open(t)
	if got := s.Unreadable(); got != 3 {
		t.Errorf("Unreadable = %d, want 3", got)
	}
	if s.View().Job(j.ID) == nil {
		t.Error("the readable job was not loaded")
	}
	s.Close()
	if _, err := cl.Put(ctx, "/lazarus/meta/schema_version", "99"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.openErr(t, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("open of a newer schema: %v, want ErrNewerSchema", err)
	}
}
