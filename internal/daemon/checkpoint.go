package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
)

// Checkpoints. A job's generations live in spool/ID.ckpt/N/, one directory
// per checkpoint (see package supervisor for its files). A checkpoint is
// recorded in the store as the job's state (checkpointing, with the
// generation number it uses) before its helper starts, and the generation
// becomes the job's newest only once the helper reports it durable; older
// generations beyond the job's keep are deleted only after that record is
// durable. At most one checkpoint of a job runs at once: the table below,
// and the helper's lock in the run directory, which also tells a daemon
// started afterwards that a helper of its predecessor still works.

const ckptSuffix = ".ckpt"

// ckptDir is the directory of a job's checkpoint generations.
func (d *Daemon) ckptDir(id jobs.ID) string {
	if d.cl != nil { // every node reads them
		return filepath.Join(d.cl.shared, ckptSharedDir, id.String()+ckptSuffix)
	}
	return filepath.Join(d.dir, spoolDir, id.String()+ckptSuffix)
}

func (d *Daemon) genDir(id jobs.ID, n int) string {
	return filepath.Join(d.ckptDir(id), strconv.Itoa(n))
}

// ckptOp is a checkpoint in progress; done is closed when res is set.
type ckptOp struct {
	gen  int
	stop bool
	done chan struct{}
	res  supervisor.CheckpointResult
	// unrecorded is why res could not be recorded yet (it waits in the
	// recorder); nil once recorded.
	unrecorded error
}

// ckptTable holds the checkpoints in progress, one per job at most.
type ckptTable struct {
	mu  sync.Mutex
	ops map[jobs.ID]*ckptOp
	// tried is when each job's last checkpoint was attempted, so that a
	// periodic schedule does not try again at once after a failure that
	// left no record (the job ended, say).
	tried map[jobs.ID]time.Time
}

// ckptRequest says what a checkpoint is for.
type ckptRequest struct {
	stop, hold bool   // stop the job afterwards and requeue (or hold) it
	by         string // who asked: a user's name, "schedule", "maintenance"
}

var errNotRoot = errors.New("checkpoints need lazarusd to run as root (jobs then run in PID namespaces of their own)")

// fullEvery is how often a job's generation is self-contained: its
// queue's ckpt_full_every, else the server's checkpoint_full_every.
func (d *Daemon) fullEvery(j *jobs.Job) int {
	if q := d.store.View().Queue(j.Queue); q != nil && q.CkptFullEvery > 0 {
		return q.CkptFullEvery
	}
	return max(d.config().CheckpointFullEvery, 1)
}

// incrementalParent returns the generation the next checkpoint of j is
// incremental against: its newest, or, before the first checkpoint of a
// run restarted from a generation, that one (its processes' trackers are
// armed against it, supervisor.Spec.Track), if good and its chain is
// shorter than fullEvery; 0: a self-contained one, which the first
// checkpoint of a run restarted lazily always is.
func (d *Daemon) incrementalParent(j *jobs.Job) jobs.Generation {
	n := d.fullEvery(j)
	if n <= 1 || len(j.Checkpoints) == 0 {
		return jobs.Generation{}
	}
	g := j.Checkpoints[0]
	if seg, open := j.Current(); open && seg.Restart && seg.Generation > 0 && !g.Time.After(seg.Start) {
		if seg.Lazy {
			// Restored lazily: no tracker (the pages came in through
			// the loader's userfaultfd, which holds the regions). This
			// checkpoint is self-contained and arms one.
			return jobs.Generation{}
		}
		g = jobs.Generation{}
		for _, x := range j.Checkpoints {
			if x.N == seg.Generation {
				g = x
			}
		}
	}
	if g.N == 0 || !g.Good() || j.ChainLength(g.N) >= n {
		return jobs.Generation{}
	}
	return g
}

// keep is how many good generations a job keeps: its queue's ckpt_keep,
// else the server's checkpoint_keep.
func (d *Daemon) keep(j *jobs.Job) int {
	if q := d.store.View().Queue(j.Queue); q != nil && q.CkptKeep > 0 {
		return q.CkptKeep
	}
	return d.config().CheckpointKeep
}

