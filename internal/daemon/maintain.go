package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
)

// Maintenance (qmgr "checkpoint all", "requeue all", "shutdown requeue"):
// every running job whose policy allows it is checkpointed, and with
// requeue stopped and put back in its queue, in its place (queues keep
// submission order); no job starts meanwhile. A job that cannot be
// checkpointed is tried again until the deadline, if there is one, and
// then requeued to start again (from its newest good checkpoint if it has
// one, else from the beginning) if it is rerunnable, else killed; without
// a deadline it is left running. Jobs with policy n are requeued if they
// are rerunnable, else left to finish: a shutdown waits for them (until
// the deadline), or, immediate, kills them. Every outcome is a progress
// line for qmgr and an event in the job's history.

// maintainParallel bounds the checkpoints taken at once: they compete for
// the disk, and for the CPUs the jobs run on.
const maintainParallel = 2

// retryEvery is how often a checkpoint that failed is tried again before a
// deadline.
const retryEvery = 2 * time.Second

type maintenance struct {
	d        *Daemon
	ctx      context.Context
	req      proto.MaintainRequest
	deadline time.Time
	say      func(format string, args ...any)

	mu    sync.Mutex
	reply proto.MaintainReply
}

func (d *Daemon) maintain(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.MaintainRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	what := "checkpoint all"
	switch {
	case req.Shutdown:
		what = "shut the server down"
	case req.Requeue:
		what = "requeue all"
	}
	if err := d.mustOperate(who, what); err != nil {
		return nil, err
	}
	if d.uid != 0 && !req.Shutdown {
		return nil, conflict("%v", errNotRoot)
	}
	send := progress(ctx)
	m := &maintenance{d: d, ctx: ctx, req: req, say: func(format string, args ...any) {
		send(fmt.Sprintf(format, args...))
	}}
	if req.DeadlineS > 0 {
		m.deadline = time.Now().Add(time.Duration(req.DeadlineS) * time.Second)
	}
	d.log.Info("maintenance", "what", what, "by", who.name, "deadline", m.deadline, "immediate", req.Immediate)
	if req.Requeue || req.Shutdown {
		d.paused.Store(true)
		m.say("no job starts from now on")
	}
	var active []*jobs.Job
	for _, j := range d.store.View().Active() {
		if j.State != jobs.Exiting {
			active = append(active, j)
		}
	}
	m.say("%d running jobs", len(active))
	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, maintainParallel)
		finish []*jobs.Job // policy n, not rerunnable: a shutdown waits for them
	)
	for _, j := range active {
		if !j.Checkpoint.Checkpointable() {
			if f := m.never(j); f {
				finish = append(finish, j)
			}
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			m.job(ctx, j)
		})
	}
	wg.Wait()
	if req.Shutdown {
		m.waitFinish(ctx, finish)
	}
	r := m.reply
	m.say("done: %d checkpointed, %d requeued, %d killed, %d could not be checkpointed, %d left running",
		r.Checkpointed, r.Requeued, r.Killed, r.Failed, r.Running)
	switch {
	case req.Shutdown:
		m.say("lazarusd stops")
		d.log.Info("shutdown after maintenance", "by", who.name)
		time.AfterFunc(10*time.Millisecond, d.shutdown) // after the reply
	case req.Requeue:
		m.say("scheduling stays stopped: no job starts until qmgr -c 'start scheduling' or lazarusd's next start")
	}
	return r, nil
}

func (m *maintenance) count(f func(r *proto.MaintainReply)) {
	m.mu.Lock()
	f(&m.reply)
	m.mu.Unlock()
}

// never handles a job with policy n; it reports whether a shutdown waits
// for the job.
func (m *maintenance) never(j *jobs.Job) (wait bool) {
	switch {
	case !m.req.Requeue && !m.req.Shutdown:
		m.say("job %s: policy n, not checkpointed", j.ID)
		m.count(func(r *proto.MaintainReply) { r.Running++ })
	case j.Rerunnable:
		if err := m.d.killToRequeue(j); err != nil {
			m.say("job %s: policy n: cannot stop it to requeue it: %v", j.ID, err)
			return false
		}
		m.stopped(j.ID)
		m.say("job %s: policy n, rerunnable: killed; it starts again from the beginning", j.ID)
		m.count(func(r *proto.MaintainReply) { r.Requeued++ })
	case m.req.Shutdown && m.req.Immediate:
		m.d.terminate(j, "killed by shutdown immediate (checkpoint policy n, not rerunnable)")
		m.stopped(j.ID)
		m.say("job %s: policy n, not rerunnable: killed (shutdown immediate)", j.ID)
		m.count(func(r *proto.MaintainReply) { r.Killed++ })
	case m.req.Shutdown:
		m.say("job %s: policy n, not rerunnable: the shutdown waits for it to finish", j.ID)
		return true
	default:
		m.say("job %s: policy n, not rerunnable: left running", j.ID)
		m.count(func(r *proto.MaintainReply) { r.Running++ })
	}
	return false
}

