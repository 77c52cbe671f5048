package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A job's script is the init (pid 1) of the job's PID namespace, and the
// kernel delivers to an init, from outside its namespace, only the
// signals it has a handler for (and SIGKILL and SIGSTOP): the others are
// dropped as it sends them. A script that does not trap it would run on
// after qsig -s TERM (or Slurm's --signal B:USR1), starting its next
// command, where under PBS or Slurm it dies of the signal and the job ends
// with exit status 256+N. So SignalInit gives an init the default action of
// a signal it neither catches nor ignores, as the kernel gives it to any
// other process: a stop signal stops it (SIGSTOP), a fatal one kills it
// (SIGKILL), the signal recorded in InitSignalFile for the supervisor,
// which reaps it, to report the script as killed by that signal.

// InitSignalFile, in the run directory, holds the number of the fatal
// signal SignalInit gave the script by killing it.
const InitSignalFile = "init_signal"

// InitDefault is the signal to send pid, the job's script, for it to take
// sig as any other process would: sig itself if it is not the init of a
// PID namespace, catches or ignores sig, or blocks it (pending, as for any
// process; an init drops it when it unblocks it), or if sig's default
// action is to ignore it; SIGSTOP for a stop signal; SIGKILL for a fatal
// one (see KillInit).
func InitDefault(pid int, sig unix.Signal) unix.Signal {
	if sig == unix.SIGKILL || sig == unix.SIGSTOP || sig == 0 || !isNamespaceInit(pid) ||
		catches(pid, sig) || inMask(pid, "SigIgn:", sig) || inMask(pid, "SigBlk:", sig) {
		return sig
	}
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGCONT:
		return sig // ignored by default (SIGCONT resumes all the same)
	case unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return unix.SIGSTOP
	}
	return unix.SIGKILL
}

// KillInit kills pid, the script of the job whose run directory is
// runDir, recording that it is to be reported killed by sig.
func KillInit(runDir string, pid int, sig unix.Signal) error {
	path := filepath.Join(runDir, InitSignalFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(sig))+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return unix.Kill(pid, unix.SIGKILL)
}

// SignalInit sends sig to pid, the script of the job whose run directory
// is runDir, with the default action it has for any other process.
func SignalInit(runDir string, pid int, sig unix.Signal) error {
	if s := InitDefault(pid, sig); s != unix.SIGKILL || sig == unix.SIGKILL {
		return unix.Kill(pid, s)
	}
	return KillInit(runDir, pid, sig)
}

// initSignalled returns the status the script whose wait status is ws
// ended with: killed by the signal SignalInit emulated, if it was the
// SIGKILL that ended it. The record is taken either way.
func initSignalled(runDir string, ws unix.WaitStatus) unix.WaitStatus {
	path := filepath.Join(runDir, InitSignalFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return ws
	}
	os.Remove(path)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 || n >= 65 || !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		return ws
	}
	return unix.WaitStatus(n) // as wait reports a death by signal n
}

// inMask reports whether sig is in the signal mask field (SigIgn:,
// SigBlk:...) of /proc/PID/status.
func inMask(pid int, field string, sig unix.Signal) bool {
	f := statusField(pid, field)
	if len(f) != 1 {
		return false
	}
	mask, err := strconv.ParseUint(f[0], 16, 64)
	return err == nil && mask&(1<<(uint(sig)-1)) != 0
}
