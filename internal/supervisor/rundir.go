package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
)

// Files of a run directory.
const (
	LockFile = "lock"
	SpecFile = "spec.json"
	InfoFile = "supervisor.json"
	ExitFile = "exit.json"
	LogFile  = "supervisor.log"
)

// Spec is what a supervisor runs: written by the daemon into spec.json.
type Spec struct {
	JobID   uint64    `json:"job_id"`
	Segment int       `json:"segment"` // index of the run segment in the job record
	Start   time.Time `json:"start"`   // the segment's start, as recorded
	Name    string    `json:"name"`
	UID     uint32    `json:"uid"`
	GID     uint32    `json:"gid"`
	Groups  []uint32  `json:"groups"`
	SetIDs  bool      `json:"set_ids"` // switch to UID, GID, Groups (the daemon is root)
	Workdir string    `json:"workdir"`
	Script  string    `json:"script"`
	Args    []string  `json:"args,omitempty"` // the script's ($1...)
	Shell   string    `json:"shell"`          // runs scripts that have no "#!" line
	Stdout  string    `json:"stdout"`
	Stderr  string    `json:"stderr"`
	Join    string    `json:"join"`
	// Umask, when set, is the job's umask (qsub -W umask), which also masks
	// its output and error files when they are created (0666 less it);
	// unset, the files are created 0600 and the job's umask is 022.
	Umask     *uint32       `json:"umask,omitempty"`
	Env       []string      `json:"env"`
	NCPUs     int           `json:"ncpus"`
	Mem       int64         `json:"mem"`      // bytes; 0: no limit
	Walltime  time.Duration `json:"walltime"` // 0: no limit
	KillGrace time.Duration `json:"kill_grace"`
	// WarnSignal, when not 0, is sent WarnBefore before the walltime is
	// up (sbatch --signal): to the script alone with WarnBatch, else to
	// every other process of the job (its steps). Suspended time counts
	// as it counts for the walltime.
	WarnSignal int           `json:"warn_signal,omitempty"`
	WarnBefore time.Duration `json:"warn_before,omitempty"`
	WarnBatch  bool          `json:"warn_batch,omitempty"`
	// Append opens the output and error files for appending, not
	// truncated (sbatch --open-mode=append).
	Append bool `json:"append,omitempty"`
	// Namespace starts the script as the init of a PID namespace of its
	// own, so that it can be checkpointed (the daemon is root).
	Namespace bool `json:"namespace,omitempty"`
	// PrivateNet runs the supervisor, and so the job and every restart of
	// it, in a network namespace of its own (qsub -l net=private; netns.go).
	PrivateNet bool `json:"private_net,omitempty"`
	// Restore, when set, is the root image of the checkpoint generation
	// Generation the run restarts from, instead of starting the script.
	Restore    string `json:"restore,omitempty"`
	Generation int    `json:"generation,omitempty"`
	// RestoreLazy: the restore is lazy (ckpt.RestartOptions.Lazy): the
	// supervisor serves the job's pages until every one is in.
	RestoreLazy bool `json:"restore_lazy,omitempty"`
	// Suspended: the job is suspended (qsig -s suspend): the restored tree
	// stays stopped, every process of it. Resume: the image was taken
	// while the job was suspended and it was resumed since: every process
	// of the restored tree gets SIGCONT. At most one of them.
	Suspended bool `json:"suspended,omitempty"`
	Resume    bool `json:"resume,omitempty"`
	// Track arms the engine's dirty-page tracker in the restored
	// processes (ckpt.RestartOptions.Track): the run's first checkpoint
	// is incremental against Generation. Not with RestoreLazy.
	Track bool `json:"track,omitempty"`
	// KeyFile is the host key (HostKey): a restore trusts what an image
	// records only if it is authenticated with it; "": none.
	KeyFile string `json:"key_file,omitempty"`

	// ForceShell runs the script with Shell even if it has a "#!" line
	// (qsub -S).
	ForceShell bool `json:"force_shell,omitempty"`
	// CPUTime is the CPU time the job's whole tree may use (qsub -l
	// cput); 0: no limit.
	CPUTime time.Duration `json:"cput,omitempty"`

	// The site's prologue and epilogue (pelog.go), "" for none, and the
	// time each may take; with what their arguments tell of the job.
	Prologue     string        `json:"prologue,omitempty"`
	Epilogue     string        `json:"epilogue,omitempty"`
	PelogTimeout time.Duration `json:"pelog_timeout,omitempty"`
	User         string        `json:"user,omitempty"`
	Group        string        `json:"group,omitempty"`
	Queue        string        `json:"queue,omitempty"`
	Account      string        `json:"account,omitempty"`
	ResourceList string        `json:"resource_list,omitempty"` // "ncpus=2,mem=1gb,walltime=01:00:00"

	// Interactive is a qsub -I job: it runs Shell as a login shell, not
	// the script. Terminal gives the run a pseudo terminal that a client
	// attaches to (interactive.go): always at the job's first start, and
	// on a restart asked for by qrestart --attach; an interactive job
	// restarted without it runs in batch, its terminal re-pointed to its
	// output file.
	Interactive bool `json:"interactive,omitempty"`
	Terminal    bool `json:"terminal,omitempty"`
	// Fence is the node's fence file in cluster mode (fence.go): the job
	// is killed once the deadline it holds has passed; "": no fencing.
	Fence string `json:"fence,omitempty"`
	// EndCopy, in cluster mode, is where the supervisor also writes the
	// end record of a run that ran, in shared_dir: the server reads it when
	// the node is lost with its daemon, so that a run that ended by itself
	// is recorded as ended, not rerun; "": none.
	EndCopy string `json:"end_copy,omitempty"`
}

