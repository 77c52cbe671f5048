package proto

import (
	"encoding/json"
	"path/filepath"
	"time"
)

// Version is the protocol version this package speaks.
const Version = 1

// SocketName is the socket's file name in the state directory.
const SocketName = "lazarusd.sock"

// Limits of a request line, newline included. A submission carries the
// job's script (base64 in the JSON line) and the submitter's environment,
// so it has a larger limit than the other requests; the daemon knows a
// line is a submission from its "op", which encoding/json writes before
// "body". A longer line is refused with bad_request and the connection
// closed.
const (
	MaxLine       = 1 << 20  // every request but submit
	MaxSubmitLine = 32 << 20 // submit
	// MaxScript bounds a job script: with base64 and a large environment
	// it still fits in MaxSubmitLine.
	MaxScript = 16 << 20
)

// MaxKey bounds a submission key (SubmitRequest.Key).
const MaxKey = 64

// SocketPath returns the socket path for a state directory.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// Operations.
const (
	OpPing        = "ping"
	OpSubmit      = "submit"
	OpStatus      = "status"
	OpWait        = "wait"
	OpHold        = "hold"
	OpRelease     = "release"
	OpDelete      = "delete"
	OpQueueCreate = "queue.create"
	OpQueueDelete = "queue.delete"
	OpQueueSet    = "queue.set"
	OpQueueList   = "queue.list"
	OpServerSet   = "server.set"
	OpServerList  = "server.list"
	OpShutdown    = "shutdown"
	OpCheckpoint  = "checkpoint" // qchkpnt
	OpRestart     = "restart"    // qrestart
	OpAdopt       = "adopt"      // qrestart -f
	OpMaintain    = "maintain"   // qmgr checkpoint all, requeue all, shutdown requeue
	OpScheduling  = "scheduling" // qmgr start/stop scheduling
	OpSignal      = "signal"     // qsig
	OpRerun       = "rerun"      // qrerun
	OpMove        = "move"       // qmove
	OpAlter       = "alter"      // qalter
	OpRun         = "run"        // qrun
	OpNodes       = "nodes"      // pbsnodes
	OpOrder       = "order"      // qorder
	OpTrace       = "trace"      // tracejob
	OpAttach      = "attach"     // qsub -I, qrestart --attach: the job's terminal (term.go)
)

// Error codes.
const (
	CodeBadRequest  = "bad_request"
	CodeBadVersion  = "bad_version"
	CodeNotFound    = "not_found"
	CodePermission  = "permission"
	CodeConflict    = "conflict"
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
	CodeFailed      = "failed" // the operation was tried and failed (a checkpoint)
	// CodeBusy: refused for now, not for what it asks: the caller has too
	// many connections, or the daemon too many large requests in memory.
	// The same request may succeed later.
	CodeBusy = "busy"
)

