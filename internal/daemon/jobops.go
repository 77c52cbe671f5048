package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
)

// submit handles qsub: every option is validated here, and the job is
// stored with its script and environment; the id is the acknowledgement.
// A submission with a key that names one of the caller's jobs is a retry
// of one whose reply was lost: it gets that job, and stores nothing.
func (d *Daemon) submit(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.SubmitRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if d.uid != 0 && int(who.uid) != d.uid {
		return nil, denied("lazarusd runs as uid %d, not root, so it runs only that user's jobs", d.uid)
	}
	if err := validKey(req.Key); err != nil {
		return nil, err
	}
	if req.Key != "" {
		// Answered before the options are checked again: the first
		// submission passed, and what changed since (a queue disabled)
		// does not undo it.
		if reply, ok, err := d.submitted(who, req.Key); ok || err != nil {
			return reply, err
		}
	}
	if len(req.Script) > proto.MaxScript {
		return nil, badRequest("the script is %d bytes, more than the %d a job script may have", len(req.Script), proto.MaxScript)
	}
	adding := 1
	if req.Array != "" {
		if a, err := jobs.ParseArray(req.Array); err == nil {
			adding = a.Len() // each subjob counts (PBS's limits count them so)
		}
	}
	if err := d.userJobsLimit(who, adding); err != nil {
		return nil, err
	}
	j, err := d.newJob(who, &req)
	if err != nil {
		return nil, err
	}
	if req.Array != "" {
		if j.Array, err = jobs.ParseArray(req.Array); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	before, err := d.submitDepend(who, &req, j)
	if err != nil {
		return nil, err
	}
	// Checked again, atomically, when the job is stored; checking first
	// spares the usual mistakes a job id.
	if err := checkQueue(d.store.View(), j.Queue); err != nil {
		return nil, err
	}
	var env []byte
	for _, kv := range req.Env {
		env = append(append(env, kv...), 0)
	}
	j.ID = d.store.NextID()
	if j.Array != nil && j.ID > jobs.MaxArrayID {
		return nil, conflict("job id %d is past the highest an array job may have (%d)", j.ID, jobs.MaxArrayID)
	}
	if j.Array != nil {
		arrayPaths(j, &req)
	} else {
		d.jobPaths(j, &req)
	}
	j.Script = d.spoolPath(j.ID)
	check := func(v *queue.View) error { return checkQueue(v, j.Queue) }
	var dup bool
	var id jobs.ID
	if len(before) == 0 && req.Key == "" {
		err = d.store.Submit(j, req.Script, env, check)
	} else if len(before) == 0 {
		id, dup, err = d.store.SubmitOnce(req.Key, j, req.Script, env, check)
	} else {
		// The conditions it puts on the jobs it names are stored with
		// it, in its transaction.
		ids, fn := beforeLinks(j, before)
		id, dup, err = d.store.SubmitLinked(req.Key, j, req.Script, env, check, ids, fn)
	}
	if err == nil && dup {
		// The same key in flight twice: the other one stored it.
		reply, _, err := d.submittedID(who, req.Key, id)
		return reply, err
	}
	if errors.Is(err, queue.ErrNoJob) {
		return nil, notFound("dependency: %v", err) // deleted since it was looked at
	}
	if err != nil {
		return nil, err
	}
	for _, c := range before {
		d.log.Info("dependency added", "job_id", c.ID, "on", displayID(j), "kind", c.Kind)
	}
	d.log.Debug("job submitted", "job_id", displayID(j), "queue", j.Queue, "user", who.name)
	d.wake()
	id = j.ID
	if j.Array != nil {
		id = jobs.ArrayForm(j.ID)
	}
	return proto.SubmitReply{ID: uint64(id), Queue: j.Queue, Server: d.config().Server()}, nil
}

// userJobsLimit refuses adding jobs (an array's subjobs) to a user who
// would then have more than max_user_jobs (root and operators have no
// limit): every job keeps its script in the state directory until it is
// purged, and the spool is everyone's. Each subjob of an array counts,
// as PBS's limits count them: an array of a million subjobs is as heavy
// to list (qstat -t) and to run as a million jobs.
func (d *Daemon) userJobsLimit(who caller, adding int) error {
	limit := d.config().MaxUserJobs
	if limit <= 0 || d.operator(who) {
		return nil
	}
	n := 0
	for j := range d.store.View().JobsOf(who.uid) {
		switch {
		case j.ID.IsSubjob():
			continue // its array's, which is counted
		case j.Array != nil:
			n += j.Array.Len()
		default:
			n++
		}
		if n+adding > limit {
			break
		}
	}
	if n+adding <= limit {
		return nil
	}
	if adding > 1 {
		return conflict("%s has %d jobs and an array of %d subjobs would make %d, more than the %d one user may have (max_user_jobs: each subjob counts, ended ones included until they are purged); submit a smaller array, or delete some jobs (qdel) and try again", who.name, n, adding, n+adding, limit)
	}
	return conflict("%s has %d jobs, the most one user may have (max_user_jobs: each subjob of an array counts, ended ones included until they are purged); delete some (qdel) and try again", who.name, n)
}

// validKey checks a submission key: 1 to MaxKey letters, digits, '-' or
// '_' ("" is no key).
func validKey(key string) error {
	if len(key) > proto.MaxKey {
		return badRequest("submission key of %d bytes: at most %d", len(key), proto.MaxKey)
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return badRequest("submission key %q: want letters, digits, '-' and '_'", key)
		}
	}
	return nil
}

