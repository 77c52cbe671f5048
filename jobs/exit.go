package jobs

import "strings"

// PBS's special exit values (JOB_EXEC_* of its job.h), which its Exit_status
// holds when the job script did not end on its own. A script that exited
// has its exit status (0 to 255); one killed by signal N has 256+N.
const (
	ExecFail1        = -1  // JOB_EXEC_FAIL1: the job could not be started
	ExecInitAbort    = -4  // JOB_EXEC_INITABT: the run was lost (machine or daemon gone)
	ExecRetry        = -3  // JOB_EXEC_RETRY: not run, to be tried again (the prologue failed)
	ExecBadRestart   = -7  // JOB_EXEC_BADRESRT: the restart from a checkpoint failed
	ExecRerun        = -11 // JOB_EXEC_RERUN: stopped to run again (qrerun, requeue)
	ExecCheckpoint   = -12 // JOB_EXEC_CHKP: checkpointed and stopped (qchkpnt -k, qhold)
	ExecKillMem      = -27 // JOB_EXEC_KILL_MEM: over its mem
	ExecKillCPUT     = -28 // JOB_EXEC_KILL_CPUT: over its cput
	ExecKillWalltime = -29 // JOB_EXEC_KILL_WALLTIME: over its walltime
)

// SignalBase is added to the number of the signal that killed a job
// script, as PBS records it (265: SIGKILL).
const SignalBase = 256

// ExitStatus is the run's Exit_status as PBS records it; ok is false while
// the run is open.
func (s Segment) ExitStatus() (status int, ok bool) {
	if s.Open() {
		return 0, false
	}
	r := s.Reason
	switch {
	case strings.HasPrefix(r, "walltime exceeded"):
		return ExecKillWalltime, true
	case strings.HasPrefix(r, "cput exceeded"):
		return ExecKillCPUT, true
	case strings.HasPrefix(r, "memory limit exceeded"):
		return ExecKillMem, true
	case strings.HasPrefix(r, "cannot restart"):
		return ExecBadRestart, true
	case strings.HasPrefix(r, "prologue failed"):
		return ExecRetry, true
	case strings.HasPrefix(r, "cannot start"):
		return ExecFail1, true
	case strings.HasPrefix(r, "stopped after checkpoint"):
		return ExecCheckpoint, true
	case strings.HasPrefix(r, "stopped to be requeued"), strings.HasPrefix(r, "rerun"):
		return ExecRerun, true
	}
	switch {
	case s.Signal > 0:
		return SignalBase + s.Signal, true
	case s.ExitCode >= 0:
		return s.ExitCode, true
	case r == "killed":
		// Deleted, and it ended without a status of its own: the tree was
		// killed at the end of the grace time.
		return SignalBase + 9, true
	}
	return ExecInitAbort, true // lost: no status was ever recorded
}

// ExitStatus is the Exit_status of the job's last run, if it has ended.
func (j *Job) ExitStatus() (int, bool) {
	if len(j.Segments) == 0 {
		return 0, false
	}
	return j.Segments[len(j.Segments)-1].ExitStatus()
}
