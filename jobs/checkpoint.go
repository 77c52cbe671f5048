package jobs

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNoCheckpoint is returned when a job has no checkpoint to restart from.
var ErrNoCheckpoint = errors.New("no checkpoint to restart from")

// Checkpointable reports whether the policy lets the job be checkpointed
// (periodically, on demand and before maintenance).
func (p Policy) Checkpointable() bool { return p.Kind != CheckpointNever }

// Periodic reports whether the policy asks for checkpoints at an interval.
func (p Policy) Periodic() bool { return p.Kind == CheckpointInterval && p.Interval > 0 }

// Event records one step of the job's checkpoint and restart history,
// keeping the newest MaxEvents.
func (j *Job) Event(now time.Time, format string, args ...any) {
	j.Events = append(j.Events, Event{Time: now, Text: fmt.Sprintf(format, args...)})
	if n := len(j.Events); n > MaxEvents {
		j.Events = slices.Clone(j.Events[n-MaxEvents:])
	}
}

// BeginCheckpoint records that a checkpoint of the running job starts: the
// job becomes checkpointing and op gets the next generation number, which
// is never used again whatever becomes of this checkpoint.
func (j *Job) BeginCheckpoint(op CheckpointOp, now time.Time) (CheckpointOp, error) {
	if j.State != Running {
		return op, &TransitionError{ID: j.ID, From: j.State, To: Checkpointing}
	}
	why := "checkpoint in progress"
	if op.Requeue {
		why = "checkpoint in progress; then the job is stopped and requeued"
	}
	if err := j.become(Checkpointing, why, now); err != nil {
		return op, err
	}
	j.LastGeneration++
	op.Gen, op.Started = j.LastGeneration, now
	j.Checkpointing = &op
	return op, nil
}

// endCheckpoint puts a job whose checkpoint ended back to running, unless
// the checkpoint stopped it (qchkpnt -k: the end of its run is reported
// apart) or it left the checkpointing state meanwhile (ended, deleted).
func (j *Job) endCheckpoint(gen int, ok bool, now time.Time) {
	op := j.Checkpointing
	if j.State != Checkpointing || op == nil || op.Gen != gen || (ok && op.Requeue) {
		return
	}
	j.Checkpointing = nil
	j.become(Running, "", now)
}

// CheckpointDone records generation g, now durable, as the job's newest,
// and drops the oldest so that at most keep good generations remain (and
// every bad one goes), but for those a kept incremental generation needs
// (its parent, theirs...), kept until a new self-contained one or a merge
// (ToMerge, Merged) frees them, and those a lazily served run reads
// (Serving). It returns the dropped generations, whose files the
// caller deletes once this record is durable. A checkpoint that also
// stopped the job (qchkpnt -k) leaves it checkpointing until its run's end
// is reported.
//
// A generation already recorded (its run's end, reported first, found it
// on disk) keeps its record, which only gains the statistics the helper
// measured.
func (j *Job) CheckpointDone(g Generation, keep int, now time.Time) (dropped []Generation) {
	keep = max(keep, 1)
	j.LastGeneration = max(j.LastGeneration, g.N)
	if g.Host == "" {
		g.Host = j.ExecHost() // cluster mode: the node whose fingerprint the image has
	}
	j.CheckpointError, j.CheckpointErrorTime = "", time.Time{}
	defer j.endCheckpoint(g.N, true, now)
	for i := range j.Checkpoints {
		if x := &j.Checkpoints[i]; x.N == g.N {
			if x.Duration == 0 && g.Duration > 0 {
				x.Size, x.Duration, x.Frozen, x.Processes = g.Size, g.Duration, g.Frozen, g.Processes
			}
			return nil
		}
	}
	if g.Elapsed == 0 && !g.Time.IsZero() {
		g.Elapsed = j.elapsedAt(g.Time)
	}
	j.Checkpoints = append([]Generation{g}, j.Checkpoints...)
	slices.SortStableFunc(j.Checkpoints, func(a, b Generation) int { return b.N - a.N })
	return j.prune(keep)
}

// prune drops the oldest generations so that at most keep good ones
// remain, and every bad one goes, but for those a kept generation needs
// and those a lazily served run reads (Serving), and returns them.
func (j *Job) prune(keep int) (dropped []Generation) {
	j.Checkpoints, dropped = keptGenerations(j.Checkpoints, keep, j.Serving())
	return dropped
}

