package daemon

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
)

// Job arrays: the array job's record holds one state byte per subjob; a
// subjob gets a record of its own when it starts (queue.StartSubjob) and
// from then on is a job like any other (checkpointed, requeued, restarted
// on its own). syncArray folds the ends of subjob records back into the
// array's bytes and settles the array's state; it is idempotent, and runs
// after every subjob end or deletion and at start-up (a crash between the
// two records is made good then).

// arrayIndexPattern is PBS's placeholder for the subjob index in an array
// job's output paths (Output_Path "name.o12.^array_index^").
const arrayIndexPattern = "^array_index^"

// arrayPaths sets an array job's output paths: PBS's default is
// NAME.oN.INDEX (NAME.eN.INDEX), through the ^array_index^ placeholder
// that each subjob replaces; Slurm patterns (%A %a %j) are left for the
// subjobs to expand.
func arrayPaths(j *jobs.Job, req *proto.SubmitRequest) {
	def := func(given, kind string) string {
		p := outputPath(given, j.Workdir, j.Name, kind, j.ID)
		if given == "" || strings.HasSuffix(given, "/") {
			p += "." + arrayIndexPattern
		}
		return p
	}
	j.Stdout, j.Stderr = def(req.Stdout, "o"), def(req.Stderr, "e")
}

// subjobPaths expands a subjob's output paths from its array's.
func subjobPaths(s *jobs.Job) {
	idx := strconv.Itoa(s.ID.Index())
	for _, p := range []*string{&s.Stdout, &s.Stderr} {
		*p = strings.ReplaceAll(*p, arrayIndexPattern, idx)
		if s.Attrs.Slurm {
			out, err := jobs.ExpandSlurmFilename(*p, func(l byte) (string, bool) {
				switch l {
				case 'j', 'J':
					return s.ID.String(), true
				case 'A':
					return s.ID.Base().String(), true
				case 'a':
					return idx, true
				}
				return slurmCommon(l, s)
			})
			if err == nil {
				*p = out
			}
		}
	}
}

// startSubjob makes the record of a subjob the scheduler picked and starts
// it, in one transaction with its array's byte.
func (d *Daemon) startSubjob(id jobs.ID) { d.startSubjobOn(id, nil) }

// startSubjobOn is startSubjob with a placement on cluster nodes.
func (d *Daemon) startSubjobOn(id jobs.ID, exec []jobs.Chunk) {
	now := time.Now().Round(0)
	began := false
	sub, err := d.store.StartSubjob(id.Base(), id.Index(), func(arr, s *jobs.Job) error {
		if arr.State != jobs.Queued && arr.State != jobs.Begun {
			return errNotPending
		}
		subjobPaths(s)
		s.Script = d.spoolPath(s.ID)
		if err := s.Start(now); err != nil {
			return err
		}
		began = arr.State == jobs.Queued
		if d.cl != nil {
			if err := s.SetExec(d.placed(exec)); err != nil {
				return err
			}
		}
		return arr.Settle(now)
	})
	switch {
	case errors.Is(err, errNotPending), errors.Is(err, queue.ErrNotQueued), errors.Is(err, queue.ErrNoJob):
		return
	case err != nil:
		d.log.Error("cannot record the start of a subjob", "job_id", id, "error", err)
		return
	}
	if began {
		d.log.Info("array job begun", "job_id", jobs.ArrayForm(id.Base()), "subjob", id)
	}
	if d.cl != nil {
		if d.mine(sub) {
			d.kickNode()
		}
		return
	}
	d.launch(sub)
}