// job checkpoints one job (and stops it, with requeue), trying again until
// the deadline.
func (m *maintenance) job(ctx context.Context, j *jobs.Job) {
	d, id := m.d, j.ID
	stop := m.req.Requeue || m.req.Shutdown
	told := false
	for {
		op, busy, err := d.beginCheckpoint(id, ckptRequest{stop: stop, by: "maintenance"})
		if busy {
			waitOp(ctx, op) // a periodic one: ours follows
			if ctx.Err() != nil {
				return
			}
			continue
		}
		var res supervisor.CheckpointResult
		if err == nil {
			if waitOp(ctx, op) != nil {
				return
			}
			res = op.res
		} else {
			res.Error = err.Error()
		}
		cur := d.store.View().Job(id)
		if res.OK {
			g := res.Generation()
			msg := fmt.Sprintf("job %s: checkpoint %d, %s in %.1fs (stopped %.2fs)", id, g.N, sizeText(g.Size),
				g.Duration.Seconds(), g.Frozen.Seconds())
			if stop {
				d.waitInactive(ctx, id, -1, time.Minute)
				if cur = d.store.View().Job(id); cur != nil {
					msg += "; " + string(cur.State)
				}
				m.count(func(r *proto.MaintainReply) { r.Requeued++ })
			}
			m.say("%s", msg)
			m.count(func(r *proto.MaintainReply) { r.Checkpointed++ })
			return
		}
		if cur == nil || !cur.State.Active() || cur.State == jobs.Exiting {
			state := "gone"
			if cur != nil {
				state = string(cur.State)
			}
			m.say("job %s: %s meanwhile", id, state)
			return
		}
		if stop && !m.deadline.IsZero() && time.Now().Before(m.deadline) {
			if !told {
				m.say("job %s: checkpoint failed: %s; trying again until %s", id, res.Error, m.deadline.Format("15:04:05"))
				told = true
			}
			select {
			case <-time.After(min(retryEvery, time.Until(m.deadline))):
				continue
			case <-ctx.Done():
				return
			}
		}
		if m.deadline.IsZero() || !stop {
			m.say("job %s: checkpoint failed: %s; left running", id, res.Error)
			m.count(func(r *proto.MaintainReply) { r.Failed++ })
			return
		}
		m.pastDeadline(cur, res.Error)
		return
	}
}

// pastDeadline handles a job that could not be checkpointed before the
// deadline: requeued to start again if it may, else killed.
func (m *maintenance) pastDeadline(j *jobs.Job, why string) {
	_, restore := j.RestoreFrom()
	if j.Rerunnable || restore {
		if err := m.d.killToRequeue(j); err != nil {
			m.say("job %s: cannot stop it to requeue it: %v", j.ID, err)
			return
		}
		m.stopped(j.ID)
		from := "from the beginning"
		if g, ok := j.RestoreFrom(); ok {
			from = fmt.Sprintf("from checkpoint %d", g.N)
		}
		m.say("job %s: could not be checkpointed before the deadline (%s): killed; it restarts %s", j.ID, why, from)
		m.count(func(r *proto.MaintainReply) { r.Requeued++; r.Failed++ })
		return
	}
	m.d.terminate(j, "killed at shutdown: could not be checkpointed before the deadline: "+why)
	m.stopped(j.ID)
	m.say("job %s: could not be checkpointed before the deadline (%s) and is not rerunnable: killed", j.ID, why)
	m.count(func(r *proto.MaintainReply) { r.Killed++; r.Failed++ })
}

// waitFinish waits for the jobs a shutdown waits for (until the deadline,
// after which they are killed).
func (m *maintenance) waitFinish(ctx context.Context, list []*jobs.Job) {
	for _, j := range list {
		timeout := 100 * 365 * 24 * time.Hour
		if !m.deadline.IsZero() {
			timeout = max(time.Until(m.deadline), 0)
		}
		m.say("waiting for job %s to finish", j.ID)
		m.d.waitInactive(ctx, j.ID, -1, timeout)
		if cur := m.d.store.View().Job(j.ID); cur != nil && cur.State.Active() {
			m.d.terminate(cur, "killed at shutdown: still running at the deadline (checkpoint policy n, not rerunnable)")
			m.stopped(j.ID)
			m.say("job %s: still running at the deadline: killed", j.ID)
			m.count(func(r *proto.MaintainReply) { r.Killed++ })
			continue
		}
		m.say("job %s: finished", j.ID)
	}
}

// stopped waits until a job being killed has ended (its supervisor grants
// its processes kill_grace), so that what is reported is done.
func (m *maintenance) stopped(id jobs.ID) {
	m.d.waitInactive(m.ctx, id, -1, m.d.config().KillGrace+time.Minute)
}

// killToRequeue stops a job to requeue it without a new checkpoint: the
// requeue marker first (durable), then its supervisor kills its tree.
func (d *Daemon) killToRequeue(j *jobs.Job) error {
	if err := supervisor.MarkRequeue(d.jobRunDir(j.ID), supervisor.Requeue{}); err != nil {
		return err
	}
	if ok, err := d.watch.signal(j.ID, unix.SIGTERM); err != nil || !ok {
		return fmt.Errorf("its supervisor is not watched: %v", err)
	}
	return nil
}

// terminate kills a job for a reason that becomes the reason it failed.
func (d *Daemon) terminate(j *jobs.Job, reason string) {
	now := time.Now().Round(0)
	if _, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error { return j.Terminate(reason, now) }); err != nil {
		d.log.Error("cannot record the killing of a job", "job_id", j.ID, "error", err)
		return
	}
	if _, err := d.watch.signal(j.ID, unix.SIGTERM); err != nil {
		d.log.Error("cannot signal a supervisor", "job_id", j.ID, "error", err)
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
}