// keptGenerations splits gs (newest first) into the generations kept and
// those dropped: the newest keep good ones (the points a restart can go
// back to), the one a lazily served run reads (serving, 0: none), and
// every one they need: an incremental generation needs the one it was
// made against, and that one its own (newest first, so a parent is met
// after its children).
func keptGenerations(gs []Generation, keep, serving int) (kept, dropped []Generation) {
	good := 0
	need := map[int]bool{serving: serving > 0}
	for _, x := range gs {
		point := x.Good() && good < keep
		if point {
			good++
		}
		if !point && !need[x.N] {
			dropped = append(dropped, x)
			continue
		}
		kept = append(kept, x)
		if x.Parent > 0 {
			need[x.Parent] = true
		}
	}
	return kept, dropped
}

// Serving is the generation a run restarted lazily reads its memory from
// while it runs (Segment.Lazy): the open run's, until a generation of
// that run is recorded. The engine refuses to checkpoint memory that is
// still being served, so such a generation holds every page, or names as
// its parent the ones that do. Until then the generation and its chain
// are neither pruned nor merged. 0: none.
func (j *Job) Serving() int {
	seg, open := j.Current()
	if !open || !seg.Lazy || seg.Generation == 0 {
		return 0
	}
	for _, g := range j.Checkpoints {
		if g.N > seg.Generation && g.Good() && !g.Time.Before(seg.Start) {
			return 0
		}
	}
	return seg.Generation
}

// The merge policy. A job keeps its newest keep good generations as the
// points it can restart from, and with them the chains they need, as
// they are: an incremental generation costs what changed, and the chain
// ends at the next self-contained one (one in fullEvery, see the
// daemon's incrementalParent), after which the generations below it go as
// soon as no kept point needs them. Rewriting a generation self-contained
// (a merge) writes a whole image: it is done only when
//   - a kept generation's chain is longer than fullEvery (the setting was
//     lowered since it was taken): a restart would read more images than
//     the setting allows; or
//   - the kept generations hold more bytes than keep+1 self-contained
//     generations of the job (the newest self-contained one's size) would:
//     more than keeping only full images, plus one, would take.
// Then the oldest kept point whose chain is too long, or, for the bytes,
// the oldest made against a generation that is not a point (merging it
// frees that one's chain), is merged, and the next, until neither holds. A generation a
// lazily served run reads, or one of its chain, is not merged: nothing
// could be freed.

// ToMerge returns the generations, oldest first, whose images are to be
// merged (made self-contained) under the merge policy above. Pruning keeps
// the generations they need until Merged says they are merged.
func (j *Job) ToMerge(keep, fullEvery int) []int {
	keep, fullEvery = max(keep, 1), max(fullEvery, 1)
	gs := slices.Clone(j.Checkpoints)
	serving := j.Serving()
	pinned := map[int]bool{}
	for n := serving; n > 0 && !pinned[n]; n = parentIn(gs, n) {
		pinned[n] = true
	}
	var full int64
	for _, g := range gs {
		if g.Parent == 0 && g.Size > 0 {
			full = g.Size
			break
		}
	}
	var merge []int
	for {
		kept, _ := keptGenerations(gs, keep, serving)
		var held int64
		for _, g := range kept {
			held += g.Size
		}
		over := full > 0 && held > int64(keep+1)*full
		var points []int // newest first
		point := map[int]bool{}
		for _, g := range gs {
			if g.Good() && len(points) < keep {
				points = append(points, g.N)
				point[g.N] = true
			}
		}
		found := -1
		for i := len(points) - 1; i >= 0 && found < 0; i-- {
			n := points[i]
			// Too deep: merged whatever its parent. Over the bound: only
			// a point whose parent is not one frees anything.
			if p := parentIn(gs, n); p > 0 && !pinned[n] && (chainIn(gs, n) > fullEvery || (over && !point[p])) {
				found = n
			}
		}
		if found < 0 {
			return merge
		}
		merge = append(merge, found)
		for i := range gs {
			if gs[i].N == found {
				gs[i].Parent = 0
				gs[i].Size = max(full, gs[i].Size)
			}
		}
	}
}

