package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/ckpt"
	"lazarus/internal/proc"
	"lazarus/jobs"
)

// Checkpoints are taken by a helper, "lazarusd checkpoint-job REQUEST",
// that the daemon starts in a session of its own for each checkpoint. It
// must not be the supervisor: the kernel reports the ptrace stops of a
// traced child to its parent's wait4(-1), which would take them from the
// engine (and the supervisor waits for its children all the time); nor
// the daemon itself: a daemon killed in the middle of a checkpoint would
// leave the job in the middle of an injected system call, and a big job's
// pages would be copied through the daemon's heap. The helper outlives
// the daemon, holds checkpoint.lock in the run directory for its whole
// life (so "locked" means "a checkpoint is in progress") and records its
// result there before it exits.
//
// Files of a run directory for checkpoints (see the package doc):
const (
	CkptLockFile   = "checkpoint.lock" // flock held by the helper
	CkptResultFile = "checkpoint.json" // the last checkpoint's result (CheckpointResult)
	CkptLogFile    = "checkpoint.log"  // the helpers' messages
	// RequeueFile is written, durably, before a checkpoint that stops the
	// job (qchkpnt -k, maintenance), and removed if the checkpoint fails:
	// a run that ends by SIGKILL with this file present and its generation
	// complete was stopped on purpose, whatever happened to the daemon.
	RequeueFile = "requeue.json"
)

// Files of a generation directory (spool/ID.ckpt/N/).
const (
	RootImage   = "job"             // the root process's image; its children's are job.COMM.PID...
	GenInfoFile = "generation.json" // CheckpointResult, written once the images are durable
)

// CheckpointRequest is what the daemon asks of the helper.
type CheckpointRequest struct {
	JobID  uint64        `json:"job_id"`
	RunDir string        `json:"run_dir"`
	Job    proc.Identity `json:"job"` // the job's first process (the root of its tree)
	Gen    int           `json:"gen"`
	Dir    string        `json:"dir"`  // the generation's directory, created by the helper
	Stop   bool          `json:"stop"` // kill the job's tree once the images are durable
	Hold   bool          `json:"hold"` // with Stop: the job is to be held, not requeued
	// KeyFile is the host key the images are authenticated with
	// (HostKey); "": none.
	KeyFile string `json:"key_file,omitempty"`
	// Compress is the compression level of the images (0: none).
	Compress int `json:"compress,omitempty"`
	// The site's checkpoint hooks (ckpthook.go), "" for none, the time
	// each may take, and what their arguments tell: the job's owner and
	// group names, and who asked for the checkpoint.
	Prologue    string        `json:"prologue,omitempty"`
	Epilogue    string        `json:"epilogue,omitempty"`
	HookTimeout time.Duration `json:"hook_timeout,omitempty"`
	User        string        `json:"user,omitempty"`
	Group       string        `json:"group,omitempty"`
	By          string        `json:"by,omitempty"`
	// Track leaves the engine's dirty-page tracker in the job's processes
	// (ckpt.CheckpointOptions.Track); Parent, if set, is the root image
	// of generation ParentGen: the checkpoint is incremental against it
	// where the tracker allows (ckpt.CheckpointOptions.Parent), else, or
	// if that image cannot be used, self-contained.
	Track     bool   `json:"track,omitempty"`
	Parent    string `json:"parent,omitempty"`
	ParentGen int    `json:"parent_gen,omitempty"`

	skipSpaceCheck bool // tests: reach the engine's own ENOSPC
}

// Requeue is the content of RequeueFile.
type Requeue struct {
	Gen  int  `json:"gen"`
	Hold bool `json:"hold"`
	// Dir is the generation's directory (absent in older markers), where
	// the epilogue looks whether the checkpoint completed.
	Dir string `json:"dir,omitempty"`
}

