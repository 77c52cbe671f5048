package jobs

import (
	"strings"
	"testing"
	"time"
)

func TestAcctRecordLine(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	r := AcctRecord{Time: at, Type: AcctEnded, ID: "12.host", Fields: []AcctField{
		{"user", "alice"}, {"account", "big project"}, {"reason", "a\nb"}, {"Exit_status", "0"},
	}}
	line := r.Line()
	if want := "03/04/2026 05:06:07;E;12.host;user=alice account=\"big project\" reason=\"a b\" Exit_status=0\n"; line != want {
		t.Fatalf("Line() = %q, want %q", line, want)
	}
	back, err := ParseAcctRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(at) || back.Type != 'E' || back.Get("account") != "big project" || back.Get("Exit_status") != "0" {
		t.Errorf("parsed %+v", back)
	}
	for _, bad := range []string{"", "x;y", "03/04/2026 05:06:07;EE;1;", "03/04/2026 05:06:07;E;1;k=\"open"} {
		if _, err := ParseAcctRecord(bad); err == nil {
			t.Errorf("ParseAcctRecord(%q) accepted", bad)
		}
	}
}

// The records of each change of a job's life.
func TestChanges(t *testing.T) {
	c := AcctContext{Server: "h", GroupName: func(uint32) string { return "staff" }}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.Local)
	queued := &Job{ID: 7, Name: "sim", Queue: "batch", State: Queued, Owner: Owner{UID: 1, GID: 2, Name: "alice"},
		Submitted: t0, Resources: Resources{NCPUs: 2, Mem: 1 << 30}, Rerunnable: true}
	step := func(j *Job, f func(*Job) error) *Job {
		t.Helper()
		n := j.Copy()
		if err := f(n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	running := step(queued, func(j *Job) error { return j.Start(t0.Add(time.Minute)) })
	ckpt := step(running, func(j *Job) error {
		op, err := j.BeginCheckpoint(CheckpointOp{By: "alice"}, t0.Add(2*time.Minute))
		if err != nil {
			return err
		}
		j.CheckpointDone(Generation{N: op.Gen, Time: t0.Add(3 * time.Minute), Size: 100}, 2, t0.Add(3*time.Minute))
		return nil
	})
	requeued := step(ckpt, func(j *Job) error {
		return j.Requeue(Result{End: t0.Add(4 * time.Minute), UserCPU: 30 * time.Second, ExitCode: -1,
			Reason: "stopped after checkpoint 1", Mem: 10 << 20}, "requeued", false)
	})
	restarted := step(requeued, func(j *Job) error { return j.Restore(1, t0.Add(5*time.Minute)) })
	killed := step(restarted, func(j *Job) error { return j.Kill("bob", t0.Add(6*time.Minute)) })
	ended := step(killed, func(j *Job) error {
		return j.End(Result{End: t0.Add(7 * time.Minute), UserCPU: 15 * time.Second, ExitCode: -1, Reason: "killed", Mem: 20 << 20})
	})
	lost := step(running, func(j *Job) error { j.Rerunnable = false; return j.Lost("machine crash", t0.Add(time.Hour)) })
	for _, tc := range []struct {
		name     string
		old, cur *Job
		by       string
		want     string // types
		check    func(t *testing.T, rs []AcctRecord)
	}{
		{"submitted", nil, queued, "", "Q", func(t *testing.T, rs []AcctRecord) {
			if rs[0].Get("queue") != "batch" || rs[0].ID != "7.h" {
				t.Errorf("%+v", rs[0])
			}
		}},
		{"started", queued, running, "", "S", func(t *testing.T, rs []AcctRecord) {
			if rs[0].Get("group") != "staff" || rs[0].Get("Resource_List.mem") != "1gb" || rs[0].Get("exec_host") != "h/0*2" {
				t.Errorf("%+v", rs[0])
			}
		}},
		{"checkpointed", running, ckpt, "", "C", nil},
		{"requeued after it", ckpt, requeued, "", "R", func(t *testing.T, rs []AcctRecord) {
			if rs[0].Get("Exit_status") != "-12" || rs[0].Get("resources_used.cput") != "00:00:30" {
				t.Errorf("%+v", rs[0])
			}
		}},
		{"restarted", requeued, restarted, "", "T", func(t *testing.T, rs []AcctRecord) {
			if rs[0].Get("checkpoint") != "1" {
				t.Errorf("%+v", rs[0])
			}
		}},
		{"qdel of a run", restarted, killed, "", "D", func(t *testing.T, rs []AcctRecord) {
			if rs[0].Get("requestor") != "bob@h" {
				t.Errorf("%+v", rs[0])
			}
		}},
		{"ended: all runs", killed, ended, "", "E", func(t *testing.T, rs []AcctRecord) {
			e := rs[0]
			if e.Get("resources_used.cput") != "00:00:45" || e.Get("resources_used.mem") != "20480kb" ||
				e.Get("run_count") != "2" || e.Get("Exit_status") != "265" || e.Get("resources_used.walltime") != "00:05:00" {
				t.Errorf("%+v", e)
			}
		}},
		{"lost, not rerunnable", running, lost, "", "AE", nil},
		{"qdel of a waiting job", queued, nil, "alice@h", "D", nil},
		{"purge of an ended job", ended, nil, "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := Changes(c, tc.old, tc.cur, tc.by, t0)
			var types strings.Builder
			for _, r := range rs {
				types.WriteByte(r.Type)
			}
			if types.String() != tc.want {
				t.Fatalf("records %q, want %q: %+v", types.String(), tc.want, rs)
			}
			if tc.check != nil {
				tc.check(t, rs)
			}
		})
	}
}