// compress is the compression level of the images of a job of queue: its
// ckpt_compress (true: the server's level, or 1), else the server's
// checkpoint_compress.
func (d *Daemon) compress(queue string) int {
	level := d.config().CheckpointCompress
	if q := d.store.View().Queue(queue); q != nil {
		switch q.CkptCompress {
		case 1:
			return max(level, 1)
		case -1:
			return 0
		}
	}
	return level
}

// beginCheckpoint starts a checkpoint of a running job, or returns the one
// in progress (busy true), which the caller may wait for.
func (d *Daemon) beginCheckpoint(id jobs.ID, req ckptRequest) (op *ckptOp, busy bool, retErr error) {
	if d.uid != 0 {
		return nil, false, conflict("job %s: %v", id, errNotRoot)
	}
	if what, err, ok := d.records.waiting(id); ok {
		return nil, false, conflict("job %s: %s is not recorded yet, the state directory cannot be written (%v); it is recorded once there is space", id, what, err)
	}
	d.ckpts.mu.Lock()
	if cur := d.ckpts.ops[id]; cur != nil {
		d.ckpts.mu.Unlock()
		return cur, true, nil
	}
	op = &ckptOp{stop: req.stop, done: make(chan struct{})}
	d.ckpts.ops[id] = op
	d.ckpts.tried[id] = time.Now()
	d.ckpts.mu.Unlock()
	mine := op
	defer func() {
		if retErr != nil {
			d.ckpts.mu.Lock()
			delete(d.ckpts.ops, id)
			d.ckpts.mu.Unlock()
			close(mine.done)
		}
	}()
	now := time.Now().Round(0)
	var parent jobs.Generation
	track := false
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if !j.Checkpoint.Checkpointable() {
			return conflict("job %s has checkpoint policy n: it is never checkpointed (qchkpnt -i changes that)", id)
		}
		if why := j.NotCheckpointable(); why != "" {
			return conflict("job %s: %s", id, why)
		}
		if j.State != jobs.Running {
			return conflict("job %s is %s; only running jobs can be checkpointed", id, j.State)
		}
		parent = d.incrementalParent(j)
		track = d.fullEvery(j) > 1
		o, err := j.BeginCheckpoint(jobs.CheckpointOp{Requeue: req.stop, Hold: req.hold, By: req.by}, now)
		op.gen = o.Gen
		return err
	})
	if err != nil {
		return nil, false, unknownJob(err, id)
	}
	log := d.log.With("job_id", id, "gen", op.gen)
	fail := func(err error) (*ckptOp, bool, error) {
		res := supervisor.CheckpointResult{JobID: uint64(id), Gen: op.gen, Error: err.Error()}
		d.finishCheckpoint(id, op, res)
		return op, false, nil
	}
	runDir := d.jobRunDir(id)
	var st supervisor.Status
	// A job that has just started: its supervisor records its pid once it
	// runs (or has been restored).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err = supervisor.Probe(runDir); err != nil {
			return fail(err)
		}
		if !st.Alive || st.Exit != nil || (st.Info != nil && st.Info.Job.PID > 0) || time.Now().After(deadline) {
			break
		}
	}
	if !st.Alive || st.Info == nil || st.Info.Job.PID <= 0 {
		return fail(errors.New("the job's processes are not running"))
	}
	cfg := d.config()
	creq := supervisor.CheckpointRequest{
		JobID: uint64(id), RunDir: runDir, Job: st.Info.Job, Gen: op.gen, Dir: d.genDir(id, op.gen),
		Stop: req.stop, Hold: req.hold, KeyFile: d.keyFile, Compress: d.compress(j.Queue), Track: track,
		Prologue:    d.pelogPath(cfg.CheckpointPrologue, "checkpoint_prologue"),
		Epilogue:    d.pelogPath(cfg.CheckpointEpilogue, "checkpoint_epilogue"),
		HookTimeout: cfg.PelogTimeout,
		User:        j.Owner.Name, Group: groupOf(j.Owner.GID), By: req.by,
	}
	if parent.N > 0 {
		creq.Parent, creq.ParentGen = parent.Image(), parent.N
	}
	arg, err := json.Marshal(creq)
	if err != nil {
		return fail(err)
	}
	logf, err := os.OpenFile(filepath.Join(runDir, supervisor.CkptLogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	var out bytes.Buffer
	cmd := exec.Command(d.opts.Exe, "checkpoint-job", string(arg))
	cmd.Args[0] = "lazarusd"
	cmd.Dir, cmd.Env = "/", []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = &out, logf
	// A session of its own: stopping or killing the daemon (or its process
	// group) must not stop a checkpoint in the middle of an injected
	// system call of the job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start the checkpoint helper: %w", err))
	}
	log.Info("checkpoint started", "by", req.by, "stop", req.stop, "helper", cmd.Process.Pid)
	// Ends when the helper does. If the daemon stops first, the result
	// may not be recorded (the store is closed): the next daemon finds it
	// in the run directory (recoverCheckpoint).
	go func() {
		werr := cmd.Wait()
		var res supervisor.CheckpointResult
		if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &res); err != nil || res.Gen != op.gen {
			// Its recorded result, or what its directory holds.
			res = d.helperResult(id, op.gen, werr)
		}
		d.finishCheckpoint(id, op, res)
	}()
	return op, false, nil
}

