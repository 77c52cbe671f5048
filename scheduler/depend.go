package scheduler

import (
	"fmt"

	"lazarus/jobs"
)

// Target is what a dependency needs to know of the job it names.
type Target struct {
	Exists  bool   // the job (array, subjob) is known
	Started bool   // it has started (an array: one of its subjobs has)
	Ended   bool   // it has ended for good (an array: every subjob has ended or was deleted)
	OK      bool   // with Ended: exit status 0 (an array: of every subjob)
	How     string // how it ended, for the record of a job deleted for it
}

// DependVerdict is the decision on a job held for its dependencies.
type DependVerdict struct {
	Done  []int  // conditions satisfied now (indices into Depend.Conds), to mark Done
	Ready bool   // release the job: nothing left to wait for
	Never string // delete the job: this condition can never be satisfied, and why
}

// Dependencies decides on a job's dependencies from the state of the jobs
// they name. A condition is satisfied by: after, a target that started;
// afterok, one that ended with status 0; afternotok, one that ended
// otherwise; afterany, one that ended, or that is gone (deleted before it
// ran). It can never be satisfied when its target is gone (after, afterok,
// afternotok), ended the other way (afterok, afternotok) or ended without
// starting (after). With Any, one satisfied condition is enough and the
// job is deleted only when none can be. A job still waiting for on:count
// before-dependencies is not ready.
func Dependencies(d *jobs.Depend, target func(jobs.ID) Target) DependVerdict {
	var v DependVerdict
	open, never, done := 0, 0, 0 // conditions not yet satisfied; of those, never satisfiable; satisfied before
	first := ""
	for i, c := range d.Conds {
		if c.Done {
			done++
			continue
		}
		ok, why := satisfied(c, target(c.ID))
		switch {
		case ok:
			v.Done = append(v.Done, i)
		case why != "":
			open++
			never++
			if first == "" {
				first = fmt.Sprintf("dependency %s can never be satisfied: %s", c, why)
			}
		default:
			open++
		}
	}
	switch {
	case len(d.Conds) == 0:
		v.Ready = d.On == 0
	case d.Any && done+len(v.Done) > 0:
		v.Ready = d.On == 0
	case d.Any:
		if never == open {
			v.Never = first
		}
	case never > 0:
		v.Never = first
	default:
		v.Ready = open == 0 && d.On == 0
	}
	return v
}

// satisfied says whether one condition holds, and if it never can, why.
func satisfied(c jobs.Cond, t Target) (bool, string) {
	if !t.Exists {
		if c.Kind == jobs.DepAfterAny {
			return true, ""
		}
		return false, fmt.Sprintf("job %s does not exist", c.ID)
	}
	switch c.Kind {
	case jobs.DepAfter:
		if t.Started {
			return true, ""
		}
		if t.Ended {
			return false, fmt.Sprintf("job %s ended without starting (%s)", c.ID, t.How)
		}
	case jobs.DepAfterOK:
		if t.Ended && t.OK {
			return true, ""
		}
		if t.Ended {
			return false, fmt.Sprintf("job %s %s", c.ID, t.How)
		}
	case jobs.DepAfterNotOK:
		if t.Ended && !t.OK {
			return true, ""
		}
		if t.Ended {
			return false, fmt.Sprintf("job %s %s", c.ID, t.How)
		}
	case jobs.DepAfterAny:
		if t.Ended {
			return true, ""
		}
	}
	return false, ""
}
