package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
	"lazarus/scheduler"
)

// errNotPending aborts a start when the job changed meanwhile (qdel, qhold).
var errNotPending = errors.New("job no longer waits to run")

// errNotMine aborts the record of a run's end on a node that no longer
// holds the run (cluster mode).
var errNotMine = errors.New("the run is not this node's")

// scheduleLoop runs scheduling passes: when woken (submission, release,
// job end, configuration or queue change) and when a deferred job becomes
// eligible. It ends with ctx.
func (d *Daemon) scheduleLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var plan scheduler.Plan
		if !d.paused.Load() {
			d.resolveDepends()
			plan = d.plan()
		}
		if d.cl != nil {
			d.noteNever(plan)
		}
		for _, j := range plan.Resume {
			// Its CPUs and memory are free again (qsig -s resume asked
			// for it while they were taken).
			if err := d.signalOne(ctx, caller{name: "the scheduler"}, j.ID, unix.SIGCONT, sigResume, false); err != nil {
				d.log.Warn("cannot resume the job", "job_id", j.ID, "error", err)
			}
		}
		for _, j := range plan.Start {
			if ctx.Err() != nil || (d.cl != nil && !d.cl.node.Valid()) {
				return
			}
			d.startOn(j.ID, plan.Exec[j.ID])
		}
		if len(plan.Start) > 0 {
			d.resolveDepends() // after: the jobs just started
		}
		wait := time.Hour
		if !plan.Wake.IsZero() {
			wait = max(time.Until(plan.Wake), 0) + 10*time.Millisecond
		}
		if d.cl != nil {
			// Submissions, releases and ends recorded by other nodes do
			// not wake this loop: the server looks again often.
			wait = min(wait, clusterPass)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			// Let a burst of submissions or ends wake one pass, not one
			// each: a pass may walk many waiting jobs.
			select {
			case <-ctx.Done():
				return
			case <-time.After(passGap):
			}
		case <-timer.C:
		}
	}
}

// passGap is how long a wake-up waits for others to join it.
const passGap = 5 * time.Millisecond

// plan asks the scheduler what to start (and resume) now.
func (d *Daemon) plan() scheduler.Plan {
	s, err := d.snapshot()
	if err != nil {
		d.log.Warn("cannot read the nodes; nothing is started in this pass", "error", err)
		return scheduler.Plan{Wake: time.Now().Add(time.Second)}
	}
	return scheduler.Schedule(s)
}

