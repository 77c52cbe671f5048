package queue

import (
	"time"

	"lazarus/jobs"
)

// On-disk forms of jobs and queues. They change only with SchemaVersion
// (and a migration); the in-memory types may change freely.

type diskJob struct {
	ID         uint64    `json:"id"`
	Name       string    `json:"name"`
	UID        uint32    `json:"uid"`
	GID        uint32    `json:"gid"`
	Groups     []uint32  `json:"groups,omitempty"`
	User       string    `json:"user"`
	Queue      string    `json:"queue"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Submitted  time.Time `json:"submitted"`
	Changed    time.Time `json:"changed"`
	After      time.Time `json:"after,omitzero"`
	Workdir    string    `json:"workdir"`
	Script     string    `json:"script"`
	Stdout     string    `json:"stdout"`
	Stderr     string    `json:"stderr"`
	Join       string    `json:"join,omitempty"`
	Rerunnable bool      `json:"rerunnable"`
	NCPUs      int       `json:"ncpus"`
	Mem        int64     `json:"mem,omitempty"`
	WalltimeNS int64     `json:"walltime_ns,omitempty"`
	Policy     string    `json:"ckpt_policy"`
	IntervalNS int64     `json:"ckpt_interval_ns,omitempty"`
	Vars       []string  `json:"vars,omitempty"`
	ExportEnv  bool      `json:"export_env,omitempty"`
	Umask      *uint32   `json:"umask,omitempty"` // qsub -W umask; absent: none given

	Segments    []diskSegment    `json:"segments,omitempty"`
	Checkpoints []diskGeneration `json:"checkpoints,omitempty"`
	// Schema 2.
	LastGeneration      int         `json:"last_generation,omitempty"`
	Checkpointing       *diskCkptOp `json:"checkpointing,omitempty"`
	CheckpointError     string      `json:"ckpt_error,omitempty"`
	CheckpointErrorTime time.Time   `json:"ckpt_error_time,omitzero"`
	RestartFrom         int         `json:"restart_from,omitempty"`
	MoveTo              string      `json:"move_to,omitempty"`
	Events              []diskEvent `json:"events,omitempty"`
	Attrs               *diskAttrs  `json:"attrs,omitempty"`
	// Schema 4.
	Array  *diskArray  `json:"array,omitempty"`
	Depend *diskDepend `json:"depend,omitempty"`
	// Optional (absent in older records: never suspended): when the job
	// was suspended (qsig -s suspend) and its past suspensions.
	Suspended   time.Time  `json:"suspended,omitzero"`
	Suspensions []diskSpan `json:"suspensions,omitempty"`
	// Optional: resume was asked while the job's CPUs were taken.
	ResumeWanted bool `json:"resume_wanted,omitempty"`
}

type diskSpan struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type diskCkptOp struct {
	Gen     int       `json:"gen"`
	Requeue bool      `json:"requeue,omitempty"`
	Hold    bool      `json:"hold,omitempty"`
	By      string    `json:"by,omitempty"`
	Started time.Time `json:"started"`
}

type diskEvent struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

type diskSegment struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	UserCPUNS int64     `json:"user_cpu_ns"`
	SysCPUNS  int64     `json:"sys_cpu_ns"`
	ExitCode  int       `json:"exit_code"`
	Signal    int       `json:"signal,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Restart   bool      `json:"restart,omitempty"`
	Gen       int       `json:"gen,omitempty"` // schema 2
	// Lazy: restarted lazily from Gen (jobs.Segment.Lazy); absent in
	// older records: false.
	Lazy bool `json:"lazy,omitempty"`
	// BaseNS is the job's run time when the run began (jobs.Segment.Base);
	// absent in older records, which look it up in the generation.
	BaseNS int64 `json:"base_ns,omitempty"`
	// Schema 5: the run's peak memory and its session.
	Mem     int64 `json:"mem,omitempty"`
	VMem    int64 `json:"vmem,omitempty"`
	Session int   `json:"session,omitempty"`
	// Cluster mode: where the run was placed (jobs.Segment.Exec).
	Exec []diskChunk `json:"exec,omitempty"`
}

type diskChunk struct {
	Host  string `json:"host"`
	NCPUs int    `json:"ncpus"`
	Mem   int64  `json:"mem,omitempty"`
	Lease int64  `json:"lease,omitempty"`
}

type diskGeneration struct {
	N    int       `json:"n"`
	Time time.Time `json:"time"`
	Dir  string    `json:"dir"`
	Size int64     `json:"size"`
	// Schema 2.
	Root       string `json:"root,omitempty"`
	DurationNS int64  `json:"duration_ns,omitempty"`
	FrozenNS   int64  `json:"frozen_ns,omitempty"`
	Processes  int    `json:"processes,omitempty"`
	Bad        string `json:"bad,omitempty"`
	ElapsedNS  int64  `json:"elapsed_ns,omitempty"`
	Host       string `json:"host,omitempty"` // cluster mode: the node that wrote it
	Parent     int    `json:"parent,omitempty"`
}

