package jobs

import (
	"fmt"
	"slices"
	"syscall"
	"time"
)

// State is where a job is in its life; see the package documentation for
// the diagram.
type State string

const (
	Queued        State = "queued"        // waiting for the scheduler
	Held          State = "held"          // not eligible until released (qrls)
	Running       State = "running"       // its supervisor runs it
	Exiting       State = "exiting"       // being killed (qdel); the supervisor reports the end
	Finished      State = "finished"      // the script exited with status 0
	Failed        State = "failed"        // ended any other way; Reason says how
	Checkpointing State = "checkpointing" // a checkpoint is being taken; the job runs on (or stops, with qchkpnt -k)
	Requeued      State = "requeued"      // back in its queue after a run; it restarts from its newest good checkpoint
	Begun         State = "begun"         // an array job some of whose subjobs have started (PBS's B)
)

// States lists every state, in the order qstat documents them.
var States = []State{Queued, Held, Running, Exiting, Finished, Failed, Checkpointing, Requeued, Begun}

// transitions is the state machine: the states each state may go to.
// Finished and failed jobs go on only through qrestart, from a checkpoint.
//
// An array job goes queued → begun once a subjob starts, and ends
// (finished, or failed when a subjob did) once every subjob has ended or
// been deleted; held while it is held (qhold N[]); a queued array fails
// when its subjobs are all deleted before one starts. A held job whose
// dependencies can never be satisfied fails without a run (Cancel).
var transitions = map[State][]State{
	Queued:        {Held, Running, Begun, Failed},
	Requeued:      {Held, Running},
	Held:          {Queued, Requeued, Begun, Failed, Finished},
	Begun:         {Held, Finished, Failed},
	Running:       {Exiting, Finished, Failed, Requeued, Checkpointing},
	Checkpointing: {Running, Exiting, Finished, Failed, Requeued, Held},
	Exiting:       {Finished, Failed},
	Finished:      {Requeued},
	Failed:        {Requeued},
}

// ParseState parses a state name.
func ParseState(s string) (State, error) {
	if _, ok := transitions[State(s)]; ok {
		return State(s), nil
	}
	return "", fmt.Errorf("unknown job state %q", s)
}

// CanBecome reports whether the state machine allows s → to.
func (s State) CanBecome(to State) bool { return slices.Contains(transitions[s], to) }

// Pending reports whether a job in this state waits for the scheduler.
func (s State) Pending() bool { return s == Queued || s == Requeued }

// Active reports whether a job in this state has a supervisor and an open
// run segment.
func (s State) Active() bool { return s == Running || s == Exiting || s == Checkpointing }

// Terminal reports whether the job has ended: only qrestart, from one of
// its checkpoints, runs it again.
func (s State) Terminal() bool { return s == Finished || s == Failed }

// Removable reports whether qdel removes a job in this state outright
// (it has no run to account for and nothing to kill).
func (s State) Removable() bool { return s == Queued || s == Held || s == Requeued }

func (j *Job) become(to State, reason string, now time.Time) error {
	if !j.State.CanBecome(to) {
		return &TransitionError{ID: j.ID, From: j.State, To: to}
	}
	j.State, j.Reason, j.Changed = to, reason, now
	return nil
}

// Cancel ends a job that never ran (held for its dependencies) with the
// reason: it is failed, with no run.
func (j *Job) Cancel(reason string, now time.Time) error {
	if j.State != Held || len(j.Segments) > 0 {
		return &TransitionError{ID: j.ID, From: j.State, To: Failed}
	}
	return j.become(Failed, reason, now)
}

// CancelPending ends a job that never ran, queued or held, as deleted
// by the named user: it stays, failed, with no run (Slurm's scancel of a
// pending job, which leaves a CANCELLED job).
func (j *Job) CancelPending(by string, now time.Time) error {
	if j.State != Queued && j.State != Held || len(j.Segments) > 0 {
		return &TransitionError{ID: j.ID, From: j.State, To: Failed}
	}
	return j.become(Failed, "deleted by "+by, now)
}

// Hold makes a pending job ineligible to run until Release.
func (j *Job) Hold(by string, now time.Time) error {
	return j.become(Held, "held by "+by, now)
}

// Release makes a held job eligible again.
func (j *Job) Release(now time.Time) error {
	return j.become(Queued, "", now)
}

// Start opens a new run segment: the daemon has decided to run the job and
// records that before it starts the supervisor.
func (j *Job) Start(now time.Time) error {
	if err := j.become(Running, "", now); err != nil {
		return err
	}
	j.Segments = append(j.Segments, Segment{Start: now, ExitCode: -1})
	if j.IsSuspended() {
		// A run from the beginning: the suspended processes are gone
		// (Restore keeps the suspension of a run restored from a checkpoint).
		j.Resume(now)
	}
	return nil
}

// Kill records that the job is being killed (qdel) by the named user.
func (j *Job) Kill(by string, now time.Time) error {
	return j.Terminate("deleted by "+by, now)
}

