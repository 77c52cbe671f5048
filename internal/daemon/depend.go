package daemon

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
	"lazarus/scheduler"
)

// Dependencies. A job submitted with -W depend waits held (hold type s)
// until the scheduler's Dependencies says it may run; then it is
// released, or, when a condition can never be satisfied, it fails
// without a run, its reason saying which and why (PBS deletes such a job;
// here its record stays, like a deleted job's that ran, until it is
// purged). Satisfied conditions are marked done in the job's record, so
// the verdict never goes back on itself: a job that is requeued or
// restarted from a checkpoint later does not release or delete its
// dependents again.

// target describes a job a dependency names, from the store.
func target(v *queue.View, id jobs.ID) scheduler.Target {
	if id.IsSubjob() {
		if r := v.Job(id); r != nil {
			return recordTarget(r)
		}
		arr := v.Job(id.Base())
		if arr == nil || arr.Array == nil {
			return scheduler.Target{}
		}
		st, ok := arr.Array.State(id.Index())
		if !ok {
			return scheduler.Target{}
		}
		switch st {
		case jobs.SubOK:
			return scheduler.Target{Exists: true, Started: true, Ended: true, OK: true}
		case jobs.SubFailed:
			return scheduler.Target{Exists: true, Started: true, Ended: true, How: "failed"}
		case jobs.SubDeleted:
			return scheduler.Target{Exists: true, Ended: true, How: "was deleted before it started"}
		}
		return scheduler.Target{Exists: true}
	}
	j := v.Job(id.Base())
	if j == nil {
		return scheduler.Target{}
	}
	if j.Array == nil {
		return recordTarget(j)
	}
	n := j.Array.Count()
	t := scheduler.Target{Exists: true, Started: n[jobs.SubRecord]+n[jobs.SubOK]+n[jobs.SubFailed] > 0}
	if j.State.Terminal() {
		t.Ended, t.OK = true, j.State == jobs.Finished
		t.How = "failed: " + j.Reason
	}
	return t
}

func recordTarget(j *jobs.Job) scheduler.Target {
	t := scheduler.Target{Exists: true, Started: len(j.Segments) > 0, Ended: j.State.Terminal()}
	if t.Ended {
		t.OK = j.State == jobs.Finished
		t.How = "failed (" + j.Reason + ")"
		if len(j.Segments) == 0 {
			t.How = "was deleted before it ran (" + j.Reason + ")"
		}
	}
	return t
}

// submitDepend reads a submission's dependencies into the job before it
// is stored: the conditions it waits for (checked against the jobs they
// name: an unknown job, or one whose end already makes a condition
// impossible, refuses the submission), and the before conditions it puts
// on other jobs, returned for beforeLinks: they are stored with the job.
func (d *Daemon) submitDepend(who caller, req *proto.SubmitRequest, j *jobs.Job) ([]jobs.Cond, error) {
	if req.Depend == "" {
		return nil, nil
	}
	parse := jobs.ParseDepend
	if req.DependSlurm {
		parse = jobs.ParseSlurmDepend
	}
	r, err := parse(req.Depend)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	v := d.store.View()
	for _, c := range r.Conds {
		if t := target(v, c.ID); !t.Exists {
			return nil, notFound("dependency %s: unknown job id %s", c, c.ID)
		}
	}
	for _, c := range r.Before {
		b := v.Job(c.ID)
		switch {
		case b == nil:
			return nil, notFound("dependency %s: unknown job id %s", c, c.ID)
		case b.State != jobs.Held && !b.State.Pending():
			return nil, conflict("dependency %s: job %s is %s: it can no longer wait for this one", c, displayID(b), b.State)
		}
		if err := d.mayManage(who, b); err != nil {
			return nil, err
		}
	}
	dep := r.Depend
	if len(dep.Conds) == 0 && dep.On == 0 {
		return r.Before, nil
	}
	verdict := scheduler.Dependencies(&dep, func(id jobs.ID) scheduler.Target { return target(v, id) })
	if verdict.Never != "" {
		return nil, conflict("%s", verdict.Never)
	}
	for _, i := range verdict.Done {
		dep.Conds[i].Done = true
	}
	if !verdict.Ready {
		dep.Waiting = true
		if j.State == jobs.Held {
			dep.Hold = j.Reason // qsub -h as well: held by its owner once released
		}
		j.State, j.Reason = jobs.Held, "waiting for dependencies: "+dep.String()
	}
	j.Depend = &dep
	return r.Before, nil
}

