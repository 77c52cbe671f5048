package ckpt

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Job control: a member of the tree may be stopped by SIGSTOP, SIGTSTP,
// SIGTTIN or SIGTTOU (a group-stop, /proc/PID/stat state T). The
// checkpoint keeps it stopped and records it; the restart brings it back
// stopped, so a later SIGCONT resumes it, and its parent's wait sees what
// it would have seen.
//
// Kernel behaviour relied on (kernel/ptrace.c, kernel/signal.c):
//   - PTRACE_SEIZE of a task in group-stop moves it into a ptrace
//     group-stop at once; wait4 reports it as PTRACE_EVENT_STOP with the
//     stop signal (not SIGTRAP, which is what PTRACE_INTERRUPT's own stop
//     carries). Resuming that stop with the signal would deliver it again
//     and let the task run: it must be taken as frozen.
//   - Injected calls resume the task, but its group's SIGNAL_STOP_STOPPED
//     stays; PTRACE_DETACH then puts it back into group-stop
//     (__ptrace_unlink), so the running job is left as it was.
//   - The parent's wait reports a group-stop once (signal->group_exit_code
//     is cleared by a WUNTRACED wait without WNOWAIT). Whether it was
//     reported is asked of the parent with WNOWAIT, which consumes nothing.

// jobStop records a group-stop.
type jobStop struct {
	Signal int `json:"signal"` // the signal that stopped it
	// Waited: its parent (in the tree) had already collected the stop
	// with wait; the restart collects the new one for it.
	Waited bool `json:"waited,omitempty"`
}

// groupStopSignal tells whether ws is a ptrace group-stop and with which
// signal.
func groupStopSignal(ws unix.WaitStatus) (unix.Signal, bool) {
	if !ws.Stopped() || int(ws)>>16 != unix.PTRACE_EVENT_STOP {
		return 0, false
	}
	switch sig := ws.StopSignal(); sig {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return sig, true
	}
	return 0, false
}

const (
	pPID    = 1 // idtype P_PID of waitid
	wNoWait = 0x01000000
)

// injectJobStops asks the parent, for each of its stopped children,
// whether it has collected the stop yet.
func (d *dumper) injectJobStops(t *task, scratch uint64) error {
	for _, c := range d.children {
		if c.meta.JobStop == nil {
			if err := d.refuseContinued(t, scratch, c); err != nil {
				return err
			}
			continue
		}
		// siginfo at scratch: si_pid (offset 16) is 0 when nothing is
		// there to report (WNOHANG).
		zero := make([]byte, 128)
		if _, err := d.mem.WriteAt(zero, int64(scratch)); err != nil {
			return fmt.Errorf("%s(%d): write scratch: %w", d.comm, d.pid, err)
		}
		// The parent names the child by its pid in the parent's PID
		// namespace (a batch job's tree is in one of its own), not ours.
		pid := childPIDInParent(d.pid, c.pid)
		if _, err := t.call("waitid", unix.SYS_WAITID, pPID, uint64(pid), scratch, unix.WSTOPPED|unix.WNOHANG|wNoWait, 0); err != nil {
			return fmt.Errorf("%s(%d): waitid %d: %w", d.comm, d.pid, pid, err)
		}
		b := make([]byte, 20)
		if _, err := d.mem.ReadAt(b, int64(scratch)); err != nil {
			return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
		}
		pending := int32(b[16])|int32(b[17])<<8|int32(b[18])<<16|int32(b[19])<<24 == int32(pid)
		c.meta.JobStop.Waited = !pending
	}
	return nil
}

// refuseContinued refuses a running child whose continue (SIGCONT after a
// stop) its parent has not collected yet with wait(WCONTINUED): the
// kernel keeps that report in the child's signal state, which a restart
// cannot set without stopping the child again and sending its parent
// SIGCHLDs it never had. Asked of the parent with WNOWAIT, which
// consumes nothing.
func (d *dumper) refuseContinued(t *task, scratch uint64, c *dumper) error {
	zero := make([]byte, 128)
	if _, err := d.mem.WriteAt(zero, int64(scratch)); err != nil {
		return fmt.Errorf("%s(%d): write scratch: %w", d.comm, d.pid, err)
	}
	pid := childPIDInParent(d.pid, c.pid)
	if _, err := t.call("waitid", unix.SYS_WAITID, pPID, uint64(pid), scratch, unix.WCONTINUED|unix.WNOHANG|wNoWait, 0); errnoOf(err) == unix.ECHILD {
		return nil // not its to wait for (SIGCHLD ignored, a clone child)
	} else if err != nil {
		return fmt.Errorf("%s(%d): waitid %d: %w", d.comm, d.pid, pid, err)
	}
	b := make([]byte, 20)
	if _, err := d.mem.ReadAt(b, int64(scratch)); err != nil {
		return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
	}
	if int32(b[16])|int32(b[17])<<8|int32(b[18])<<16|int32(b[19])<<24 == int32(pid) {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("child %d was continued (SIGCONT) and the process has not collected that with wait(WCONTINUED) yet: the report cannot be restored", c.pid)}
	}
	return nil
}

