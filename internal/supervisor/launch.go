package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"lazarus/ckpt"
	"lazarus/jobs"
)

// Launcher starts a job's first process as a child of the calling process
// (the supervisor). place is called with the new pid before the job runs
// any of its own code (the supervisor puts it into the job's cgroup there).
// On error nothing of the job may be left running.
type Launcher interface {
	Launch(ctx context.Context, spec *Spec, place func(pid int) error) (pid int, err error)
}

// launcherFor returns the launcher for a run: a restart from a checkpoint
// image, or the script started in a PID namespace of its own (the daemon
// is root), or, for a daemon that is not root, the script started plainly.
func launcherFor(exe, runDir string, spec *Spec, log *slog.Logger, term *ptyRelay) Launcher {
	switch {
	case spec.Restore != "":
		return restoreLauncher{log: log, term: term, runDir: runDir}
	case spec.Namespace:
		return execLauncher{exe: exe, namespace: true, term: term}
	}
	return execLauncher{exe: exe, term: term}
}

// execLauncher runs the job script through "lazarusd exec-job": the helper
// starts with the job's credentials in a new session (no control
// terminal), reads the job's setup from fd 3 once the supervisor has placed
// it, and reports a failure on fd 4 before exiting; fd 4 is close-on-exec,
// so its EOF without data means the script was exec'd. This is the runc
// init pattern: setup errors reach the supervisor as text, and nothing of
// the job runs before it is in its cgroup.
//
// With namespace, the helper is started by ckpt.Namespaced as the init
// (pid 1) of a new PID namespace, with a mount namespace and a /proc of its
// own, so that the job can be checkpointed and restarted with its pids.
// Creating namespaces and mounting /proc needs root, so the helper starts
// as root there and drops to the job's credentials itself before it opens
// anything of the user's. Either way the script is left with its standard
// descriptors only: nothing that leads back to the supervisor, which
// would make the job's tree uncheckpointable.
//
// With a terminal (an interactive run), the helper's standard descriptors
// are the pty's slave, which is its control terminal in a session of its
// own, and it execs the login shell there (interactive.go).
type execLauncher struct {
	exe       string
	namespace bool
	term      *ptyRelay
}

// helperSetup is what the helper reads on fd 3.
type helperSetup struct {
	Workdir string   `json:"workdir"`
	Script  string   `json:"script"`
	Args    []string `json:"args,omitempty"`
	Shell   string   `json:"shell"`
	Stdout  string   `json:"stdout"`
	Stderr  string   `json:"stderr"`
	Join    string   `json:"join"`
	Env     []string `json:"env"`
	// Mode is the mode of the output files it creates; Umask the job's.
	Mode  uint32 `json:"mode"`
	Umask uint32 `json:"umask"`
	// Append: the output files are appended to, not truncated.
	Append bool `json:"append,omitempty"`
	// Drop, when set, are the credentials the helper switches to first.
	Drop *helperCreds `json:"drop,omitempty"`

	// ForceShell: run the script with Shell, whatever its first line.
	ForceShell bool `json:"force_shell,omitempty"`
	// Interactive: exec Shell as a login shell on the terminal that is
	// the helper's standard input, instead of the script.
	Interactive bool `json:"interactive,omitempty"`
}

