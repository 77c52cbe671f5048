package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SlurmSignal is sbatch --signal=[{R|B}:]SIG[@TIME]: SIG is sent TIME
// before the job's time limit, to the batch script alone (B:) or to the
// rest of the job (its steps: what the script started), as Slurm sends
// it to the batch shell or to the job steps. The checkpoint pattern
// (trap the signal, save, requeue) depends on it arriving.
type SlurmSignal struct {
	Batch  bool           // B: the batch script alone
	Signal syscall.Signal // the signal
	Before time.Duration  // how long before the time limit
}

// slurmSignals are the signals --signal names, with or without SIG.
var slurmSignals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ABRT": syscall.SIGABRT,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM,
	"TERM": syscall.SIGTERM, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
	"URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM,
	"PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH, "PIPE": syscall.SIGPIPE,
}

// MaxSignalBefore is Slurm's bound of --signal's TIME (0xffff seconds).
const MaxSignalBefore = 65535 * time.Second

// ParseSlurmSignal parses --signal's argument; TIME is in seconds,
// 60 when not given, as in Slurm.
func ParseSlurmSignal(s string) (SlurmSignal, error) {
	var out SlurmSignal
	rest := s
	if flags, after, ok := strings.Cut(rest, ":"); ok {
		switch strings.ToUpper(flags) {
		case "B":
			out.Batch = true
		case "R":
			return out, fmt.Errorf("--signal=%s: R: is for a reservation, which this system does not have", s)
		default:
			return out, fmt.Errorf("--signal=%s: want [B:]SIG[@TIME]", s)
		}
		rest = after
	}
	name, at, hasAt := strings.Cut(rest, "@")
	out.Before = 60 * time.Second
	if hasAt {
		n, err := strconv.Atoi(at)
		if err != nil || n < 0 || time.Duration(n)*time.Second > MaxSignalBefore {
			return out, fmt.Errorf("--signal=%s: TIME %q: want seconds from 0 to 65535", s, at)
		}
		out.Before = time.Duration(n) * time.Second
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n < 1 || n > 64 {
			return out, fmt.Errorf("--signal=%s: no signal %d", s, n)
		}
		out.Signal = syscall.Signal(n)
		return out, nil
	}
	sig, ok := slurmSignals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	if !ok {
		return out, fmt.Errorf("--signal=%s: unknown signal %q", s, name)
	}
	out.Signal = sig
	return out, nil
}

// String writes the signal back in --signal's form, B:USR1@60.
func (s SlurmSignal) String() string {
	if s.Signal == 0 {
		return ""
	}
	name := strconv.Itoa(int(s.Signal))
	for k, v := range slurmSignals {
		if v == s.Signal {
			name = k
		}
	}
	b := ""
	if s.Batch {
		b = "B:"
	}
	return fmt.Sprintf("%s%s@%d", b, name, int(s.Before/time.Second))
}
