package queue

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"lazarus/jobs"
)

// holdLeader makes the next leader of s's group commit wait, before it
// commits, until release is called; queued reports how many writes wait
// behind it.
func holdLeader(t *testing.T, s *Store) (queued func() int, release func()) {
	t.Helper()
	e := s.be.(*etcdStore)
	held, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.leadHook = func() {
		once.Do(func() {
			close(held)
			<-gate
		})
	}
	queued = func() int {
		<-held
		e.batchMu.Lock()
		defer e.batchMu.Unlock()
		return len(e.batchQueue)
	}
	var rel sync.Once
	release = func() { rel.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return queued, release
}

// waitQueued waits (a bounded while) until n writes wait behind a held
// leader.
func waitQueued(t *testing.T, queued func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", queued(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func revision(t *testing.T, f *fixture) int64 {
	t.Helper()
	r, err := f.etcd.Client().Get(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Revision
}

// Writes that arrive while a transaction is in flight are committed
// together, each durable and in the view when its call returns; on one
// member and on three.
func TestEtcdGroupCommit(t *testing.T) {
	for _, members := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d members", members), func(t *testing.T) {
			f, a, b := twoNodes(t, members)
			first := submit(t, a, "batch", 1)
			queued, release := holdLeader(t, a)
			const n = 40
			errs := make(chan error, n+1)
			go func() {
				_, err := a.UpdateJob(first.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "A=1"); return nil })
				errs <- err
			}()
			waitQueued(t, queued, 0)
			subs := make([]*jobs.Job, n)
			for i := range subs {
				subs[i] = newJob(a, "batch", uint32(100+i))
			}
			for _, j := range subs {
				go func() { errs <- a.Submit(j, []byte("echo "+j.Name+"\n"), nil, nil) }()
			}
			waitQueued(t, queued, n)
			rev0 := revision(t, f)
			release()
			for range n + 1 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			// One transaction for the leader's write, then one per group
			// (n submissions: each of 4 operations and 2 compares, the
			// groups are within 128 operations).
			if got := revision(t, f) - rev0; got > 3 {
				t.Errorf("%d writes in %d transactions, want at most 3", n+1, got)
			}
			for _, j := range subs {
				waitView(t, b, "every submission", func(v *View) bool { return v.Job(j.ID) != nil })
				if got, err := b.Script(j.ID); err != nil || string(got) != "echo "+j.Name+"\n" {
					t.Errorf("script of %d: %q, %v", j.ID, got, err)
				}
			}
			checkConsistent(t, a)
			checkConsistent(t, b)
		})
	}
}

// In a group, a write whose compares fail (another store changed its
// record) fails alone and is computed again; the others commit; a write
// with an error of its own (its id taken) gets that error only.
func TestEtcdGroupCommitConflict(t *testing.T) {
	_, a, b := twoNodes(t, 1)
	x := submit(t, a, "batch", 1)
	others := []*jobs.Job{submit(t, a, "batch", 2), submit(t, a, "batch", 3), submit(t, a, "batch", 4)}
	taken := submit(t, b, "batch", 5)
	waitView(t, a, "B's job", func(v *View) bool { return v.Job(taken.ID) != nil })
	queued, release := holdLeader(t, a)
	type result struct {
		what string
		err  error
	}
	res := make(chan result, 8)
	go func() {
		_, err := a.UpdateJob(others[0].ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "LEAD=1"); return nil })
		res <- result{"lead", err}
	}()
	waitQueued(t, queued, 0)
	runs := 0
	var runsMu sync.Mutex
	go func() {
		_, err := a.UpdateJob(x.ID, func(j *jobs.Job) error {
			runsMu.Lock()
			runs++
			runsMu.Unlock()
			j.Vars = append(j.Vars, "A=1")
			return nil
		})
		res <- result{"x", err}
	}()
	for _, j := range others[1:] {
		go func() {
			_, err := a.UpdateJob(j.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "OK=1"); return nil })
			res <- result{"other", err}
		}()
	}
	dup := newJob(a, "batch", 6)
	dup.ID = taken.ID
	go func() { res <- result{"dup", a.Submit(dup, nil, nil, nil)} }()
	waitQueued(t, queued, 4)
	// B changes x after A's write of it was built from the older record.
	if _, err := b.UpdateJob(x.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, "B=1"); return nil }); err != nil {
		t.Fatal(err)
	}
	release()
	for range 5 {
		r := <-res
		switch {
		case r.what == "dup":
			if !errors.Is(r.err, ErrJobExists) {
				t.Errorf("submission with a taken id: %v, want ErrJobExists", r.err)
			}
		case r.err != nil:
			t.Errorf("%s: %v", r.what, r.err)
		}
	}
	if runs < 2 {
		t.Errorf("the conflicting update ran %d times, want it computed again", runs)
	}
	waitView(t, b, "A's update of x", func(v *View) bool { return len(v.Job(x.ID).Vars) == 2 })
	if got := b.View().Job(x.ID).Vars; !slices.Equal(got, []string{"B=1", "A=1"}) {
		t.Errorf("x's vars %q, want B's then A's", got)
	}
	for _, j := range others {
		if got := len(a.View().Job(j.ID).Vars); got != 1 {
			t.Errorf("job %d has %d vars, want 1 (neither lost nor doubled)", j.ID, got)
		}
	}
	if got := a.View().Job(taken.ID).Owner.UID; got != 5 {
		t.Errorf("job %d owner %d: the duplicate overwrote it", taken.ID, got)
	}
	checkConsistent(t, a)
	checkConsistent(t, b)
}

