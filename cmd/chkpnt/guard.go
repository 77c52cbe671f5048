package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"lazarus/ckpt"
)

// While the tree is frozen the engine has changed things in it: a thread
// stopped on a single-step trap or with the registers of an injected
// system call, every signal blocked, a scratch page, a twin. The kernel
// undoes none of that when the tracer dies: it only detaches the tracees,
// which then run on with what was left (a pending SIGTRAP kills them,
// injected registers crash them). chkpnt killed at such a moment (SIGKILL
// from a timeout, an impatient user, a kill of its process group) would
// kill the job it was saving.
//
// So the engine never runs in the process the caller holds: chkpnt starts
// a copy of itself, the worker, in a session of its own (a kill of
// chkpnt's process group or a terminal hang-up does not reach it), and
// waits for it. The worker does the checkpoint; if chkpnt dies, the
// worker sees the end of the guard pipe and cancels the checkpoint as
// SIGINT would, and the engine puts everything back and detaches as it
// does on any error. chkpnt passes SIGINT, SIGTERM and SIGHUP on to the
// worker, and ends with its exit status; the worker writes the messages
// and the status line (--status-fd) itself.
//
// Interactive checkpoints (-i, -L, -I) are guarded too: the survey and
// the questions (or the replay of a log) are made in chkpnt, on its
// terminal, before the engine runs; the choices go to the worker on a
// descriptor of their own (choicesEnv), and the worker asks nothing.

// workerEnv names, in the worker's environment, "FD:PID": the descriptor
// of the guard pipe's read end, and chkpnt's pid.
const workerEnv = "LAZARUS_CHKPNT_GUARD_FD"

// choicesEnv names, in the worker's environment, the descriptor of a
// memfd holding the interactive choices (ckpt.Choices, JSON).
const choicesEnv = "LAZARUS_CHKPNT_CHOICES_FD"

// guarded tells whether this chkpnt must hand the checkpoint to a worker:
// always, unless it is the worker.
func guarded() bool { return os.Getenv(workerEnv) == "" }

// choicesFile holds ch for the worker: an unlinked memory file, read from
// its start.
func choicesFile(ch *ckpt.Choices) (*os.File, error) {
	data, err := json.Marshal(ch)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("chkpnt-choices", 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "chkpnt choices")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// workerChoices reads, in the worker, the choices chkpnt made: nil if
// it made none.
func workerChoices() (*ckpt.Choices, error) {
	v := os.Getenv(choicesEnv)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(choicesEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: not a descriptor", choicesEnv, v)
	}
	f := os.NewFile(uintptr(fd), "chkpnt choices")
	defer f.Close()
	var ch ckpt.Choices
	if err := json.NewDecoder(f).Decode(&ch); err != nil {
		return nil, fmt.Errorf("the choices chkpnt passed on: %w", err)
	}
	return &ch, nil
}

// runWorker starts the worker, with choices (nil: none), and waits for it.
func runWorker(c *cli.Context, choices *ckpt.Choices) error {
	self, err := os.Executable()
	if err != nil {
		return cli.Exit(fmt.Sprintf("start checkpoint worker: %v", err), 1)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return cli.Exit(fmt.Sprintf("start checkpoint worker: %v", err), 1)
	}
	defer w.Close()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The status descriptor keeps its number in the worker (liblazarus
	// passed that number on the command line); the guard pipe comes
	// after it.
	var extra []*os.File
	if statusFile != nil {
		if fd := int(statusFile.Fd()); fd >= 3 {
			extra = make([]*os.File, fd-3+1)
			extra[fd-3] = statusFile
		}
	}
	guardFD := 3 + len(extra)
	cmd.ExtraFiles = append(extra, r)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%d", workerEnv, guardFD, os.Getpid()))
	if choices != nil {
		cf, err := choicesFile(choices)
		if err != nil {
			r.Close()
			return cli.Exit(fmt.Sprintf("start checkpoint worker: pass the choices on: %v", err), 1)
		}
		defer cf.Close()
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", choicesEnv, 3+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, cf)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Caught before the start: a signal between the start and Notify
	// would end chkpnt without the worker hearing of it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		r.Close()
		return cli.Exit(fmt.Sprintf("start checkpoint worker: %v", err), 1)
	}
	r.Close()
	// The worker writes the status line; a worker that could not (it was
	// killed) leaves it to us.
	status := statusFile
	statusFile = nil
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					statusFile = status
					return cli.Exit(fmt.Sprintf("checkpoint worker %d was killed by signal %d", cmd.Process.Pid, ws.Signal()), 1)
				}
				return cli.Exit("", ee.ExitCode())
			}
			if err != nil {
				statusFile = status
				return cli.Exit(fmt.Sprintf("checkpoint worker: %v", err), 1)
			}
			return nil
		}
	}
}

// workerContext is the checkpoint's context in the worker: cancelled by
// SIGINT or SIGTERM, as an unguarded chkpnt's is, and (in a worker) by
// SIGHUP and when chkpnt dies (the guard pipe's write end is closed). It
// returns chkpnt's pid in a worker (CheckpointOptions.Guard), else 0.
func workerContext() (context.Context, context.CancelFunc, int) {
	fdText, pidText, _ := strings.Cut(os.Getenv(workerEnv), ":")
	fd, err1 := strconv.Atoi(fdText)
	guard, err2 := strconv.Atoi(pidText)
	if err1 != nil || err2 != nil || fd < 3 || guard <= 0 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		return ctx, stop, 0
	}
	// SIGHUP too: chkpnt passes on its terminal's hang-up, which must
	// not kill the worker in the middle of the freeze.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	os.Unsetenv(workerEnv)
	syscall.CloseOnExec(fd)
	ctx, cancel := context.WithCancelCause(ctx)
	pipe := os.NewFile(uintptr(fd), "guard pipe")
	go func() {
		// Nothing is ever written: the read ends when chkpnt is gone.
		var b [1]byte
		pipe.Read(b[:])
		cancel(errors.New("chkpnt ended"))
	}()
	return ctx, func() { cancel(nil); stop() }, guard
}