// Request is one request line.
type Request struct {
	Version int             `json:"version"`
	Op      string          `json:"op"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// Response is one reply line. A line with Progress set is not the reply:
// it reports progress of a long operation, and the reply follows.
type Response struct {
	Version  int             `json:"version"`
	OK       bool            `json:"ok"`
	Body     json.RawMessage `json:"body,omitempty"`
	Error    *Error          `json:"error,omitempty"`
	Progress string          `json:"progress,omitempty"`
}

// Error is a failed request, as the daemon reports it.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// PingReply identifies the daemon.
type PingReply struct {
	Version  int    `json:"version"`
	PID      int    `json:"pid"`
	StateDir string `json:"state_dir"`
	Server   string `json:"server,omitempty"` // the server part of job ids
}

// SubmitRequest is a qsub. Options are sent as the user typed them and
// parsed by the daemon (the one place that validates them), except what
// only the client can know: the script's contents, the working directory,
// the environment, and -a resolved in the client's time zone.
type SubmitRequest struct {
	Script     []byte    `json:"script"`                // contents
	ScriptName string    `json:"script_name,omitempty"` // path as given, "" for stdin
	Name       string    `json:"name,omitempty"`        // -N
	Queue      string    `json:"queue,omitempty"`       // -q; "": default queue
	Workdir    string    `json:"workdir"`               // absolute
	Stdout     string    `json:"stdout,omitempty"`      // -o, absolute; a trailing "/" names a directory
	Stderr     string    `json:"stderr,omitempty"`      // -e, likewise
	Join       string    `json:"join,omitempty"`        // -j
	Rerunnable string    `json:"rerunnable,omitempty"`  // -r y|n; "": y
	Hold       bool      `json:"hold,omitempty"`        // -h
	After      time.Time `json:"after,omitzero"`        // -a
	Resources  []string  `json:"resources,omitempty"`   // each -l
	Vars       []string  `json:"vars,omitempty"`        // -v, NAME=value
	ExportEnv  bool      `json:"export_env,omitempty"`  // -V
	Env        []string  `json:"env,omitempty"`         // the submitter's environment, with -V
	// Origin holds the submitter's HOME, PATH, SHELL, LOGNAME, LANG, MAIL,
	// TZ, which the job sees as LAZARUS_O_HOME and so on.
	Origin     map[string]string `json:"origin,omitempty"`
	Checkpoint string            `json:"checkpoint,omitempty"` // -c; "": the queue's ckpt_default
	// PBS attributes (qsub options or script directives).
	Account string `json:"account,omitempty"` // -A
	// MailPoints and MailUsers are -m and -M.
	MailPoints string `json:"mail_points,omitempty"`
	MailUsers  string `json:"mail_users,omitempty"`
	Project    string `json:"project,omitempty"`    // -P
	Priority   string `json:"priority,omitempty"`   // -p
	Keep       string `json:"keep,omitempty"`       // -k
	Shell      string `json:"shell,omitempty"`      // -S, a path list
	UserList   string `json:"user_list,omitempty"`  // -u: only the submitter may be named
	GroupList  string `json:"group_list,omitempty"` // -W group_list
	Umask      string `json:"umask,omitempty"`      // -W umask, octal
	// Slurm says the script's #SBATCH directives were translated: output
	// paths may hold %j %x %A %a, and the job gets SLURM_* variables.
	Slurm bool `json:"slurm,omitempty"`
	// Signal is sbatch --signal ([B:]SIG[@TIME]); OpenAppend is
	// --open-mode=append.
	Signal     string `json:"signal,omitempty"`
	OpenAppend bool   `json:"open_append,omitempty"`
	// Args are the script's arguments (sbatch SCRIPT ARG..., qsub -F).
	Args []string `json:"args,omitempty"`
	// Array makes the job an array job: its indices, in the list form of
	// jobs.ParseArray (qsub -J, #SBATCH --array).
	Array string `json:"array,omitempty"`
	// Depend is -W depend=LIST (PBS's form), or with DependSlurm the
	// argument of #SBATCH --dependency.
	Depend      string `json:"depend,omitempty"`
	DependSlurm bool   `json:"depend_slurm,omitempty"`
	// Interactive is qsub -I: the job runs the owner's login shell on a
	// terminal that qsub then attaches to (OpAttach).
	Interactive bool `json:"interactive,omitempty"`
	// Key, if set, makes the submission idempotent: a submission with the
	// key of one of the caller's jobs that still exists stores nothing and
	// gets that job's id. Clients send a random one (NewKey) and send the
	// request again, with the same key, when the connection is lost
	// before the reply. 1 to MaxKey characters of [0-9a-zA-Z_-].
	Key string `json:"key,omitempty"`
}

// SubmitReply names the new job.
type SubmitReply struct {
	ID    uint64 `json:"id"`
	Queue string `json:"queue"`
	// Server is the server part of job ids: qsub prints ID.Server.
	Server string `json:"server,omitempty"`
}

// StatusRequest selects jobs for qstat. Empty fields select everything.
type StatusRequest struct {
	IDs    []uint64 `json:"ids,omitempty"`
	User   string   `json:"user,omitempty"`
	States []string `json:"states,omitempty"`
	Full   bool     `json:"full,omitempty"` // every field, not only the table's
	// Subjobs lists each array job's subjobs after it (qstat -t).
	Subjobs bool `json:"subjobs,omitempty"`
	// History adds the ended jobs the store has purged, from the
	// accounting log (qstat -x, -H).
	History bool `json:"history,omitempty"`
}

// TraceRequest asks for a job's story (tracejob): its accounting records
// and the daemon's log lines about it, of the last Days days (0: all).
type TraceRequest struct {
	ID   uint64 `json:"id"`
	Days int    `json:"days,omitempty"`
}

// TraceLine is one line of a job's story: from the accounting log ("A")
// or the daemon's log ("S", PBS's letter of the server log), in time order.
type TraceLine struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Text   string    `json:"text"`
}

// TraceReply is a job's story, oldest first. LogMissing says why the
// daemon's log is not in it (the daemon logs to no file), if it is not.
type TraceReply struct {
	Lines      []TraceLine `json:"lines"`
	LogMissing string      `json:"log_missing,omitempty"`
}

// StatusReply lists jobs in id order; Missing lists requested ids that do
// not exist.
type StatusReply struct {
	Now     time.Time `json:"now"`
	Server  string    `json:"server,omitempty"` // the server part of job ids (N.SERVER)
	Jobs    []JobInfo `json:"jobs"`
	Missing []uint64  `json:"missing,omitempty"`
	// StateDir says what is wrong with the daemon's state directory (it is
	// full; state changes wait to be recorded); empty when nothing is.
	StateDir string `json:"state_dir_problem,omitempty"`
}

// JobInfo is a job as qstat shows it (qstat -F json prints these). The
// fields after NextCheckpoint are filled only for full requests, and only
// for a caller who may see them (SummaryOnly says they are withheld).
type JobInfo struct {
	ID             uint64    `json:"id"`
	Name           string    `json:"name"`
	User           string    `json:"user"`
	State          string    `json:"state"`
	Queue          string    `json:"queue"`
	ElapsedSec     float64   `json:"elapsed_s"` // wall time of all runs, the current one up to now
	LastCheckpoint time.Time `json:"last_checkpoint,omitzero"`
	// Of the newest checkpoint generation: its size on disk and how long
	// it took; and how many generations the job has, and when the next
	// periodic checkpoint is due.
	LastCheckpointSize     int64     `json:"last_checkpoint_size,omitempty"`
	LastCheckpointDuration float64   `json:"last_checkpoint_s,omitempty"`
	Generations            int       `json:"generations,omitempty"`
	NextCheckpoint         time.Time `json:"next_checkpoint,omitzero"`
	// What PBS's qstat tables show of every job (Time Use, Req'd Memory,
	// Req'd Time, Elap Time, TSK, SessID): the request, the CPU time of
	// all runs, the session of the running script, the exit status of the
	// last run once it ended, and the number of runs.
	NCPUs       int     `json:"ncpus,omitempty"`
	MemBytes    int64   `json:"mem,omitempty"`
	WalltimeSec float64 `json:"walltime_s,omitempty"`
	CPUTimeSec  float64 `json:"cput_s,omitempty"` // the cput limit
	Net         string  `json:"net,omitempty"`    // "private": a network namespace of its own
	CPUSec      float64 `json:"cpu_s,omitempty"`  // user+system CPU of all runs
	// MemUsed and VMemUsed are the most memory any run used (PBS's
	// resources_used.mem and vmem), as far as known.
	MemUsed    int64 `json:"mem_used,omitempty"`
	VMemUsed   int64 `json:"vmem_used,omitempty"`
	Session    int   `json:"session,omitempty"`
	ExitStatus *int  `json:"exit_status,omitempty"` // as PBS records it (256+N: signal N)
	RunCount   int   `json:"run_count,omitempty"`
	// ExecHost is where the open (or last) run was placed in a cluster,
	// as PBS prints exec_host ("n1/0*2+n2/0*2"); "": a single host.
	ExecHost string `json:"exec_host,omitempty"`
	// Select, Place and Nodect are the job's chunks as PBS shows
	// Resource_List.select, place and nodect ("": one chunk, place free).
	Select string `json:"select,omitempty"`
	Place  string `json:"place,omitempty"`
	Nodect int    `json:"nodect,omitempty"`
	// NotCheckpointable says why the open run cannot be checkpointed
	// where it runs (it spans several hosts); "": nothing of that.
	NotCheckpointable string `json:"not_checkpointable,omitempty"`
	// SummaryOnly says that the rest was asked for but is not shown: the
	// job is another user's (query_other_jobs is false).
	SummaryOnly bool `json:"summary_only,omitempty"`
	// Suspended: the running job is suspended (qsig -s suspend or STOP);
	// PBS shows it S.
	Suspended bool `json:"suspended,omitempty"`

	UID         uint32           `json:"uid,omitempty"`
	GID         uint32           `json:"gid,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	Submitted   time.Time        `json:"submitted,omitzero"`
	Changed     time.Time        `json:"changed,omitzero"`
	After       time.Time        `json:"after,omitzero"`
	Workdir     string           `json:"workdir,omitempty"`
	Script      string           `json:"script,omitempty"`
	Stdout      string           `json:"stdout,omitempty"`
	Stderr      string           `json:"stderr,omitempty"`
	Join        string           `json:"join,omitempty"`
	Rerunnable  *bool            `json:"rerunnable,omitempty"`
	Resources   string           `json:"resources,omitempty"`
	Checkpoint  string           `json:"checkpoint,omitempty"`
	Vars        []string         `json:"vars,omitempty"`
	ExportEnv   bool             `json:"export_env,omitempty"`
	Account     string           `json:"account,omitempty"`
	MailPoints  string           `json:"mail_points,omitempty"`
	MailUsers   string           `json:"mail_users,omitempty"`
	Project     string           `json:"project,omitempty"`
	Priority    int              `json:"priority,omitempty"`
	KeepFiles   string           `json:"keep_files,omitempty"` // -k
	Shell       string           `json:"shell,omitempty"`
	Group       string           `json:"group,omitempty"`
	Slurm       bool             `json:"slurm,omitempty"`
	Hold        bool             `json:"hold,omitempty"` // held: Hold_Types u
	Segments    []SegmentInfo    `json:"segments,omitempty"`
	Checkpoints []GenerationInfo `json:"checkpoints,omitempty"` // newest first
	// CheckpointEvery is the time between periodic checkpoints, after the
	// queue's ckpt_min; Keep how many good generations are kept.
	CheckpointEvery     float64     `json:"checkpoint_every_s,omitempty"`
	Keep                int         `json:"keep,omitempty"`
	CheckpointError     string      `json:"checkpoint_error,omitempty"`
	CheckpointErrorTime time.Time   `json:"checkpoint_error_time,omitzero"`
	RestartFrom         int         `json:"restart_from,omitempty"`
	Events              []EventInfo `json:"events,omitempty"`
	// An array job's (ID is its N[] form): its indices (array_indices_submitted)
	// and how many subjobs are in each PBS state (Q, R, X...: array_state_count).
	Array      string         `json:"array,omitempty"`
	ArrayCount map[string]int `json:"array_count,omitempty"`
	// Depend is what the job waits for (PBS's depend attribute); DependHold
	// says it is held for it (hold type s).
	Depend     string `json:"depend,omitempty"`
	DependHold bool   `json:"depend_hold,omitempty"`
	// Interactive: a qsub -I job (PBS's interactive attribute).
	Interactive bool `json:"interactive,omitempty"`
}

