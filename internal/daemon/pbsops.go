package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
	"lazarus/scheduler"
)

// The PBS everyday commands: qsig, qrerun, qmove, qorder, qalter, qrun and
// pbsnodes. qhold of a running job is in hold (jobops.go): a checkpoint
// that stops and holds it.

// parseSignal reads qsig -s: a name with or without SIG (TERM, SIGTERM,
// any case) or a number.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, badRequest("signal %d: want 1 to 64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, badRequest("unknown signal %q", s)
}

// Special signals of qsig (OpenPBS qsig.1B): suspend and resume, for
// root and operators. SIGSTOP and SIGCONT, which any owner may send, also
// suspend and resume the job: the record says what its processes are.
const (
	sigSuspend = "suspend"
	sigResume  = "resume"
)

// qsigOf reads qsig -s: a signal, or suspend or resume (then sig is
// SIGSTOP or SIGCONT).
func qsigOf(s string) (sig unix.Signal, special string, err error) {
	switch strings.ToLower(s) {
	case sigSuspend:
		return unix.SIGSTOP, sigSuspend, nil
	case sigResume:
		return unix.SIGCONT, sigResume, nil
	case "admin-suspend", "admin-resume":
		return 0, "", badRequest("-s %s: this system has no vnode maintenance state; use suspend and resume (or pbsnodes -o)", s)
	}
	sig, err = parseSignal(s)
	return sig, "", err
}