// parentIn is the parent of generation n in gs; 0: none (or no such
// generation).
func parentIn(gs []Generation, n int) int {
	for _, g := range gs {
		if g.N == n {
			return g.Parent
		}
	}
	return 0
}

// chainIn is the ChainLength of generation n in gs.
func chainIn(gs []Generation, n int) int {
	length := 0
	for n > 0 && length <= len(gs) {
		length++
		n = parentIn(gs, n)
	}
	return length
}

// Merged records that generation n is self-contained now (its images were
// merged; size: its bytes on disk), and prunes again: it returns the
// generations no kept one needs any more, whose files the caller deletes
// once this record is durable. False: the job has no generation n.
func (j *Job) Merged(n int, size int64, keep int) ([]Generation, bool) {
	for i := range j.Checkpoints {
		if g := &j.Checkpoints[i]; g.N == n {
			g.Parent = 0
			if size > 0 {
				g.Size = size
			}
			return j.prune(max(keep, 1)), true
		}
	}
	return nil, false
}

// ChainLength is how many generations restarting from generation n reads:
// 1 for a self-contained one, 1 more for each parent.
func (j *Job) ChainLength(n int) int { return chainIn(j.Checkpoints, n) }

// elapsedAt is the job's run time at t, in its last run: the time that run
// has run, less the time it was suspended (not charged as walltime, as in
// OpenPBS), plus, for a run restarted from a checkpoint, the run time the
// job had at that checkpoint (a run from the beginning starts from zero).
func (j *Job) elapsedAt(t time.Time) time.Duration {
	n := len(j.Segments)
	if n == 0 {
		return 0
	}
	s := j.Segments[n-1]
	if !s.Open() && s.End.Before(t) {
		t = s.End
	}
	return j.base(s) + max(t.Sub(s.Start)-j.SuspendedWithin(s.Start, t), 0)
}

// base is the job's run time when run s began. Runs record it when they
// start (Segment.Base); a run recorded before they did has only the number
// of the generation it restarted from, looked up while the job still has it.
func (j *Job) base(s Segment) time.Duration {
	if s.Generation == 0 || s.Base > 0 {
		return s.Base
	}
	for _, g := range j.Checkpoints {
		if g.N == s.Generation {
			return g.Elapsed
		}
	}
	return 0
}

// generationElapsed is the Elapsed of generation n, if the job has it.
func (j *Job) generationElapsed(n int) time.Duration {
	for _, g := range j.Checkpoints {
		if g.N == n {
			return g.Elapsed
		}
	}
	return 0
}

// Walltime returns the walltime the open run has: the job's, less what it
// had used when the run began, at the checkpoint it restarts from (a run
// from the beginning has it all). Zero means no limit; it is at least a
// second.
func (j *Job) Walltime() time.Duration {
	w := j.Resources.Walltime
	seg, open := j.Current()
	if w == 0 || !open || seg.Generation == 0 {
		return w
	}
	return max(w-j.base(seg), time.Second)
}

// CheckpointFailed records that the checkpoint of generation gen failed:
// the job runs on, its previous generation stays its newest, and qstat -f
// shows why.
func (j *Job) CheckpointFailed(gen int, why string, now time.Time) {
	j.CheckpointError, j.CheckpointErrorTime = why, now
	j.Event(now, "checkpoint %d failed: %s", gen, why)
	j.endCheckpoint(gen, false, now)
}

// RestoreFrom returns the generation the job's next start restores: the one
// qrestart -g asked for, else the newest good one; false when the job
// starts from the beginning of its script.
func (j *Job) RestoreFrom() (Generation, bool) {
	if j.RestartFrom > 0 {
		for _, g := range j.Checkpoints {
			if g.N == j.RestartFrom && g.Good() {
				return g, true
			}
		}
	}
	for _, g := range j.Checkpoints {
		if g.Good() {
			return g, true
		}
	}
	return Generation{}, false
}

// Restore opens a new run segment restarted from generation gen (0: from
// the beginning of the script). Newer generations are marked bad: they
// belong to a past the restarted run will not have.
func (j *Job) Restore(gen int, now time.Time) error {
	suspended := j.Suspended
	if err := j.Start(now); err != nil {
		return err
	}
	j.RestartFrom = 0
	if gen == 0 {
		return nil
	}
	if !suspended.IsZero() { // the restored run is the suspended one
		j.Suspended = suspended
		j.Suspensions = j.Suspensions[:len(j.Suspensions)-1]
	}
	s := &j.Segments[len(j.Segments)-1]
	s.Restart, s.Generation, s.Base = true, gen, j.generationElapsed(gen)
	for i := range j.Checkpoints {
		if g := &j.Checkpoints[i]; g.N > gen && g.Good() {
			g.Bad = fmt.Sprintf("superseded by the restart from checkpoint %d", gen)
		}
	}
	return nil
}