// helperResult finds out how a checkpoint ended whose helper said nothing
// (it died, or belonged to a daemon that stopped).
func (d *Daemon) helperResult(id jobs.ID, gen int, werr error) supervisor.CheckpointResult {
	if r, _, err := supervisor.ReadCheckpointResult(d.jobRunDir(id)); err == nil && r != nil && r.Gen == gen {
		return *r
	}
	if r, ok := supervisor.ReadGeneration(d.genDir(id, gen), gen); ok {
		r.JobID = uint64(id)
		return r
	}
	why := "the checkpoint was interrupted"
	if werr != nil {
		why = "the checkpoint helper failed: " + werr.Error()
	}
	os.RemoveAll(d.genDir(id, gen))
	return supervisor.CheckpointResult{JobID: uint64(id), Gen: gen, Error: why}
}

// finishCheckpoint records how a checkpoint ended, deletes the generations
// it made superfluous, and lets waiters go. A result that cannot be
// recorded (the state directory is full) waits in the recorder, tried
// again until it is: the job never stays checkpointing with no checkpoint
// running.
func (d *Daemon) finishCheckpoint(id jobs.ID, op *ckptOp, res supervisor.CheckpointResult) {
	var unrecorded error
	d.record(id, fmt.Sprintf("the end of checkpoint %d", res.Gen), func() error {
		err := d.recordCheckpoint(id, res)
		if unrecorded == nil {
			unrecorded = err // the first try's, for the waiters
		} else if err == nil {
			d.reschedule(id)
		}
		return err
	})
	if res.OK && unrecorded == nil {
		// Before the next checkpoint of the job can start: it reads the
		// chain of the newest generation.
		d.mergeGenerations(id)
	}
	if op != nil {
		op.res, op.unrecorded = res, unrecorded
		d.ckpts.mu.Lock()
		if d.ckpts.ops[id] == op {
			delete(d.ckpts.ops, id)
		}
		d.ckpts.mu.Unlock()
		close(op.done)
	}
	d.reschedule(id)
}

