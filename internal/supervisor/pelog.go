package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"lazarus/jobs"
)

// The site's prologue and epilogue (PBS MoM's mom_priv/prologue and
// epilogue): programs the supervisor runs as root, the prologue before a
// run from the beginning of the script, the epilogue after every run
// (whatever ended it: its end, qdel, a checkpoint that stopped it for
// maintenance). As in PBS, a run restarted from a checkpoint has no
// prologue (PBS's MoM restarts a checkpointed job before it would run
// one): the job's setup was done when it first started.
//
// Arguments, as PBS passes them: the prologue gets the job id, user and
// group; the epilogue gets those, then the job name, session id, the
// resources requested, the resources used, the queue, the account and the
// exit status. Each has PelogTimeout to end.
//
// A script that is not owned by root, or is writable by its group or by
// others, or sits in a directory that is, is refused (PBS's permission
// error): it would give root to whoever can change it.

// Prologue exit codes beyond the script's own (PBS's).
const (
	PelogPermission = -1 // refused: owner or mode
	PelogNoRun      = -3 // could not be run (or waited for)
	PelogTimeout    = -4 // killed at its timeout
)

// pelogOutputMax bounds what is kept of a script's output.
const pelogOutputMax = 64 << 10

// PelogResult is how a prologue or epilogue ended: its exit code (or one
// of the Pelog codes) and the start of its output.
type PelogResult struct {
	Code   int
	Output string
	Err    string
}

// CheckPelog refuses a script that someone other than root could change:
// the file must be a regular file owned by root, executable, and not
// writable by group or others, and so must its directory be owned and
// writable by root only (in a directory others may write, even a sticky
// one, the name could be someone else's file at the next run). Every
// directory above must be root's too, writable by others only if sticky
// (/tmp): a user who could rename one could put a directory of their own
// in its place.
func CheckPelog(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	for d := filepath.Dir(filepath.Dir(path)); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		switch {
		case !ok:
			return fmt.Errorf("%s: cannot tell its owner", d)
		case sys.Uid != 0:
			return fmt.Errorf("%s: a directory above it owned by uid %d, not root: %w", d, sys.Uid, ErrPelogPermission)
		case st.Mode().Perm()&0o022 != 0 && st.Mode()&os.ModeSticky == 0:
			return fmt.Errorf("%s: a directory above it writable by group or others (mode %04o): %w", d, st.Mode().Perm(), ErrPelogPermission)
		}
		if d == "/" || d == "." {
			break
		}
	}
	for i, p := range []string{path, filepath.Dir(path)} {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		switch {
		case !ok:
			return fmt.Errorf("%s: cannot tell its owner", p)
		case i == 0 && !st.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", p)
		case sys.Uid != 0:
			return fmt.Errorf("%s: owned by uid %d, not root: %w", p, sys.Uid, ErrPelogPermission)
		case st.Mode().Perm()&0o022 != 0:
			return fmt.Errorf("%s: writable by group or others (mode %04o): %w", p, st.Mode().Perm(), ErrPelogPermission)
		case i == 0 && st.Mode().Perm()&0o100 == 0:
			return fmt.Errorf("%s: not executable by root: %w", p, ErrPelogPermission)
		}
	}
	return nil
}

// ErrPelogPermission is the refusal of a prologue or epilogue someone
// other than root could change.
var ErrPelogPermission = errors.New("permission error: a prologue or epilogue must be owned by root and writable by root only")