// snapshot is the state the scheduler decides on.
func (d *Daemon) snapshot() (scheduler.Snapshot, error) {
	cfg := d.config()
	v := d.store.View()
	var queues []scheduler.Queue
	for _, q := range v.Queues() {
		queues = append(queues, scheduler.Queue{
			Name: q.Name, Priority: q.Priority, Started: q.Started,
			MaxRunning: q.MaxRunning, MaxUserRunning: q.MaxUserRunning,
		})
	}
	s := scheduler.Snapshot{
		Now: time.Now(),
		Limits: scheduler.Limits{
			Slots: cfg.Slots, Memory: cfg.Memory,
			MaxRunning: cfg.MaxRunning, MaxUserRunning: cfg.MaxUserRunning,
		},
		Queues:  queues,
		Running: v.Active(),
		Pending: v.Pending,
		Job:     v.Job,
	}
	if d.cl != nil {
		if err := d.clusterSnapshot(&s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (d *Daemon) jobRunDir(id jobs.ID) string {
	return filepath.Join(d.dir, runDir, id.String())
}

// start runs one job: the start is recorded (a new run segment, restarted
// from the job's newest good checkpoint if it has one), then the
// supervisor is started.
func (d *Daemon) start(id jobs.ID) { d.startOn(id, nil) }

// startOn is start with a placement on cluster nodes (exec): the start is
// recorded with it, and the node of its first chunk launches the run
// (nodeLoop).
func (d *Daemon) startOn(id jobs.ID, exec []jobs.Chunk) {
	if d.cl != nil && len(exec) == 0 {
		d.log.Error("a job was to start without a placement", "job_id", id)
		return
	}
	if id.IsSubjob() && d.store.View().Job(id) == nil {
		d.startSubjobOn(id, exec)
		return
	}
	log := d.log.With("job_id", id)
	now := time.Now().Round(0)
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if !j.State.Pending() || j.Array != nil { // an array's subjobs start, not the array
			return errNotPending
		}
		var err error
		if g, ok := j.RestoreFrom(); ok && d.uid == 0 && d.config().RestartLazy {
			err = j.RestoreLazy(g.N, now)
		} else if ok && d.uid == 0 {
			err = j.Restore(g.N, now)
		} else {
			err = j.Start(now)
		}
		if err == nil && d.cl != nil {
			err = j.SetExec(d.placed(exec))
			j.MoveTo = "" // placed where qmove -n asked
		}
		return err
	})
	if errors.Is(err, errNotPending) || errors.Is(err, queue.ErrNoJob) {
		return
	}
	if err != nil {
		log.Error("cannot record the start of a job", "error", err)
		return
	}
	if d.cl != nil {
		log.Info("job placed", "exec_host", jobs.FormatExec(exec))
		if d.mine(j) {
			d.kickNode()
		}
		return
	}
	d.launch(j)
}

// launch starts the supervisor of a job's open run: from the beginning of
// its script, or from the checkpoint the run restarts from.
func (d *Daemon) launch(j *jobs.Job) {
	id := j.ID
	log := d.log.With("job_id", id)
	err := d.prepareJobFiles(j)
	var spec *supervisor.Spec
	if err == nil {
		spec, err = d.spec(j)
	}
	if err == nil {
		err = d.spool(j)
	}
	if err == nil {
		err = waitCheckpointHelper(d.jobRunDir(id))
	}
	var pid int
	if err == nil {
		pid, err = supervisor.Start(d.opts.Exe, d.jobRunDir(id), spec)
	}
	if err != nil {
		log.Error("cannot start the job's supervisor", "error", err)
		d.end(id, jobs.Result{End: time.Now().Round(0), ExitCode: -1, Reason: "cannot start: " + err.Error()})
		return
	}
	if spec.Restore != "" {
		log.Info("job restarting from a checkpoint", "pid", pid, "gen", spec.Generation, "queue", j.Queue, "user", j.Owner.Name)
	} else {
		log.Info("job started", "pid", pid, "queue", j.Queue, "user", j.Owner.Name)
	}
	d.reschedule(id)
	if err := d.watch.add(id, pid); err != nil {
		log.Error("cannot watch the job's supervisor; waiting for it", "pid", pid, "error", err)
		go func() { // it is our child: wait4 blocks until it ends
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
					break
				}
			}
			d.collect(id)
		}()
		return
	}
	// A qdel between the start record and now found no supervisor to tell.
	if cur := d.store.View().Job(id); cur != nil && cur.State == jobs.Exiting {
		d.watch.signal(id, unix.SIGTERM)
	}
}

// end closes a job's run with a result and wakes the scheduler; a record
// that has to wait for space is tried again until it is made.
func (d *Daemon) end(id jobs.ID, r jobs.Result) {
	d.record(id, "the end of its run", func() error { return d.recordEnd(id, r) })
}

// recordEnd is end; only a failure to write the store is returned.
func (d *Daemon) recordEnd(id jobs.ID, r jobs.Result) error {
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if !d.mine(j) {
			return errNotMine
		}
		return j.End(r)
	})
	d.forgetRun(id)
	if errors.Is(err, queue.ErrWrite) {
		return err
	}
	if errors.Is(err, errNotMine) {
		d.log.Warn("a run ended that this node no longer holds; its end is not recorded", "job_id", id)
		return nil
	}
	if err != nil {
		d.log.Error("cannot record the end of a job", "job_id", id, "error", err)
		return nil
	}
	d.log.Info("job ended", "job_id", id, "state", j.State, "reason", j.Reason)
	if j.State.Terminal() {
		d.dropJobFiles(id)
		d.subjobEnded(id)
	}
	d.unschedule(id)
	d.wake()
	return nil
}