type helperCreds struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups"`
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
	var drop *helperCreds
	sys := &syscall.SysProcAttr{Setsid: true}
	if spec.SetIDs {
		if l.namespace {
			drop = &helperCreds{UID: spec.UID, GID: spec.GID, Groups: spec.Groups}
		} else {
			sys.Credential = &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: spec.Groups}
		}
	}
	exe := l.exe
	if l.namespace && exe == "/proc/self/exe" {
		// The namespace's init is a shell that execs the helper: our
		// /proc/self/exe would be its own.
		if exe, err = os.Readlink(exe); err != nil {
			setupR.Close()
			errW.Close()
			null.Close()
			return 0, err
		}
	}
	cmd := exec.Command(exe, "exec-job")
	cmd.Args[0] = "lazarusd"
	cmd.Dir, cmd.Env = "/", []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{setupR, errW} // fds 3 and 4
	cmd.SysProcAttr = sys
	if l.term != nil {
		tty := l.term.slave
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		sys.Setctty, sys.Ctty = true, 0
	}
	if l.namespace {
		// What the namespace's init says before the helper runs (mount
		// failing, say) is the reason the job did not start.
		cmd.Stderr = errW
		cmd = ckpt.Namespaced(cmd)
	}
	err = cmd.Start()
	setupR.Close()
	errW.Close()
	null.Close()
	if err != nil {
		return 0, fmt.Errorf("start job: %w", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release() // the supervisor's reaper waits for it
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
		Workdir: spec.Workdir, Script: spec.Script, Args: spec.Args, Shell: spec.Shell,
		Stdout: spec.Stdout, Stderr: spec.Stderr, Join: spec.Join, Env: spec.Env, Drop: drop,
		Mode: spec.outputMode(), Umask: spec.umask(), Append: spec.Append,
		ForceShell: spec.ForceShell, Interactive: l.term != nil && spec.Interactive,
	})
	if err != nil {
		return 0, err
	}
	_, werr := setupW.Write(setup)
	setupW.Close()
	msg, err := io.ReadAll(errR)
	if err != nil {
		return 0, err
	}
	if len(msg) > 0 {
		return 0, errors.New(string(bytes.TrimSpace(msg)))
	}
	if werr != nil {
		return 0, fmt.Errorf("send job setup: %w", werr)
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
	if c := s.Drop; c != nil {
		// Groups first: setgroups needs the privilege setuid gives up.
		// Go applies these to every thread of the helper.
		groups := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fail("setgroups: %v", err)
		}
		if err := syscall.Setresgid(int(c.GID), int(c.GID), int(c.GID)); err != nil {
			return fail("setresgid %d: %v", c.GID, err)
		}
		if err := syscall.Setresuid(int(c.UID), int(c.UID), int(c.UID)); err != nil {
			return fail("setresuid %d: %v", c.UID, err)
		}
	}
	// The files are created with their mode exactly: the umask of the job
	// is the one it asked for (-W umask), whose mode then is 0666 less it,
	// or 022, which takes nothing from the default 0600.
	unix.Umask(int(s.Umask))
	if err := os.Chdir(s.Workdir); err != nil {
		return fail("cannot enter working directory %s: %v", s.Workdir, unwrapPath(err))
	}
	if s.Interactive {
		return execLoginShell(&s, fail)
	}
	var out, errf *os.File
	open := func(path string) (*os.File, error) {
		f, err := openNewOutput(path, os.FileMode(s.Mode), s.Append)
		if err != nil {
			return nil, fmt.Errorf("cannot open output file %s: %v", path, err)
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
		// The same path for both (sbatch -o F -e F, qsub -o F -e F) is
		// one file: opened twice, each descriptor with its own offset
		// and O_TRUNC, the two streams would overwrite each other.
		if out, err = open(s.Stdout); err == nil {
			errf = out
			if filepath.Clean(s.Stderr) != filepath.Clean(s.Stdout) {
				errf, err = open(s.Stderr)
			}
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
	if !s.ForceShell {
		err := syscall.Exec(s.Script, append([]string{s.Script}, s.Args...), s.Env)
		if interp := shebang(s.Script); interp != "" && (err == syscall.ENOENT || err == syscall.EACCES) {
			// The #! line names a program this host lacks (#!/bin/csh,
			// #!/usr/bin/python) or cannot run: the job ran and failed,
			// as under PBS, whose shell says so in the error file and
			// exits 127 (126: not executable).
			fmt.Fprintf(os.Stderr, "%s: %s: bad interpreter: %v\n", s.Script, interp, err)
			if err == syscall.EACCES {
				return 126
			}
			return 127
		}
		if err != syscall.ENOEXEC {
			return fail("cannot run %s: %v", s.Script, err)
		}
	}
	// No "#!" line: run it with the user's shell, as PBS does.
	err = syscall.Exec(s.Shell, append([]string{s.Shell, s.Script}, s.Args...), s.Env)
	return fail("cannot run %s with %s: %v", s.Script, s.Shell, err)
}

// shebang returns the interpreter of a script's "#!" line, or "".
func shebang(script string) string {
	f, err := os.Open(script)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := io.ReadFull(f, buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	if fields := strings.Fields(rest); len(fields) > 0 {
		return fields[0]
	}
	return ""
}

// openNewOutput opens (creating or truncating) a job's output file. It opens
// without blocking: opening a FIFO for writing waits for a reader, and a
// FIFO that nobody reads (planted as -o or -e) would keep the helper in
// open(2) forever, its job never started nor deletable (qdel kills the
// job's tree, which does not exist yet). A FIFO with no reader is refused;
// one with a reader, a device or a regular file is used, in blocking mode.
func openNewOutput(path string, mode os.FileMode, appendTo bool) (*os.File, error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_NONBLOCK | unix.O_CLOEXEC
	if appendTo {
		// O_APPEND: the script's own writes and a second stream on the
		// same file land at its end, never over each other.
		flags = flags&^unix.O_TRUNC | unix.O_APPEND
	}
	fd, err := unix.Open(path, flags, uint32(mode.Perm()))
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags, uint32(mode.Perm()))
	}
	if err == unix.ENXIO {
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
			return nil, errors.New("a FIFO that no process reads")
		}
		return nil, errors.New("not a file that can be written (a socket?)")
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// outputMode is the mode of the job's output and error files: 0666 less
// the umask the job asked for, else 0600.
func (s *Spec) outputMode() uint32 {
	if s.Umask != nil {
		return 0o666 &^ *s.Umask
	}
	return 0o666 &^ jobs.DefaultOutputUmask
}

// umask is the job's umask: the one it asked for, else 022.
func (s *Spec) umask() uint32 {
	if s.Umask != nil {
		return *s.Umask & 0o777
	}
	return 0o022
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
