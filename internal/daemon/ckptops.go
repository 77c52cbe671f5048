package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
)

// checkpointJob handles qchkpnt: it changes the job's policy (-i), and
// checkpoints its whole tree now, waiting until the image is durable (and,
// with -k, until the job has stopped and is back in its queue).
func (d *Daemon) checkpointJob(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.CheckpointRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	if err := d.wholeArray(id); err != nil {
		return nil, err
	}
	j := d.store.View().Job(id)
	if j == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if err := d.mayManage(who, j); err != nil {
		return nil, err
	}
	if req.Hold && !req.Stop {
		return nil, badRequest("-h holds a job that -k stops; give both")
	}
	if req.Interval != "" {
		p, err := jobs.ParsePolicy(req.Interval)
		if err != nil {
			return nil, err
		}
		now := time.Now().Round(0)
		j, err = d.store.UpdateJob(id, func(j *jobs.Job) error {
			if j.State.Terminal() {
				return conflict("job %s has %s", id, j.State)
			}
			if j.Checkpoint != p {
				j.Checkpoint = p
				j.Event(now, "checkpoint policy set to %s by %s", p, who.name)
			}
			return nil
		})
		if err != nil {
			return nil, unknownJob(err, id)
		}
		d.reschedule(id)
		d.log.Info("checkpoint policy changed", "job_id", id, "policy", p.String(), "by", who.name)
		if !j.State.Active() && !req.Stop {
			return d.checkpointReply(id, nil), nil
		}
	}
	if j.State != jobs.Running && j.State != jobs.Checkpointing {
		return nil, conflict("job %s is %s; only running jobs can be checkpointed", id, j.State)
	}
	runs := len(j.Segments) // the run a stop ends is the last of these
	var op *ckptOp
	for op == nil {
		cur, busy, err := d.beginCheckpoint(id, ckptRequest{stop: req.Stop, hold: req.Hold, by: who.name})
		if err != nil {
			return nil, err
		}
		if !busy {
			op = cur
			break
		}
		// Never two at once: this one waits for the one in progress.
		if req.NoWait && !req.Stop {
			r := d.checkpointReply(id, nil)
			r.Gen = cur.gen
			return r, nil
		}
		if err := waitOp(ctx, cur); err != nil {
			return nil, err
		}
	}
	if req.NoWait {
		r := d.checkpointReply(id, nil)
		r.Gen = op.gen
		return r, nil
	}
	if err := waitOp(ctx, op); err != nil {
		return nil, err
	}
	var ended jobs.State // of a job whose run ended while its checkpoint was taken
	if nj := d.store.View().Job(id); nj != nil && !nj.State.Active() {
		ended = nj.State
	}
	switch {
	case !op.res.OK && ended != "":
		return nil, &proto.Error{Code: proto.CodeFailed, Message: fmt.Sprintf(
			"job %s: checkpoint %d failed: %s; the job's run ended meanwhile (it is %s)", id, op.res.Gen, op.res.Error, ended)}
	case !op.res.OK && op.unrecorded != nil:
		return nil, &proto.Error{Code: proto.CodeFailed, Message: fmt.Sprintf(
			"job %s: checkpoint %d failed: %s; the job runs on (this is recorded once the state directory can be written: %v)",
			id, op.res.Gen, op.res.Error, op.unrecorded)}
	case !op.res.OK:
		return nil, &proto.Error{Code: proto.CodeFailed, Message: fmt.Sprintf(
			"job %s: checkpoint %d failed: %s; the job runs on", id, op.res.Gen, op.res.Error)}
	case op.unrecorded != nil:
		return nil, &proto.Error{Code: proto.CodeFailed, Message: fmt.Sprintf(
			"job %s: checkpoint %d is durable, but it is recorded only once the state directory can be written: %v",
			id, op.res.Gen, op.unrecorded)}
	}
	if req.Stop {
		// The image is durable and the job killed: its end is on its way
		// from the supervisor.
		d.waitInactive(ctx, id, runs, time.Minute)
	}
	return d.checkpointReply(id, &op.res), nil
}

