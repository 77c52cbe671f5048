package jobs

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newJob(state State) *Job {
	return &Job{ID: 7, State: state, Rerunnable: true, Submitted: t0}
}

func running(t *testing.T) *Job {
	t.Helper()
	j := newJob(Queued)
	if err := j.Start(t0); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestTransitionTable(t *testing.T) {
	for _, from := range States {
		if _, ok := transitions[from]; !ok {
			t.Errorf("state %s missing from the transition table", from)
		}
		for _, to := range transitions[from] {
			if _, ok := transitions[to]; !ok {
				t.Errorf("%s → %s: unknown target", from, to)
			}
		}
	}
	for _, s := range States {
		if s.Terminal() && !slices.Equal(transitions[s], []State{Requeued}) {
			t.Errorf("terminal state %s goes to %v; only qrestart (requeued) may revive it", s, transitions[s])
		}
		if s.Active() && !s.CanBecome(Failed) {
			t.Errorf("active state %s cannot fail", s)
		}
	}
}

func TestHoldRelease(t *testing.T) {
	tests := []struct {
		name    string
		from    State
		op      func(*Job) error
		want    State
		wantErr bool
	}{
		{"hold queued", Queued, func(j *Job) error { return j.Hold("bob", t0) }, Held, false},
		{"hold requeued", Requeued, func(j *Job) error { return j.Hold("bob", t0) }, Held, false},
		{"hold held", Held, func(j *Job) error { return j.Hold("bob", t0) }, Held, true},
		{"hold running", Running, func(j *Job) error { return j.Hold("bob", t0) }, Running, true},
		{"release held", Held, func(j *Job) error { return j.Release(t0) }, Queued, false},
		{"release queued", Queued, func(j *Job) error { return j.Release(t0) }, Queued, true},
		{"start held", Held, func(j *Job) error { return j.Start(t0) }, Held, true},
		{"kill queued", Queued, func(j *Job) error { return j.Kill("bob", t0) }, Queued, true},
		{"kill finished", Finished, func(j *Job) error { return j.Kill("bob", t0) }, Finished, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJob(tt.from)
			err := tt.op(j)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			var te *TransitionError
			if err != nil && !errors.As(err, &te) {
				t.Errorf("error %v is not a TransitionError", err)
			}
			if j.State != tt.want {
				t.Errorf("state = %s, want %s", j.State, tt.want)
			}
		})
	}
	j := newJob(Held)
	if err := j.Hold("bob", t0); err == nil || err.Error() != "job 7 is already held" {
		t.Errorf("hold of held job: %v", err)
	}
}

func TestEnd(t *testing.T) {
	end := t0.Add(time.Hour)
	tests := []struct {
		name       string
		kill       bool
		result     Result
		want       State
		wantReason string
	}{
		{"exit 0", false, Result{End: end, ExitCode: 0}, Finished, ""},
		{"exit 3", false, Result{End: end, ExitCode: 3}, Failed, "exit status 3"},
		{"signal", false, Result{End: end, ExitCode: -1, Signal: 9}, Failed, "killed by signal 9 (killed)"},
		{"walltime", false, Result{End: end, ExitCode: -1, Signal: 15, Reason: "walltime exceeded"}, Failed, "walltime exceeded"},
		{"deleted", true, Result{End: end, ExitCode: -1, Signal: 15, Reason: "killed"}, Failed, "deleted by bob"},
		{"deleted but exited first", true, Result{End: end, ExitCode: 0}, Finished, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := running(t)
			if tt.kill {
				if err := j.Kill("bob", t0); err != nil {
					t.Fatal(err)
				}
			}
			tt.result.UserCPU, tt.result.SysCPU = 2*time.Second, time.Second
			if err := j.End(tt.result); err != nil {
				t.Fatal(err)
			}
			if j.State != tt.want || j.Reason != tt.wantReason {
				t.Errorf("state, reason = %s, %q, want %s, %q", j.State, j.Reason, tt.want, tt.wantReason)
			}
			if _, open := j.Current(); open {
				t.Error("segment still open")
			}
			cpu, wall := j.Totals(end.Add(time.Hour))
			if cpu != 3*time.Second || wall != time.Hour {
				t.Errorf("totals = %v, %v, want 3s, 1h", cpu, wall)
			}
			if err := j.End(tt.result); err == nil {
				t.Error("second End accepted")
			}
		})
	}
}

func TestLostAndRestartAccounting(t *testing.T) {
	j := running(t)
	j.Rerunnable = true
	if err := j.Lost("processes gone", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if j.State != Requeued {
		t.Fatalf("state = %s, want requeued", j.State)
	}
	if err := j.Start(t0.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := j.End(Result{End: t0.Add(3 * time.Minute), UserCPU: 4 * time.Second, ExitCode: 0}); err != nil {
		t.Fatal(err)
	}
	if len(j.Segments) != 2 || j.State != Finished {
		t.Fatalf("segments = %d, state = %s", len(j.Segments), j.State)
	}
	cpu, wall := j.Totals(t0.Add(time.Hour))
	if cpu != 4*time.Second || wall != 2*time.Minute {
		t.Errorf("totals = %v, %v, want 4s, 2m", cpu, wall)
	}

	nr := running(t)
	nr.Rerunnable = false
	if err := nr.Lost("processes gone", t0); err != nil {
		t.Fatal(err)
	}
	if nr.State != Failed || nr.Reason != "processes gone (not rerunnable)" {
		t.Errorf("not rerunnable: %s %q", nr.State, nr.Reason)
	}

	ns := running(t)
	if err := ns.NotStarted(t0); err != nil {
		t.Fatal(err)
	}
	if ns.State != Requeued || len(ns.Segments) != 0 {
		t.Errorf("not started: %s, %d segments", ns.State, len(ns.Segments))
	}
}

func TestCopyIsDeep(t *testing.T) {
	j := running(t)
	j.Owner.Groups = []uint32{1, 2}
	j.Vars = []string{"A=1"}
	c := j.Copy()
	c.Owner.Groups[0] = 9
	c.Vars[0] = "B=2"
	c.Segments[0].Reason = "x"
	if j.Owner.Groups[0] != 1 || j.Vars[0] != "A=1" || j.Segments[0].Reason != "" {
		t.Error("Copy shares memory with the original")
	}
}