// CheckpointResult is how a checkpoint ended.
type CheckpointResult struct {
	JobID     uint64    `json:"job_id"`
	Gen       int       `json:"gen"`
	OK        bool      `json:"ok"`
	Error     string    `json:"error,omitempty"`
	NoSpace   bool      `json:"no_space,omitempty"`
	Dir       string    `json:"dir,omitempty"`
	Root      string    `json:"root,omitempty"` // file of Dir
	Time      time.Time `json:"time,omitzero"`  // when it became durable
	Size      int64     `json:"size,omitempty"` // on disk
	Memory    uint64    `json:"memory,omitempty"`
	Duration  int64     `json:"duration_ns,omitempty"`
	Frozen    int64     `json:"frozen_ns,omitempty"`
	Processes int       `json:"processes,omitempty"`
	Stopped   bool      `json:"stopped,omitempty"` // the job was killed after the checkpoint
	// EpilogueError says how the checkpoint_epilogue failed, if it did.
	EpilogueError string `json:"epilogue_error,omitempty"`
	// Parent: the generation this one is incremental against; 0: full.
	Parent int `json:"parent,omitempty"`
}

// Generation returns the job model's record of a successful checkpoint.
func (r *CheckpointResult) Generation() jobs.Generation {
	return jobs.Generation{
		N: r.Gen, Time: r.Time, Dir: r.Dir, Root: r.Root, Size: r.Size,
		Duration: time.Duration(r.Duration), Frozen: time.Duration(r.Frozen), Processes: r.Processes,
		Parent: r.Parent,
	}
}

// ErrBusy is the result of a checkpoint asked for while another one of the
// same job is in progress.
var ErrBusy = errors.New("a checkpoint of this job is already in progress")

// lazyWaitMax bounds how long a checkpoint waits for a lazy restore's
// pages (WaitLazy); past it the engine refuses, and says why.
const lazyWaitMax = 30 * time.Minute

// spaceMargin is free space left over after the estimated image size:
// metadata, and what the job's memory grows by while we look.
const spaceMargin = 256 << 10

// Checkpoint is "lazarusd checkpoint-job": it checkpoints the job's whole
// tree into a new generation directory and records the result in the run
// directory. On any failure the generation directory is removed and the
// job runs on.
func Checkpoint(ctx context.Context, log *slog.Logger, req CheckpointRequest) (res CheckpointResult) {
	res = CheckpointResult{JobID: req.JobID, Gen: req.Gen}
	lock, err := os.OpenFile(filepath.Join(req.RunDir, CkptLockFile), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer lock.Close()
	if err := flock(lock, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = ErrBusy
		}
		res.Error = err.Error()
		return res
	}
	defer func() {
		// Recorded before the lock goes (with the process): whoever sees
		// the lock free finds the result.
		if err := writeJSON(filepath.Join(req.RunDir, CkptResultFile), &res); err != nil {
			log.Error("cannot record the checkpoint's result", "error", err)
		}
	}()
	if err := checkpoint(ctx, log, req, &res); err != nil {
		res.Error = err.Error()
		res.NoSpace = errors.Is(err, syscall.ENOSPC)
		log.Warn("checkpoint failed", "job_id", jobs.ID(req.JobID), "gen", req.Gen, "error", err)
		return res
	}
	res.OK = true
	log.Info("checkpoint done", "job_id", jobs.ID(req.JobID), "gen", req.Gen, "size", res.Size,
		"frozen", time.Duration(res.Frozen), "duration", time.Duration(res.Duration))
	return res
}