// runPelog runs a prologue or epilogue with args and the timeout.
func runPelog(ctx context.Context, log *slog.Logger, what, path string, timeout time.Duration, args []string, env []string) PelogResult {
	if err := CheckPelog(path); err != nil {
		log.Error(what+" refused", "path", path, "error", err)
		return PelogResult{Code: PelogPermission, Err: err.Error()}
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = "/"
	cmd.Env = env
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, killed whole at the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	res := PelogResult{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Code, res.Err = PelogTimeout, fmt.Sprintf("timed out after %s", timeout)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
		if res.Code < 0 { // killed by a signal
			res.Code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
		res.Err = fmt.Sprintf("exit status %d", res.Code)
	case err != nil:
		res.Code, res.Err = PelogNoRun, err.Error()
	}
	log.Info(what+" ran", "path", path, "code", res.Code, "output", strings.TrimSpace(res.Output))
	return res
}

// limitedBuffer keeps the first pelogOutputMax bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := pelogOutputMax - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// pelogEnv is the environment of a prologue or epilogue: a fixed PATH and
// the job's PBS_JOBID, nothing of the job's own environment.
func pelogEnv(spec *Spec) []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PBS_JOBID=" + jobs.ID(spec.JobID).String(), "LAZARUS_JOBID=" + jobs.ID(spec.JobID).String()}
}

// prologue runs the site's prologue before a run from the start of the
// script; ok false: the job must not run (rec says why).
func prologue(ctx context.Context, log *slog.Logger, spec *Spec, rec *Record) bool {
	if spec.Prologue == "" || spec.Restore != "" {
		return true
	}
	res := runPelog(ctx, log, "prologue", spec.Prologue, spec.PelogTimeout,
		[]string{jobs.ID(spec.JobID).String(), spec.User, spec.Group}, pelogEnv(spec))
	if res.Code == 0 {
		return true
	}
	rec.Prologue = &res
	why := res.Err
	if line := lastLine(res.Output); line != "" {
		why += ": " + line
	}
	if res.Code == 1 {
		// PBS: exit 1 aborts the job.
		rec.Reason = "cannot start: the prologue failed (" + why + ")"
	} else {
		rec.Reason = "prologue failed (" + why + ")"
	}
	return false
}

// stoppedWhy says, as the daemon will record it, why a run that was
// killed was stopped on purpose, to be requeued: after a checkpoint that
// stops it (qchkpnt -k, qhold, maintenance), or without one; "" when it
// was not. The daemon decides the same from the same marker.
func stoppedWhy(runDir string, rec *Record) string {
	rq, err := ReadRequeue(runDir)
	switch {
	case err != nil || rq == nil:
		return ""
	case rq.Gen == 0 && rec.Reason == "killed":
		return "stopped to be requeued"
	case rq.Gen == 0 || rec.ExitCode != -1:
		return ""
	case rq.Dir != "":
		if _, ok := ReadGeneration(rq.Dir, rq.Gen); !ok {
			return "" // the checkpoint did not complete
		}
	}
	return fmt.Sprintf("stopped after checkpoint %d", rq.Gen)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// epilogue runs the site's epilogue after a run, with what the run used,
// and appends its output to the job's output file, as PBS does (opened as
// the job's owner: the path is the user's to choose).
func epilogue(ctx context.Context, log *slog.Logger, runDir string, spec *Spec, rec *Record) {
	if spec.Epilogue == "" {
		return
	}
	seg := jobs.Segment{Start: spec.Start, End: rec.End, ExitCode: rec.ExitCode, Signal: rec.Signal, Reason: rec.Reason}
	if seg.End.IsZero() {
		seg.End = time.Now()
	}
	if why := stoppedWhy(runDir, rec); why != "" {
		seg.Reason = why // its Exit_status is PBS's for a stop, not SIGKILL's
	}
	status, _ := seg.ExitStatus()
	cpu := time.Duration(rec.UserCPUNS + rec.SysCPUNS)
	used := fmt.Sprintf("cput=%s,mem=%dkb,vmem=%dkb,walltime=%s", jobs.FormatDuration(cpu),
		rec.Mem>>10, rec.VMem>>10, jobs.FormatDuration(seg.Wall(seg.End)))
	res := runPelog(ctx, log, "epilogue", spec.Epilogue, spec.PelogTimeout, []string{
		jobs.ID(spec.JobID).String(), spec.User, spec.Group, spec.Name, strconv.Itoa(rec.Session),
		spec.ResourceList, used, spec.Queue, spec.Account, strconv.Itoa(status),
	}, pelogEnv(spec))
	if res.Code != 0 {
		rec.Epilogue = res.Err
	}
	if res.Output == "" {
		return
	}
	f, err := openOutput(spec)
	if err != nil {
		log.Warn("the epilogue's output cannot go to the job's output file", "error", err)
		return
	}
	defer f.Close()
	f.WriteString(res.Output)
}