// EventInfo is one step of a job's checkpoint and restart history.
type EventInfo struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// SegmentInfo is one run of a job.
type SegmentInfo struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	UserCPUSec float64   `json:"user_cpu_s"`
	SysCPUSec  float64   `json:"sys_cpu_s"`
	ExitCode   int       `json:"exit_code"` // -1: did not exit by itself
	Signal     int       `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Restart    bool      `json:"restart,omitempty"`
	Generation int       `json:"generation,omitempty"` // restarted from this checkpoint
}

// GenerationInfo is one checkpoint of a job.
type GenerationInfo struct {
	N         int       `json:"n"`
	Time      time.Time `json:"time"`
	Dir       string    `json:"dir"`
	Image     string    `json:"image,omitempty"` // the root process's image
	Size      int64     `json:"size"`
	Seconds   float64   `json:"duration_s,omitempty"` // the whole checkpoint
	Frozen    float64   `json:"frozen_s,omitempty"`   // the job stopped
	Processes int       `json:"processes,omitempty"`
	Bad       string    `json:"bad,omitempty"`    // why it cannot be restarted from
	Parent    int       `json:"parent,omitempty"` // incremental against generation Parent; 0: full
}

// WaitJob is a job and the state the client last saw it in.
type WaitJob struct {
	ID    uint64 `json:"id"`
	State string `json:"state"`
}

// WaitRequest asks the daemon to return when every job has left its state.
type WaitRequest struct {
	Jobs      []WaitJob `json:"jobs"`
	TimeoutMS int64     `json:"timeout_ms"` // at most MaxWait; 0: MaxWait
}

// MaxWait bounds one wait request; clients repeat it to wait longer.
const MaxWait = 5 * time.Minute

// WaitReply says whether every job changed state.
type WaitReply struct {
	Done bool `json:"done"`
}

// CheckpointRequest is a qchkpnt of one job.
type CheckpointRequest struct {
	ID       uint64 `json:"id"`
	Interval string `json:"interval,omitempty"` // -i: the new policy (n, s, hours, duration)
	Stop     bool   `json:"stop,omitempty"`     // -k: stop and requeue the job once checkpointed
	Hold     bool   `json:"hold,omitempty"`     // -h: with Stop, hold it
	NoWait   bool   `json:"no_wait,omitempty"`  // return once the checkpoint has started
}

// CheckpointReply is the checkpoint taken (Gen 0 when none was, as when
// only the interval changed), the job's state afterwards and its policy.
type CheckpointReply struct {
	ID     uint64  `json:"id"`
	State  string  `json:"state"`
	Policy string  `json:"policy"`
	Gen    int     `json:"gen,omitempty"`
	Dir    string  `json:"dir,omitempty"`
	Size   int64   `json:"size,omitempty"`
	Secs   float64 `json:"duration_s,omitempty"`
	Frozen float64 `json:"frozen_s,omitempty"`
}

// RestartRequest is a qrestart of a job, from generation Gen (0: newest
// good one).
type RestartRequest struct {
	ID  uint64 `json:"id"`
	Gen int    `json:"gen,omitempty"`
}

// AdoptRequest is qrestart -f: a checkpoint taken by hand becomes a batch
// job of the caller's, restarted from it.
type AdoptRequest struct {
	Image      string `json:"image"`   // root image, absolute
	Workdir    string `json:"workdir"` // where qrestart ran; default output files go there
	Name       string `json:"name,omitempty"`
	Queue      string `json:"queue,omitempty"`
	Stdout     string `json:"stdout,omitempty"` // absolute; a trailing "/" names a directory
	Join       string `json:"join,omitempty"`
	Checkpoint string `json:"checkpoint,omitempty"`
	Hold       bool   `json:"hold,omitempty"`
	// Key makes the adoption idempotent, as SubmitRequest.Key does.
	Key string `json:"key,omitempty"`
}

// MaintainRequest is a maintenance command of qmgr: checkpoint every
// running job (checkpoint all), or also stop and requeue them (requeue
// all), and then stop the daemon (shutdown requeue). Progress lines come
// before the reply.
type MaintainRequest struct {
	Requeue   bool  `json:"requeue,omitempty"`
	Shutdown  bool  `json:"shutdown,omitempty"`
	Immediate bool  `json:"immediate,omitempty"`  // kill jobs that would be waited for
	DeadlineS int64 `json:"deadline_s,omitempty"` // 0: none
}

// MaintainReply sums up what a maintenance command did.
type MaintainReply struct {
	Checkpointed int `json:"checkpointed"`
	Requeued     int `json:"requeued"`
	Killed       int `json:"killed"`
	Failed       int `json:"failed"`  // could not be checkpointed, left running
	Running      int `json:"running"` // left running (policy n, not rerunnable)
}

// SchedulingRequest starts or stops the starting of jobs.
type SchedulingRequest struct {
	On bool `json:"on"`
}

// SignalRequest is a qsig: Signal by name (TERM, SIGTERM) or number.
// Script: to the job's script alone, not its other processes (scancel
// --batch); STOP and CONT suspend and resume the whole job all the same.
type SignalRequest struct {
	ID     uint64 `json:"id"`
	Signal string `json:"signal"`
	Script bool   `json:"script,omitempty"`
}

// RerunRequest is a qrerun; Force reruns a job that is not rerunnable.
type RerunRequest struct {
	ID    uint64 `json:"id"`
	Force bool   `json:"force,omitempty"`
	// Owner is Slurm's scontrol requeue: the job's owner may requeue it
	// (a running job that is rerunnable), not only an operator.
	Owner bool `json:"owner,omitempty"`
}

// MoveRequest is a qmove of a job to Queue.
type MoveRequest struct {
	ID    uint64 `json:"id"`
	Queue string `json:"queue"`
	// Node, instead of Queue, moves a running job to that node of the
	// cluster (qmove -n HOST): checkpointed, stopped, restarted there.
	Node string `json:"node,omitempty"`
}

// OrderRequest is a qorder: the two jobs exchange their places (queue,
// priority and place among equals).
type OrderRequest struct {
	A uint64 `json:"a"`
	B uint64 `json:"b"`
}

// AlterRequest is a qalter: the fields set are changed, as with qsub's
// options of the same letters.
type AlterRequest struct {
	ID         uint64    `json:"id"`
	Resources  []string  `json:"resources,omitempty"` // each -l
	Name       string    `json:"name,omitempty"`      // -N
	Stdout     string    `json:"stdout,omitempty"`    // -o, absolute
	Stderr     string    `json:"stderr,omitempty"`    // -e, absolute
	Join       string    `json:"join,omitempty"`      // -j
	Hold       string    `json:"hold,omitempty"`      // -h: u, o, s (hold) or n (release)
	Checkpoint string    `json:"checkpoint,omitempty"`
	Priority   string    `json:"priority,omitempty"` // -p
	Rerunnable string    `json:"rerunnable,omitempty"`
	After      time.Time `json:"after,omitzero"` // -a
	Account    string    `json:"account,omitempty"`
}

// NodesRequest is pbsnodes: Offline/Online change the host's state.
type NodesRequest struct {
	Offline bool   `json:"offline,omitempty"`
	Online  bool   `json:"online,omitempty"`
	Comment string `json:"comment,omitempty"`
	// Node is the node -o or -r is for, in a cluster; "": the daemon's own.
	Node string `json:"node,omitempty"`
	// DrainTimeoutSec is the drain deadline of -o, from now (pbsnodes
	// --drain-timeout); 0: the server's drain_timeout.
	DrainTimeoutSec float64 `json:"drain_timeout_s,omitempty"`
}

// NodeInfo is this host as pbsnodes shows it.
type NodeInfo struct {
	Name        string   `json:"name"`
	State       string   `json:"state"` // free, job-busy, offline
	Slots       int      `json:"slots"`
	Assigned    int      `json:"assigned"` // slots of running jobs
	MemBytes    int64    `json:"mem"`
	AssignedMem int64    `json:"assigned_mem"`
	Jobs        []uint64 `json:"jobs,omitempty"`
	Comment     string   `json:"comment,omitempty"`
	Server      string   `json:"server"`
	// DrainBy is the deadline of an offline node's drain (zero: none).
	DrainBy time.Time `json:"drain_by,omitzero"`
	// Nodes lists every node of a cluster (state down: its lease expired),
	// this one among them; empty on a single host.
	Nodes []NodeInfo `json:"nodes,omitempty"`
}

// JobRequest names a job for hold, release and delete.
type JobRequest struct {
	ID uint64 `json:"id"`
	// Record, with OpDelete, keeps a job that never ran as a failed job
	// whose reason says who deleted it, instead of removing it: Slurm's
	// scancel leaves a CANCELLED job that squeue and sacct show.
	Record bool `json:"record,omitempty"`
}

// JobReply is the job's state after the request: "deleted" when qdel
// removed it.
type JobReply struct {
	ID    uint64 `json:"id"`
	State string `json:"state"`
}

// QueueRequest names a queue, with attributes for create and set.
type QueueRequest struct {
	Name  string      `json:"name,omitempty"`
	Attrs []Attribute `json:"attrs,omitempty"`
}

// Attribute is one name = value pair.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// QueueInfo is a queue with its job counts.
type QueueInfo struct {
	Name           string         `json:"name"`
	Priority       int            `json:"priority"`
	Enabled        bool           `json:"enabled"`
	Started        bool           `json:"started"`
	MaxRunning     int            `json:"max_running"`
	MaxUserRunning int            `json:"max_user_running"`
	Default        bool           `json:"default"`
	Counts         map[string]int `json:"counts"`                    // jobs by state
	CkptMin        string         `json:"ckpt_min"`                  // as qmgr takes it: "0", hours, a duration
	CkptDefault    string         `json:"ckpt_default"`              // n, s or an interval
	CkptKeep       int            `json:"ckpt_keep"`                 // 0: the server's checkpoint_keep
	CkptFullEvery  int            `json:"ckpt_full_every,omitempty"` // 0: the server's checkpoint_full_every
	NetDefault     string         `json:"net_default,omitempty"`     // host or private
	CkptCompress   string         `json:"ckpt_compress,omitempty"`   // true, false or default (the server's checkpoint_compress)
}

// QueueReply is the queue after create or set.
type QueueReply struct {
	Queue QueueInfo `json:"queue"`
}

// QueuesReply lists queues by name.
type QueuesReply struct {
	Queues []QueueInfo `json:"queues"`
}

// ServerSetRequest changes one setting of lazarus.conf.
type ServerSetRequest struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ServerReply lists the daemon's settings.
type ServerReply struct {
	Version    int       `json:"version"`
	StateDir   string    `json:"state_dir"`
	ConfigFile string    `json:"config_file"`
	Started    time.Time `json:"started"`
	Settings   []Setting `json:"settings"`
	// StateDirProblem is as StatusReply.StateDir: the state directory is
	// full, or state changes wait to be recorded.
	StateDirProblem string `json:"state_dir_problem,omitempty"`
}

// Setting is one setting of lazarus.conf.
type Setting struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Doc     string `json:"doc"`
}