// recordCheckpoint records how a checkpoint ended and does what follows:
// deletes the generations it made superfluous, stops a job checkpointed to
// be requeued. Only a failure to write the store is returned.
func (d *Daemon) recordCheckpoint(id jobs.ID, res supervisor.CheckpointResult) error {
	log := d.log.With("job_id", id, "gen", res.Gen)
	now := time.Now().Round(0)
	var dropped []jobs.Generation
	stopping, recorded := false, false
	nj, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if !d.mine(j) {
			// A cluster node that lost the run (its lease): the job was
			// restarted elsewhere, from an older generation. Or the run
			// ended stopped by this very checkpoint, whose generation its
			// requeue recorded (recordRequeue), and the job has moved on:
			// that generation is the job's and stays.
			recorded = res.OK && hasGeneration(j, res.Gen)
			return errNotMine
		}
		if res.OK {
			stopping = j.Checkpointing != nil && j.Checkpointing.Gen == res.Gen && j.Checkpointing.Requeue
			dropped = j.CheckpointDone(res.Generation(), d.keep(j), now)
		} else {
			j.CheckpointFailed(res.Gen, res.Error, now)
		}
		if res.EpilogueError != "" {
			j.Event(now, "after checkpoint %d: %s", res.Gen, res.EpilogueError)
		}
		return nil
	})
	if err == nil && res.EpilogueError != "" {
		log.Warn("the checkpoint_epilogue failed", "error", res.EpilogueError)
	}
	switch {
	case errors.Is(err, queue.ErrNoJob):
		os.RemoveAll(d.genDir(id, res.Gen)) // deleted meanwhile
	case errors.Is(err, errNotMine) && recorded:
		log.Debug("checkpoint recorded already, by the requeue of the run it stopped")
	case errors.Is(err, errNotMine):
		log.Warn("a checkpoint of a run this node no longer holds is dropped")
		os.RemoveAll(d.genDir(id, res.Gen))
	case errors.Is(err, queue.ErrWrite):
		return err
	case err != nil:
		log.Error("cannot record a checkpoint", "error", err)
	case res.OK:
		log.Info("checkpoint done", "size", res.Size, "frozen", time.Duration(res.Frozen),
			"duration", time.Duration(res.Duration), "stopped", res.Stopped)
		// The record is durable: what it no longer lists can go.
		for _, g := range dropped {
			d.removeGeneration(id, g)
		}
		if stopping && !res.Stopped {
			// Durable, but whether the helper stopped the job is unknown
			// (it died, with a previous daemon): stop it, as asked.
			d.killJob(id)
		}
	case !nj.State.Active():
		log.Warn("checkpoint failed; the job ended meanwhile", "state", nj.State, "error", res.Error)
	default:
		log.Warn("checkpoint failed; the job runs on", "error", res.Error)
	}
	return nil
}

// mergeGenerations merges the images of the job's kept generations that
// the merge policy says to (jobs.ToMerge: a chain longer than the job's
// fullEvery, or more bytes held than keep+1 full images), and records
// each merged one as self-contained: the generations only it needed are
// then deleted. The order makes a crash at any point harmless: a
// generation's images are merged durably (each under a temporary name,
// renamed over the old one) while the record still lists the generations
// below it, which are deleted only once the record of the merge is
// durable. A merge that fails leaves the chain as it was, kept whole.
// Jobs that are not running (a checkpoint stopped this one: it may be
// restarting from the chain already) are merged at their next checkpoint.
func (d *Daemon) mergeGenerations(id jobs.ID) {
	j := d.store.View().Job(id)
	if j == nil || j.State != jobs.Running || !d.mine(j) {
		return
	}
	ctx := d.ctx
	if ctx == nil { // not started by Run (tests)
		ctx = context.Background()
	}
	keep := d.keep(j)
	for _, n := range j.ToMerge(keep, d.fullEvery(j)) {
		var g jobs.Generation
		for _, x := range j.Checkpoints {
			if x.N == n {
				g = x
			}
		}
		log := d.log.With("job_id", id, "gen", n)
		if filepath.Dir(g.Dir) != d.ckptDir(id) {
			log.Error("not merging a generation outside the job's checkpoint directory", "dir", g.Dir)
			return
		}
		start := time.Now()
		size, err := supervisor.MergeGeneration(ctx, log, g.Dir, d.keyFile)
		if err != nil {
			log.Warn("cannot merge a generation; the ones it needs are kept", "error", err)
			return
		}
		var dropped []jobs.Generation
		_, err = d.store.UpdateJob(id, func(j *jobs.Job) error {
			if !d.mine(j) {
				return errNotMine
			}
			var ok bool
			if dropped, ok = j.Merged(n, size, d.keep(j)); !ok {
				return errNotMine // pruned meanwhile
			}
			return nil
		})
		if err != nil {
			// The images are self-contained and durable; the record still
			// lists their old parents, kept until a later merge records it.
			log.Warn("cannot record a merged generation", "error", err)
			return
		}
		log.Info("generation merged", "size", size, "duration", time.Since(start).Round(time.Millisecond), "dropped", len(dropped))
		for _, x := range dropped {
			d.removeGeneration(id, x)
		}
	}
}