func checkpoint(ctx context.Context, log *slog.Logger, req CheckpointRequest, res *CheckpointResult) (retErr error) {
	if !req.Job.Alive() {
		return errors.New("the job is not running")
	}
	// A run restarted lazily is checkpointed once its pages are all in:
	// the background load takes about what an eager restore would.
	wctx, cancel := context.WithTimeout(ctx, lazyWaitMax)
	if WaitLazy(wctx, req.RunDir) {
		log.Info("waited for the lazy restore to bring every page in", "job_id", jobs.ID(req.JobID), "gen", req.Gen)
	}
	cancel()
	parent := filepath.Dir(req.Dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	if !req.skipSpaceCheck {
		need := treeMemory(req.Job.PID) + spaceMargin
		var st unix.Statfs_t
		if err := unix.Statfs(parent, &st); err != nil {
			return &os.PathError{Op: "statfs", Path: parent, Err: err}
		}
		if free := int64(st.Bavail) * st.Bsize; free < need {
			return fmt.Errorf("not enough free space in %s: the checkpoint needs about %s, %s are free: %w",
				parent, size(need), size(free), syscall.ENOSPC)
		}
	}
	if err := os.Mkdir(req.Dir, 0o700); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			// Never a half generation: gone, and its name with it.
			if err := os.RemoveAll(req.Dir); err != nil {
				log.Error("cannot remove a failed generation", "dir", req.Dir, "error", err)
			}
			syncDir(parent)
		}
	}()
	if err := syncDir(parent); err != nil {
		return err
	}
	if req.Stop {
		marker := filepath.Join(req.RunDir, RequeueFile)
		if err := writeJSON(marker, &Requeue{Gen: req.Gen, Hold: req.Hold, Dir: req.Dir}); err != nil {
			return err
		}
		defer func() {
			if retErr != nil {
				os.Remove(marker)
				syncDir(req.RunDir)
			}
		}()
	}
	opts := ckpt.CheckpointOptions{Dir: req.Dir, File: RootImage, Tree: true, Compress: req.Compress, Logger: log.With("component", "ckpt")}
	if req.KeyFile != "" {
		key, err := ReadKey(req.KeyFile)
		if err != nil {
			return err
		}
		opts.Key = key
	}
	if req.Stop {
		// Sent while the tree is still frozen, after the images are
		// durable: the job does nothing after its checkpoint.
		opts.Signal, opts.SignalAll = unix.SIGKILL, true
	}
	opts.Track, opts.Parent = req.Track || req.Parent != "", req.Parent
	// The site's hooks around the engine's part: nothing the engine does
	// runs before the prologue has said the job may be checkpointed, and
	// the epilogue follows whatever the engine did.
	ran, err := checkpointPrologue(ctx, log, req)
	if err != nil {
		if ran {
			res.EpilogueError = checkpointEpilogue(ctx, log, req, false)
		}
		return err
	}
	r, err := ckpt.Checkpoint(ctx, req.Job.PID, opts)
	if err != nil && opts.Parent != "" && errors.Is(err, ckpt.ErrParent) {
		log.Warn("the parent generation cannot be used: the checkpoint is self-contained", "gen", req.ParentGen, "error", err)
		opts.Parent = ""
		r, err = ckpt.Checkpoint(ctx, req.Job.PID, opts)
	}
	if err == nil {
		*res = CheckpointResult{
			JobID: req.JobID, Gen: req.Gen, OK: true, Dir: req.Dir, Root: RootImage, Time: time.Now().Round(0),
			Size: r.Disk, Memory: r.Memory, Duration: int64(r.Duration), Frozen: int64(r.Frozen),
			Processes: len(r.Images), Stopped: req.Stop,
		}
		if r.Incremental {
			res.Parent = req.ParentGen
		}
		err = recordGeneration(log, req, res)
	}
	res.EpilogueError = checkpointEpilogue(ctx, log, req, err == nil)
	return err
}

// recordGeneration writes a durable generation's statistics into its
// directory.
func recordGeneration(log *slog.Logger, req CheckpointRequest, res *CheckpointResult) error {
	if err := writeJSON(filepath.Join(req.Dir, GenInfoFile), res); err != nil {
		if req.Stop {
			// The job is gone already; the images are complete and
			// durable, which is what its restart needs.
			log.Warn("cannot record the generation's statistics", "dir", req.Dir, "error", err)
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(req.Dir))
}

// ReadGeneration reads what a generation directory says of itself:
// its statistics if they were recorded, else what its files show. ok is
// false when the directory holds no complete checkpoint (the engine
// publishes the root image last, once every image is durable).
func ReadGeneration(dir string, gen int) (res CheckpointResult, ok bool) {
	if _, err := os.Stat(filepath.Join(dir, RootImage)); err != nil {
		return res, false
	}
	if err := readJSON(filepath.Join(dir, GenInfoFile), &res); err == nil && res.OK && res.Gen == gen {
		return res, true
	}
	res = CheckpointResult{Gen: gen, OK: true, Dir: dir, Root: RootImage, Parent: parentGen(dir)}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), RootImage) {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				res.Size += st.Blocks * 512
			}
			res.Processes++
			if e.Name() == RootImage {
				res.Time = info.ModTime()
			}
		}
	}
	return res, true
}

