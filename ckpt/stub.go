package ckpt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The stub is the process the restored root is cloned from: it has exec'd
// the root's executable (so /proc/PID/exe is right) and is stopped, traced
// by us, before running a single instruction of it.
//
// Normally it is our child, traced from its first exec (PTRACE_TRACEME),
// and the root it clones with CLONE_PARENT is our child too. With
// RestartOptions.Detach the root must be our caller's child instead (restart
// -W: it takes restart's place), and CLONE_PARENT can only name the
// parent of the cloning process. So the stub itself is cloned with
// CLONE_PARENT, as our parent's child; it cannot be traced from birth
// (PTRACE_TRACEME would make our parent its tracer), so it starts as a
// copy of this very program (/proc/self/exe) that waits on a pipe before
// it execs the root's executable. We seize it while it waits, then let it
// go, and it stops at the exec (PTRACE_EVENT_EXEC).

// stubEnv marks the copy of this program that is a detached stub; its value
// is the executable to exec.
const stubEnv = "_LAZARUS_RESTART_STUB"

func init() {
	exe := os.Getenv(stubEnv)
	if exe == "" {
		return
	}
	// init of the main goroutine runs on the process's main thread, so the
	// exec below is done by the thread we seized. One byte on fd 3 means go;
	// end of file means the restorer gave up.
	var b [1]byte
	for {
		n, err := syscall.Read(3, b[:])
		if err == syscall.EINTR {
			continue
		}
		if n != 1 {
			os.Exit(1)
		}
		break
	}
	syscall.Close(3)
	err := syscall.Exec(exe, []string{exe}, []string{})
	fmt.Fprintf(os.Stderr, "restart stub: exec %s: %v\n", exe, err)
	os.Exit(1)
}

// startStub starts the stub for exe and returns it stopped and traced by
// the calling (locked) thread.
func startStub(exe, comm string, detach bool) (*exec.Cmd, error) {
	if !detach {
		cmd := exec.Command(exe)
		cmd.Args = []string{comm}
		cmd.Env = []string{}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		if _, err := waitStop(cmd.Process.Pid); err != nil {
			return cmd, err
		}
		return cmd, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{comm}
	cmd.Env = []string{stubEnv + "=" + exe}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_PARENT}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	if err := ptraceSeize(pid, unix.PTRACE_O_TRACEEXEC|unix.PTRACE_O_EXITKILL); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return nil, err
	}
	if _, err := w.Write([]byte{1}); err != nil {
		return cmd, err
	}
	// The stub is a Go program until it execs: signals its runtime gets
	// (preemption) stop it on the way and are handed back.
	deadline := time.Now().Add(stopWaitLimit)
	execd := false
	for {
		ws, err := waitStopUntil(context.Background(), pid, deadline)
		if err != nil {
			return cmd, err
		}
		if execd && ws.StopSignal() == unix.SIGSTOP && int(ws)>>16 == 0 {
			return cmd, nil
		}
		sig := 0
		if ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXEC {
			// Stopped inside execve: let it return to the new program's
			// first instruction and stop there at a signal, the state a
			// traced exec leaves (the signal is never delivered).
			execd = true
			if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
				return cmd, err
			}
		}
		if s := ws.StopSignal(); !execd && ws.TrapCause() <= 0 && s != unix.SIGSTOP && s != unix.SIGTRAP {
			sig = int(s)
		}
		if err := ptrace(unix.PTRACE_CONT, pid, 0, uintptr(sig)); err != nil {
			return cmd, wrapPtrace("cont", pid, err)
		}
	}
}