// childPIDInParent is child's pid as its parent sees it: in the parent's
// PID namespace (/proc/PID/status NSpid lists a task's pid in each
// namespace from ours inwards; the child is in the parent's or one nested
// in it). Without that information, the pid we see.
func childPIDInParent(parent, child int) int {
	ps, err := readStatus(parent)
	if err != nil || len(ps.NSpid) == 0 {
		return child
	}
	cs, err := readStatus(child)
	if err != nil || len(cs.NSpid) < len(ps.NSpid) {
		return child
	}
	return cs.NSpid[len(ps.NSpid)-1]
}

// finishSignal is the signal finish sends a restored process: its own stop
// signal if it was stopped, whatever restart would send otherwise (a
// SIGCONT would resume it).
func (p *rproc) finishSignal(sig unix.Signal) unix.Signal {
	if js := p.meta.JobStop; js != nil && sig != unix.SIGKILL {
		if js.Waited {
			// Nobody sees the number (collectStops takes the report):
			// SIGSTOP, which the kernel never discards, unlike the
			// others in an orphaned process group.
			return unix.SIGSTOP
		}
		return unix.Signal(js.Signal)
	}
	return sig
}

// collectStops collects, for a restored parent whose stopped child's stop
// was already collected at checkpoint time, the new stop the restart
// caused, so the parent's next wait(WUNTRACED) does not see it twice. The
// children are finished (and stopping) before their parent.
func (b *builder) collectStops() error {
	collected := false
	for _, c := range b.p.children {
		js := c.meta.JobStop
		if js == nil || !js.Waited || c.pid <= 0 {
			continue
		}
		if err := waitGroupStop(c.pid); err != nil {
			return fmt.Errorf("%s(%d): %w", c.comm(), c.meta.PID, err)
		}
		pid := uint64(c.pidIn(b.p))
		if _, err := b.call("waitid", unix.SYS_WAITID, pPID, pid, b.scratch+scratchData, unix.WSTOPPED|unix.WNOHANG, 0); err != nil {
			return fmt.Errorf("collect the stop of %s(%d): %w", c.comm(), c.meta.PID, err)
		}
		collected = true
	}
	if collected {
		return b.flushSIGCHLD()
	}
	return nil
}

// waitGroupStop waits, within stopWaitLimit, until pid is in group-stop.
func waitGroupStop(pid int) error {
	deadline := time.Now().Add(stopWaitLimit)
	for {
		st, err := readStat(pid)
		if err != nil {
			return err
		}
		if st.State == 'T' {
			return nil
		}
		if time.Now().After(deadline) {
			return &StopTimeoutError{PID: pid}
		}
		time.Sleep(time.Millisecond)
	}
}

// si_code of SIGCHLD (include/uapi/asm-generic/siginfo.h).
const (
	cldStopped   = 5
	cldContinued = 6
)

// waitStopped waits, within stopWaitLimit, until pid has taken the SIGSTOP
// it was sent: stopped, or in a signal-delivery stop of its tracer (a
// member of the tree restored tracing it), or stopped and continued (or
// ended) since.
func waitStopped(pid int) error {
	deadline := time.Now().Add(stopWaitLimit)
	for {
		st, err := readStat(pid)
		if err != nil {
			return err
		}
		switch st.State {
		case 'T', 't', 'Z', 'X':
			return nil // stopped; or stopped, continued and ended since
		}
		// Stopped and continued since (a SIGCONT sent as soon as the stop
		// showed, before we looked): its parent, most often us, is told,
		// and the status is left for the caller's wait (WNOWAIT).
		var info unix.Siginfo
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WCONTINUED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == nil && info.Signo == int32(unix.SIGCHLD) && (info.Code == cldStopped || info.Code == cldContinued) {
			return nil
		}
		if time.Now().After(deadline) {
			return &StopTimeoutError{PID: pid}
		}
		time.Sleep(time.Millisecond)
	}
}

// detachRunning lets go of a tracee that is not in a ptrace-stop (it was
// seized, but never stopped, or was resumed): PTRACE_DETACH needs a
// stopped tracee, so it is interrupted first, within the bound.
func detachRunning(tid int) error {
	if err := ptraceInterrupt(tid); err != nil {
		return err
	}
	ws, err := waitStop(tid)
	if err != nil {
		return err
	}
	if int(ws)>>16 == unix.PTRACE_EVENT_STOP {
		return ptraceDetach(tid, 0)
	}
	// A signal-delivery stop: the signal goes back to it as we detach.
	return ptraceDetach(tid, ws.StopSignal())
}

// interruptUnlessStopped asks a just seized task to stop, unless it is in
// group-stop: PTRACE_SEIZE of such a task returns only once the task has
// moved into a ptrace-stop (ptrace_attach waits for JOBCTL_TRAPPING to
// clear), and the trap of an interrupt on top would come at the first
// injected step. So the state is read after the seize: 't' (or 'T') is that
// trap; a task continued just before the seize is running, and interrupted.
func interruptUnlessStopped(tid int) error {
	if st, err := readStat(tid); err == nil && (st.State == 't' || st.State == 'T') {
		return nil
	}
	return ptraceInterrupt(tid)
}