// submitted answers a submission whose key names an existing job of the
// caller's; ok is false when it names none.
func (d *Daemon) submitted(who caller, key string) (proto.SubmitReply, bool, error) {
	id, err := d.store.Submitted(who.uid, key)
	if err != nil || id == 0 {
		return proto.SubmitReply{}, false, err
	}
	return d.submittedID(who, key, id)
}

func (d *Daemon) submittedID(who caller, key string, id jobs.ID) (proto.SubmitReply, bool, error) {
	reply := proto.SubmitReply{ID: uint64(id), Server: d.config().Server()}
	if j := d.store.View().Job(id); j != nil {
		reply.Queue = j.Queue
		if j.Array != nil {
			reply.ID = uint64(jobs.ArrayForm(id))
		}
	}
	d.log.Info("submission repeated with the same key: the job it made is the answer", "job_id", id, "user", who.name)
	return reply, true, nil
}

// checkQueue says whether a queue takes submissions.
func checkQueue(v *queue.View, name string) error {
	q := v.Queue(name)
	if q == nil {
		return notFound("unknown queue %q", name)
	}
	if !q.Enabled {
		return conflict("queue %s is disabled: it accepts no jobs", name)
	}
	return nil
}

// newJob validates a submission and builds the job (without id and paths
// that depend on it).
func (d *Daemon) newJob(who caller, req *proto.SubmitRequest) (*jobs.Job, error) {
	cfg := d.config()
	if len(req.Script) == 0 {
		return nil, badRequest("the script is empty")
	}
	if !filepath.IsAbs(req.Workdir) {
		return nil, badRequest("working directory %q is not an absolute path", req.Workdir)
	}
	for _, p := range []string{req.Stdout, req.Stderr} {
		if p != "" && !filepath.IsAbs(p) {
			return nil, badRequest("output path %q is not absolute", p)
		}
	}
	name := req.Name
	if name == "" {
		name = jobs.DefaultName(req.ScriptName)
	}
	validate := jobs.ValidateName
	if req.Slurm {
		validate = jobs.ValidateSlurmName
	}
	if err := validate(name); err != nil {
		return nil, err
	}
	// PBS's destination: queue, queue@server or @server. Scripts written
	// for a site name its server; this one's name is accepted, another's
	// refused (there is no other server to route the job to).
	qname := req.Queue
	if q, server, ok := strings.Cut(qname, "@"); ok {
		if server != cfg.Server() {
			return nil, badRequest("-q %s: %q is not this server (%s): jobs cannot be routed to another server", req.Queue, server, cfg.Server())
		}
		qname = q
	}
	if qname == "" {
		qname = cfg.DefaultQueue
	}
	join, err := jobs.ParseJoin(req.Join)
	if err != nil {
		return nil, err
	}
	rerun := true
	switch req.Rerunnable {
	case "", "y":
	case "n":
		rerun = false
	default:
		return nil, badRequest("-r %q: want y or n", req.Rerunnable)
	}
	res := jobs.Resources{NCPUs: 1, Walltime: cfg.DefaultWalltime}
	for _, l := range req.Resources {
		if res, err = jobs.ParseResources(res, l); err != nil {
			return nil, err
		}
	}
	if err := d.netResource(&res, qname); err != nil {
		return nil, err
	}
	if err := d.checkChunks(res, cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxWalltime > 0 && res.Walltime > cfg.MaxWalltime:
		return nil, badRequest("walltime=%s is more than the limit of %s", jobs.FormatDuration(res.Walltime), jobs.FormatDuration(cfg.MaxWalltime))
	}
	policy := jobs.DefaultPolicy
	if q := d.store.View().Queue(qname); q != nil && q.CkptDefault.Kind != "" {
		policy = q.CkptDefault
	}
	if req.Checkpoint != "" {
		if policy, err = jobs.ParsePolicy(req.Checkpoint); err != nil {
			return nil, err
		}
	}
	if policy.Kind == jobs.CheckpointQueue { // PBS's -c c, -c w
		policy = jobs.Policy{Kind: jobs.CheckpointNever}
		if q := d.store.View().Queue(qname); q != nil && q.CkptDefault.Kind == jobs.CheckpointInterval {
			policy = q.CkptDefault
		}
	}
	for _, kv := range req.Vars {
		if err := jobs.ValidateVar(kv); err != nil {
			return nil, err
		}
		if !strings.Contains(kv, "=") {
			return nil, badRequest("-v %q: want NAME=value", kv)
		}
	}
	var umask *uint32
	if req.Umask != "" {
		m, err := jobs.ParseUmask(req.Umask)
		if err != nil {
			return nil, badRequest("-W %v", err)
		}
		umask = &m
	}
	now := time.Now().Round(0)
	j := &jobs.Job{
		Name: name, Queue: qname, State: jobs.Queued,
		Owner:     jobs.Owner{UID: who.uid, GID: who.gid, Groups: who.groups, Name: who.name},
		Submitted: now, Changed: now, After: req.After.Round(0),
		Workdir: filepath.Clean(req.Workdir), Join: join, Rerunnable: rerun,
		Resources: res, Checkpoint: policy, Vars: slices.Clone(req.Vars), ExportEnv: req.ExportEnv,
		Umask: umask,
	}
	if req.Hold {
		j.State, j.Reason = jobs.Held, "held by "+who.name+" at submission"
	}
	if err := d.pbsAttrs(who, req, j); err != nil {
		return nil, err
	}
	if err := interactiveAttrs(req, j); err != nil {
		return nil, err
	}
	return j, nil
}