// Info is supervisor.json: who is running.
type Info struct {
	Supervisor proc.Identity `json:"supervisor"`
	// Launched is the job's first process, recorded as soon as it exists
	// and before it runs any of the job's code (the exec-job helper keeps
	// its pid and start time when it execs the script). Zero: nothing of
	// the job has run, which a crash recovery relies on to start the job
	// again whatever its rerun flag says.
	Launched proc.Identity `json:"launched,omitzero"`
	// Job is the same process once the script runs (or the tree is
	// restored): what is signalled, checkpointed and shown as session_id.
	Job proc.Identity `json:"job,omitzero"`
}

// Started reports whether any of the job's code may have run.
func (i *Info) Started() bool {
	return i != nil && (i.Launched.PID > 0 || i.Job.PID > 0)
}

// Record is exit.json: how a run ended.
type Record struct {
	JobID     uint64    `json:"job_id"`
	Segment   int       `json:"segment"`
	End       time.Time `json:"end"`
	UserCPUNS int64     `json:"user_cpu_ns"`
	SysCPUNS  int64     `json:"sys_cpu_ns"`
	ExitCode  int       `json:"exit_code"` // -1: the script did not exit by itself
	Signal    int       `json:"signal"`
	Reason    string    `json:"reason,omitempty"`
	// RestoreFailed says that the restart from the spec's checkpoint
	// failed (Reason says why) and nothing of the job ran.
	RestoreFailed bool `json:"restore_failed,omitempty"`
	// Mem and VMem are the tree's peak resident and virtual sizes
	// (bytes); Session is the script's session id (its pid).
	Mem     int64 `json:"mem,omitempty"`
	VMem    int64 `json:"vmem,omitempty"`
	Session int   `json:"session,omitempty"`
	// Prologue is set when the prologue failed and the job did not run;
	// Epilogue says how the epilogue failed, if it did.
	Prologue *PelogResult `json:"prologue,omitempty"`
	Epilogue string       `json:"epilogue,omitempty"`
}

// ReadEndCopy reads the end record a supervisor left at path (Spec.EndCopy);
// nil, nil when there is none. The record is checked to be the one of job
// id's run segment seg.
func ReadEndCopy(path string, id uint64, seg int) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("end record %s: %w", path, err)
	}
	if rec.JobID != id || rec.Segment != seg {
		return nil, fmt.Errorf("end record %s: of job %d run %d, not of job %d run %d", path, rec.JobID, rec.Segment, id, seg)
	}
	return &rec, nil
}

// Status is what a run directory says about its supervisor.
type Status struct {
	Alive bool    // the supervisor holds its lock
	Info  *Info   // nil if the supervisor never wrote it
	Exit  *Record // nil if the run has no recorded end
}

// Start starts a supervisor for spec in runDir, which is created afresh.
// exe is the lazarusd binary. The supervisor runs in a new session, so it
// outlives the caller and the caller's process group; it is the caller's
// child, so the caller should reap it. The caller's copy of the lock is
// closed before Start returns: from then on the lock is the supervisor's.
func Start(exe, runDir string, spec *Spec) (pid int, retErr error) {
	if err := os.RemoveAll(runDir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return 0, err
	}
	if err := writeJSON(filepath.Join(runDir, SpecFile), spec); err != nil {
		return 0, err
	}
	lock, err := os.OpenFile(filepath.Join(runDir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	// The file is new, but a Probe of the directory (qstat's, the
	// daemon's own) may hold it for a moment: it takes the lock to tell
	// whether a supervisor does. Tried again for up to a second.
	for tries := 0; ; tries++ {
		err := flock(lock, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || tries >= 1000 {
			return 0, fmt.Errorf("lock %s: %w", lock.Name(), err)
		}
		time.Sleep(time.Millisecond)
	}
	logf, err := os.OpenFile(filepath.Join(runDir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	p, err := os.StartProcess(exe, []string{"lazarusd", "supervise", runDir}, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Files: []*os.File{null, logf, logf, lock}, // the lock is fd 3
		Sys:   &syscall.SysProcAttr{Setsid: true, Cloneflags: netFlags(spec)},
	})
	if err != nil {
		return 0, fmt.Errorf("start supervisor: %w", err)
	}
	pid = p.Pid
	p.Release()
	return pid, nil
}

// Probe reads a run directory. A missing directory is a run whose
// supervisor never started.
func Probe(runDir string) (Status, error) {
	var st Status
	lock, err := os.OpenFile(filepath.Join(runDir, LockFile), os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return st, err
	default:
		err := flock(lock, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case errors.Is(err, unix.EWOULDBLOCK):
			st.Alive = true
		case err != nil:
			lock.Close()
			return st, fmt.Errorf("lock %s: %w", lock.Name(), err)
		}
		lock.Close() // releases our lock, if we got it
	}
	var info Info
	if err := readJSON(filepath.Join(runDir, InfoFile), &info); err == nil {
		st.Info = &info
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	var rec Record
	if err := readJSON(filepath.Join(runDir, ExitFile), &rec); err == nil {
		st.Exit = &rec
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	return st, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			if err != nil {
				return os.NewSyscallError("flock", err)
			}
			return nil
		}
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path durably: temp file, fsync, rename, fsync of
// the directory. A crash leaves the old file or the new one, never half.
func writeJSON(path string, v any) (retErr error) {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(append(data, '\n')); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}