// A member killed while a group is on its way: every write of the group
// commits once (none lost, none doubled), the others' view shows each.
func TestEtcdGroupCommitMemberKilled(t *testing.T) {
	t.Parallel() // waits for etcd elections
	f, a, b := twoNodes(t, 3)
	js := make([]*jobs.Job, 12)
	for i := range js {
		js[i] = submit(t, a, "batch", uint32(10+i))
	}
	queued, release := holdLeader(t, a)
	errs := make(chan error, len(js))
	for i, j := range js {
		go func() {
			_, err := a.UpdateJob(j.ID, func(j *jobs.Job) error { j.Vars = append(j.Vars, fmt.Sprintf("N=%d", i)); return nil })
			errs <- err
		}()
	}
	waitQueued(t, queued, len(js)-1)
	// Kill each member in turn: one of them is the leader, and a's
	// client is connected to one.
	for i := range f.etcd.Size() {
		f.etcd.Kill(i)
		if i == 0 {
			release()
		}
		f.etcd.Restart(i)
	}
	for range js {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range js {
		waitView(t, b, "every update", func(v *View) bool { return len(v.Job(j.ID).Vars) > 0 })
		if got := b.View().Job(j.ID).Vars; len(got) != 1 {
			t.Errorf("job %d vars %q, want one", j.ID, got)
		}
	}
	checkConsistent(t, a)
	checkConsistent(t, b)
}

// A batch larger than one etcd transaction allows is split: many writes
// with large records, each committed.
func TestEtcdGroupCommitSplits(t *testing.T) {
	f, a, _ := twoNodes(t, 1)
	queued, release := holdLeader(t, a)
	lead := make(chan error, 1)
	go func() { lead <- a.Submit(newJob(a, "batch", 1), nil, nil, nil) }()
	waitQueued(t, queued, 0)
	const n = 60
	big := make([]string, 0, 4)
	for i := range 4 {
		big = append(big, fmt.Sprintf("V%d=%0*d", i, 60_000, 0)) // 240 kB a job: four a group at most
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			j := newJob(a, "batch", uint32(i))
			j.Vars = big
			errs <- a.Submit(j, nil, nil, nil)
		}()
	}
	waitQueued(t, queued, n)
	rev0 := revision(t, f)
	release()
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := revision(t, f) - rev0; got < n/4 || got >= n {
		t.Errorf("%d large submissions in %d transactions, want groups within 1 MiB", n, got)
	}
	if got := len(ids(a.View().Jobs())); got != n+1 {
		t.Errorf("%d jobs, want %d", got, n+1)
	}
	checkConsistent(t, a)
}