// outputPath resolves -o/-e: the default is NAME.oID in the working
// directory, and a path ending in "/" is a directory for that name.
func outputPath(given, workdir, name, kind string, id jobs.ID) string {
	base := name + "." + kind + id.String()
	switch {
	case given == "":
		return filepath.Join(workdir, base)
	case strings.HasSuffix(given, "/"):
		return filepath.Join(given, base)
	}
	return filepath.Clean(given)
}

func (d *Daemon) spoolPath(id jobs.ID) string {
	return filepath.Join(d.dir, spoolDir, id.String())
}

// spool writes a job's script, kept in the store since its submission, to
// spool/<id> for the job's owner to run. It needs no fsync: after a crash
// it is written again when the job starts again.
func (d *Daemon) spool(j *jobs.Job) (retErr error) {
	script, err := d.store.Script(j.ID)
	if err != nil {
		return err
	}
	if len(script) == 0 {
		return errors.New("the store has no script for this job")
	}
	dir := filepath.Join(d.dir, spoolDir)
	f, err := os.CreateTemp(dir, "."+j.ID.String()+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(script); err != nil {
		return err
	}
	if d.uid == 0 {
		if err := f.Chown(int(j.Owner.UID), int(j.Owner.GID)); err != nil {
			return err
		}
	}
	if err := f.Chmod(0o500); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), d.spoolPath(j.ID))
}