// syncArray folds the state of array id's subjob records into its bytes:
// a record that ended is SubOK or SubFailed, one that is gone (deleted) is
// SubDeleted; then the array's state is settled.
func (d *Daemon) syncArray(id jobs.ID) {
	v := d.store.View()
	if a := v.Job(id); a == nil || a.Array == nil || a.State.Terminal() {
		return
	}
	_, err := d.store.UpdateJob(id, func(a *jobs.Job) error {
		// A view taken under the array's lock: a subjob's record and its
		// byte are written together under it (queue.StartSubjob), so
		// every SubRecord byte has its record here.
		v := d.store.View()
		for pos, st := range a.Array.States {
			if st != jobs.SubRecord {
				continue
			}
			r := v.Job(jobs.SubjobID(id, a.Array.IndexAt(pos)))
			switch {
			case r == nil:
				a.Array.States[pos] = jobs.SubDeleted
			case r.State == jobs.Finished:
				a.Array.States[pos] = jobs.SubOK
			case r.State == jobs.Failed:
				a.Array.States[pos] = jobs.SubFailed
				st, ok := r.ExitStatus()
				if !ok || st == 0 || st < 0 && strings.HasPrefix(r.Reason, "deleted by ") {
					// Failed all the same; deleted by a user (killed,
					// even before its script ran), not by the system.
					st = 1
				}
				a.Array.Ended(st)
			}
		}
		return a.Settle(time.Now().Round(0))
	})
	if err != nil && !errors.Is(err, queue.ErrNoJob) {
		d.log.Error("cannot record the state of an array's subjobs", "job_id", id, "error", err)
		return
	}
	if a := d.store.View().Job(id); a != nil && a.State.Terminal() {
		d.log.Info("array job ended", "job_id", jobs.ArrayForm(id), "state", a.State, "exit_status", a.Array.ExitStatus(), "reason", a.Reason)
	}
	d.wake()
}

// subjobEnded is called when a subjob's record has ended or is gone.
func (d *Daemon) subjobEnded(id jobs.ID) {
	if id.IsSubjob() {
		d.syncArray(id.Base())
	}
}

// syncArrays settles every array that has not ended (at start-up).
func (d *Daemon) syncArrays() {
	for j := range d.store.View().Unended() {
		if j.Array != nil {
			d.syncArray(j.ID)
		}
	}
}

// arrayOf returns the array job a request is about when it names one
// (N[], or N of an array job), else nil.
func arrayOf(v *queue.View, id jobs.ID) *jobs.Job {
	if id.IsSubjob() {
		return nil
	}
	if j := v.Job(id.Base()); j != nil && j.Array != nil {
		return j
	}
	return nil
}

// unstarted returns the array of a subjob that has no record, and its
// stored state; ok is false when id is not such a subjob.
func unstarted(v *queue.View, id jobs.ID) (arr *jobs.Job, st byte, ok bool, err error) {
	if !id.IsSubjob() || v.Job(id) != nil {
		return nil, 0, false, nil
	}
	arr = v.Job(id.Base())
	if arr == nil || arr.Array == nil {
		return nil, 0, false, notFound("unknown job id %s", id)
	}
	st, has := arr.Array.State(id.Index())
	if !has {
		return nil, 0, false, notFound("unknown job id %s: array %s has no index %d", id, jobs.ArrayForm(arr.ID), id.Index())
	}
	return arr, st, true, nil
}

// setUnstarted changes the stored state of a subjob that has no record,
// from one of from to to.
func (d *Daemon) setUnstarted(who caller, id jobs.ID, from []byte, to byte) (*jobs.Job, error) {
	return d.store.UpdateJob(id.Base(), func(a *jobs.Job) error {
		if err := d.mayManage(who, a); err != nil {
			return err
		}
		st, _ := a.Array.State(id.Index())
		if !strings.ContainsRune(string(from), rune(st)) {
			return conflict("job %s is %s", id, subStateName(st))
		}
		if d.store.View().Job(id) != nil {
			return conflict("job %s has just started; try again", id)
		}
		if err := a.SetSubjob(id.Index(), to); err != nil {
			return err
		}
		return a.Settle(time.Now().Round(0))
	})
}

func subStateName(st byte) string {
	switch st {
	case jobs.SubQueued:
		return "queued"
	case jobs.SubHeld:
		return "held"
	case jobs.SubRecord:
		return "running"
	case jobs.SubOK:
		return "finished"
	case jobs.SubFailed:
		return "failed"
	case jobs.SubDeleted:
		return "deleted"
	}
	return "unknown"
}

