package jobs

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ID identifies a job. IDs are allocated in increasing order, so ordering by
// ID is ordering by submission; the ids of subjobs (array.go) come after
// every job's, in the order of their arrays and indices.
type ID uint64

// Owner is who submitted a job, as the kernel told the daemon
// (SO_PEERCRED, SO_PEERGROUPS). The job runs with exactly these ids.
type Owner struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	Name   string // user name at submission, for display; UID is authoritative
}

// Join says whether stdout and stderr of a job go to one file (qsub -j).
type Join string

const (
	JoinNone         Join = ""   // separate files
	JoinOutErr       Join = "oe" // stderr into the stdout file
	JoinErrOut       Join = "eo" // stdout into the stderr file
	joinNoneExplicit      = "n"
)

// ParseJoin parses the argument of qsub -j.
func ParseJoin(s string) (Join, error) {
	switch s {
	case string(JoinOutErr):
		return JoinOutErr, nil
	case string(JoinErrOut):
		return JoinErrOut, nil
	case joinNoneExplicit, "":
		return JoinNone, nil
	}
	return "", fmt.Errorf("-j %q: %w (want oe, eo or n)", s, ErrBadJoin)
}

// Segment is one run of a job: from a start (or, in part 2, a restart) to
// the end of its processes. CPU times are those of the whole process tree.
type Segment struct {
	Start    time.Time
	End      time.Time // zero while the segment is open
	UserCPU  time.Duration
	SysCPU   time.Duration
	ExitCode int    // exit status of the job script; -1 when it did not exit
	Signal   int    // signal that ended the script, 0 if none
	Reason   string // why the run ended, when not by itself: "walltime exceeded", ...
	Restart  bool   // this run was restarted from a checkpoint
	// Generation is the checkpoint generation the run was restarted from;
	// 0 for a run from the start of the script.
	Generation int
	// Lazy: the run was restarted lazily from Generation (restart_lazy):
	// its memory is served from that generation's images, and those of
	// its chain, while it runs (Job.Serving).
	Lazy bool
	// Base is the job's run time when this run began: the Elapsed of the
	// generation it was restarted from, copied when the run starts, so that
	// the run's walltime and the elapsed time of its own checkpoints do not
	// depend on that generation being kept (it may be pruned meanwhile).
	Base time.Duration
	// Mem and VMem are the largest resident and virtual sizes of the run's
	// process tree (bytes); Session is the session (the pid) of its script.
	Mem, VMem int64
	Session   int
	// Exec is where the run was placed in a cluster (qstat's exec_host):
	// one chunk per select chunk, the first the host that runs the
	// script; empty on a single host.
	Exec []Chunk
}

// Chunk is one select chunk of a run placed on a cluster node.
type Chunk struct {
	Host  string
	NCPUs int
	Mem   int64 // bytes; 0: not asked for
	// Lease is the node's lease when the chunk was placed: a node that
	// lost that lease (and registered again) no longer runs it.
	Lease int64
}

// Open reports whether the segment is still running.
func (s Segment) Open() bool { return s.End.IsZero() }

// CPU is the segment's user plus system CPU time.
func (s Segment) CPU() time.Duration { return s.UserCPU + s.SysCPU }

// Wall is the segment's elapsed time, up to now when it is still open.
func (s Segment) Wall(now time.Time) time.Duration {
	if s.Open() {
		return now.Sub(s.Start)
	}
	return s.End.Sub(s.Start)
}

// Generation is one checkpoint of a job: the image files of every process
// of the job's tree, in a directory of their own, durable since Time.
type Generation struct {
	N         int
	Time      time.Time     // when it became durable
	Dir       string        // its directory
	Root      string        // the root process's image, a file of Dir
	Size      int64         // bytes on disk
	Duration  time.Duration // the whole checkpoint, until durable
	Frozen    time.Duration // how long the job was stopped for it
	Processes int           // processes of the tree
	// Elapsed is the job's run time when the checkpoint was taken: the
	// wall time of its run since it started from the beginning, through the
	// checkpoints it restarted from (lost time not counted). A run
	// restarted from it has that much less walltime left.
	Elapsed time.Duration
	// Bad says why the generation cannot be restarted from (a restart from
	// it failed, or a restart from an older one superseded it); empty: good.
	Bad string
	// Host is the cluster node that wrote it (its fingerprint decides
	// where the job may restart); empty on a single host.
	Host string
	// Parent is the generation this one holds the changes since
	// (an incremental checkpoint: it needs Parent to be restarted from);
	// 0: self-contained.
	Parent int
}