// Terminate records that the job is being killed for the given reason,
// which becomes the reason it failed.
func (j *Job) Terminate(reason string, now time.Time) error {
	return j.become(Exiting, reason, now)
}

// Result is how a run ended, as its supervisor recorded it.
type Result struct {
	End      time.Time
	UserCPU  time.Duration
	SysCPU   time.Duration
	ExitCode int    // -1 when the script did not exit by itself
	Signal   int    // signal that ended the script, 0 if none
	Reason   string // set when the supervisor ended the run: "walltime exceeded", "killed", ...
	// Mem and VMem are the largest resident and virtual sizes of the tree.
	Mem, VMem int64
	Session   int // the script's session id (its pid)
}

// Describe says in a few words how a run ended.
func (r Result) Describe() string {
	switch {
	case r.Reason != "":
		return r.Reason
	case r.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%s)", r.Signal, syscall.Signal(r.Signal))
	default:
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
}

func (r Result) succeeded() bool { return r.Reason == "" && r.Signal == 0 && r.ExitCode == 0 }

// End closes the open segment with the run's result; the job is finished
// when its script exited with status 0 on its own, else failed.
func (j *Job) End(r Result) error {
	n := len(j.Segments)
	if !j.State.Active() || n == 0 || !j.Segments[n-1].Open() {
		return &TransitionError{ID: j.ID, From: j.State, To: Finished}
	}
	to, reason := Finished, ""
	if !r.succeeded() {
		to, reason = Failed, r.Describe()
		if j.State == Exiting && r.Reason != "" {
			reason = j.Reason // "deleted by alice" says more than "killed"
		}
	}
	if err := j.become(to, reason, r.End); err != nil {
		return err
	}
	j.Checkpointing = nil
	j.Segments[n-1] = closeSegment(j.Segments[n-1], r)
	return nil
}

// Lost handles a run whose processes are gone without a recorded exit status
// (the machine crashed, or the supervisor was killed): the job is requeued
// if it has a good checkpoint to restart from, or is rerunnable, and was not
// being deleted; else it fails.
func (j *Job) Lost(reason string, now time.Time) error {
	n := len(j.Segments)
	if !j.State.Active() || n == 0 || !j.Segments[n-1].Open() {
		return &TransitionError{ID: j.ID, From: j.State, To: Requeued}
	}
	to, why := Failed, reason+" (not rerunnable)"
	g, restore := j.RestoreFrom()
	switch {
	case j.State == Exiting:
		why = j.Reason + "; " + reason
	case restore:
		to, why = Requeued, fmt.Sprintf("requeued: %s; it restarts from checkpoint %d", reason, g.N)
	case j.Rerunnable:
		to, why = Requeued, "requeued: "+reason
	}
	if err := j.become(to, why, now); err != nil {
		return err
	}
	j.Checkpointing = nil
	j.Segments[n-1] = closeSegment(j.Segments[n-1], Result{End: now, ExitCode: -1, Reason: reason})
	return nil
}

// Requeue closes the open run with r and puts the job back in its queue
// (held, with hold): the run was stopped on purpose, after a checkpoint
// (qchkpnt -k, maintenance) or to start again later.
func (j *Job) Requeue(r Result, why string, hold bool) error {
	n := len(j.Segments)
	to := Requeued
	if hold {
		to = Held
	}
	if !j.State.Active() || j.State == Exiting || n == 0 || !j.Segments[n-1].Open() {
		return &TransitionError{ID: j.ID, From: j.State, To: to}
	}
	if err := j.become(to, why, r.End); err != nil {
		return err
	}
	j.Checkpointing = nil
	j.Segments[n-1] = closeSegment(j.Segments[n-1], r)
	return nil
}

// NotStarted undoes Start for a run whose supervisor never started (the
// daemon stopped in between): the open segment is dropped, since nothing
// ran, and the job goes back to its queue whatever its rerun flag says.
func (j *Job) NotStarted(now time.Time) error {
	n := len(j.Segments)
	if j.State != Running || n == 0 || !j.Segments[n-1].Open() {
		return &TransitionError{ID: j.ID, From: j.State, To: Requeued}
	}
	if err := j.become(Requeued, "requeued: the daemon stopped before the job started", now); err != nil {
		return err
	}
	j.Segments = j.Segments[:n-1]
	return nil
}

func closeSegment(s Segment, r Result) Segment {
	s.End = r.End
	if s.End.Before(s.Start) {
		s.End = s.Start // clock stepped back; keep wall time non-negative
	}
	s.UserCPU, s.SysCPU = r.UserCPU, r.SysCPU
	s.ExitCode, s.Signal, s.Reason = r.ExitCode, r.Signal, r.Reason
	s.Mem, s.VMem = max(s.Mem, r.Mem), max(s.VMem, r.VMem)
	if r.Session != 0 {
		s.Session = r.Session
	}
	return s
}