// beforeLinks returns the jobs that the before conditions of job a name,
// each once, and the change that puts on each the after conditions it
// gets (it then waits for a, which counts against its on:count): the
// store makes those changes in the transaction that stores a
// (queue.Store.SubmitLinked), so that neither is ever durable without the
// other. A job that can no longer wait (it started meanwhile) refuses the
// submission.
func beforeLinks(a *jobs.Job, before []jobs.Cond) ([]jobs.ID, func([]*jobs.Job) error) {
	var ids []jobs.ID
	for _, c := range before {
		if !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
		}
	}
	return ids, func(bs []*jobs.Job) error {
		for _, c := range before {
			b := bs[slices.Index(ids, c.ID)]
			if b.State != jobs.Held && !b.State.Pending() {
				return conflict("dependency %s: job %s is %s: it can no longer wait for this one", c, displayID(b), b.State)
			}
			kind, _ := c.Kind.After()
			if b.Depend == nil {
				b.Depend = &jobs.Depend{}
			}
			b.Depend.Conds = append(b.Depend.Conds, jobs.Cond{Kind: kind, ID: a.ID})
			if b.Depend.On > 0 {
				b.Depend.On--
			}
			if !b.Depend.Waiting {
				if b.State == jobs.Held {
					b.Depend.Hold = b.Reason
				}
				b.Depend.Waiting = true
				b.State = jobs.Held
			}
			b.Reason = "waiting for dependencies: " + b.Depend.String()
		}
		return nil
	}
}

// resolveDepends releases the jobs held for their dependencies that may
// now run, and ends those that never can. It runs before each scheduling
// pass.
func (d *Daemon) resolveDepends() {
	v := d.store.View()
	for j := range v.JobsInState(jobs.Held) {
		if j.Depend == nil || !j.Depend.Waiting {
			continue
		}
		verdict := scheduler.Dependencies(j.Depend, func(id jobs.ID) scheduler.Target { return target(v, id) })
		if len(verdict.Done) == 0 && !verdict.Ready && verdict.Never == "" {
			continue
		}
		now := time.Now().Round(0)
		nj, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
			if j.State != jobs.Held || j.Depend == nil || !j.Depend.Waiting {
				return errNotPending
			}
			for _, i := range verdict.Done {
				if i < len(j.Depend.Conds) {
					j.Depend.Conds[i].Done = true
				}
			}
			switch {
			case verdict.Never != "":
				j.Depend.Waiting = false
				if err := j.Cancel("deleted: "+verdict.Never, now); err != nil {
					return err
				}
				if j.Array != nil {
					for pos, st := range j.Array.States {
						if st == jobs.SubQueued || st == jobs.SubHeld {
							j.Array.States[pos] = jobs.SubDeleted
						}
					}
				}
			case verdict.Ready:
				j.Depend.Waiting = false
				if h := j.Depend.Hold; h != "" {
					j.Reason, j.Depend.Hold = h, ""
					return nil
				}
				return j.Release(now)
			default:
				j.Reason = "waiting for dependencies: " + j.Depend.String()
			}
			return nil
		})
		switch {
		case errors.Is(err, errNotPending), errors.Is(err, queue.ErrNoJob):
			continue
		case err != nil:
			d.log.Error("cannot record the dependencies of a job", "job_id", j.ID, "error", err)
			continue
		}
		switch {
		case verdict.Never != "":
			d.log.Warn("job deleted: its dependencies can never be satisfied", "job_id", displayID(nj), "reason", nj.Reason)
			d.dropJobFiles(nj.ID)
		case verdict.Ready && nj.State == jobs.Queued:
			d.log.Info("job released: its dependencies are satisfied", "job_id", displayID(nj))
			d.wake()
		}
	}
}

// releaseDepend handles qrls of a job held for its dependencies that its
// owner also held: the owner's hold goes, the system's stays.
func releaseDepend(j *jobs.Job) error {
	if j.Depend.Hold == "" {
		return dependHeld(j)
	}
	j.Depend.Hold = ""
	return nil
}

// holdDepend handles qhold of a job held for its dependencies: it stays
// held once they are satisfied.
func holdDepend(j *jobs.Job, by string) error {
	if j.Depend.Hold != "" {
		return fmt.Errorf("job %s is already held by its owner: %w", displayID(j), &jobs.TransitionError{ID: j.ID, From: j.State, To: jobs.Held})
	}
	j.Depend.Hold = "held by " + by
	return nil
}
