package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lazarus/internal/supervisor"
	"lazarus/jobs"
)

// What a lost node leaves in shared_dir (cluster mode).
//
// The end of a run: a run that ends by itself after its node's daemon
// died (before the fence would kill it) leaves its end record in the
// node's run directory, which no other node reads. So each supervisor
// also writes it, durably, to shared_dir/ends/<job>.<segment>.<lease>
// (Spec.EndCopy) before the daemon can learn of the end; the server,
// handling the lost node (reconcile), records that end instead of
// requeueing the run. Only an end that tells what the job did is taken:
// a run killed by its fence, stopped by a checkpoint, killed to be
// requeued, a failed restore or prologue is a lost run as before. The
// copies of runs whose end is recorded are swept.
//
// Checkpoints: a checkpoint helper running on a node that is cut off is
// not fenced (only the job is), and may go on writing its generation into
// shared_dir/checkpoints after the server requeued the job. That
// generation is never recorded (Lost drops the checkpoint in progress, and
// the generation numbers go on from the job's LastGeneration, so no later
// checkpoint reuses its number), and a restart only uses recorded
// generations; its directory is removed by sweepGenerations, when the
// server handles the lost node and at every sweep after (the helper may
// finish later).

// endsSharedDir holds the supervisors' copies of their end records.
const endsSharedDir = "ends"

// sweepEvery is how often the server sweeps what lost nodes left.
const sweepEvery = 30 * time.Second

func (d *Daemon) endCopyPath(id jobs.ID, seg int, lease int64) string {
	return filepath.Join(d.cl.shared, endsSharedDir, fmt.Sprintf("%s.%d.%x", id, seg, lease))
}

// runEndCopy is the EndCopy of j's open run ("" on a single host).
func (d *Daemon) runEndCopy(j *jobs.Job) string {
	seg, ok := j.Current()
	if d.cl == nil || !ok || len(seg.Exec) == 0 {
		return ""
	}
	return d.endCopyPath(j.ID, len(j.Segments)-1, seg.Exec[0].Lease)
}

// lostRunEnd is the end record the supervisor of j's open run left in
// shared_dir, if it tells how the job itself ended; nil otherwise.
func (d *Daemon) lostRunEnd(j *jobs.Job) *supervisor.Record {
	seg, ok := j.Current()
	if !ok || len(seg.Exec) == 0 {
		return nil
	}
	n := len(j.Segments) - 1
	rec, err := supervisor.ReadEndCopy(d.endCopyPath(j.ID, n, seg.Exec[0].Lease), uint64(j.ID), n)
	if err != nil {
		d.log.Warn("the end record a lost node's run left is unreadable; the run is lost", "job_id", j.ID, "error", err)
		return nil
	}
	switch {
	case rec == nil, rec.RestoreFailed, rec.Prologue != nil, rec.Reason == supervisor.FenceReason:
		return nil
	case rec.ExitCode == -1 && j.Checkpointing != nil && j.Checkpointing.Requeue:
		return nil // stopped by the checkpoint that migrates it
	case rec.Reason == "killed" && j.State != jobs.Exiting:
		return nil // killed to be requeued (qrerun)
	}
	return rec
}

// endLostRun closes j's open run with the end its supervisor recorded.
func endLostRun(j *jobs.Job, rec *supervisor.Record, why string) error {
	if rec.Epilogue != "" {
		j.Event(rec.End, "the epilogue failed: %s", rec.Epilogue)
	}
	j.Event(time.Now().Round(0), "the run had ended before its node was lost (%s): its end is the one its supervisor recorded", why)
	return j.End(result(rec))
}

// sweepGenerations removes the generation directories of j that are not
// recorded and not being written by its checkpoint in progress: what a
// helper of a lost run left. A directory numbered above j.LastGeneration
// is a checkpoint begun after this view of j: it stays.
func (d *Daemon) sweepGenerations(j *jobs.Job) {
	entries, err := os.ReadDir(d.ckptDir(j.ID))
	if err != nil {
		return
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 0 || n > j.LastGeneration || hasGeneration(j, n) ||
			(j.Checkpointing != nil && j.Checkpointing.Gen == n) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(d.ckptDir(j.ID), e.Name())); err != nil {
			d.log.Warn("cannot remove an unrecorded checkpoint", "job_id", j.ID, "gen", n, "error", err)
			continue
		}
		d.log.Info("removed a checkpoint that was never recorded (left by a lost run)", "job_id", j.ID, "gen", n)
	}
}

// sweepLost removes, on the server, the generations never recorded of
// every job that has a checkpoint directory, and the end copies of runs
// whose end is recorded (or whose job is gone).
func (d *Daemon) sweepLost() {
	v := d.store.View()
	if entries, err := os.ReadDir(filepath.Join(d.cl.shared, ckptSharedDir)); err == nil {
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ckptSuffix)
			if !ok {
				continue
			}
			id, err := jobs.ParseID(name)
			if err != nil {
				continue
			}
			if j := v.Job(id); j != nil {
				d.sweepGenerations(j)
			}
		}
	}
	dir := filepath.Join(d.cl.shared, endsSharedDir)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // a copy being written
		}
		rest, _, ok := cutLast(name, ".") // the lease
		if !ok {
			continue
		}
		idPart, segPart, ok := cutLast(rest, ".")
		seg, err := strconv.Atoi(segPart)
		if !ok || err != nil {
			continue
		}
		id, err := jobs.ParseID(idPart)
		if err != nil {
			continue
		}
		if j := v.Job(id); j != nil && (seg >= len(j.Segments) || j.Segments[seg].Open()) {
			continue // its end is not recorded yet
		}
		os.Remove(filepath.Join(dir, name))
	}
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