type diskQueue struct {
	Name           string    `json:"name"`
	Priority       int       `json:"priority"`
	Enabled        bool      `json:"enabled"`
	Started        bool      `json:"started"`
	MaxRunning     int       `json:"max_running"`
	MaxUserRunning int       `json:"max_user_running"`
	Created        time.Time `json:"created"`
	// Schema 2.
	CkptMinNS   int64  `json:"ckpt_min_ns,omitempty"`
	CkptDefault string `json:"ckpt_default,omitempty"`
	CkptKeep    int    `json:"ckpt_keep,omitempty"`
	NetDefault  string `json:"net_default,omitempty"`
	// 1: compressed images, -1: not, 0: the server's.
	CkptCompress int `json:"ckpt_compress,omitempty"`
	FullEvery    int `json:"ckpt_full_every,omitempty"`
}

func toDiskJob(j *jobs.Job) diskJob {
	d := diskJob{
		ID: uint64(j.ID), Name: j.Name, UID: j.Owner.UID, GID: j.Owner.GID, Groups: j.Owner.Groups,
		User: j.Owner.Name, Queue: j.Queue, State: string(j.State), Reason: j.Reason,
		Submitted: j.Submitted, Changed: j.Changed, After: j.After,
		Workdir: j.Workdir, Script: j.Script, Stdout: j.Stdout, Stderr: j.Stderr, Join: string(j.Join),
		Rerunnable: j.Rerunnable, NCPUs: j.Resources.NCPUs, Mem: j.Resources.Mem,
		WalltimeNS: int64(j.Resources.Walltime), Policy: string(j.Checkpoint.Kind),
		IntervalNS: int64(j.Checkpoint.Interval), Vars: j.Vars, ExportEnv: j.ExportEnv, Umask: j.Umask,
		Attrs: toDiskAttrs(j), Array: toDiskArray(j.Array), Depend: toDiskDepend(j.Depend),
	}
	for _, s := range j.Segments {
		d.Segments = append(d.Segments, diskSegment{
			Start: s.Start, End: s.End, UserCPUNS: int64(s.UserCPU), SysCPUNS: int64(s.SysCPU),
			ExitCode: s.ExitCode, Signal: s.Signal, Reason: s.Reason, Restart: s.Restart, Gen: s.Generation, Lazy: s.Lazy,
			BaseNS: int64(s.Base), Mem: s.Mem, VMem: s.VMem, Session: s.Session, Exec: toDiskChunks(s.Exec),
		})
	}
	for _, g := range j.Checkpoints {
		d.Checkpoints = append(d.Checkpoints, diskGeneration{
			N: g.N, Time: g.Time, Dir: g.Dir, Size: g.Size, Root: g.Root,
			DurationNS: int64(g.Duration), FrozenNS: int64(g.Frozen), Processes: g.Processes, Bad: g.Bad,
			ElapsedNS: int64(g.Elapsed), Host: g.Host, Parent: g.Parent,
		})
	}
	d.LastGeneration, d.RestartFrom = j.LastGeneration, j.RestartFrom
	d.MoveTo = j.MoveTo
	d.Suspended, d.ResumeWanted = j.Suspended, j.ResumeWanted
	for _, sp := range j.Suspensions {
		d.Suspensions = append(d.Suspensions, diskSpan{From: sp.From, To: sp.To})
	}
	d.CheckpointError, d.CheckpointErrorTime = j.CheckpointError, j.CheckpointErrorTime
	if op := j.Checkpointing; op != nil {
		d.Checkpointing = &diskCkptOp{Gen: op.Gen, Requeue: op.Requeue, Hold: op.Hold, By: op.By, Started: op.Started}
	}
	for _, e := range j.Events {
		d.Events = append(d.Events, diskEvent{Time: e.Time, Text: e.Text})
	}
	return d
}