func waitOp(ctx context.Context, op *ckptOp) error {
	select {
	case <-op.done:
		return nil
	case <-ctx.Done():
		return &proto.Error{Code: proto.CodeUnavailable, Message: "lazarusd is shutting down; the checkpoint goes on (see qstat -f)"}
	}
}

// waitInactive waits until the run the job has in progress now has ended.
// The job itself may be running again by then: a job stopped by a
// checkpoint is requeued and restarted at once, often before this wait
// looks, so a new run counts as the end of the old one.
// runs is the job's number of runs when that run was in progress (-1: now).
func (d *Daemon) waitInactive(ctx context.Context, id jobs.ID, runs int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ws := memdb.NewWatchSet()
		j := d.store.View().WatchJob(ws, id)
		if j == nil || !j.State.Active() {
			return
		}
		if runs < 0 {
			runs = len(j.Segments)
		}
		if len(j.Segments) > runs || (runs > 0 && !j.Segments[runs-1].End.IsZero()) {
			return
		}
		if ws.WatchCtx(ctx) != nil {
			return
		}
	}
}

func (d *Daemon) checkpointReply(id jobs.ID, res *supervisor.CheckpointResult) proto.CheckpointReply {
	r := proto.CheckpointReply{ID: uint64(id)}
	if j := d.store.View().Job(id); j != nil {
		r.State, r.Policy = string(j.State), j.Checkpoint.String()
		if j.Checkpointing != nil {
			r.Gen = j.Checkpointing.Gen
		}
	}
	if res != nil {
		g := res.Generation()
		r.Gen, r.Dir, r.Size, r.Secs, r.Frozen = g.N, g.Dir, g.Size, g.Duration.Seconds(), g.Frozen.Seconds()
	}
	return r
}

// restartJob handles qrestart JOBID [-g N]: the job restarts from a
// checkpoint when the scheduler next runs it, same id, a new run.
func (d *Daemon) restartJob(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.RestartRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	if err := d.wholeArray(id); err != nil {
		return nil, err
	}
	cur := d.store.View().Job(id)
	if cur == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if err := d.mayManage(who, cur); err != nil {
		return nil, err
	}
	if d.uid != 0 {
		return nil, conflict("job %s: %v", id, errNotRoot)
	}
	now := time.Now().Round(0)
	restart := func(j *jobs.Job) error {
		if err := j.Restart(req.Gen, who.name, now); err != nil {
			return conflict("%v", err)
		}
		return nil
	}
	var j *jobs.Job
	var err error
	if id.IsSubjob() {
		// In one transaction with its array's byte, which says it runs
		// again (unless the array has ended: it stays as it ended).
		var js []*jobs.Job
		js, err = d.store.UpdateJobs([]jobs.ID{id.Base(), id}, func(js []*jobs.Job) error {
			if err := restart(js[1]); err != nil {
				return err
			}
			if a := js[0]; a.Array != nil && !a.State.Terminal() {
				return a.SetSubjob(id.Index(), jobs.SubRecord)
			}
			return nil
		})
		if err == nil {
			j = js[1]
		}
	} else {
		j, err = d.store.UpdateJob(id, restart)
	}
	if err != nil {
		return nil, unknownJob(err, id)
	}
	d.log.Info("restart requested", "job_id", id, "gen", j.RestartFrom, "by", who.name)
	d.wake()
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// scheduling handles qmgr start/stop scheduling.
func (d *Daemon) scheduling(_ context.Context, who caller, body json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "start or stop scheduling"); err != nil {
		return nil, err
	}
	var req proto.SchedulingRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d.paused.Store(!req.On)
	d.log.Info("scheduling changed", "on", req.On, "by", who.name)
	d.wake()
	return struct{}{}, nil
}
