package scheduler

import (
	"iter"
	"strings"
	"testing"

	"lazarus/jobs"
)

// arraySnapshot has one array job (id 5, in queue batch) with the given
// subjob states, a plain job 9 behind it, and slots CPUs. recs has a
// letter for each started subjob (each R of states), the state of its
// record: r running, q requeued (it waits to run again), h held.
func arraySnapshot(t *testing.T, spec, states, recs string, arrState jobs.State, slots int) Snapshot {
	t.Helper()
	a, err := jobs.ParseArray(spec)
	if err != nil {
		t.Fatal(err)
	}
	a.States = []byte(states)
	arr := &jobs.Job{ID: 5, Queue: "batch", State: arrState, Array: a, Resources: jobs.Resources{NCPUs: 1}}
	plain := &jobs.Job{ID: 9, Queue: "batch", State: jobs.Queued, Resources: jobs.Resources{NCPUs: 1}}
	var running, waiting []*jobs.Job
	for pos, st := range a.States {
		if st != jobs.SubRecord {
			continue
		}
		if len(recs) == 0 {
			t.Fatalf("states %q: a letter of recs for each R", states)
		}
		sub := arr.Subjob(a.IndexAt(pos))
		switch recs[0] {
		case 'r':
			sub.State = jobs.Running
			running = append(running, sub)
		case 'q':
			sub.State = jobs.Requeued
			waiting = append(waiting, sub) // subjob ids come after every job's
		case 'h':
			sub.State = jobs.Held
		}
		recs = recs[1:]
	}
	return Snapshot{
		Now: now, Limits: Limits{Slots: slots}, Queues: []Queue{{Name: "batch", Started: true}},
		Running: running,
		Pending: func(string) iter.Seq[*jobs.Job] {
			return func(yield func(*jobs.Job) bool) {
				for _, j := range append([]*jobs.Job{arr, plain}, waiting...) {
					if !yield(j) {
						return
					}
				}
			}
		},
		Job: func(id jobs.ID) *jobs.Job {
			if id == arr.ID {
				return arr
			}
			return nil
		},
	}
}