// runEnded handles the recorded end of a job's run: a restart from a
// checkpoint that failed (the run goes on from an older one), a run
// stopped on purpose to be requeued, or an ordinary end.
func (d *Daemon) runEnded(j *jobs.Job, rec *supervisor.Record) {
	if rec.RestoreFailed {
		d.restoreFailed(j, rec)
		return
	}
	if rec.Reason == supervisor.FenceReason {
		// Fenced while the lease lived on (renewals too slow): restarted
		// as a lost run, from its newest checkpoint.
		d.lost(j, nil, "the node's lease could not be renewed in time")
		return
	}
	if rq, ok := d.stoppedOnPurpose(j, rec); ok && d.requeueStopped(j, rec, rq) {
		return
	}
	if rec.Prologue != nil && !strings.HasPrefix(rec.Reason, "cannot start") && d.requeuePrologue(j, rec) {
		return
	}
	if rec.Epilogue != "" {
		d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
			j.Event(rec.End, "the epilogue failed: %s", rec.Epilogue)
			return nil
		})
	}
	d.end(j.ID, result(rec))
}

// prologueTries is how many runs in a row a failing prologue requeues
// before the job is held (a prologue that always fails would otherwise
// requeue it for ever).
const prologueTries = 3

// requeuePrologue requeues a job whose prologue failed with a code other
// than 1 (PBS: the job is requeued; exit 1 aborts it), held after
// prologueTries such runs in a row; false if it cannot be (deleted
// meanwhile).
func (d *Daemon) requeuePrologue(j *jobs.Job, rec *supervisor.Record) bool {
	nj, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
		n := 1
		for i := len(j.Segments) - 2; i >= 0 && strings.HasPrefix(j.Segments[i].Reason, "prologue failed"); i-- {
			n++
		}
		hold := n >= prologueTries
		why := "requeued: " + rec.Reason
		if hold {
			why = fmt.Sprintf("held: %s, %d runs in a row", rec.Reason, n)
		}
		j.Event(rec.End, "%s", why)
		if err := j.Requeue(result(rec), why, false); err != nil || !hold {
			return err
		}
		// Held through requeued: a run goes to held only after a checkpoint.
		if err := j.Hold("the system", rec.End); err != nil {
			return err
		}
		j.Reason = why
		return nil
	})
	if err != nil {
		if !errors.Is(err, queue.ErrNoJob) {
			var te *jobs.TransitionError
			if !errors.As(err, &te) {
				d.log.Error("cannot requeue a job whose prologue failed", "job_id", j.ID, "error", err)
			}
		}
		return false
	}
	d.log.Warn("the prologue failed; job requeued", "job_id", j.ID, "state", nj.State, "reason", nj.Reason)
	d.unschedule(j.ID)
	d.wake()
	return true
}

// collect handles a supervisor that is gone: its record says how the run
// ended; without one, the run was lost.
func (d *Daemon) collect(id jobs.ID) { d.collectTry(id, 0) }

// collectRetries bounds how often collect looks again at a run whose lock
// is held by a supervisor that cannot be watched (it is ending: the lock
// goes with it), every collectRetryWait.
const (
	collectRetries   = 50
	collectRetryWait = 200 * time.Millisecond
)

func (d *Daemon) collectTry(id jobs.ID, try int) {
	j := d.store.View().Job(id)
	if j == nil || !j.State.Active() || !d.mine(j) {
		d.forgetRun(id)
		return
	}
	st, err := supervisor.Probe(d.jobRunDir(id))
	if err != nil {
		d.log.Error("cannot read the run directory", "job_id", id, "error", err)
	}
	seg := len(j.Segments) - 1
	switch {
	case st.Alive:
		// Something still holds the lock: watch again rather than guess.
		err := d.adopt(j, d.jobRunDir(id))
		switch {
		case err == nil:
		case errors.Is(err, errGone) && try < collectRetries:
			// Most often the supervisor ended between the look at its
			// lock and the watch: look again once the lock is free,
			// rather than leave the job running forever.
			d.log.Debug("a run's lock is held, but its supervisor cannot be watched; looking again", "job_id", id, "error", err)
			time.AfterFunc(collectRetryWait, func() { d.collectTry(id, try+1) })
		default:
			d.log.Error("a run's lock is held, but its supervisor cannot be watched", "job_id", id, "error", err)
		}
	case st.Exit != nil && st.Exit.Segment == seg:
		d.runEnded(j, st.Exit)
	case st.Info == nil:
		d.end(id, jobs.Result{End: time.Now().Round(0), ExitCode: -1, Reason: fmt.Sprintf(
			"cannot start: the supervisor failed (see %s)", filepath.Join(d.jobRunDir(id), supervisor.LogFile))})
	default:
		d.lost(j, st.Info, "the supervisor died without recording the end of the job")
	}
}