// ReadCheckpointResult reads the result the last helper recorded in a run
// directory, and whether one is still running (holds the lock).
func ReadCheckpointResult(runDir string) (res *CheckpointResult, running bool, err error) {
	lock, err := os.OpenFile(filepath.Join(runDir, CkptLockFile), os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err == nil {
		err := flock(lock, unix.LOCK_EX|unix.LOCK_NB)
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, true, nil
		}
	}
	var r CheckpointResult
	if err := readJSON(filepath.Join(runDir, CkptResultFile), &r); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &r, false, nil
}

// MarkRequeue writes the run directory's RequeueFile, durably: the run,
// about to be killed, is to be requeued.
func MarkRequeue(runDir string, r Requeue) error {
	return writeJSON(filepath.Join(runDir, RequeueFile), &r)
}

// ReadRequeue reads the run directory's RequeueFile, if any.
func ReadRequeue(runDir string) (*Requeue, error) {
	var r Requeue
	if err := readJSON(filepath.Join(runDir, RequeueFile), &r); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &r, nil
}

// treeMemory estimates the bytes a checkpoint of the tree rooted at pid
// writes: the anonymous memory of each process (what is saved; pages of
// files are not), plus a little for each process's metadata.
func treeMemory(pid int) int64 {
	kids, _ := proc.Descendants(pid)
	var total int64
	for _, p := range append(kids, pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/smaps_rollup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, field := range []string{"Anonymous:", "Pss_Shmem:"} {
				if v, ok := strings.CutPrefix(line, field); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					total += kb << 10
				}
			}
		}
		total += 64 << 10
	}
	return total
}

func size(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// parentGen reads which generation the root image of the generation
// directory dir is incremental against (a sibling directory named by its
// number, see the daemon's genDir); 0: self-contained, or unknown.
func parentGen(dir string) int {
	img, err := ckpt.ReadImage(filepath.Join(dir, RootImage))
	if err != nil || !img.Incremental() {
		return 0
	}
	rel := filepath.Clean(img.Parent())
	if filepath.Base(rel) != RootImage || filepath.Dir(filepath.Dir(rel)) != ".." {
		return 0
	}
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(rel)))
	return n
}

// MergeGeneration makes the images of the generation in dir
// self-contained (ckpt.Merge: each written under a temporary name,
// fsynced, renamed over the image, re-sealed with the host key), so that
// the generations below it can be deleted, and records it in the
// generation's statistics. It returns the generation's bytes on disk. A
// crash at any point leaves every image either as it was (its parents are
// still there) or merged.
func MergeGeneration(ctx context.Context, log *slog.Logger, dir, keyFile string) (int64, error) {
	opts := ckpt.MergeOptions{Logger: log.With("component", "ckpt")}
	if keyFile != "" {
		key, err := ReadKey(keyFile)
		if err != nil {
			return 0, err
		}
		opts.Key = key
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		// A merge cut off before it renamed an image left its temporary
		// (ckpt writes ".IMAGE.tmp*").
		if strings.HasPrefix(e.Name(), "."+RootImage) && strings.Contains(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if _, err := ckpt.Merge(ctx, filepath.Join(dir, RootImage), opts); err != nil {
		return 0, err
	}
	var size int64
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), RootImage) {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				size += st.Blocks * 512
			}
		}
	}
	var res CheckpointResult
	if err := readJSON(filepath.Join(dir, GenInfoFile), &res); err == nil && res.OK {
		res.Parent, res.Size = 0, size
		if err := writeJSON(filepath.Join(dir, GenInfoFile), res); err != nil {
			return size, err
		}
	}
	return size, nil
}