// killJob kills a job's processes (its tree, from the init of its PID
// namespace) without its supervisor's grace: they have been checkpointed.
func (d *Daemon) killJob(id jobs.ID) {
	st, err := supervisor.Probe(d.jobRunDir(id))
	if err == nil && st.Alive && st.Info != nil && st.Info.Job.Alive() {
		d.log.Info("stopping a job checkpointed to be requeued", "job_id", id, "pid", st.Info.Job.PID)
		unix.Kill(st.Info.Job.PID, unix.SIGKILL)
	}
}

// removeGeneration deletes a generation's directory, which must be one of
// the job's own.
func (d *Daemon) removeGeneration(id jobs.ID, g jobs.Generation) {
	if filepath.Dir(g.Dir) != d.ckptDir(id) {
		d.log.Error("not deleting a generation outside the job's checkpoint directory", "job_id", id, "dir", g.Dir)
		return
	}
	if err := os.RemoveAll(g.Dir); err != nil {
		d.log.Error("cannot delete an old generation", "job_id", id, "dir", g.Dir, "error", err)
	}
}

// recoverCheckpoint settles, at start, the checkpoint a previous daemon
// left in progress: its helper may still run (we wait for it), may have
// recorded its result, or may have died.
func (d *Daemon) recoverCheckpoint(j *jobs.Job) {
	gen := j.Checkpointing.Gen
	res, running, err := supervisor.ReadCheckpointResult(d.jobRunDir(j.ID))
	if err != nil {
		d.log.Error("cannot read a checkpoint's result", "job_id", j.ID, "error", err)
	}
	if !running {
		if res == nil || res.Gen != gen {
			r := d.helperResult(j.ID, gen, nil)
			if !r.OK {
				r.Error = "interrupted: lazarusd stopped during the checkpoint"
			}
			res = &r
		}
		d.finishCheckpoint(j.ID, nil, *res)
		return
	}
	// The helper of the previous daemon still works: wait for its lock.
	op := &ckptOp{gen: gen, stop: j.Checkpointing.Requeue, done: make(chan struct{})}
	d.ckpts.mu.Lock()
	d.ckpts.ops[j.ID] = op
	d.ckpts.mu.Unlock()
	d.log.Info("a checkpoint started before this daemon is still in progress; waiting for it", "job_id", j.ID, "gen", gen)
	go func() {
		for {
			r, running, _ := supervisor.ReadCheckpointResult(d.jobRunDir(j.ID))
			if !running {
				res := d.helperResult(j.ID, gen, nil)
				if r != nil && r.Gen == gen {
					res = *r
				}
				d.finishCheckpoint(j.ID, op, res)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// stoppedOnPurpose tells whether a run that ended was stopped by a
// checkpoint that requeues it (qchkpnt -k, maintenance), or killed to be
// requeued: its run directory holds the requeue marker, the run did not
// end by itself, and the checkpoint it names is complete.
func (d *Daemon) stoppedOnPurpose(j *jobs.Job, rec *supervisor.Record) (*supervisor.Requeue, bool) {
	rq, err := supervisor.ReadRequeue(d.jobRunDir(j.ID))
	switch {
	case err != nil || rq == nil:
		return nil, false
	case rq.Gen == 0:
		return rq, rec.Reason == "killed" // by its supervisor, as we asked
	case rec.ExitCode != -1:
		return nil, false // it exited by itself before the checkpoint
	}
	_, ok := supervisor.ReadGeneration(d.genDir(j.ID, rq.Gen), rq.Gen)
	return rq, ok
}

// requeueStopped records the end of a run that was stopped on purpose:
// the generation is recorded (if its helper has not done so yet) and the
// job goes back to its queue, or is held.
func (d *Daemon) requeueStopped(j *jobs.Job, rec *supervisor.Record, rq *supervisor.Requeue) bool {
	now := time.Now().Round(0)
	ok, err := d.recordRequeue(j, rec, rq, now)
	if errors.Is(err, queue.ErrWrite) {
		// Tried again until recorded: as a requeue, or as the end of the
		// run if the job can no longer be requeued.
		first := true
		d.record(j.ID, "the requeue of a stopped run", func() error {
			if first {
				first = false
				return err
			}
			ok, err := d.recordRequeue(j, rec, rq, now)
			if err == nil && !ok {
				return d.recordEnd(j.ID, result(rec))
			}
			return err
		})
		return true
	}
	return ok
}

// recordRequeue is requeueStopped; false when the job is not requeued
// (deleted meanwhile, say), and only a failure to write the store is
// returned.
func (d *Daemon) recordRequeue(j *jobs.Job, rec *supervisor.Record, rq *supervisor.Requeue, now time.Time) (bool, error) {
	var dropped []jobs.Generation
	nj, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
		r := result(rec)
		by := rqBy(j)
		var why string
		switch g, ok := j.RestoreFrom(); {
		case rq.Gen > 0:
			if !hasGeneration(j, rq.Gen) {
				g, _ := supervisor.ReadGeneration(d.genDir(j.ID, rq.Gen), rq.Gen)
				dropped = j.CheckpointDone(g.Generation(), d.keep(j), now)
			}
			r.Reason = fmt.Sprintf("stopped after checkpoint %d", rq.Gen)
			why = fmt.Sprintf("requeued by %s after checkpoint %d; it restarts from it", by, rq.Gen)
			if rq.Hold {
				why = fmt.Sprintf("held by %s after checkpoint %d; qrls or qrestart restarts it", by, rq.Gen)
			}
		case ok:
			r.Reason = "stopped to be requeued"
			why = fmt.Sprintf("requeued by %s without a new checkpoint; it restarts from checkpoint %d", by, g.N)
		default:
			r.Reason = "stopped to be requeued"
			why = fmt.Sprintf("requeued by %s; it starts again from the beginning", by)
		}
		j.Event(now, "%s", why)
		return j.Requeue(r, why, rq.Hold)
	})
	if errors.Is(err, queue.ErrWrite) {
		return false, err
	}
	if err != nil {
		var te *jobs.TransitionError
		if !errors.As(err, &te) {
			d.log.Error("cannot requeue a stopped job", "job_id", j.ID, "error", err)
		}
		return false, nil // deleted meanwhile, say: an ordinary end
	}
	for _, g := range dropped {
		d.removeGeneration(j.ID, g)
	}
	d.log.Info("job stopped and requeued", "job_id", j.ID, "state", nj.State, "reason", nj.Reason)
	d.unschedule(j.ID)
	d.wake()
	return true, nil
}

func rqBy(j *jobs.Job) string {
	if j.Checkpointing != nil && j.Checkpointing.By != "" {
		return j.Checkpointing.By
	}
	return "an operator"
}

func hasGeneration(j *jobs.Job, n int) bool {
	for _, g := range j.Checkpoints {
		if g.N == n {
			return true
		}
	}
	return false
}

// restoreFailed handles a run whose restart from a checkpoint failed:
// the run goes on from the previous generation, or from the beginning of
// the script, or the job fails; each step is in its history.
func (d *Daemon) restoreFailed(j *jobs.Job, rec *supervisor.Record) {
	seg, _ := j.Current()
	gen := seg.Generation
	why, _ := strings.CutPrefix(rec.Reason, fmt.Sprintf("cannot restart from checkpoint %d: ", gen))
	now := time.Now().Round(0)
	d.record(j.ID, "a failed restart", func() error {
		var ok bool
		nj, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
			var err error
			_, ok, err = j.RestoreFailed(gen, why, now)
			return err
		})
		if errors.Is(err, queue.ErrWrite) {
			return err
		}
		if err != nil {
			d.log.Error("cannot record a failed restart", "job_id", j.ID, "error", err)
			return nil
		}
		d.log.Warn("restart from a checkpoint failed", "job_id", j.ID, "gen", gen, "error", why, "state", nj.State)
		if !ok {
			d.unschedule(j.ID)
			d.wake()
			return nil
		}
		d.launch(nj)
		return nil
	})
}
