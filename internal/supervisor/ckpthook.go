package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"lazarus/jobs"
)

// The site's checkpoint hooks: checkpoint_prologue, run by the checkpoint
// helper as root before each checkpoint of a job (periodic, qchkpnt,
// qhold, maintenance, shutdown), lets a site quiesce something the job
// uses (flush a file server's cache, pause a licence server's heartbeat,
// drain a database client) while its processes are still running;
// checkpoint_epilogue, run after the checkpoint, resumes it. Both are held
// to the prologue's rules (CheckPelog: owned and writable by root only)
// and to pelog_timeout; their process group is killed then.
//
// Arguments, PBS-style: the job id, the user, the group, the generation,
// its directory, the session (the pid of the job's first process, as the
// machine sees it), who asked (a user's name, "schedule" for a periodic
// checkpoint, "maintenance") and "stop" when the job is stopped after its
// checkpoint (qchkpnt -k, qhold, maintenance) or "continue". The epilogue
// gets a ninth: 0 when the checkpoint is durable, 1 when it failed.
//
// A prologue that fails (an exit status other than 0, a timeout, a
// refusal) means the site could not make the job safe to checkpoint: the
// checkpoint is not taken, the job runs on, and the failure is the
// checkpoint's error (in the job's history and the daemon's log); a
// checkpoint that was to stop the job does not stop it, and what follows
// is the daemon's policy for a job that could not be checkpointed (a
// maintenance tries again until its deadline). The epilogue runs after
// every attempt whose prologue was run, failed or not (a prologue that
// failed half way may have quiesced something), and after every
// checkpoint when there is no prologue; its failure does not undo a
// durable checkpoint: it is recorded in the job's history.

// hookArgs are the arguments both hooks get.
func hookArgs(req CheckpointRequest) []string {
	stop := "continue"
	if req.Stop {
		stop = "stop"
	}
	return []string{jobs.ID(req.JobID).String(), req.User, req.Group, strconv.Itoa(req.Gen), req.Dir,
		strconv.Itoa(req.Job.PID), req.By, stop}
}

func hookEnv(req CheckpointRequest) []string {
	id := jobs.ID(req.JobID).String()
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PBS_JOBID=" + id, "LAZARUS_JOBID=" + id}
}

// checkpointPrologue runs the site's checkpoint_prologue, if any; an
// error says why the checkpoint must not be taken. ran says whether it
// was run (its epilogue is then due whatever it returned).
func checkpointPrologue(ctx context.Context, log *slog.Logger, req CheckpointRequest) (ran bool, err error) {
	if req.Prologue == "" {
		return false, nil
	}
	res := runPelog(ctx, log, "checkpoint_prologue", req.Prologue, req.HookTimeout, hookArgs(req), hookEnv(req))
	if res.Code == 0 {
		return true, nil
	}
	why := res.Err
	if line := lastLine(res.Output); line != "" {
		why += ": " + line
	}
	return res.Code != PelogPermission, fmt.Errorf("checkpoint_prologue %s failed (%s): the checkpoint is not taken", req.Prologue, why)
}

// checkpointEpilogue runs the site's checkpoint_epilogue, if any, after
// an attempt that durable says the outcome of; it returns how it failed,
// "" if it did not.
func checkpointEpilogue(ctx context.Context, log *slog.Logger, req CheckpointRequest, durable bool) string {
	if req.Epilogue == "" {
		return ""
	}
	status := "1"
	if durable {
		status = "0"
	}
	res := runPelog(ctx, log, "checkpoint_epilogue", req.Epilogue, req.HookTimeout,
		append(hookArgs(req), status), hookEnv(req))
	if res.Code == 0 {
		return ""
	}
	why := res.Err
	if line := lastLine(res.Output); line != "" {
		why += ": " + line
	}
	return fmt.Sprintf("checkpoint_epilogue %s failed (%s)", req.Epilogue, why)
}