// deleteArray handles qdel of a whole array: subjobs that have not
// started are deleted, those that wait to run again are removed, running
// ones are killed; the array ends once they have. An array none of whose
// subjobs started is removed outright, like a queued job.
func (d *Daemon) deleteArray(who caller, arr *jobs.Job) (any, error) {
	if err := d.mayManage(who, arr); err != nil {
		return nil, err
	}
	id := arr.ID
	if arr.State.Terminal() {
		return nil, conflict("job %s has already %s", jobs.ArrayForm(id), arr.State)
	}
	now := time.Now().Round(0)
	a, err := d.store.UpdateJob(id, func(a *jobs.Job) error {
		for pos, st := range a.Array.States {
			if st == jobs.SubQueued || st == jobs.SubHeld {
				a.Array.States[pos] = jobs.SubDeleted
			}
		}
		a.Reason = "deleted by " + who.name
		return nil
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	if n := a.Array.Count(); n[jobs.SubRecord]+n[jobs.SubOK]+n[jobs.SubFailed] == 0 {
		if _, err := d.store.DeleteJob(id, nil); err != nil {
			return nil, unknownJob(err, id)
		}
		d.removeFiles(a)
		d.log.Info("array job deleted", "job_id", jobs.ArrayForm(id), "by", who.name)
		return proto.JobReply{ID: uint64(jobs.ArrayForm(id)), State: "deleted"}, nil
	}
	for sub := range d.store.View().Subjobs(id) {
		d.deleteSubjobRecord(who, sub, now)
	}
	d.syncArray(id)
	d.log.Info("array job being deleted", "job_id", jobs.ArrayForm(id), "by", who.name)
	st := "deleted"
	if cur := d.store.View().Job(id); cur != nil {
		st = string(cur.State)
	}
	return proto.JobReply{ID: uint64(jobs.ArrayForm(id)), State: st}, nil
}

// deleteSubjobRecord deletes one started subjob as qdel deletes a job.
func (d *Daemon) deleteSubjobRecord(who caller, sub *jobs.Job, now time.Time) {
	switch {
	case sub.State.Removable():
		if removed, err := d.store.DeleteJob(sub.ID, func(j *jobs.Job) error {
			if !j.State.Removable() {
				return errNotPending
			}
			return nil
		}); err == nil {
			d.removeFiles(removed)
		}
	case sub.State.Active() && sub.State != jobs.Exiting:
		if _, err := d.store.UpdateJob(sub.ID, func(j *jobs.Job) error { return j.Kill(who.name, now) }); err == nil {
			if _, err := d.watch.signal(sub.ID, unix.SIGTERM); err != nil {
				d.log.Error("cannot signal a supervisor", "job_id", sub.ID, "error", err)
			}
		}
	}
}

// holdArray and releaseArray hold and release a whole array: its subjobs
// that wait to start do not start while it is held; those running go on.
func (d *Daemon) holdArray(who caller, arr *jobs.Job) (any, error) {
	a, err := d.store.UpdateJob(arr.ID, func(a *jobs.Job) error {
		if err := d.mayManage(who, a); err != nil {
			return err
		}
		if a.State == jobs.Held && a.Depend != nil && a.Depend.Waiting {
			return holdDepend(a, who.name)
		}
		if a.State != jobs.Queued && a.State != jobs.Begun {
			return conflict("job %s is %s; only queued or begun arrays can be held", jobs.ArrayForm(a.ID), a.State)
		}
		return a.Hold(who.name, time.Now().Round(0))
	})
	if err != nil {
		return nil, unknownJob(err, arr.ID)
	}
	return proto.JobReply{ID: uint64(jobs.ArrayForm(a.ID)), State: string(a.State)}, nil
}

func (d *Daemon) releaseArray(who caller, arr *jobs.Job) (any, error) {
	a, err := d.store.UpdateJob(arr.ID, func(a *jobs.Job) error {
		if err := d.mayManage(who, a); err != nil {
			return err
		}
		if a.State != jobs.Held {
			return conflict("job %s is %s, not held", jobs.ArrayForm(a.ID), a.State)
		}
		if a.Depend != nil && a.Depend.Waiting {
			return releaseDepend(a)
		}
		now := time.Now().Round(0)
		if err := a.Release(now); err != nil {
			return err
		}
		return a.Settle(now)
	})
	if err != nil {
		return nil, unknownJob(err, arr.ID)
	}
	d.wake()
	return proto.JobReply{ID: uint64(jobs.ArrayForm(a.ID)), State: string(a.State)}, nil
}

// subjobOp handles qdel, qhold and qrls of a subjob that has not started.
func (d *Daemon) subjobOp(who caller, id jobs.ID, op string) (any, error) {
	var from []byte
	var to byte
	switch op {
	case proto.OpDelete:
		from, to = []byte{jobs.SubQueued, jobs.SubHeld}, jobs.SubDeleted
	case proto.OpHold:
		from, to = []byte{jobs.SubQueued}, jobs.SubHeld
	case proto.OpRelease:
		from, to = []byte{jobs.SubHeld}, jobs.SubQueued
	}
	a, err := d.setUnstarted(who, id, from, to)
	if err != nil {
		return nil, unknownJob(err, id)
	}
	st, _ := a.Array.State(id.Index())
	if op == proto.OpDelete {
		d.log.Info("subjob deleted", "job_id", id, "by", who.name)
		if a.State.Terminal() {
			d.log.Info("array job ended", "job_id", jobs.ArrayForm(a.ID), "state", a.State, "exit_status", a.Array.ExitStatus(), "reason", a.Reason)
		}
	}
	d.wake()
	return proto.JobReply{ID: uint64(id), State: subStateName(st)}, nil
}

// subjobInfo is what qstat shows of a subjob that has no record.
func subjobInfo(arr *jobs.Job, index int, st byte) proto.JobInfo {
	state := map[byte]jobs.State{
		jobs.SubQueued: jobs.Queued, jobs.SubHeld: jobs.Held, jobs.SubOK: jobs.Finished,
		jobs.SubFailed: jobs.Failed, jobs.SubDeleted: jobs.Failed,
	}[st]
	if st == jobs.SubQueued && arr.State == jobs.Held {
		state = jobs.Held
	}
	info := proto.JobInfo{
		ID: uint64(jobs.SubjobID(arr.ID, index)), Name: arr.Name, User: arr.Owner.Name, State: string(state),
		Queue: arr.Queue, UID: arr.Owner.UID, NCPUs: arr.Resources.NCPUs, MemBytes: arr.Resources.Mem,
		WalltimeSec: arr.Resources.Walltime.Seconds(), Hold: state == jobs.Held,
	}
	if st == jobs.SubDeleted {
		info.Reason = "deleted before it started"
	}
	return info
}

// arrayCount is PBS's array_state_count of an array: its subjobs by PBS
// state letter (records say for those that started).
func arrayCount(v *queue.View, arr *jobs.Job) map[string]int {
	out := map[string]int{"Queued": 0, "Running": 0, "Exiting": 0, "Expired": 0}
	for pos, st := range arr.Array.States {
		switch st {
		case jobs.SubQueued, jobs.SubHeld:
			out["Queued"]++
		case jobs.SubOK, jobs.SubFailed, jobs.SubDeleted:
			out["Expired"]++
		case jobs.SubRecord:
			r := v.Job(jobs.SubjobID(arr.ID, arr.Array.IndexAt(pos)))
			switch {
			case r == nil || r.State.Terminal():
				out["Expired"]++
			case r.State == jobs.Exiting:
				out["Exiting"]++
			case r.State.Active():
				out["Running"]++
			default:
				out["Queued"]++
			}
		}
	}
	return out
}

// dependHeld is the refusal of qrls for a job held for its dependencies.
func dependHeld(j *jobs.Job) error {
	return conflict("job %s is held for its dependencies (%s): it is released when they are satisfied, and deleted if they cannot be",
		displayID(j), j.Depend.String())
}

// displayID is the id a job is known by: N[] for an array.
func displayID(j *jobs.Job) string {
	if j.Array != nil {
		return jobs.ArrayForm(j.ID).String()
	}
	return j.ID.String()
}

// wholeArray refuses an operation on an array job as a whole (or on a
// subjob that has not started) that only a started job can take.
func (d *Daemon) wholeArray(id jobs.ID) error {
	v := d.store.View()
	if arr := arrayOf(v, id); arr != nil {
		return badRequest("job %s is an array job: name one of its subjobs (%s) that has started", jobs.ArrayForm(arr.ID), jobs.SubjobID(arr.ID, arr.Array.IndexAt(0)))
	}
	if _, st, ok, err := unstarted(v, id); err != nil || ok {
		if err != nil {
			return err
		}
		return conflict("job %s is %s: it has not started", id, subStateName(st))
	}
	return nil
}