// cleanSpool removes spool files that have no job (purged while the
// daemon was down) and temporary files a crash left.
func (d *Daemon) cleanSpool() {
	dir := filepath.Join(d.dir, spoolDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		d.log.Error("cannot list the spool", "error", err)
		return
	}
	v := d.store.View()
	for _, e := range entries {
		name, isCkpt := strings.CutSuffix(e.Name(), ckptSuffix)
		id, err := jobs.ParseID(name)
		switch {
		case isCkpt && e.IsDir() && err == nil && v.Job(id) != nil:
			d.cleanGenerations(v.Job(id))
		case isCkpt && e.IsDir():
			os.RemoveAll(filepath.Join(dir, e.Name()))
		case err != nil || strings.Contains(e.Name(), ".") || v.Job(id) == nil:
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// cleanGenerations removes the generation directories of a job that its
// record does not list and no checkpoint in progress may still write:
// leftovers of checkpoints cut short by a crash, or of deletions that a
// crash interrupted.
func (d *Daemon) cleanGenerations(j *jobs.Job) {
	entries, _ := os.ReadDir(d.ckptDir(j.ID))
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || hasGeneration(j, n) || (j.Checkpointing != nil && j.Checkpointing.Gen == n) {
			continue
		}
		os.RemoveAll(filepath.Join(d.ckptDir(j.ID), e.Name()))
	}
}

// purge removes finished and failed jobs older than keep_finished, with
// their spooled scripts and run directories.
func (d *Daemon) purge() {
	cutoff := time.Now().Add(-d.config().KeepFinished)
	v := d.store.View()
	n := 0
	for _, st := range []jobs.State{jobs.Finished, jobs.Failed} {
		for j := range v.JobsInState(st) {
			if j.Changed.After(cutoff) || j.ID.IsSubjob() && v.Job(j.ID.Base()) != nil {
				continue // a subjob's record goes with its array's
			}
			_, err := d.store.DeleteJob(j.ID, func(cur *jobs.Job) error {
				if !cur.State.Terminal() {
					return errNotPending
				}
				return nil
			})
			if err != nil {
				continue
			}
			d.removeFiles(j)
			n++
			if j.Array != nil {
				for sub := range v.Subjobs(j.ID) {
					if _, err := d.store.DeleteJob(sub.ID, nil); err == nil {
						d.removeFiles(sub)
					}
				}
			}
		}
	}
	if n > 0 {
		d.log.Info("purged old jobs", "count", n)
	}
}

func (d *Daemon) removeFiles(j *jobs.Job) {
	os.Remove(filepath.Join(d.dir, spoolDir, j.ID.String()))
	os.RemoveAll(d.ckptDir(j.ID))
	os.RemoveAll(d.jobRunDir(j.ID))
	d.dropJobFiles(j.ID)
}

// mayManage checks that the caller owns the job or is an operator.
func (d *Daemon) mayManage(who caller, j *jobs.Job) error {
	if j.Owner.UID == who.uid || d.operator(who) {
		return nil
	}
	return denied("job %s belongs to %s", j.ID, j.Owner.Name)
}

func (d *Daemon) jobArg(body json.RawMessage) (jobs.ID, error) {
	var req proto.JobRequest
	if err := decode(body, &req); err != nil {
		return 0, err
	}
	if req.ID == 0 {
		return 0, badRequest("no job id")
	}
	return jobs.ID(req.ID), nil
}

func unknownJob(err error, id jobs.ID) error {
	if errors.Is(err, queue.ErrNoJob) {
		return notFound("unknown job id %s", id)
	}
	return err
}

// hold handles qhold. A job that waits to run is held; a running one is
// checkpointed, stopped and held, as PBS does (qchkpnt -k -h): qrls then
// restarts it from that checkpoint.
func (d *Daemon) hold(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	id, err := d.jobArg(body)
	if err != nil {
		return nil, err
	}
	if arr := arrayOf(d.store.View(), id); arr != nil {
		return d.holdArray(who, arr)
	}
	if _, _, ok, err := unstarted(d.store.View(), id); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return d.subjobOp(who, id, proto.OpHold)
	}
	if cur := d.store.View().Job(id); cur != nil && (cur.State == jobs.Running || cur.State == jobs.Checkpointing) {
		if err := d.mayManage(who, cur); err != nil {
			return nil, err
		}
		if !cur.Checkpoint.Checkpointable() {
			return nil, conflict("job %s is running and its checkpoint policy is %s: it cannot be held", id, cur.Checkpoint)
		}
		req, _ := json.Marshal(proto.CheckpointRequest{ID: uint64(id), Stop: true, Hold: true})
		r, err := d.checkpointJob(ctx, who, req)
		if err != nil {
			return nil, err
		}
		if cr, ok := r.(proto.CheckpointReply); ok {
			return proto.JobReply{ID: uint64(id), State: cr.State}, nil
		}
		return r, nil
	}
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if err := d.mayManage(who, j); err != nil {
			return err
		}
		if !j.State.Pending() && j.State != jobs.Held {
			return conflict("job %s is %s; only queued jobs can be held", id, j.State)
		}
		if j.State == jobs.Held && j.Depend != nil && j.Depend.Waiting {
			return holdDepend(j, who.name)
		}
		return j.Hold(who.name, time.Now().Round(0))
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

func (d *Daemon) release(_ context.Context, who caller, body json.RawMessage) (any, error) {
	id, err := d.jobArg(body)
	if err != nil {
		return nil, err
	}
	if arr := arrayOf(d.store.View(), id); arr != nil {
		return d.releaseArray(who, arr)
	}
	if _, _, ok, err := unstarted(d.store.View(), id); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return d.subjobOp(who, id, proto.OpRelease)
	}
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if err := d.mayManage(who, j); err != nil {
			return err
		}
		if j.State != jobs.Held {
			return conflict("job %s is %s, not held", id, j.State)
		}
		if j.Depend != nil && j.Depend.Waiting {
			return releaseDepend(j)
		}
		return j.Release(time.Now().Round(0))
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	d.wake()
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// deleteJob handles qdel: a job that has not run (or waits to run again) is
// removed; a running one is recorded as exiting, then its supervisor kills
// its tree (SIGTERM, kill_grace, SIGKILL) and reports the end as usual.
func (d *Daemon) deleteJob(_ context.Context, who caller, body json.RawMessage) (any, error) {
	id, err := d.jobArg(body)
	if err != nil {
		return nil, err
	}
	if arr := arrayOf(d.store.View(), id); arr != nil {
		return d.deleteArray(who, arr)
	}
	if _, _, ok, err := unstarted(d.store.View(), id); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return d.subjobOp(who, id, proto.OpDelete)
	}
	cur := d.store.View().Job(id)
	if cur == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if err := d.mayManage(who, cur); err != nil {
		return nil, err
	}
	var req proto.JobRequest
	decode(body, &req) // jobArg has decoded it
	if req.Record && (cur.State == jobs.Queued || cur.State == jobs.Held) && len(cur.Segments) == 0 {
		j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
			if (j.State != jobs.Queued && j.State != jobs.Held) || len(j.Segments) > 0 {
				return conflict("job %s has just become %s; try again", id, j.State)
			}
			return j.CancelPending(who.name, time.Now().Round(0))
		})
		if err != nil {
			return nil, unknownJob(err, id)
		}
		d.subjobEnded(id)
		d.log.Info("job cancelled before it ran", "job_id", id, "by", who.name)
		return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
	}
	if cur.State.Removable() {
		removed, err := d.store.DeleteJobBy(id, who.name+"@"+d.config().Server(), func(j *jobs.Job) error {
			if !j.State.Removable() {
				return conflict("job %s has just become %s; try again", id, j.State)
			}
			return nil
		})
		if err != nil {
			return nil, unknownJob(err, id)
		}
		d.removeFiles(removed)
		d.subjobEnded(id)
		d.log.Info("job deleted", "job_id", id, "by", who.name)
		return proto.JobReply{ID: uint64(id), State: "deleted"}, nil
	}
	j, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		switch {
		case j.State == jobs.Exiting:
			return nil // already being deleted; tell the supervisor again
		case j.State.Terminal():
			return conflict("job %s has already %s", id, j.State)
		}
		return j.Kill(who.name, time.Now().Round(0))
	})
	if err != nil {
		return nil, unknownJob(err, id)
	}
	if _, err := d.watch.signal(id, unix.SIGTERM); err != nil {
		d.log.Error("cannot signal a supervisor", "job_id", id, "error", err)
	}
	d.log.Info("job being deleted", "job_id", id, "by", who.name)
	return proto.JobReply{ID: uint64(id), State: string(j.State)}, nil
}