// Good reports whether the job can restart from the generation.
func (g Generation) Good() bool { return g.Bad == "" }

// Image returns the path of the generation's root image.
func (g Generation) Image() string { return filepath.Join(g.Dir, g.Root) }

// Event is one step of a job's checkpoint and restart history, as qstat -f
// shows it: a checkpoint that failed, a restart that fell back...
type Event struct {
	Time time.Time
	Text string
}

// MaxEvents bounds a job's history; older events are dropped.
const MaxEvents = 30

// CheckpointOp is a checkpoint in progress (state Checkpointing).
type CheckpointOp struct {
	Gen     int       // the generation being written
	Requeue bool      // stop the job and requeue it once the image is durable
	Hold    bool      // with Requeue: hold it
	By      string    // who asked: a user, "schedule", "maintenance"
	Started time.Time //
}

// Job is a batch job. The store hands out shared values: never change one in
// place, Copy it first.
type Job struct {
	ID    ID
	Name  string
	Owner Owner
	Queue string
	State State
	// Reason says why the job is in its state when that is not obvious:
	// "held by alice", "walltime exceeded", "requeued: processes gone...".
	Reason string

	Submitted time.Time
	Changed   time.Time // last state change
	After     time.Time // qsub -a: not eligible before this time; zero: at once

	Workdir    string // submit directory; the job runs there
	Script     string // spool copy of the script, absolute path
	Stdout     string // absolute path of the output file
	Stderr     string // absolute path of the error file
	Join       Join
	Rerunnable bool
	Resources  Resources
	Checkpoint Policy
	Vars       []string // qsub -v, as VAR=value
	ExportEnv  bool     // qsub -V: the submitter's environment is in the store
	// Umask is qsub -W umask: the mask of the job's output and error files
	// when they are created, and the job's own umask. Nil: the files are
	// created 0600 (DefaultOutputUmask) and the job runs with umask 022.
	Umask *uint32
	Attrs Attributes

	Segments    []Segment
	Checkpoints []Generation // newest first
	// LastGeneration is the highest generation number ever used: numbers
	// are never reused, so a directory always holds one checkpoint.
	LastGeneration int
	// Checkpointing is the checkpoint in progress, in state Checkpointing.
	Checkpointing *CheckpointOp
	// CheckpointError is why the last checkpoint failed, at
	// CheckpointErrorTime; cleared by the next one that succeeds.
	CheckpointError     string
	CheckpointErrorTime time.Time
	// RestartFrom is the generation the next start restores (qrestart -g);
	// 0: the newest good one.
	RestartFrom int
	// MoveTo is the node the job's next start must be placed on (qmove
	// -n: its run there is being checkpointed and stopped); cleared when
	// that start is recorded.
	MoveTo string
	// Suspended is when the job was suspended (qsig -s suspend or STOP);
	// zero: it is not. Suspensions are its past suspensions, oldest first
	// (the last maxSuspensions): a run restored from a checkpoint taken
	// in one of them is resumed (see suspend.go).
	Suspended   time.Time
	Suspensions []Span
	// ResumeWanted: qsig -s resume (or CONT) was asked of the suspended
	// job while the CPUs and memory it released were taken: it is
	// resumed when they are free (scheduler.Plan.Resume).
	ResumeWanted bool
	Events       []Event // oldest first

	// Array makes the job an array job (qsub -J); nil for a job or subjob.
	Array *Array
	// Depend is what the job waits for (qsub -W depend); nil: nothing.
	Depend *Depend
}

// Place is the job's place among the jobs of its priority: its Rank, or
// its id (submission order).
func (j *Job) Place() uint64 {
	if j.Attrs.Rank != 0 {
		return j.Attrs.Rank
	}
	return uint64(j.ID.Base()) // a subjob waits in its array's place
}

