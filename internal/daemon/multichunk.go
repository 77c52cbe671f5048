package daemon

import (
	"context"
	"errors"
	"strings"
	"time"

	"lazarus/config"
	"lazarus/internal/cluster"
	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
	"lazarus/scheduler"
)

// Jobs of several chunks (select=N:..., "+"-joined kinds, place=). In a
// cluster the server places each chunk on a node (scheduler.Place): the
// script starts on the first chunk's node, the others are held for the
// run's length; a job no set of nodes could ever take gets PBS's "Can
// Never Run" comment (noteNever). On a single host every chunk goes on
// the one host, so the totals must fit it; scatter of several chunks and
// excl are refused there (checkChunks). A run spanning several hosts is
// not checkpointed (jobs.Job.NotCheckpointable): qchkpnt is refused, a
// periodic checkpoint skipped with a history line, and a drain requeues
// it (rerun) instead of migrating it.

// checkChunks checks a job's resources against the machine at submission
// (and qalter): on a single host, the totals of its chunks against the
// host and the place= that cannot hold there; in a cluster nothing is
// refused here (nodes differ): the scheduler comments a job that can
// never run.
func (d *Daemon) checkChunks(res jobs.Resources, cfg config.Config) error {
	if d.cl != nil {
		return nil
	}
	p, err := scheduler.ParsePlace(res.Place)
	if err != nil {
		return err
	}
	switch {
	case p.Arrangement == scheduler.Scatter && res.NChunks() > 1:
		return badRequest("place=%s with %d chunks: each chunk on a host of its own, but %s", res.Place, res.NChunks(), jobs.OneHost)
	case p.Excl:
		return badRequest("place=%s: excl is not supported on a single host (jobs share this host; ask for its ncpus and mem instead)", res.Place)
	case res.NCPUs > cfg.Slots:
		return badRequest("ncpus=%d is more than this machine's %d slots", res.NCPUs, cfg.Slots)
	case cfg.Memory > 0 && res.Mem > cfg.Memory:
		return badRequest("mem=%s is more than this machine's %s", jobs.FormatSize(res.Mem), jobs.FormatSize(cfg.Memory))
	}
	return nil
}

// noteNever records the server's comment on the jobs a pass found no
// node set could ever take, and drops it from those that could now.
func (d *Daemon) noteNever(plan scheduler.Plan) {
	set := func(id jobs.ID, why string) {
		_, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
			if j.State != jobs.Queued || j.Reason == why {
				return errNotPending
			}
			if why == "" && !strings.HasPrefix(j.Reason, scheduler.NeverPrefix) {
				return errNotPending
			}
			j.Reason = why
			return nil
		})
		if err != nil && !errors.Is(err, errNotPending) && !errors.Is(err, queue.ErrNoJob) {
			d.log.Warn("cannot record a job's comment", "job_id", id, "error", err)
		}
	}
	v := d.store.View()
	for id, why := range plan.Never {
		if j := v.Job(id); j != nil && j.State == jobs.Queued && j.Reason != why {
			set(id, why)
			d.log.Info("job can never run on the nodes up", "job_id", id, "reason", why)
		}
	}
	for _, id := range plan.Placeable {
		if j := v.Job(id); j != nil && strings.HasPrefix(j.Reason, scheduler.NeverPrefix) {
			set(id, "")
		}
	}
}

// skipSpanning notes, once per run, that a periodic checkpoint of a run
// spanning several hosts was skipped; true: it is such a run.
func (d *Daemon) skipSpanning(j *jobs.Job) bool {
	why := j.NotCheckpointable()
	if why == "" {
		return false
	}
	seg, _ := j.Current()
	text := "periodic checkpoint skipped: " + why
	for _, e := range j.Events {
		if e.Text == text && !e.Time.Before(seg.Start) {
			return true
		}
	}
	now := time.Now().Round(0)
	if _, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
		j.Event(now, "%s", text)
		return nil
	}); err != nil && !errors.Is(err, queue.ErrNoJob) {
		d.log.Warn("cannot record a skipped checkpoint", "job_id", j.ID, "error", err)
	}
	return true
}

// drainSpanning is drain's part for a run spanning several hosts, which
// cannot be migrated (no checkpoint of it): once one of its nodes is
// offline, it is rerun (requeued from the start, as qrerun) when it is
// rerunnable, else it runs on to its end; either is noted in its history.
// Each run is acted on once. False: j is not such a run.
func (d *Daemon) drainSpanning(ctx context.Context, j *jobs.Job, admin map[string]cluster.Admin, asked map[jobs.ID]int) bool {
	why := j.NotCheckpointable()
	if why == "" {
		return false
	}
	seg, _ := j.Current()
	off := ""
	for _, c := range seg.Exec {
		if admin[c.Host].Offline {
			off = c.Host
			break
		}
	}
	if off == "" || j.State != jobs.Running || asked[j.ID] == len(j.Segments) {
		return true
	}
	asked[j.ID] = len(j.Segments)
	id, host := j.ID, seg.Exec[0].Host
	text := "node " + off + " drained: " + why + ", so it is not migrated; "
	if j.Rerunnable {
		text += "rerun"
	} else {
		text += "not rerunnable (qsub -r n): it runs on to its end"
	}
	now := time.Now().Round(0)
	if _, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		j.Event(now, "%s", text)
		return nil
	}); err != nil {
		d.log.Warn("cannot record a drain", "job_id", id, "error", err)
	}
	if !j.Rerunnable {
		return true
	}
	d.log.Info("rerunning a job spanning an offline node", "job_id", id, "offline", off)
	d.askNode(ctx, host, id, proto.OpRerun, proto.RerunRequest{ID: uint64(id)})
	return true
}