func TestScheduleArrays(t *testing.T) {
	tests := []struct {
		name, spec, states, recs string
		st                       jobs.State
		slots                    int
		want                     string
	}{
		{"subjobs in index order, then the job behind", "1-3", "QQQ", "", jobs.Queued, 4, "5[1] 5[2] 5[3] 9"},
		{"no room for all: nothing passes", "1-3", "QQQ", "", jobs.Queued, 2, "5[1] 5[2]"},
		{"started and ended ones skipped", "1,6-7,12", "XRQQ", "r", jobs.Begun, 8, "5[7] 5[12] 9"},
		{"held and deleted ones skipped", "1-4", "HDQH", "", jobs.Queued, 8, "5[3] 9"},
		{"%max counts running subjobs", "1-6%2", "RQQQQQ", "r", jobs.Begun, 8, "5[2] 9"},
		{"%max reached: the job behind goes", "1-6%2", "RRQQQQ", "rr", jobs.Begun, 8, "9"},
		{"%max: a held subjob does not count", "1-6%2", "RRQQQQ", "rh", jobs.Begun, 8, "5[3] 9"},
		{"%max: a requeued subjob does not count, and waits its turn", "1-6%2", "RRQQQQ", "rq", jobs.Begun, 8, "5[3] 9"},
		{"%max: a requeued subjob runs again when there is room", "1-3%2", "RRX", "rq", jobs.Begun, 8, "5[2] 9"},
		{"%max: requeued subjobs wait while %max run", "1-3%1", "RRR", "rqq", jobs.Begun, 8, "9"},
		{"held array", "1-3", "QQQ", "", jobs.Held, 8, "9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Schedule(arraySnapshot(t, tt.spec, tt.states, tt.recs, tt.st, tt.slots))
			var got []string
			for _, j := range plan.Start {
				got = append(got, j.ID.String())
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("started %q, want %q", g, tt.want)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	ok := Target{Exists: true, Started: true, Ended: true, OK: true}
	failed := Target{Exists: true, Started: true, Ended: true, How: "failed (exit status 1)"}
	running := Target{Exists: true, Started: true}
	queued := Target{Exists: true}
	deleted := Target{Exists: true, Ended: true, How: "was deleted before it ran"}
	gone := Target{}
	tests := []struct {
		name    string
		dep     jobs.Depend
		targets map[jobs.ID]Target
		ready   bool
		never   string
		done    int
	}{
		{"afterok on ok", dep(jobs.DepAfterOK, 1), tgt(1, ok), true, "", 1},
		{"afterok on running", dep(jobs.DepAfterOK, 1), tgt(1, running), false, "", 0},
		{"afterok on failed", dep(jobs.DepAfterOK, 1), tgt(1, failed), false, "dependency afterok:1 can never be satisfied: job 1 failed (exit status 1)", 0},
		{"afternotok on failed", dep(jobs.DepAfterNotOK, 1), tgt(1, failed), true, "", 1},
		{"afternotok on ok", dep(jobs.DepAfterNotOK, 1), tgt(1, ok), false, "can never be satisfied", 0},
		{"afterany on failed", dep(jobs.DepAfterAny, 1), tgt(1, failed), true, "", 1},
		{"afterany on gone", dep(jobs.DepAfterAny, 1), tgt(1, gone), true, "", 1},
		{"afterok on gone", dep(jobs.DepAfterOK, 1), tgt(1, gone), false, "job 1 does not exist", 0},
		{"after on running", dep(jobs.DepAfter, 1), tgt(1, running), true, "", 1},
		{"after on queued", dep(jobs.DepAfter, 1), tgt(1, queued), false, "", 0},
		{"after on deleted", dep(jobs.DepAfter, 1), tgt(1, deleted), false, "ended without starting", 0},
		{"all: one of two", dep(jobs.DepAfterOK, 1, 2), tgt2(ok, running), false, "", 1},
		{"all: one never", dep(jobs.DepAfterOK, 1, 2), tgt2(failed, ok), false, "can never be satisfied", 1},
		{"any: one is enough", anyOf(dep(jobs.DepAfterOK, 1, 2)), tgt2(failed, ok), true, "", 1},
		{"any: one may still be", anyOf(dep(jobs.DepAfterOK, 1, 2)), tgt2(failed, running), false, "", 0},
		{"any: none can be", anyOf(dep(jobs.DepAfterOK, 1, 2)), tgt2(failed, failed), false, "can never be satisfied", 0},
		{"done conditions are not looked at", done(dep(jobs.DepAfterOK, 1)), tgt(1, failed), true, "", 0},
		{"on:count still to come", on(dep(jobs.DepAfterOK, 1), 1), tgt(1, ok), false, "", 1},
		{"only on:count", jobs.Depend{On: 1}, nil, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Dependencies(&tt.dep, func(id jobs.ID) Target { return tt.targets[id] })
			if v.Ready != tt.ready || len(v.Done) != tt.done || (tt.never == "") != (v.Never == "") || !strings.Contains(v.Never, tt.never) {
				t.Errorf("got ready %v, never %q, %d done; want %v, %q, %d", v.Ready, v.Never, len(v.Done), tt.ready, tt.never, tt.done)
			}
		})
	}
}

func dep(kind jobs.DepKind, ids ...jobs.ID) jobs.Depend {
	var d jobs.Depend
	for _, id := range ids {
		d.Conds = append(d.Conds, jobs.Cond{Kind: kind, ID: id})
	}
	return d
}

func anyOf(d jobs.Depend) jobs.Depend { d.Any = true; return d }
func on(d jobs.Depend, n int) jobs.Depend {
	d.On = n
	return d
}
func done(d jobs.Depend) jobs.Depend {
	for i := range d.Conds {
		d.Conds[i].Done = true
	}
	return d
}
func tgt(id jobs.ID, t Target) map[jobs.ID]Target { return map[jobs.ID]Target{id: t} }
func tgt2(a, b Target) map[jobs.ID]Target         { return map[jobs.ID]Target{1: a, 2: b} }