// lost handles a run that has no recorded end: whatever is left of the job
// is killed (without its supervisor nothing would account for it), and the
// job is requeued or failed.
func (d *Daemon) lost(j *jobs.Job, info *supervisor.Info, why string) {
	if info != nil {
		// Launched: the script may run though its supervisor died before
		// recording it as Job (the same process, if both are set).
		id := info.Job
		if !id.Alive() {
			id = info.Launched
		}
		if id.Alive() {
			// The job is a session and process group leader: kill the group.
			unix.Kill(-id.PID, unix.SIGKILL)
			unix.Kill(id.PID, unix.SIGKILL)
			why += "; its processes were killed"
		}
	}
	now := time.Now().Round(0)
	d.record(j.ID, "a lost run", func() error {
		nj, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
			if !d.mine(j) {
				return errNotMine
			}
			return j.Lost(why, now)
		})
		d.forgetRun(j.ID)
		if errors.Is(err, queue.ErrWrite) {
			return err
		}
		if errors.Is(err, errNotMine) {
			return nil
		}
		if err != nil {
			d.log.Error("cannot record a lost run", "job_id", j.ID, "error", err)
			return nil
		}
		d.log.Warn("job run lost", "job_id", j.ID, "state", nj.State, "reason", nj.Reason)
		if nj.State.Terminal() {
			d.dropJobFiles(j.ID)
			d.subjobEnded(j.ID)
		}
		d.unschedule(j.ID)
		d.wake()
		return nil
	})
}

func result(r *supervisor.Record) jobs.Result {
	return jobs.Result{
		End: r.End, UserCPU: time.Duration(r.UserCPUNS), SysCPU: time.Duration(r.SysCPUNS),
		ExitCode: r.ExitCode, Signal: r.Signal, Reason: r.Reason,
		Mem: r.Mem, VMem: r.VMem, Session: r.Session,
	}
}

// recover runs once at start, before requests are served: every job that
// was running is re-adopted (supervisor alive), collected (its run ended
// meanwhile and left a record), requeued (its supervisor never started) or
// handled as lost (machine crash, supervisor killed).
func (d *Daemon) recover() {
	for _, j := range d.store.View().Active() {
		if !d.mine(j) {
			continue // another node's, or placed under a lease this node lost
		}
		d.adopted(j)
		if j.Checkpointing != nil {
			// First, so that a generation made durable meanwhile is
			// recorded before the run's end is handled.
			d.recoverCheckpoint(j)
			if cur := d.store.View().Job(j.ID); cur != nil {
				j = cur
			}
		}
		log := d.log.With("job_id", j.ID)
		dir := d.jobRunDir(j.ID)
		st, err := supervisor.Probe(dir)
		if err != nil {
			log.Error("cannot read the run directory", "error", err)
			continue
		}
		seg := len(j.Segments) - 1
		switch {
		case st.Alive:
			if err := d.adopt(j, dir); err != nil {
				log.Error("cannot adopt a running job", "error", err)
				d.collect(j.ID)
			}
		case st.Exit != nil && st.Exit.Segment == seg:
			log.Info("collecting a job that ended while the daemon was down")
			d.runEnded(j, st.Exit)
		case !st.Info.Started() && j.State == jobs.Running:
			// The supervisor never ran the job (it records the job's
			// first process before that runs anything): start it again.
			now := time.Now().Round(0)
			if _, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error { return j.NotStarted(now) }); err != nil {
				log.Error("cannot requeue a job that did not start", "error", err)
			}
		case !st.Info.Started():
			// Deleted (or being checkpointed) before it ever ran.
			d.end(j.ID, jobs.Result{End: time.Now().Round(0), ExitCode: -1, Reason: "ended before it started"})
		default:
			why := "the job's processes are gone without an exit status (machine crash?)"
			if boot, err := bootID(); err == nil && st.Info.Supervisor.BootID != boot {
				why = "the machine restarted while the job ran"
			}
			d.lost(j, st.Info, why)
		}
	}
	d.sweepJobFiles()
	// Run directories of jobs that no longer exist.
	entries, _ := os.ReadDir(filepath.Join(d.dir, runDir))
	v := d.store.View()
	for _, e := range entries {
		if id, err := jobs.ParseID(e.Name()); err == nil && v.Job(id) == nil {
			os.RemoveAll(filepath.Join(d.dir, runDir, e.Name()))
		}
	}
}