// Copy returns a deep copy that can be changed without touching j.
func (j *Job) Copy() *Job {
	c := *j
	c.Owner.Groups = slices.Clone(j.Owner.Groups)
	c.Vars = slices.Clone(j.Vars)
	if j.Umask != nil {
		m := *j.Umask
		c.Umask = &m
	}
	c.Segments = slices.Clone(j.Segments)
	c.Checkpoints = slices.Clone(j.Checkpoints)
	c.Events = slices.Clone(j.Events)
	c.Suspensions = slices.Clone(j.Suspensions)
	if j.Checkpointing != nil {
		op := *j.Checkpointing
		c.Checkpointing = &op
	}
	c.Array, c.Depend = j.Array.Copy(), j.Depend.Copy()
	return &c
}

// Current returns the open segment, if any.
func (j *Job) Current() (Segment, bool) {
	if n := len(j.Segments); n > 0 && j.Segments[n-1].Open() {
		return j.Segments[n-1], true
	}
	return Segment{}, false
}

// Totals sums the job's run segments: CPU (user+system) and elapsed time
// less the time the job was suspended, counting an open segment up to now.
func (j *Job) Totals(now time.Time) (cpu, wall time.Duration) {
	for _, s := range j.Segments {
		cpu += s.CPU()
		end := now
		if !s.Open() {
			end = s.End
		}
		wall += s.Wall(now) - j.SuspendedWithin(s.Start, end) // not charged (OpenPBS)
	}
	return cpu, wall
}

// LastCheckpoint returns the time of the newest checkpoint generation, or
// the zero time when there is none.
func (j *Job) LastCheckpoint() time.Time {
	if len(j.Checkpoints) == 0 {
		return time.Time{}
	}
	return j.Checkpoints[0].Time
}

// DefaultName is the job name qsub uses when -N is not given: the script's
// base name, or "STDIN" for a script read from standard input (as PBS does).
func DefaultName(script string) string {
	if script == "" || script == "-" {
		return "STDIN"
	}
	base := script[strings.LastIndexByte(script, '/')+1:]
	if base == "" {
		return "STDIN"
	}
	return base
}

// ValidateName checks a job name (qsub -N). Names become parts of file
// names (NAME.oID), so they must be usable as one.
func ValidateName(name string) error {
	if name == "" || len(name) > 200 || name == "." || name == ".." {
		return fmt.Errorf("job name %q: %w", name, ErrBadName)
	}
	for _, r := range name {
		if r == '/' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("job name %q: %w", name, ErrBadName)
		}
	}
	return nil
}

// ValidateSlurmName checks the name of a job submitted with Slurm's
// options, which, unlike PBS's, may hold blanks (--job-name="My job":
// Slurm takes it, and its files, %x, have the blank too).
func ValidateSlurmName(name string) error {
	if err := ValidateName(strings.ReplaceAll(name, " ", "_")); err != nil {
		return fmt.Errorf("job name %q: not a valid job name (1-200 characters, no '/' or control characters): %w", name, ErrBadName)
	}
	return nil
}

// DefaultOutputUmask masks the output and error files of a job that gives
// no -W umask: they are created 0600, readable by their owner only (as
// PBS's default umask of 077 makes them).
const DefaultOutputUmask = 0o077

// ParseUmask parses qsub -W umask=NNN: one to four octal digits, at most
// 0777.
func ParseUmask(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || s == "" || len(s) > 4 || n > 0o777 {
		return 0, fmt.Errorf("umask=%s: %w", s, ErrBadUmask)
	}
	return uint32(n), nil
}

// ValidateVar checks one qsub -v entry: NAME=value or NAME (which takes the
// value from the submitter's environment, resolved by qsub).
func ValidateVar(kv string) error {
	name, _, _ := strings.Cut(kv, "=")
	if name == "" {
		return fmt.Errorf("-v %q: %w", kv, ErrBadVar)
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("-v %q: %w", kv, ErrBadVar)
		}
	}
	return nil
}