// signalJob handles qsig: the signal goes to the job script and every
// process of its tree (the job's PID namespace when lazarusd is root).
func (d *Daemon) signalJob(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.SignalRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	sig, special, err := qsigOf(req.Signal)
	if err != nil {
		return nil, err
	}
	if special != "" {
		if err := d.mustOperate(who, "suspend or resume jobs (qsig -s "+special+"); the owner may send STOP and CONT"); err != nil {
			return nil, err
		}
	}
	if arr := arrayOf(d.store.View(), id); arr != nil {
		return d.signalArray(ctx, who, arr, sig, special, req.Script)
	}
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
	if err := signallable(j); err != nil {
		return nil, err
	}
	if err := d.signalOne(ctx, who, id, sig, special, req.Script); err != nil {
		return nil, err
	}
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// signalOne signals one running job. SIGSTOP (suspend) records the
// suspension before the tree is stopped, SIGCONT (resume) its end before
// the tree goes on: a checkpoint, a power cut or a restart of the daemon
// in between restores the job as the record says (jobs.RestoreSuspension).
// suspend of a suspended job and resume of one that is not are refused,
// as PBS refuses them; a plain STOP or CONT is sent anyway.
func (d *Daemon) signalOne(ctx context.Context, who caller, id jobs.ID, sig unix.Signal, special string, scriptOnly bool) error {
	if sig != unix.SIGSTOP && sig != unix.SIGCONT {
		return d.signalTree(ctx, who, id, sig, scriptOnly)
	}
	changed, waits := false, false
	// A suspended job released its CPUs and memory (OpenPBS's rule): it
	// resumes now if they are free, else once they are (the scheduler's
	// Plan.Resume), staying suspended until then.
	fits := true
	if j := d.store.View().Job(id); sig == unix.SIGCONT && j != nil && j.IsSuspended() {
		if s, err := d.snapshot(); err == nil {
			fits = scheduler.ResumeFits(s, j)
		}
	}
	_, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		changed, waits = false, false
		if err := signallable(j); err != nil {
			return err
		}
		now := time.Now().Round(0)
		var err error
		switch {
		case sig == unix.SIGSTOP && !j.IsSuspended():
			err = j.Suspend(now)
		case sig == unix.SIGCONT && j.IsSuspended() && !fits:
			if !j.ResumeWanted {
				j.ResumeWanted = true
				j.Event(now, "resume asked by %s: it resumes when the CPUs and memory it released are free", who.name)
			}
			waits = true
			return nil
		case sig == unix.SIGCONT && j.IsSuspended():
			err = j.Resume(now)
		case special == sigSuspend:
			return conflict("job %s is already suspended", id)
		case special == sigResume:
			return conflict("job %s is not suspended", id)
		default:
			return nil
		}
		if err != nil {
			return conflict("%v", err)
		}
		changed = true
		if sig == unix.SIGSTOP {
			j.Event(now, "suspended by %s", who.name)
		} else {
			j.Event(now, "resumed by %s", who.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if waits {
		d.log.Info("job to resume when its CPUs are free", "job_id", id, "by", who.name)
		return nil
	}
	if err := d.signalTree(ctx, who, id, sig, false); err != nil {
		if changed { // not signalled: the record goes back to what the processes are
			d.store.UpdateJob(id, func(j *jobs.Job) error {
				now := time.Now().Round(0)
				if sig == unix.SIGSTOP && j.IsSuspended() {
					j.Suspended = time.Time{}
				} else if sig == unix.SIGCONT && !j.IsSuspended() && len(j.Suspensions) > 0 {
					j.Suspended = j.Suspensions[len(j.Suspensions)-1].From
					j.Suspensions = j.Suspensions[:len(j.Suspensions)-1]
				}
				j.Event(now, "%s: %v", sig, err)
				return nil
			})
		}
		return err
	}
	if changed {
		d.noteSuspension(id)
		if sig == unix.SIGSTOP {
			d.wake() // its CPUs and memory are free for others
		}
	}
	return nil
}

// noteSuspension tells the job's supervisor of its suspensions, so that
// its walltime does not count them (supervisor.WriteSuspension).
func (d *Daemon) noteSuspension(id jobs.ID) {
	j := d.store.View().Job(id)
	if j == nil {
		return
	}
	if err := supervisor.WriteSuspension(d.jobRunDir(id), j.Suspended, j.Suspensions); err != nil {
		d.log.Warn("cannot tell the supervisor of the suspension: its walltime counts it", "job_id", id, "error", err)
	}
}

// signallable refuses a job that is not running.
func signallable(j *jobs.Job) error {
	switch j.State {
	case jobs.Running, jobs.Exiting:
		return nil
	case jobs.Checkpointing:
		return conflict("job %s is being checkpointed; signal it when the checkpoint is done", j.ID)
	}
	return conflict("job %s is %s; only running jobs can be signalled", j.ID, j.State)
}

// startWait bounds how long a signal waits for a job that is recorded as
// running to have its script running.
const startWait = 30 * time.Second

// signalTree sends sig to every process of a running job's tree. A job is
// recorded as running before its supervisor has started its script, and
// the supervisor records the script's pid once it has exec'd it: a signal
// in between waits for that (delivered once the script exists, not lost
// to the helper that becomes it), as long as the job stays running, and
// is refused if it does not come.
func (d *Daemon) signalTree(ctx context.Context, who caller, id jobs.ID, sig unix.Signal, scriptOnly bool) error {
	pid := 0
	for deadline := time.Now().Add(startWait); pid == 0; {
		j := d.store.View().Job(id)
		if j == nil {
			return notFound("unknown job id %s", id)
		}
		if err := signallable(j); err != nil {
			return err
		}
		st, err := supervisor.Probe(d.jobRunDir(id))
		switch {
		case err != nil:
			return fmt.Errorf("signal job %s: %w", id, err)
		case st.Alive && st.Info != nil && st.Info.Job.Alive():
			pid = st.Info.Job.PID
			continue
		case st.Alive && st.Info != nil && st.Info.Job.PID > 0,
			st.Exit != nil && st.Exit.Segment == len(j.Segments)-1:
			return conflict("job %s has no processes to signal: its script has ended", id)
		case time.Now().After(deadline):
			return conflict("job %s has not started its script yet; signal it once it runs", id)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("signal job %s: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	var kids []int
	if !scriptOnly {
		// scriptOnly (scancel --batch): the batch shell alone.
		kids, _ = proc.Descendants(pid)
	}
	var errs []error
	// The script is the init of the job's PID namespace: a signal it does
	// not handle would not reach it (supervisor.InitDefault). One that
	// kills it is given last (its death takes the rest of the namespace
	// with it), the script stopped meanwhile: a child dying of the signal
	// must not let it run on to its next command.
	toInit := supervisor.InitDefault(pid, sig)
	fatal := toInit == unix.SIGKILL && sig != unix.SIGKILL
	order := append([]int{pid}, kids...)
	if fatal {
		unix.Kill(pid, unix.SIGSTOP)
		order = append(kids, pid)
	}
	for _, p := range order {
		var err error
		switch {
		case p != pid:
			err = unix.Kill(p, sig)
		case fatal:
			err = supervisor.KillInit(d.jobRunDir(id), pid, sig)
		default:
			err = unix.Kill(pid, toInit)
		}
		if err != nil && err != unix.ESRCH {
			errs = append(errs, fmt.Errorf("pid %d: %w", p, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("signal %s to job %s: %w", sig, id, err)
	}
	d.log.Info("job signalled", "job_id", id, "signal", sig.String(), "processes", len(kids)+1, "by", who.name)
	return nil
}

// signalArray handles qsig of an array job: every running subjob gets the
// signal, as PBS sends it.
func (d *Daemon) signalArray(ctx context.Context, who caller, arr *jobs.Job, sig unix.Signal, special string, scriptOnly bool) (any, error) {
	if err := d.mayManage(who, arr); err != nil {
		return nil, err
	}
	n := 0
	var errs []error
	for sub := range d.store.View().Subjobs(arr.ID) {
		if sub.State != jobs.Running && sub.State != jobs.Exiting {
			continue
		}
		if err := d.signalOne(ctx, who, sub.ID, sig, special, scriptOnly); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, conflict("job %s has no running subjobs to signal", jobs.ArrayForm(arr.ID))
	}
	return proto.JobReply{ID: uint64(jobs.ArrayForm(arr.ID)), State: string(arr.State)}, nil
}

// rerunJob handles qrerun: a running job is killed and requeued; it starts
// again from its newest good checkpoint if it has one, else from the
// beginning. A job that is not rerunnable (qsub -r n) is refused unless
// forced (qrerun -f).
func (d *Daemon) rerunJob(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.RerunRequest
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
	switch {
	case req.Owner && !req.Force:
		// scontrol requeue: the owner's own request, of a job that
		// lets itself be requeued (not --no-requeue).
		if err := d.mayManage(who, j); err != nil {
			return nil, err
		}
		if j.Rerunnable {
			break
		}
		return nil, conflict("job %s is not requeueable (--no-requeue)", id)
	default:
		if err := d.mustOperate(who, "rerun jobs"); err != nil {
			return nil, err
		}
	}
	if j.State != jobs.Running {
		return nil, conflict("job %s is %s; only running jobs can be rerun", id, j.State)
	}
	if !j.Rerunnable && !req.Force {
		return nil, conflict("job %s is not rerunnable (qsub -r n); qrerun -f reruns it anyway", id)
	}
	if err := d.killToRequeue(j); err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	d.log.Info("job being rerun", "job_id", id, "by", who.name)
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// moveJob handles qmove: a job that waits to run goes to another queue.
func (d *Daemon) moveJob(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.MoveRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	if err := d.wholeArray(id); err != nil {
		return nil, err
	}
	if req.Node != "" {
		return d.moveToNode(ctx, who, req)
	}
	if err := checkQueue(d.store.View(), req.Queue); err != nil {
		return nil, err
	}
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if err := d.mayManage(who, j); err != nil {
			return err
		}
		if !j.State.Pending() && j.State != jobs.Held {
			return conflict("job %s is %s; only jobs that wait to run can be moved", id, j.State)
		}
		j.Queue = req.Queue
		j.Event(time.Now().Round(0), "moved to queue %s by %s", req.Queue, who.name)
		return nil
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	d.wake()
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// orderJobs handles qorder: two jobs that wait to run exchange their
// places, as in PBS: their queues, their priorities and their places among
// jobs of equal priority, so that each starts when the other would have.
// The caller must be allowed to manage both.
func (d *Daemon) orderJobs(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.OrderRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	a, b := jobs.ID(req.A), jobs.ID(req.B)
	if a == b {
		return nil, badRequest("qorder needs two different jobs")
	}
	v := d.store.View()
	ja, jb := v.Job(a), v.Job(b)
	for _, p := range []struct {
		id jobs.ID
		j  *jobs.Job
	}{{a, ja}, {b, jb}} {
		if p.j == nil {
			return nil, notFound("unknown job id %s", p.id)
		}
		if err := d.mayManage(who, p.j); err != nil {
			return nil, err
		}
		if !p.j.State.Pending() && p.j.State != jobs.Held {
			return nil, conflict("job %s is %s; only jobs that wait to run can be ordered", p.id, p.j.State)
		}
	}
	now := time.Now().Round(0)
	// Both records change in one transaction: a crash never leaves one
	// job moved and the other not.
	_, err := d.store.UpdateJobs([]jobs.ID{a, b}, func(js []*jobs.Job) error {
		for _, j := range js {
			if !j.State.Pending() && j.State != jobs.Held {
				return conflict("job %s has just become %s", j.ID, j.State)
			}
		}
		x, y := js[0], js[1]
		xq, xp, xr := x.Queue, x.Attrs.Priority, x.Place()
		x.Queue, x.Attrs.Priority, x.Attrs.Rank = y.Queue, y.Attrs.Priority, y.Place()
		y.Queue, y.Attrs.Priority, y.Attrs.Rank = xq, xp, xr
		x.Event(now, "exchanged places with job %s by %s (qorder)", b, who.name)
		y.Event(now, "exchanged places with job %s by %s (qorder)", a, who.name)
		return nil
	})
	if errors.Is(err, queue.ErrNoJob) {
		return nil, notFound("%v", err) // deleted meanwhile; the error names it
	}
	if err != nil {
		return nil, err
	}
	d.log.Info("jobs reordered", "job_id", a, "other", b, "by", who.name)
	d.wake()
	return struct{}{}, nil
}

// runJob handles qrun: an operator starts a queued job now, whatever the
// limits and the order of the queues say.
func (d *Daemon) runJob(_ context.Context, who caller, body json.RawMessage) (any, error) {
	id, err := d.jobArg(body)
	if err != nil {
		return nil, err
	}
	if err := d.mustOperate(who, "run jobs (qrun)"); err != nil {
		return nil, err
	}
	if _, st, ok, err := unstarted(d.store.View(), id); err != nil || ok {
		if err != nil {
			return nil, err
		}
		if st != jobs.SubQueued {
			return nil, conflict("job %s is %s; only queued subjobs can be run", id, subStateName(st))
		}
		d.log.Info("subjob run by an operator", "job_id", id, "by", who.name)
		d.startSubjob(id)
		if j := d.store.View().Job(id); j != nil {
			return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
		}
		return nil, conflict("job %s could not be started (is its array held?)", id)
	}
	if err := d.wholeArray(id); err != nil {
		return nil, err
	}
	j := d.store.View().Job(id)
	if j == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if !j.State.Pending() {
		return nil, conflict("job %s is %s; only queued jobs can be run", id, j.State)
	}
	d.log.Info("job run by an operator", "job_id", id, "by", who.name)
	d.start(id)
	j = d.store.View().Job(id)
	if j == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if j.State.Pending() {
		return nil, conflict("job %s could not be started", id)
	}
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// alterJob handles qalter. A job that waits to run (queued, held) may
// change what qsub set; a running one only its name, priority, account,
// rerun flag and checkpoint policy (PBS refuses the rest of a running
// job, and so does this).
func (d *Daemon) alterJob(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.AlterRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	if id.IsSubjob() {
		return nil, badRequest("job %s is a subjob: qalter alters an array job as a whole (%s), as PBS does", id, jobs.ArrayForm(id.Base()))
	}
	if arr := arrayOf(d.store.View(), id); arr != nil {
		id = arr.ID // what changes is what its subjobs that have not started get
	}
	cfg := d.config()
	now := time.Now().Round(0)
	var changed []string
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		changed = changed[:0]
		if err := d.mayManage(who, j); err != nil {
			return err
		}
		waiting := j.State.Pending() || j.State == jobs.Held || j.State == jobs.Begun
		if j.State.Terminal() {
			return conflict("job %s has %s", id, j.State)
		}
		onlyWaiting := func(opt string) error {
			if !waiting {
				return conflict("job %s is %s: %s cannot change while it runs", id, j.State, opt)
			}
			changed = append(changed, opt)
			return nil
		}
		if len(req.Resources) > 0 {
			if err := onlyWaiting("-l"); err != nil {
				return err
			}
			res := j.Resources
			var err error
			for _, l := range req.Resources {
				if res, err = jobs.ParseResources(res, l); err != nil {
					return err
				}
			}
			if err := d.checkChunks(res, cfg); err != nil {
				return err
			}
			switch {
			case cfg.MaxWalltime > 0 && res.Walltime > cfg.MaxWalltime:
				return badRequest("walltime=%s is more than the limit of %s", jobs.FormatDuration(res.Walltime), jobs.FormatDuration(cfg.MaxWalltime))
			}
			j.Resources = res
		}
		if req.Name != "" {
			if err := jobs.ValidateName(req.Name); err != nil {
				return err
			}
			j.Name = req.Name
			changed = append(changed, "-N")
		}
		for _, p := range []struct {
			opt, path string
			dst       *string
			kind      string
		}{{"-o", req.Stdout, &j.Stdout, "o"}, {"-e", req.Stderr, &j.Stderr, "e"}} {
			if p.path == "" {
				continue
			}
			if err := onlyWaiting(p.opt); err != nil {
				return err
			}
			if !filepath.IsAbs(p.path) {
				return badRequest("output path %q is not absolute", p.path)
			}
			*p.dst = outputPath(p.path, j.Workdir, j.Name, p.kind, j.ID)
		}
		if req.Join != "" {
			if err := onlyWaiting("-j"); err != nil {
				return err
			}
			join, err := jobs.ParseJoin(req.Join)
			if err != nil {
				return err
			}
			j.Join = join
		}
		if !req.After.IsZero() {
			if err := onlyWaiting("-a"); err != nil {
				return err
			}
			j.After = req.After.Round(0)
		}
		if req.Priority != "" {
			p, err := jobs.ParsePriority(req.Priority)
			if err != nil {
				return err
			}
			j.Attrs.Priority = p
			changed = append(changed, "-p")
		}
		if req.Account != "" {
			j.Attrs.Account = req.Account
			changed = append(changed, "-A")
		}
		switch req.Rerunnable {
		case "":
		case "y", "n":
			j.Rerunnable = req.Rerunnable == "y"
			changed = append(changed, "-r")
		default:
			return badRequest("-r %q: want y or n", req.Rerunnable)
		}
		if req.Checkpoint != "" {
			p, err := jobs.ParsePolicy(req.Checkpoint)
			if err != nil {
				return err
			}
			if p.Kind == jobs.CheckpointQueue {
				p = jobs.Policy{Kind: jobs.CheckpointNever}
				if q := d.store.View().Queue(j.Queue); q != nil && q.CkptDefault.Kind == jobs.CheckpointInterval {
					p = q.CkptDefault
				}
			}
			j.Checkpoint = p
			changed = append(changed, "-c")
		}
		switch req.Hold {
		case "":
		case "u", "o", "s":
			if err := onlyWaiting("-h"); err != nil {
				return err
			}
			if j.State != jobs.Held {
				if err := j.Hold(who.name, now); err != nil {
					return err
				}
			}
		case "n":
			if err := onlyWaiting("-h"); err != nil {
				return err
			}
			if j.State == jobs.Held && j.Depend != nil && j.Depend.Waiting {
				return dependHeld(j)
			}
			if j.State == jobs.Held {
				if err := j.Release(now); err != nil {
					return err
				}
				if err := j.Settle(now); err != nil {
					return err
				}
			}
		default:
			return badRequest("-h %q: want u, o, s or n", req.Hold)
		}
		if len(changed) == 0 {
			return badRequest("nothing to alter")
		}
		j.Event(now, "altered by %s: %s", who.name, strings.Join(changed, " "))
		return nil
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	d.reschedule(id)
	d.wake()
	return proto.JobReply{ID: uint64(req.ID), State: string(j.State)}, nil
}

// nodes handles pbsnodes: this host, and -o / -r (offline, online), which
// stop and start the starting of jobs, as qmgr stop/start scheduling does.
func (d *Daemon) nodes(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.NodesRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if d.cl != nil {
		return d.clusterNodes(who, req)
	}
	if name := d.config().Server(); req.Node != "" && req.Node != name {
		return nil, notFound("%s: unknown node (this system has one: %s)", req.Node, name)
	}
	if req.Offline || req.Online {
		if err := d.mustOperate(who, "mark the node offline or online"); err != nil {
			return nil, err
		}
		d.paused.Store(req.Offline)
		d.nodeComment.Store(&req.Comment)
		d.log.Info("node state changed", "offline", req.Offline, "by", who.name, "comment", req.Comment)
		d.wake()
	}
	cfg := d.config()
	info := proto.NodeInfo{Name: cfg.Server(), Server: cfg.Server(), Slots: cfg.Slots, MemBytes: cfg.Memory}
	for _, j := range d.store.View().Active() {
		if !j.IsSuspended() { // a suspended job released its CPUs and memory
			info.Assigned += j.Resources.NCPUs
			info.AssignedMem += j.Resources.Mem
		}
		info.Jobs = append(info.Jobs, uint64(j.ID))
	}
	slices.Sort(info.Jobs)
	if c := d.nodeComment.Load(); c != nil {
		info.Comment = *c
	}
	switch {
	case d.paused.Load():
		info.State = "offline"
	case info.Assigned >= info.Slots:
		info.State = "job-busy"
	default:
		info.State = "free"
	}
	return info, nil
}
