package jobs

import (
	"fmt"
	"time"
)

// A running job may be suspended (qsig -s suspend, or SIGSTOP): every
// process of its tree is stopped, and PBS shows it S. The suspension is
// the job's, recorded before its processes are signalled, and it outlives
// its run: a run restarted from a checkpoint (after a power cut, a qhold,
// maintenance) comes back suspended while the record says so, and running
// once it was resumed, whatever state its processes were in when the
// image was taken. A run that starts from the beginning starts running:
// the processes that were suspended are gone.
//
// As in OpenPBS, a suspended job is not charged for walltime (the time
// it spends suspended is not run time: Walltime and the generations'
// Elapsed leave it out), and it releases its CPUs and memory to other
// jobs; resumed, it goes on only when they are free again: until then it
// stays suspended, with ResumeWanted set.

// Span is a time interval [From, To).
type Span struct{ From, To time.Time }

// maxSuspensions bounds the past suspensions a job remembers: enough for
// the generations a job keeps (an older one restored after a longer
// history of suspensions is resumed only if it was taken in one of the
// suspensions remembered).
const maxSuspensions = 32

// IsSuspended reports whether the job is suspended.
func (j *Job) IsSuspended() bool { return !j.Suspended.IsZero() }

// Suspend records that the job is suspended from now on.
func (j *Job) Suspend(now time.Time) error {
	if !j.State.Active() {
		return fmt.Errorf("job %s is %s; only running jobs can be suspended", j.ID, j.State)
	}
	if j.IsSuspended() {
		return fmt.Errorf("job %s is already suspended", j.ID)
	}
	j.Suspended = now
	return nil
}

// Resume records that the job's suspension ended now.
func (j *Job) Resume(now time.Time) error {
	if !j.IsSuspended() {
		return fmt.Errorf("job %s is not suspended", j.ID)
	}
	j.Suspensions = append(j.Suspensions, Span{From: j.Suspended, To: now})
	if n := len(j.Suspensions); n > maxSuspensions {
		j.Suspensions = append([]Span(nil), j.Suspensions[n-maxSuspensions:]...)
	}
	j.Suspended = time.Time{}
	j.ResumeWanted = false
	return nil
}

// SuspendedWithin is how long the job was suspended within [from, to).
func (j *Job) SuspendedWithin(from, to time.Time) time.Duration {
	return SuspendedWithin(j.Suspensions, j.Suspended, from, to)
}

// SuspendedWithin is how much of [from, to) the suspensions spans, and
// one from since on (zero: none), cover. Spans do not overlap.
func SuspendedWithin(spans []Span, since, from, to time.Time) time.Duration {
	var d time.Duration
	add := func(a, b time.Time) {
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	for _, s := range spans {
		add(s.From, s.To)
	}
	if !since.IsZero() {
		add(since, to)
	}
	return d
}

// RestoreSuspension says what a run restored from generation g must do to
// match the record: stop every process (the job is suspended), or resume
// every process (g was taken while the job was suspended, and it was
// resumed since), or neither.
func (j *Job) RestoreSuspension(g Generation) (stop, resume bool) {
	if j.IsSuspended() {
		return true, false
	}
	for _, s := range j.Suspensions {
		if !g.Time.Before(s.From) && g.Time.Before(s.To) {
			return false, true
		}
	}
	return false, false
}