// mayQuery reports whether the caller may see every field of a job (its
// variables, paths, script, history), not only its summary: its owner,
// root and operators, or anyone when query_other_jobs is true.
func (d *Daemon) mayQuery(who caller, j *jobs.Job) bool {
	return j.Owner.UID == who.uid || d.operator(who) || d.config().QueryOtherJobs
}

// status handles qstat. Of another user's job, a caller who may not query
// it gets the summary only, whatever was asked for.
func (d *Daemon) status(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.StatusRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	var states []jobs.State
	for _, s := range req.States {
		st, err := jobs.ParseState(s)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		states = append(states, st)
	}
	var uid *uint32
	byName := false
	if req.User != "" {
		if u, err := lookupUID(req.User); err == nil {
			uid = &u
		} else {
			byName = true // a user the system no longer knows: the name recorded at submission
		}
	}
	keep := func(j *jobs.Job) bool {
		return (uid == nil || j.Owner.UID == *uid) && (!byName || j.Owner.Name == req.User) &&
			(len(states) == 0 || slices.Contains(states, j.State))
	}
	now := time.Now().Round(0)
	v := d.store.View()
	// The reply is encoded job by job: a listing of every job is large,
	// and a slice of them all would be copied as it grows and encoded again.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	fmt.Fprintf(&buf, `{"now":%q,"server":%q,"jobs":[`, now.Format(time.RFC3339Nano), d.config().Server())
	n := 0
	put := func(info proto.JobInfo) {
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		enc.Encode(info)
		buf.Truncate(buf.Len() - 1) // Encode's newline would end the reply line
	}
	one := func(j *jobs.Job) {
		full := req.Full && d.mayQuery(who, j)
		info := d.jobInfo(j, now, full)
		info.SummaryOnly = req.Full && !full
		put(info)
	}
	// An array's subjobs, in index order: their records once started,
	// their array's bytes before.
	subjobs := func(arr *jobs.Job) {
		for pos, st := range arr.Array.States {
			index := arr.Array.IndexAt(pos)
			if r := v.Job(jobs.SubjobID(arr.ID, index)); r != nil {
				if keep(r) {
					one(r)
				}
				continue
			}
			info := subjobInfo(arr, index, st)
			if len(states) == 0 || slices.Contains(states, jobs.State(info.State)) {
				put(info)
			}
		}
	}
	// Selected by state, subjobs that started are listed as jobs (an
	// array is never running); else after their array, with -t.
	add := func(j *jobs.Job) {
		if j.ID.IsSubjob() && len(states) == 0 {
			return
		}
		if keep(j) {
			one(j)
		}
		if j.Array != nil && req.Subjobs && len(states) == 0 && (uid == nil || j.Owner.UID == *uid) {
			subjobs(j)
		}
	}
	var missing []uint64
	switch {
	case len(req.IDs) > 0:
		for _, id := range req.IDs {
			id := jobs.ID(id)
			j := v.Job(id)
			if j == nil && !id.IsSubjob() {
				j = v.Job(id.Base())
			}
			switch {
			case j != nil && j.Array != nil:
				one(j)
				if req.Subjobs {
					subjobs(j)
				}
			case j != nil:
				one(j)
			case id.IsSubjob():
				arr, st, ok, _ := unstarted(v, id)
				if !ok {
					missing = append(missing, uint64(id))
					continue
				}
				put(subjobInfo(arr, id.Index(), st))
			default:
				missing = append(missing, uint64(id))
			}
		}
	case uid != nil:
		for j := range v.JobsOf(*uid) {
			add(j)
		}
	case byName:
		for j := range v.Jobs() {
			add(j)
		}
		if n == 0 {
			return nil, notFound("unknown user %q", req.User)
		}
	case len(states) == 1:
		for j := range v.JobsInState(states[0]) {
			add(j)
		}
	default:
		for j := range v.Jobs() {
			add(j)
		}
	}
	if req.History && (len(req.IDs) == 0 || len(missing) > 0) {
		// Ended jobs the store has purged, from the accounting log.
		found := map[uint64]bool{}
		for _, info := range d.purgedJobs(missing) {
			if req.User != "" && info.User != req.User ||
				len(states) > 0 && !slices.Contains(states, jobs.State(info.State)) {
				continue
			}
			if !d.operator(who) && !d.config().QueryOtherJobs && info.User != who.name && req.Full {
				info = proto.JobInfo{ID: info.ID, Name: info.Name, User: info.User, State: info.State,
					Queue: info.Queue, ElapsedSec: info.ElapsedSec, SummaryOnly: true}
			}
			found[info.ID] = true
			if n > 0 {
				buf.WriteByte(',')
			}
			n++
			enc.Encode(info)
			buf.Truncate(buf.Len() - 1)
		}
		missing = slices.DeleteFunc(missing, func(id uint64) bool { return found[id] })
	}
	buf.WriteByte(']')
	if len(missing) > 0 {
		m, _ := json.Marshal(missing)
		buf.WriteString(`,"missing":`)
		buf.Write(m)
	}
	if p := d.stateProblem(); p != "" {
		m, _ := json.Marshal(p)
		buf.WriteString(`,"state_dir_problem":`)
		buf.Write(m)
	}
	buf.WriteByte('}')
	return json.RawMessage(buf.Bytes()), nil
}