// RestoreLazy is Restore for a run restarted lazily (restart_lazy): its
// memory is served from generation gen while it runs (Serving).
func (j *Job) RestoreLazy(gen int, now time.Time) error {
	if err := j.Restore(gen, now); err != nil {
		return err
	}
	if gen > 0 {
		j.Segments[len(j.Segments)-1].Lazy = true
	}
	return nil
}

// RestoreFailed records that the open run could not be restarted from
// generation gen: the generation is marked bad and the run goes on from
// the previous good generation (next > 0), else from the beginning of the
// script if the job is rerunnable (next == 0, ok). Otherwise (ok false)
// the run ends and the job fails.
func (j *Job) RestoreFailed(gen int, why string, now time.Time) (next int, ok bool, err error) {
	n := len(j.Segments)
	if !j.State.Active() || n == 0 || !j.Segments[n-1].Open() {
		return 0, false, &TransitionError{ID: j.ID, From: j.State, To: Failed}
	}
	for i := range j.Checkpoints {
		if g := &j.Checkpoints[i]; g.N == gen {
			g.Bad = "restart failed: " + why
		}
	}
	for _, g := range j.Checkpoints {
		if g.Good() && g.N < gen {
			next = g.N
			break
		}
	}
	s := &j.Segments[n-1]
	switch {
	case j.State == Exiting:
		j.Event(now, "restart from checkpoint %d failed: %s", gen, why)
		return 0, false, j.End(Result{End: now, ExitCode: -1, Reason: "killed"})
	case next > 0:
		j.Event(now, "restart from checkpoint %d failed: %s; falling back to checkpoint %d", gen, why, next)
		s.Generation, s.Base = next, j.generationElapsed(next)
		return next, true, nil
	case j.Rerunnable:
		j.Event(now, "restart from checkpoint %d failed: %s; no older checkpoint, starting the script again", gen, why)
		s.Restart, s.Generation, s.Base = false, 0, 0
		if j.IsSuspended() {
			j.Resume(now) // a run from the beginning is not suspended
		}
		return 0, true, nil
	}
	j.Event(now, "restart from checkpoint %d failed: %s; no older checkpoint and the job is not rerunnable", gen, why)
	return 0, false, j.End(Result{End: now, ExitCode: -1, Reason: fmt.Sprintf("cannot restart from checkpoint %d: %s", gen, why)})
}

// Restart asks for the job to run again from generation gen (0: its newest
// good one): qrestart. A waiting or held job restarts when the scheduler
// next runs it; a finished or failed one is requeued.
func (j *Job) Restart(gen int, by string, now time.Time) error {
	if j.State.Active() {
		return fmt.Errorf("job %d is %s; stop it first (qchkpnt -k)", j.ID, j.State)
	}
	var g Generation
	found := false
	for _, x := range j.Checkpoints {
		if (gen == 0 && x.Good()) || (gen != 0 && x.N == gen) {
			g, found = x, true
			break
		}
	}
	switch {
	case !found && gen != 0:
		return fmt.Errorf("job %d has no checkpoint %d: %w", j.ID, gen, ErrNoCheckpoint)
	case !found:
		return fmt.Errorf("job %d: %w", j.ID, ErrNoCheckpoint)
	case !g.Good() && gen != 0:
		// Asked for by number: the user knows better than our record
		// (a restart may have failed for a reason since fixed).
		for i := range j.Checkpoints {
			if j.Checkpoints[i].N == gen {
				j.Checkpoints[i].Bad = ""
			}
		}
	}
	why := fmt.Sprintf("restart from checkpoint %d requested by %s", g.N, by)
	if j.State != Requeued && j.State != Queued {
		if err := j.become(Requeued, why, now); err != nil {
			return err
		}
	}
	j.Reason, j.RestartFrom = why, g.N
	j.Event(now, "%s", why)
	return nil
}
