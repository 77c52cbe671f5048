package daemon

import (
	"time"

	"github.com/robfig/cron/v3"

	"lazarus/jobs"
)

// Periodic checkpoints run on the daemon's cron: each running job with an
// interval has an entry whose schedule reads the job's record, so the
// times survive a restart of the daemon: the next checkpoint is due one
// interval after the newest of the run's start, the last checkpoint and
// the last failed attempt. The interval is the job's (qsub -c, qchkpnt
// -i), raised to its queue's ckpt_min, in hours of checkpoint_hour.

// every returns the time between a job's periodic checkpoints; false when
// it has none.
func (d *Daemon) every(j *jobs.Job) (time.Duration, bool) {
	if !j.Checkpoint.Periodic() {
		return 0, false
	}
	iv := j.Checkpoint.Interval
	if q := d.store.View().Queue(j.Queue); q != nil && q.CkptMin > iv {
		iv = q.CkptMin
	}
	return d.config().CheckpointEvery(iv), true
}

// nextCheckpoint says when a running job's next periodic checkpoint is
// due; false when it has none.
func (d *Daemon) nextCheckpoint(j *jobs.Job) (time.Time, bool) {
	if j == nil || !j.State.Active() || j.State == jobs.Exiting || d.uid != 0 {
		return time.Time{}, false
	}
	every, ok := d.every(j)
	if !ok {
		return time.Time{}, false
	}
	seg, open := j.Current()
	if !open {
		return time.Time{}, false
	}
	base := seg.Start
	for _, t := range []time.Time{j.LastCheckpoint(), j.CheckpointErrorTime, d.lastTried(j.ID)} {
		if t.After(base) {
			base = t
		}
	}
	return base.Add(every), true
}

func (d *Daemon) lastTried(id jobs.ID) time.Time {
	d.ckpts.mu.Lock()
	defer d.ckpts.mu.Unlock()
	return d.ckpts.tried[id]
}

// periodic is the cron schedule of one job's checkpoints.
type periodic struct {
	d  *Daemon
	id jobs.ID
}

// minGap keeps a schedule that is late (the daemon was down, a checkpoint
// was refused) from firing in a loop.
const minGap = 50 * time.Millisecond

func (p periodic) Next(t time.Time) time.Time {
	next, ok := p.d.nextCheckpoint(p.d.store.View().Job(p.id))
	if !ok {
		return t.Add(time.Hour) // the entry is about to be removed
	}
	return maxTime(next, t.Add(minGap))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// runPeriodic is a job's cron entry: it checkpoints the job if it is due
// (a checkpoint taken by hand moves the schedule on) and waits for the
// checkpoint; cron skips the entry while it runs.
func (d *Daemon) runPeriodic(id jobs.ID) {
	j := d.store.View().Job(id)
	next, ok := d.nextCheckpoint(j)
	if !ok {
		d.unschedule(id)
		return
	}
	if every, _ := d.every(j); time.Until(next) > every/50 {
		return // not due: another checkpoint was taken meanwhile
	}
	if j.State != jobs.Running {
		return // checkpointing already
	}
	if d.skipSpanning(j) {
		return
	}
	op, busy, err := d.beginCheckpoint(id, ckptRequest{by: "schedule"})
	if err != nil {
		d.log.Debug("periodic checkpoint not taken", "job_id", id, "error", err)
		return
	}
	if busy {
		return
	}
	select {
	case <-op.done:
	case <-d.ctx.Done():
	}
}

// reschedule adds, replaces or removes a job's cron entry after a change
// of its state or policy.
func (d *Daemon) reschedule(id jobs.ID) {
	j := d.store.View().Job(id)
	_, ok := d.nextCheckpoint(j)
	d.cronMu.Lock()
	defer d.cronMu.Unlock()
	if d.cron == nil {
		return
	}
	old, had := d.entries[id]
	if !ok {
		if had {
			d.cron.Remove(old)
			delete(d.entries, id)
		}
		return
	}
	if had {
		// The entry computes its times from the record; it only needs to
		// be added again for cron to look at its schedule now.
		d.cron.Remove(old)
	}
	d.entries[id] = d.cron.Schedule(periodic{d, id}, cron.FuncJob(func() { d.runPeriodic(id) }))
}

// unschedule removes a job's cron entry.
func (d *Daemon) unschedule(id jobs.ID) {
	d.cronMu.Lock()
	defer d.cronMu.Unlock()
	if e, ok := d.entries[id]; ok && d.cron != nil {
		d.cron.Remove(e)
		delete(d.entries, id)
	}
}

// rescheduleAll looks again at every running job's schedule (a queue's
// ckpt_min or checkpoint_hour changed).
func (d *Daemon) rescheduleAll() {
	for _, j := range d.store.View().Active() {
		d.reschedule(j.ID)
	}
}