// An array job's records: Q at submission, D at qdel, E (PBS's) once its
// last subjob has ended, if one ran.
func TestArrayChanges(t *testing.T) {
	c := AcctContext{Server: "h", GroupName: func(uint32) string { return "staff" }}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.Local)
	a, err := ParseArray("1-3%2")
	if err != nil {
		t.Fatal(err)
	}
	queued := &Job{ID: 7, Name: "sweep", Queue: "batch", State: Queued, Owner: Owner{UID: 1, GID: 2, Name: "alice"},
		Submitted: t0, Resources: Resources{NCPUs: 1, Walltime: time.Hour}, Array: a}
	set := func(j *Job, at time.Duration, states string, exit int) *Job {
		t.Helper()
		n := j.Copy()
		copy(n.Array.States, states)
		n.Array.Ended(exit)
		if err := n.Settle(t0.Add(at)); err != nil {
			t.Fatal(err)
		}
		return n
	}
	begun := set(queued, time.Minute, "RQQ", 0)
	ok := set(begun, time.Hour, "XXX", 0)
	oneFailed := set(begun, time.Hour, "XFD", 3)
	aborted := set(begun, time.Hour, "FXX", ExecInitAbort)
	neverRan := set(queued, time.Hour, "DDD", 0)
	deleting := begun.Copy()
	deleting.Reason = "deleted by bob"
	types := func(rs []AcctRecord) string {
		var b strings.Builder
		for _, r := range rs {
			b.WriteByte(r.Type)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name     string
		old, cur *Job
		want     string
		exit     string
	}{
		{"submitted", nil, queued, "Q", ""},
		{"begun", queued, begun, "", ""},
		{"all ok", begun, ok, "E", "0"},
		{"one failed, one deleted", begun, oneFailed, "E", "1"},
		{"one ended by the system", begun, aborted, "E", "2"},
		{"none ran", queued, neverRan, "", ""},
		{"qdel", begun, deleting, "D", ""},
		{"qdel again", deleting, deleting.Copy(), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := Changes(c, tc.old, tc.cur, "", t0.Add(2*time.Hour))
			if got := types(rs); got != tc.want {
				t.Fatalf("records %q, want %q", got, tc.want)
			}
			for _, r := range rs {
				if r.ID != "7[].h" {
					t.Errorf("id %q, want 7[].h", r.ID)
				}
			}
			if tc.want == "D" && rs[0].Get("requestor") != "bob@h" {
				t.Errorf("requestor %q, want bob@h", rs[0].Get("requestor"))
			}
			if tc.want != "E" {
				return
			}
			e := rs[0]
			if e.Get("Exit_status") != tc.exit || e.Get("array_indices") != "1-3" || e.Get("exec_host") != "" ||
				e.Get("start") != unix(t0.Add(time.Minute)) || e.Get("end") != unix(t0.Add(time.Hour)) ||
				e.Get("user") != "alice" || e.Get("Resource_List.walltime") != "01:00:00" || !e.Time.Equal(t0.Add(time.Hour)) {
				t.Errorf("E record %s", strings.TrimSpace(e.Line()))
			}
		})
	}
}