// adopt watches the live supervisor of a job started by a previous daemon.
func (d *Daemon) adopt(j *jobs.Job, dir string) error {
	// The lock is held, so the supervisor is alive; it writes its info
	// first thing, so wait for it a little if it was just started.
	var st supervisor.Status
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err = supervisor.Probe(dir)
		if err != nil {
			return err
		}
		if st.Info != nil || !st.Alive || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Info == nil {
		return errors.New("the supervisor holds its lock but says nothing of itself")
	}
	if err := d.watch.adopt(j.ID, st.Info.Supervisor); err != nil {
		return err
	}
	d.log.Info("re-adopted a running job", "job_id", j.ID, "pid", st.Info.Supervisor.PID)
	d.reschedule(j.ID)
	if j.State == jobs.Exiting {
		// The qdel may not have reached the supervisor before we stopped.
		d.watch.signal(j.ID, unix.SIGTERM)
	}
	return nil
}

// helperWait bounds how long a new run waits for the checkpoint helper of
// the previous one.
const helperWait = time.Minute

// waitCheckpointHelper waits until no checkpoint helper works in the run
// directory runDir. A checkpoint that stops its job (qchkpnt -s, requeue)
// ends the run as soon as the image is durable, and the job is started
// again at once while its helper still records the result there: the new
// run's supervisor would find the directory being written.
func waitCheckpointHelper(runDir string) error {
	for deadline := time.Now().Add(helperWait); ; {
		_, running, err := supervisor.ReadCheckpointResult(runDir)
		if err != nil || !running {
			return nil // a result unreadable now: the new run starts afresh
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a checkpoint of the previous run still runs in %s after %v", runDir, helperWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
}

// spec describes a run for its supervisor.
func (d *Daemon) spec(j *jobs.Job) (*supervisor.Spec, error) {
	cfg := d.config()
	env, err := d.store.Env(j.ID)
	if err != nil {
		return nil, fmt.Errorf("read the job's environment: %w", err)
	}
	pw := lookupPasswd(j.Owner.UID)
	seg, _ := j.Current()
	restore := ""
	var stop, resume bool
	if seg.Generation > 0 {
		for _, g := range j.Checkpoints {
			if g.N == seg.Generation {
				restore = g.Image()
				stop, resume = j.RestoreSuspension(g)
			}
		}
		if restore == "" {
			return nil, fmt.Errorf("checkpoint %d of the job is gone", seg.Generation)
		}
	}
	shell, force := pw.shell, false
	if j.Attrs.Shell != "" {
		shell, force = j.Attrs.Shell, true
	}
	workdir := j.Workdir
	if st, err := os.Stat(pw.home); j.Attrs.Interactive && err == nil && st.IsDir() {
		// PBS starts an interactive job's login shell at home (if the
		// account has one); PBS_O_WORKDIR says where qsub ran.
		workdir = pw.home
	}
	// sbatch --signal: validated when the job was submitted.
	warn, _ := jobs.ParseSlurmSignal(j.Attrs.Signal)
	if j.Attrs.Signal == "" {
		warn = jobs.SlurmSignal{}
	}
	return &supervisor.Spec{
		WarnSignal: int(warn.Signal), WarnBefore: warn.Before, WarnBatch: warn.Batch,
		Append:      j.Attrs.OpenAppend,
		Interactive: j.Attrs.Interactive, Terminal: d.runTerminal(j, restore),
		JobID: uint64(j.ID), Segment: len(j.Segments) - 1, Start: j.Segments[len(j.Segments)-1].Start,
		Name: j.Name, UID: j.Owner.UID, GID: j.Owner.GID, Groups: j.Owner.Groups,
		SetIDs:  d.uid == 0,
		Workdir: workdir, Script: d.spoolPath(j.ID), Args: j.Attrs.Args, Shell: shell, ForceShell: force,
		Stdout: j.Stdout, Stderr: j.Stderr, Join: string(j.Join),
		Umask: j.Umask,
		Env:   jobEnv(j, splitEnv(env), pw, d.jobPlace(j)),
		NCPUs: j.Resources.NCPUs, Mem: j.Resources.Mem, Walltime: j.Walltime(), CPUTime: j.CPUTimeLeft(),
		KillGrace:  cfg.KillGrace,
		Namespace:  d.uid == 0,
		PrivateNet: d.uid == 0 && j.Resources.Net == jobs.NetPrivate,
		Restore:    restore, Generation: seg.Generation,
		RestoreLazy: restore != "" && seg.Lazy,
		Suspended:   stop, Resume: resume,
		Track:   restore != "" && !seg.Lazy && d.fullEvery(j) > 1,
		KeyFile: d.keyFile,
		Fence:   d.runFence(),
		EndCopy: d.runEndCopy(j),

		Prologue: d.pelogPath(cfg.Prologue, "prologue"), Epilogue: d.pelogPath(cfg.Epilogue, "epilogue"),
		PelogTimeout: cfg.PelogTimeout,
		User:         j.Owner.Name, Group: groupOf(j.Owner.GID), Queue: j.Queue, Account: j.Attrs.Account,
		ResourceList: j.Resources.String(),
	}, nil
}

// pelogPath is the prologue or epilogue a run gets: the configured path,
// or the state directory's file of that name; "" when there is no such
// file (as in PBS, no prologue is no prologue).
func (d *Daemon) pelogPath(configured, name string) string {
	p := configured
	if p == "" {
		p = filepath.Join(d.dir, name)
	}
	if _, err := os.Lstat(p); err != nil {
		if configured != "" {
			d.log.Warn("the configured "+name+" does not exist; jobs run without it", "path", p, "error", err)
		}
		return ""
	}
	return p
}

func groupOf(gid uint32) string {
	if n := groupName(gid); n != "" {
		return n
	}
	return strconv.FormatUint(uint64(gid), 10)
}

// jobPlace is where a job runs: the host, its TMPDIR and PBS_NODEFILE, and
// a subjob's array.
func (d *Daemon) jobPlace(j *jobs.Job) jobPlace {
	at := jobPlace{host: d.hostname, tmp: d.jobTmpDir(j.ID), nodeFile: d.jobNodeFile(j.ID), binDir: d.binDir, server: d.config().Server()}
	if n := d.nodeName(); n != "" {
		at.host = n
	}
	if j.ID.IsSubjob() {
		if arr := d.store.View().Job(j.ID.Base()); arr != nil {
			at.array = arr.Array
		}
	}
	return at
}

// originVars are the submitter's variables a job sees as LAZARUS_O_*.
var originVars = []string{"HOME", "LANG", "LOGNAME", "PATH", "MAIL", "SHELL", "TZ"}

// jobPlace is where a job runs: the host, its TMPDIR and PBS_NODEFILE; and
// for a subjob, its array's indices.
type jobPlace struct {
	host, tmp, nodeFile string
	array               *jobs.Array
	// server names the batch server in PBS_JOBID (ID.SERVER, as qsub
	// prints it and PBS sets it); "": the bare ID.
	server string
	// binDir is the directory of the batch commands, appended to the
	// job's PATH when it is not on it: a job script runs srun, qsub or
	// qstat by name wherever they are installed.
	binDir string
}

// jobEnv builds a job's environment as a PBS user expects it: a login-like
// base (HOME, USER, LOGNAME, SHELL, PATH), the submitter's environment with
// qsub -V, the qsub -v variables, then the variables PBS sets (PBS_*,
// NCPUS, OMP_NUM_THREADS unless -v gives it, TMPDIR; SLURM_* for a job
// translated from #SBATCH lines) and the LAZARUS_* variables, which win
// over what the submitter's environment had.
func jobEnv(j *jobs.Job, submitEnv map[string]string, pw passwd, at jobPlace) []string {
	env := map[string]string{
		"HOME": pw.home, "USER": pw.name, "LOGNAME": pw.name, "SHELL": pw.shell,
		"PATH": "/usr/local/bin:/usr/bin:/bin",
	}
	if j.ExportEnv {
		for k, v := range submitEnv {
			env[k] = v
		}
	}
	userOMP := ""
	for _, kv := range j.Vars {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if k == "OMP_NUM_THREADS" {
			userOMP = v
		}
	}
	for _, k := range originVars {
		if v, ok := submitEnv[k]; ok {
			env["LAZARUS_O_"+k] = v
			env["PBS_O_"+k] = v
		}
	}
	id, ncpus := j.ID.String(), strconv.Itoa(j.Resources.FirstNCPUs())
	// PBS's own ids name the server: 12.SERVER, 12[7].SERVER, 12[].SERVER.
	pbsID := func(id string) string {
		if at.server == "" {
			return id
		}
		return id + "." + at.server
	}
	set := map[string]string{
		"LAZARUS_JOBID":       id,
		"LAZARUS_JOBNAME":     j.Name,
		"LAZARUS_QUEUE":       j.Queue,
		"LAZARUS_O_QUEUE":     j.Queue,
		"LAZARUS_O_WORKDIR":   j.Workdir,
		"LAZARUS_O_HOST":      at.host,
		"LAZARUS_ENVIRONMENT": "LAZARUS_BATCH",
		"LAZARUS_NCPUS":       ncpus,

		"PBS_JOBID":       pbsID(id),
		"PBS_JOBNAME":     j.Name,
		"PBS_QUEUE":       j.Queue,
		"PBS_O_QUEUE":     j.Queue,
		"PBS_O_WORKDIR":   j.Workdir,
		"PBS_O_HOST":      at.host,
		"PBS_ENVIRONMENT": "PBS_BATCH",
		"PBS_NODEFILE":    at.nodeFile,
		"PBS_JOBDIR":      pw.home,
		"NCPUS":           ncpus,
		"OMP_NUM_THREADS": strconv.Itoa(j.Resources.Threads()),
		"TMPDIR":          at.tmp,
		// The job's own TMPDIR, which a script may change (srun keeps
		// its step counter there).
		"LAZARUS_TMPDIR": at.tmp,
	}
	if userOMP != "" {
		set["OMP_NUM_THREADS"] = userOMP
	}
	// Torque's: the node file's lines, its hosts, the lines of the first
	// (ppn), the walltime in seconds, and the script's own task numbers
	// (`mpirun -np $PBS_NP`).
	lines := jobNodeLines(j, at.host)
	hosts := map[string]bool{}
	for _, h := range lines {
		hosts[h] = true
	}
	set["PBS_NP"], set["PBS_NUM_NODES"] = strconv.Itoa(len(lines)), strconv.Itoa(len(hosts))
	set["PBS_NUM_PPN"] = strconv.Itoa(len(lines) / max(len(hosts), 1))
	set["PBS_TASKNUM"], set["PBS_NODENUM"], set["PBS_VNODENUM"] = "1", "0", "0"
	if w := j.Resources.Walltime; w > 0 {
		set["PBS_WALLTIME"] = strconv.FormatInt(int64(w/time.Second), 10)
	}
	if j.Attrs.Interactive {
		set["PBS_ENVIRONMENT"], set["LAZARUS_ENVIRONMENT"] = "PBS_INTERACTIVE", "LAZARUS_INTERACTIVE"
		if term, ok := submitEnv["TERM"]; ok {
			if _, given := env["TERM"]; !given {
				env["TERM"] = term // the terminal qsub relays to is that type
			}
		}
	}
	if j.ID.IsSubjob() {
		index, array := strconv.Itoa(j.ID.Index()), jobs.ArrayForm(j.ID.Base()).String()
		set["PBS_ARRAY_INDEX"], set["PBS_ARRAY_ID"] = index, pbsID(array)
		set["PBS_ARRAYID"] = index // Torque's name (qsub -t)
		set["LAZARUS_ARRAY_INDEX"], set["LAZARUS_ARRAY_ID"] = index, array
		if j.Attrs.Slurm {
			set["SLURM_ARRAY_JOB_ID"], set["SLURM_ARRAY_TASK_ID"] = j.ID.Base().String(), index
			if a := at.array; a != nil && a.Len() > 0 {
				set["SLURM_ARRAY_TASK_COUNT"] = strconv.Itoa(a.Len())
				set["SLURM_ARRAY_TASK_MIN"] = strconv.Itoa(a.IndexAt(0))
				set["SLURM_ARRAY_TASK_MAX"] = strconv.Itoa(a.IndexAt(a.Len() - 1))
				if len(a.Ranges) == 1 {
					set["SLURM_ARRAY_TASK_STEP"] = strconv.Itoa(a.Ranges[0].Step)
				}
			}
		}
	}
	if j.Attrs.Slurm {
		// --ntasks=N asked for N mpiprocs of --cpus-per-task each.
		ntasks, perTask := "1", ncpus
		if j.Resources.MPIProcs > 0 {
			ntasks, perTask = strconv.Itoa(j.Resources.MPIProcs), strconv.Itoa(j.Resources.Threads())
		}
		for k, v := range map[string]string{
			"SLURM_JOB_ID":        id,
			"SLURM_JOBID":         id,
			"SLURM_JOB_NAME":      j.Name,
			"SLURM_SUBMIT_DIR":    j.Workdir,
			"SLURM_SUBMIT_HOST":   at.host,
			"SLURM_CPUS_PER_TASK": perTask,
			"SLURM_CPUS_ON_NODE":  ncpus,
			"SLURM_NTASKS":        ntasks,
			"SLURM_NPROCS":        ntasks,
			"SLURM_JOB_NUM_NODES": "1",
			"SLURM_JOB_NODELIST":  at.host,
			"SLURM_JOB_PARTITION": j.Queue,
			// Open MPI's mpirun, seeing SLURM_JOBID, takes its slots from
			// these two and refuses to run without them; MPICH's hydra
			// reads them too.
			"SLURM_NODELIST":       at.host,
			"SLURM_NNODES":         "1",
			"SLURM_TASKS_PER_NODE": ntasks,
			// What sbatch's batch step also has: its node, its user, the
			// batch step's own task (the script is task 0 of node 0).
			"SLURM_JOB_CPUS_PER_NODE": ncpus,
			"SLURMD_NODENAME":         at.host,
			"SLURM_JOB_USER":          j.Owner.Name,
			"SLURM_JOB_UID":           strconv.FormatUint(uint64(j.Owner.UID), 10),
			"SLURM_JOB_GID":           strconv.FormatUint(uint64(j.Owner.GID), 10),
			"SLURM_CLUSTER_NAME":      "lazarus",
			"SLURM_NODEID":            "0",
			"SLURM_PROCID":            "0",
			"SLURM_LOCALID":           "0",
			"SLURM_GTIDS":             "0",
		} {
			set[k] = v
		}
		if j.Resources.MPIProcs > 0 {
			set["SLURM_NTASKS_PER_NODE"] = ntasks
		}
		if j.Resources.Mem > 0 {
			// In MB, as Slurm writes it (the job's --mem, or
			// --mem-per-cpu times its CPUs).
			set["SLURM_MEM_PER_NODE"] = strconv.FormatInt(j.Resources.Mem>>20, 10)
		}
		if j.Attrs.Account != "" {
			set["SLURM_JOB_ACCOUNT"] = j.Attrs.Account
		}
		if n := len(j.Segments); n > 1 {
			// Started again (requeued, or rerun after a crash): how
			// many times, as Slurm counts requeues.
			set["SLURM_RESTART_COUNT"] = strconv.Itoa(n - 1)
		}
	}
	for k, v := range set {
		env[k] = v
	}
	if path := env["PATH"]; at.binDir != "" && !slices.Contains(filepath.SplitList(path), at.binDir) {
		if path != "" {
			path += string(filepath.ListSeparator)
		}
		env["PATH"] = path + at.binDir
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func splitEnv(b []byte) map[string]string {
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}

// passwd is what the job's environment needs of the owner's account.
type passwd struct{ name, home, shell string }

// lookupPasswd finds a user's name, home and login shell: /etc/passwd
// first (os/user does not give the shell), then the system's user
// database, then defaults, so that a job always gets a usable environment.
func lookupPasswd(uid uint32) passwd {
	pw := passwd{name: strconv.FormatUint(uint64(uid), 10), home: "/", shell: "/bin/sh"}
	if f, err := os.Open("/etc/passwd"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 7 && fields[2] == pw.name {
				pw.name, pw.home = fields[0], fields[5]
				// A script without "#!" runs with this shell; accounts that may
				// not log in still get a working one.
				if sh := fields[6]; sh != "" && !strings.HasSuffix(sh, "/nologin") && !strings.HasSuffix(sh, "/false") {
					pw.shell = sh
				}
				return pw
			}
		}
	}
	if u, err := user.LookupId(pw.name); err == nil {
		pw.name, pw.home = u.Username, u.HomeDir
	}
	return pw
}
