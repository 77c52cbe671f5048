package jobs

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkpointed returns a running job with generations 1..n recorded.
func checkpointed(t *testing.T, n, keep int) *Job {
	t.Helper()
	j := running(t)
	for i := 1; i <= n; i++ {
		op, err := j.BeginCheckpoint(CheckpointOp{By: "schedule"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if op.Gen != i || j.State != Checkpointing {
			t.Fatalf("checkpoint %d: gen %d, state %s", i, op.Gen, j.State)
		}
		j.CheckpointDone(Generation{N: op.Gen, Root: "job"}, keep, t0)
	}
	return j
}

func gens(j *Job) []int {
	var out []int
	for _, g := range j.Checkpoints {
		out = append(out, g.N)
	}
	return out
}

func TestGenerationsKept(t *testing.T) {
	tests := []struct {
		name string
		n    int
		keep int
		want []int
	}{
		{"fewer than keep", 1, 2, []int{1}},
		{"keep 2", 5, 2, []int{5, 4}},
		{"keep 1", 3, 1, []int{3}},
		{"keep 0 means 1", 3, 0, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := checkpointed(t, tt.n, tt.keep)
			if got := gens(j); !slices.Equal(got, tt.want) {
				t.Errorf("generations = %v, want %v", got, tt.want)
			}
			if j.State != Running || j.Checkpointing != nil {
				t.Errorf("after the checkpoints: %s, %+v", j.State, j.Checkpointing)
			}
		})
	}
}

func TestBadGenerationsDroppedOnlyByAGoodOne(t *testing.T) {
	j := checkpointed(t, 2, 2)
	j.Checkpoints[0].Bad = "restart failed"
	// A failed checkpoint keeps everything.
	op, _ := j.BeginCheckpoint(CheckpointOp{}, t0)
	j.CheckpointFailed(op.Gen, "no space left on device", t0)
	if got := gens(j); !slices.Equal(got, []int{2, 1}) || j.CheckpointError != "no space left on device" || j.State != Running {
		t.Fatalf("after a failure: %v, %q, %s", got, j.CheckpointError, j.State)
	}
	// The next good one replaces the bad one and keeps the good one.
	op, _ = j.BeginCheckpoint(CheckpointOp{}, t0)
	if op.Gen != 4 {
		t.Errorf("generation after a failed one = %d, want 4 (numbers are never reused)", op.Gen)
	}
	dropped := j.CheckpointDone(Generation{N: op.Gen}, 2, t0)
	if got := gens(j); !slices.Equal(got, []int{4, 1}) {
		t.Errorf("generations = %v, want [4 1]", got)
	}
	if len(dropped) != 1 || dropped[0].N != 2 || j.CheckpointError != "" {
		t.Errorf("dropped %+v, error %q", dropped, j.CheckpointError)
	}
}

func TestCheckpointThatStopsTheJob(t *testing.T) {
	j := running(t)
	op, err := j.BeginCheckpoint(CheckpointOp{Requeue: true, Hold: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	j.CheckpointDone(Generation{N: op.Gen}, 2, t0)
	if j.State != Checkpointing {
		t.Fatalf("state = %s, want checkpointing until the run's end", j.State)
	}
	end := t0.Add(time.Minute)
	if err := j.Requeue(Result{End: end, ExitCode: -1, Signal: 9, Reason: "checkpointed and stopped"}, "held after checkpoint 1", true); err != nil {
		t.Fatal(err)
	}
	if j.State != Held || j.Checkpointing != nil || j.Segments[0].Open() {
		t.Fatalf("after the requeue: %s %+v %+v", j.State, j.Checkpointing, j.Segments[0])
	}
	if _, err := j.BeginCheckpoint(CheckpointOp{}, t0); err == nil {
		t.Error("a held job began a checkpoint")
	}
	if err := j.Release(end); err != nil {
		t.Fatal(err)
	}
	g, ok := j.RestoreFrom()
	if !ok || g.N != 1 {
		t.Fatalf("RestoreFrom = %+v, %v", g, ok)
	}
	if err := j.Restore(g.N, end); err != nil {
		t.Fatal(err)
	}
	if s, _ := j.Current(); !s.Restart || s.Generation != 1 {
		t.Errorf("restarted segment %+v", s)
	}
}

func TestRestoreFallback(t *testing.T) {
	tests := []struct {
		name       string
		rerun      bool
		gens       int
		failures   int
		wantState  State
		wantGen    int // generation of the open run, when it runs
		wantReason string
	}{
		{"previous generation", false, 3, 1, Running, 2, ""},
		{"two failures", false, 3, 2, Running, 1, ""},
		{"fresh start", true, 2, 2, Running, 0, ""},
		{"not rerunnable", false, 1, 1, Failed, 0, "cannot restart from checkpoint 1: corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := checkpointed(t, tt.gens, 3)
			j.Rerunnable = tt.rerun
			if err := j.Lost("machine crash", t0); err != nil || j.State != Requeued {
				t.Fatalf("lost: %v, %s", err, j.State)
			}
			g, _ := j.RestoreFrom()
			if err := j.Restore(g.N, t0); err != nil {
				t.Fatal(err)
			}
			gen := g.N
			for range tt.failures {
				next, ok, err := j.RestoreFailed(gen, "corrupt", t0)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				gen = next
			}
			if j.State != tt.wantState || j.Reason != tt.wantReason {
				t.Fatalf("state %s %q, want %s %q", j.State, j.Reason, tt.wantState, tt.wantReason)
			}
			if s, open := j.Current(); open && (s.Generation != tt.wantGen || s.Restart != (tt.wantGen > 0)) {
				t.Errorf("open run %+v, want from generation %d", s, tt.wantGen)
			}
			if len(j.Events) != tt.failures {
				t.Errorf("events %+v, want one per failure", j.Events)
			}
		})
	}
}

func TestRestartRequest(t *testing.T) {
	j := checkpointed(t, 3, 3)
	if err := j.Restart(0, "bob", t0); err == nil {
		t.Error("restart of a running job accepted")
	}
	if err := j.End(Result{End: t0, ExitCode: 0}); err != nil {
		t.Fatal(err)
	}
	if err := j.Restart(7, "bob", t0); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("restart from a missing generation: %v", err)
	}
	if err := j.Restart(2, "bob", t0); err != nil {
		t.Fatal(err)
	}
	if j.State != Requeued || j.RestartFrom != 2 || !strings.Contains(j.Reason, "checkpoint 2 requested by bob") {
		t.Fatalf("after qrestart -g 2: %s %d %q", j.State, j.RestartFrom, j.Reason)
	}
	g, _ := j.RestoreFrom()
	if err := j.Restore(g.N, t0); err != nil || g.N != 2 {
		t.Fatal(g.N, err)
	}
	if j.Checkpoints[0].Good() || !j.Checkpoints[1].Good() || !j.Checkpoints[2].Good() {
		t.Errorf("after a restart from 2, generation 3 is still good: %+v", j.Checkpoints)
	}
	nc := running(t)
	if err := nc.End(Result{End: t0, ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Restart(0, "bob", t0); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("restart of a job without checkpoints: %v", err)
	}
}

func TestLostWithACheckpointIsRequeuedEvenIfNotRerunnable(t *testing.T) {
	j := checkpointed(t, 1, 2)
	j.Rerunnable = false
	if err := j.Lost("machine crash", t0); err != nil {
		t.Fatal(err)
	}
	if j.State != Requeued || !strings.Contains(j.Reason, "restarts from checkpoint 1") {
		t.Errorf("state %s %q", j.State, j.Reason)
	}
}

func TestEventsBounded(t *testing.T) {
	j := newJob(Running)
	for i := range MaxEvents + 5 {
		j.Event(t0, "event %d", i)
	}
	if len(j.Events) != MaxEvents || j.Events[0].Text != "event 5" {
		t.Errorf("%d events, first %q", len(j.Events), j.Events[0].Text)
	}
}

// A run restarted from a checkpoint has the walltime the job had left at
// the checkpoint.
func TestWalltimeAfterRestart(t *testing.T) {
	j := running(t)
	j.Resources.Walltime = 10 * time.Hour
	if got := j.Walltime(); got != 10*time.Hour {
		t.Errorf("first run: %v", got)
	}
	op, _ := j.BeginCheckpoint(CheckpointOp{}, t0.Add(3*time.Hour))
	j.CheckpointDone(Generation{N: op.Gen, Time: t0.Add(3 * time.Hour)}, 2, t0.Add(3*time.Hour))
	if g := j.Checkpoints[0]; g.Elapsed != 3*time.Hour {
		t.Errorf("elapsed at the checkpoint: %v", g.Elapsed)
	}
	j.Lost("machine crash", t0.Add(5*time.Hour))
	j.Restore(1, t0.Add(6*time.Hour))
	if got := j.Walltime(); got != 7*time.Hour {
		t.Errorf("restarted run: walltime %v, want 7h", got)
	}
	// A checkpoint of the restarted run counts from the one it restarted
	// from: the 2 hours lost in the crash are not the job's.
	op, _ = j.BeginCheckpoint(CheckpointOp{}, t0.Add(7*time.Hour))
	j.CheckpointDone(Generation{N: op.Gen, Time: t0.Add(7 * time.Hour)}, 2, t0.Add(7*time.Hour))
	if g := j.Checkpoints[0]; g.Elapsed != 4*time.Hour {
		t.Errorf("elapsed at the second checkpoint: %v, want 3h + 1h", g.Elapsed)
	}
}

// The generation a run restarted from may be pruned while the run goes on
// (keep 1): the run's walltime and the elapsed time of its later
// checkpoints must not change for that.
func TestElapsedAfterTheRestartGenerationIsPruned(t *testing.T) {
	j := running(t)
	j.Resources.Walltime = 10 * time.Hour
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	checkpoint := func(h int) Generation {
		t.Helper()
		op, err := j.BeginCheckpoint(CheckpointOp{}, at(h))
		if err != nil {
			t.Fatal(err)
		}
		j.CheckpointDone(Generation{N: op.Gen, Time: at(h)}, 1, at(h))
		return j.Checkpoints[0]
	}
	checkpoint(3)
	j.Lost("machine crash", at(5))
	if err := j.Restore(1, at(6)); err != nil {
		t.Fatal(err)
	}
	if g := checkpoint(7); g.Elapsed != 4*time.Hour {
		t.Fatalf("elapsed at checkpoint %d: %v, want 3h + 1h", g.N, g.Elapsed)
	}
	if len(j.Checkpoints) != 1 || j.Checkpoints[0].N != 2 {
		t.Fatalf("generations %+v, want only 2 (keep 1)", j.Checkpoints)
	}
	// Generation 1, which the run restarted from, is gone now.
	if got := j.Walltime(); got != 7*time.Hour {
		t.Errorf("walltime of the run after its generation was pruned: %v, want 7h", got)
	}
	if g := checkpoint(8); g.Elapsed != 5*time.Hour {
		t.Errorf("elapsed at checkpoint %d: %v, want 3h + 2h", g.N, g.Elapsed)
	}
	j.Lost("machine crash", at(9))
	if err := j.Restore(3, at(10)); err != nil {
		t.Fatal(err)
	}
	if got := j.Walltime(); got != 5*time.Hour {
		t.Errorf("walltime of a restart from checkpoint 3: %v, want 10h - 5h", got)
	}
}

// A restart that falls back to an older generation takes that one's run
// time as its own base.
func TestElapsedAfterFallback(t *testing.T) {
	j := running(t)
	j.Resources.Walltime = 10 * time.Hour
	for _, h := range []int{2, 4} {
		op, _ := j.BeginCheckpoint(CheckpointOp{}, t0.Add(time.Duration(h)*time.Hour))
		j.CheckpointDone(Generation{N: op.Gen, Time: t0.Add(time.Duration(h) * time.Hour)}, 2, t0)
	}
	j.Lost("machine crash", t0.Add(5*time.Hour))
	if err := j.Restore(2, t0.Add(6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := j.Walltime(); got != 6*time.Hour {
		t.Fatalf("walltime from checkpoint 2: %v, want 6h", got)
	}
	if next, ok, err := j.RestoreFailed(2, "corrupt", t0.Add(6*time.Hour)); err != nil || !ok || next != 1 {
		t.Fatalf("RestoreFailed = %d, %v, %v", next, ok, err)
	}
	if got := j.Walltime(); got != 8*time.Hour {
		t.Errorf("walltime from checkpoint 1: %v, want 8h", got)
	}
}