// lookupUID resolves qstat -u: a user name, or a numeric uid.
func lookupUID(name string) (uint32, error) {
	if u, err := lookupUser(name); err == nil {
		return u, nil
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	return 0, fmt.Errorf("unknown user %q", name)
}

func (d *Daemon) jobInfo(j *jobs.Job, now time.Time, full bool) proto.JobInfo {
	cpu, wall := j.Totals(now)
	info := proto.JobInfo{
		ID: uint64(j.ID), Name: j.Name, User: j.Owner.Name, State: string(j.State), Queue: j.Queue,
		ElapsedSec: wall.Seconds(), LastCheckpoint: j.LastCheckpoint(), Generations: len(j.Checkpoints),
	}
	if len(j.Checkpoints) > 0 {
		info.LastCheckpointSize = j.Checkpoints[0].Size
		info.LastCheckpointDuration = j.Checkpoints[0].Duration.Seconds()
	}
	if next, ok := d.nextCheckpoint(j); ok {
		info.NextCheckpoint = next.Round(time.Second)
	}
	info.After = j.After
	info.Suspended = j.IsSuspended() && j.State.Active()
	if j.Array != nil {
		info.ID, info.Array = uint64(jobs.ArrayForm(j.ID)), j.Array.Spec()
		info.ArrayCount = arrayCount(d.store.View(), j)
		if j.State.Terminal() {
			// PBS's: 0 when every subjob that ran exited 0 (deleted ones
			// do not count), 1 when one did not, 2 when one was ended by
			// the batch system.
			st := j.Array.ExitStatus()
			info.ExitStatus = &st
		}
	}
	if j.Depend != nil {
		info.Depend, info.DependHold = j.Depend.String(), j.Depend.Waiting
	}
	r := j.Resources
	info.NCPUs, info.MemBytes, info.WalltimeSec, info.CPUTimeSec = r.NCPUs, r.Mem, r.Walltime.Seconds(), r.CPUTime.Seconds()
	info.Net, info.Interactive = r.Net, j.Attrs.Interactive
	info.CPUSec, info.RunCount = cpu.Seconds(), len(j.Segments)
	u := j.Usage()
	info.MemUsed, info.VMemUsed = u.Mem, u.VMem
	for _, s := range j.Segments {
		info.MemUsed, info.VMemUsed = max(info.MemUsed, s.Mem), max(info.VMemUsed, s.VMem)
	}
	if n := len(j.Segments); n > 0 && len(j.Segments[n-1].Exec) > 0 {
		info.ExecHost = jobs.FormatExec(j.Segments[n-1].Exec)
	}
	info.Select, info.Place, info.Nodect = r.SelectString(), r.Place, r.NChunks()
	info.NotCheckpointable = j.NotCheckpointable()
	info.Hold = j.State == jobs.Held && (j.Depend == nil || !j.Depend.Waiting || j.Depend.Hold != "")
	if st, ok := j.ExitStatus(); ok {
		info.ExitStatus = &st
	}
	if j.State.Active() {
		if st, err := supervisor.Probe(d.jobRunDir(j.ID)); err == nil && st.Info != nil {
			info.Session = st.Info.Job.PID
		}
	}
	if !full {
		return info
	}
	if every, ok := d.every(j); ok {
		info.CheckpointEvery = every.Seconds()
	}
	info.Keep = d.keep(j)
	info.CheckpointError, info.CheckpointErrorTime = j.CheckpointError, j.CheckpointErrorTime
	info.RestartFrom = j.RestartFrom
	for _, e := range j.Events {
		info.Events = append(info.Events, proto.EventInfo{Time: e.Time, Text: e.Text})
	}
	rerun := j.Rerunnable
	info.UID, info.GID, info.Reason = j.Owner.UID, j.Owner.GID, j.Reason
	info.Submitted, info.Changed, info.After = j.Submitted, j.Changed, j.After
	info.Workdir, info.Script, info.Stdout, info.Stderr = j.Workdir, j.Script, j.Stdout, j.Stderr
	info.Join, info.Rerunnable = string(j.Join), &rerun
	info.Resources, info.Checkpoint = j.Resources.String(), j.Checkpoint.String()
	info.Vars, info.ExportEnv = j.Vars, j.ExportEnv
	a := j.Attrs
	info.Account, info.Project, info.Priority, info.KeepFiles = a.Account, a.Project, a.Priority, a.Keep
	info.MailPoints, info.MailUsers = a.MailPoints, a.MailUsers
	if info.MailPoints == "" {
		info.MailPoints = jobs.DefaultMailPoints
	}
	info.Shell, info.Group, info.Slurm = a.Shell, a.Group, a.Slurm
	for _, s := range j.Segments {
		info.Segments = append(info.Segments, proto.SegmentInfo{
			Start: s.Start, End: s.End, UserCPUSec: s.UserCPU.Seconds(), SysCPUSec: s.SysCPU.Seconds(),
			ExitCode: s.ExitCode, Signal: s.Signal, Reason: s.Reason, Restart: s.Restart, Generation: s.Generation,
		})
	}
	for _, g := range j.Checkpoints {
		info.Checkpoints = append(info.Checkpoints, proto.GenerationInfo{
			N: g.N, Time: g.Time, Dir: g.Dir, Image: g.Image(), Size: g.Size, Seconds: g.Duration.Seconds(),
			Frozen: g.Frozen.Seconds(), Processes: g.Processes, Bad: g.Bad, Parent: g.Parent,
		})
	}
	return info
}

// wait handles qstat -w: it returns when every listed job has left the
// state the client saw, is gone, or has ended.
func (d *Daemon) wait(ctx context.Context, _ caller, body json.RawMessage) (any, error) {
	var req proto.WaitRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 || timeout > proto.MaxWait {
		timeout = proto.MaxWait
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ws := memdb.NewWatchSet()
		v := d.store.View()
		done := true
		for _, w := range req.Jobs {
			id := jobs.ID(w.ID)
			if id.IsArrayForm() {
				id = id.Base()
			}
			j := v.WatchJob(ws, id)
			if j != nil && string(j.State) == w.State && !j.State.Terminal() {
				done = false
			}
		}
		if done {
			return proto.WaitReply{Done: true}, nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return proto.WaitReply{Done: false}, nil
			}
			return nil, &proto.Error{Code: proto.CodeUnavailable, Message: "lazarusd is shutting down"}
		}
	}
}

// netResource gives res its queue's net_default when the job asked for no
// net, and refuses net=private where it cannot be had: a network namespace
// needs a root daemon.
func (d *Daemon) netResource(res *jobs.Resources, qname string) error {
	if res.Net == "" {
		if q := d.store.View().Queue(qname); q != nil {
			res.Net = q.NetDefault
		}
	}
	if res.Net == jobs.NetPrivate && d.uid != 0 {
		return badRequest("net=private: a network namespace of its own needs lazarusd running as root")
	}
	return nil
}
