package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Launcher starts a job's first process as a child of the calling process
// (the supervisor). place is called with the new pid before the job runs
// any of its own code (the supervisor puts it into the job's cgroup there).
// On error nothing of the job may be left running.
//
// Part 2 adds launchers that start the job in a new PID namespace and that
// restore it from a checkpoint image; launcherFor chooses.
type Launcher interface {
	Launch(ctx context.Context, spec *Spec, place func(pid int) error) (pid int, err error)
}

// launcherFor returns the launcher for a run.
func launcherFor(exe string, _ *Spec) Launcher { return execLauncher{exe: exe} }

// execLauncher runs the job script through "lazarusd exec-job": the helper
// starts with the job's credentials in a new session (no control
// terminal), reads the job's setup from fd 3 once the supervisor has placed
// it, and reports a failure on fd 4 before exiting; fd 4 is close-on-exec,
// so its EOF without data means the script was exec'd. This is the runc
// init pattern: setup errors reach the supervisor as text, and nothing of
// the job runs before it is in its cgroup.
type execLauncher struct{ exe string }

// helperSetup is what the helper reads on fd 3.
type helperSetup struct {
	Workdir string   `json:"workdir"`
	Script  string   `json:"script"`
	Shell   string   `json:"shell"`
	Stdout  string   `json:"stdout"`
	Stderr  string   `json:"stderr"`
	Join    string   `json:"join"`
	Env     []string `json:"env"`
}

func (l execLauncher) Launch(ctx context.Context, spec *Spec, place func(pid int) error) (_ int, retErr error) {
	setupR, setupW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer setupW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		setupR.Close()
		return 0, err
	}
	defer errR.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		setupR.Close()
		errW.Close()
		return 0, err
	}
	sys := &syscall.SysProcAttr{Setsid: true}
	if spec.SetIDs {
		sys.Credential = &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: spec.Groups}
	}
	p, err := os.StartProcess(l.exe, []string{"lazarusd", "exec-job"}, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: []*os.File{null, null, null, setupR, errW},
		Sys:   sys,
	})
	setupR.Close()
	errW.Close()
	null.Close()
	if err != nil {
		return 0, fmt.Errorf("start job: %w", err)
	}
	pid := p.Pid
	p.Release()
	defer func() {
		if retErr != nil {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
					break
				}
			}
		}
	}()
	if err := place(pid); err != nil {
		return 0, err
	}
	setup, err := json.Marshal(helperSetup{
		Workdir: spec.Workdir, Script: spec.Script, Shell: spec.Shell,
		Stdout: spec.Stdout, Stderr: spec.Stderr, Join: spec.Join, Env: spec.Env,
	})
	if err != nil {
		return 0, err
	}
	if _, err := setupW.Write(setup); err != nil {
		return 0, fmt.Errorf("send job setup: %w", err)
	}
	setupW.Close()
	msg, err := io.ReadAll(errR)
	if err != nil {
		return 0, err
	}
	if len(msg) > 0 {
		return 0, errors.New(string(bytes.TrimSpace(msg)))
	}
	return pid, nil
}

// ExecJob is the helper "lazarusd exec-job". It runs with the job's
// credentials; on success it does not return (the script replaces it).
func ExecJob() int {
	report := os.NewFile(4, "report")
	fail := func(format string, args ...any) int {
		fmt.Fprintf(report, format, args...)
		return 127
	}
	unix.CloseOnExec(4)
	data, err := io.ReadAll(os.NewFile(3, "setup"))
	if err != nil {
		return fail("read job setup: %v", err)
	}
	unix.Close(3)
	var s helperSetup
	if err := json.Unmarshal(data, &s); err != nil {
		return fail("read job setup: %v", err)
	}
	unix.Umask(0o022)
	if err := os.Chdir(s.Workdir); err != nil {
		return fail("cannot enter working directory %s: %v", s.Workdir, unwrapPath(err))
	}
	var out, errf *os.File
	open := func(path string) (*os.File, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("cannot open output file %s: %v", path, unwrapPath(err))
		}
		return f, nil
	}
	switch s.Join {
	case "oe":
		out, err = open(s.Stdout)
		errf = out
	case "eo":
		errf, err = open(s.Stderr)
		out = errf
	default:
		if out, err = open(s.Stdout); err == nil {
			errf, err = open(s.Stderr)
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	for fd, f := range map[int]*os.File{1: out, 2: errf} {
		if err := unix.Dup2(int(f.Fd()), fd); err != nil {
			return fail("dup2: %v", err)
		}
	}
	// syscall.Exec, not unix.Exec: it puts back the RLIMIT_NOFILE soft limit
	// that the Go runtime raised at start.
	if err := syscall.Exec(s.Script, []string{s.Script}, s.Env); err != syscall.ENOEXEC {
		return fail("cannot run %s: %v", s.Script, err)
	}
	// No "#!" line: run it with the user's shell, as PBS does.
	err = syscall.Exec(s.Shell, []string{s.Shell, s.Script}, s.Env)
	return fail("cannot run %s with %s: %v", s.Script, s.Shell, err)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