func (d diskJob) job() (*jobs.Job, error) {
	st, err := jobs.ParseState(d.State)
	if err != nil {
		return nil, err
	}
	j := &jobs.Job{
		ID: jobs.ID(d.ID), Name: d.Name,
		Owner: jobs.Owner{UID: d.UID, GID: d.GID, Groups: d.Groups, Name: d.User},
		Queue: d.Queue, State: st, Reason: d.Reason,
		Submitted: d.Submitted, Changed: d.Changed, After: d.After,
		Workdir: d.Workdir, Script: d.Script, Stdout: d.Stdout, Stderr: d.Stderr, Join: jobs.Join(d.Join),
		Rerunnable: d.Rerunnable,
		Resources:  jobs.Resources{NCPUs: d.NCPUs, Mem: d.Mem, Walltime: time.Duration(d.WalltimeNS)},
		Checkpoint: jobs.Policy{Kind: jobs.PolicyKind(d.Policy), Interval: time.Duration(d.IntervalNS)},
		Vars:       d.Vars, ExportEnv: d.ExportEnv, Umask: d.Umask,
	}
	d.Attrs.apply(j)
	if j.Array, err = d.Array.array(); err != nil {
		return nil, err
	}
	j.Depend = d.Depend.depend()
	for _, s := range d.Segments {
		j.Segments = append(j.Segments, jobs.Segment{
			Start: s.Start, End: s.End, UserCPU: time.Duration(s.UserCPUNS), SysCPU: time.Duration(s.SysCPUNS),
			ExitCode: s.ExitCode, Signal: s.Signal, Reason: s.Reason, Restart: s.Restart, Generation: s.Gen, Lazy: s.Lazy,
			Base: time.Duration(s.BaseNS), Mem: s.Mem, VMem: s.VMem, Session: s.Session, Exec: chunks(s.Exec),
		})
	}
	for _, g := range d.Checkpoints {
		j.Checkpoints = append(j.Checkpoints, jobs.Generation{
			N: g.N, Time: g.Time, Dir: g.Dir, Size: g.Size, Root: g.Root,
			Duration: time.Duration(g.DurationNS), Frozen: time.Duration(g.FrozenNS), Processes: g.Processes, Bad: g.Bad,
			Elapsed: time.Duration(g.ElapsedNS), Host: g.Host, Parent: g.Parent,
		})
	}
	j.LastGeneration, j.RestartFrom = d.LastGeneration, d.RestartFrom
	j.MoveTo = d.MoveTo
	j.Suspended, j.ResumeWanted = d.Suspended, d.ResumeWanted
	for _, sp := range d.Suspensions {
		j.Suspensions = append(j.Suspensions, jobs.Span{From: sp.From, To: sp.To})
	}
	j.CheckpointError, j.CheckpointErrorTime = d.CheckpointError, d.CheckpointErrorTime
	if op := d.Checkpointing; op != nil {
		j.Checkpointing = &jobs.CheckpointOp{Gen: op.Gen, Requeue: op.Requeue, Hold: op.Hold, By: op.By, Started: op.Started}
	}
	for _, e := range d.Events {
		j.Events = append(j.Events, jobs.Event{Time: e.Time, Text: e.Text})
	}
	return j, nil
}

func toDiskQueue(q *Queue) diskQueue {
	d := diskQueue{Name: q.Name, Priority: q.Priority, Enabled: q.Enabled, Started: q.Started,
		MaxRunning: q.MaxRunning, MaxUserRunning: q.MaxUserRunning, Created: q.Created,
		CkptMinNS: int64(q.CkptMin), CkptKeep: q.CkptKeep, NetDefault: q.NetDefault, CkptCompress: q.CkptCompress, FullEvery: q.CkptFullEvery}
	if q.CkptDefault.Kind != "" {
		d.CkptDefault = q.CkptDefault.String()
	}
	return d
}

func (d diskQueue) queue() *Queue {
	q := &Queue{Name: d.Name, Priority: d.Priority, Enabled: d.Enabled, Started: d.Started,
		MaxRunning: d.MaxRunning, MaxUserRunning: d.MaxUserRunning, Created: d.Created,
		CkptMin: time.Duration(d.CkptMinNS), CkptKeep: d.CkptKeep, NetDefault: d.NetDefault, CkptFullEvery: d.FullEvery}
	if d.CkptCompress == 1 || d.CkptCompress == -1 {
		q.CkptCompress = d.CkptCompress
	}
	if d.CkptDefault != "" {
		// Written by Set, which validated it; a bad one means the default.
		q.CkptDefault, _ = jobs.ParsePolicy(d.CkptDefault)
	}
	return q
}

func toDiskChunks(cs []jobs.Chunk) []diskChunk {
	var out []diskChunk
	for _, c := range cs {
		out = append(out, diskChunk{Host: c.Host, NCPUs: c.NCPUs, Mem: c.Mem, Lease: c.Lease})
	}
	return out
}

func chunks(ds []diskChunk) []jobs.Chunk {
	var out []jobs.Chunk
	for _, d := range ds {
		out = append(out, jobs.Chunk{Host: d.Host, NCPUs: d.NCPUs, Mem: d.Mem, Lease: d.Lease})
	}
	return out
}
