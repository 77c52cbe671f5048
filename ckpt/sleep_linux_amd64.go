package ckpt

// A thread stopped by the checkpoint in a sleep the kernel restarts
// through its restart block (nanosleep, relative clock_nanosleep, poll,
// futex waits with a timeout): the call returned ERESTART_RESTARTBLOCK,
// and when the thread goes on the kernel runs restart_syscall, which
// resumes the sleep from what it kept in the thread's restart_block (the
// end of the sleep, the pollfd array...). A restored thread has no such
// block, so the restore makes one: it runs the call again in the thread,
// with what was left of the sleep, and interrupts it as the checkpoint
// did; the thread then leaves with the original registers and the kernel
// restarts the call from the new block, as restart_syscall would have.
//
// What was left: a nanosleep or clock_nanosleep given a remainder
// pointer has the remaining time written there by the kernel when it is
// interrupted (nanosleep_copyout); without one the kernel keeps it to
// itself, and the full request is slept again, which the call's contract
// ("at least the time asked for") allows. A poll or a relative futex wait
// waits its whole timeout again; an absolute futex wait has the same end.

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// restartSleep is threadAttrs.Sleep.
type restartSleep struct {
	NR   int       `json:"nr"`
	Args [6]uint64 `json:"args"`
	// Left replaces the call's time argument (nanosleep's req,
	// clock_nanosleep's): the remaining time, sec and nsec.
	Left *[2]int64 `json:"left,omitempty"`
}

const timerAbstime = 1 // TIMER_ABSTIME

// restartable are the calls whose ERESTART_RESTARTBLOCK the restore can
// give back.
var restartable = map[int]bool{unix.SYS_NANOSLEEP: true, unix.SYS_CLOCK_NANOSLEEP: true, unix.SYS_POLL: true, unix.SYS_FUTEX: true}

// interruptedSleep records what the thread with registers r needs to
// resume its sleep, or nil if it is not in one.
func (d *dumper) interruptedSleep(r *unix.PtraceRegs) *restartSleep {
	if int64(r.Orig_rax) < 0 || int64(r.Rax) != -erestartRestartBlk || !restartable[int(r.Orig_rax)] {
		return nil
	}
	s := &restartSleep{NR: int(r.Orig_rax), Args: [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}}
	rem := uint64(0)
	switch s.NR {
	case unix.SYS_NANOSLEEP:
		rem = r.Rsi
	case unix.SYS_CLOCK_NANOSLEEP:
		rem = r.R10
	}
	if rem != 0 {
		b := make([]byte, 16)
		if _, err := d.mem.ReadAt(b, int64(rem)); err == nil {
			s.Left = &[2]int64{int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))}
		}
	}
	return s
}

// resumeSleeps rebuilds the restart block of every thread that was in an
// interrupted sleep; sleepDone records, for a call that ended at once
// (time up, a descriptor ready), its result, which the thread then
// returns instead.
func (b *builder) resumeSleeps() error {
	a := b.p.meta.Attrs
	if a == nil || b.p.meta.trapIgnored() {
		// The sleep is interrupted with a SIGTRAP of ours: a process
		// whose own SIGTRAP is ignored or pending would lose it (the
		// pending one taken for ours, an ignored one reset by the
		// kernel). Its sleeps return EINTR, as after any signal.
		return nil
	}
	for i, t := range b.tasks {
		s := a.Threads[i].Sleep
		if s == nil {
			continue
		}
		if !restartable[s.NR] {
			return &ImageError{Path: b.p.img.Path, Err: fmt.Errorf("%w: tid %d sleeps in system call %d", ErrCorrupt, a.Threads[i].TID, s.NR)}
		}
		args := s.Args
		if s.Left != nil {
			buf := make([]byte, 16)
			binary.LittleEndian.PutUint64(buf, uint64(s.Left[0]))
			binary.LittleEndian.PutUint64(buf[8:], uint64(s.Left[1]))
			addr, err := b.put(scratchData, buf)
			if err != nil {
				return err
			}
			if s.NR == unix.SYS_NANOSLEEP {
				args[0] = addr
			} else {
				args[2] = addr
				args[1] &^= timerAbstime
			}
		}
		ret, done, err := t.callInterrupted(b.pid, s.NR, args)
		if err != nil {
			return fmt.Errorf("tid %d: resume interrupted system call %d: %w", a.Threads[i].TID, s.NR, err)
		}
		if done {
			if b.sleepDone == nil {
				b.sleepDone = map[int]uint64{}
			}
			b.sleepDone[i] = ret
		}
	}
	return nil
}

// callInterrupted runs system call nr in the thread of process tgid
// between syscall stops (PTRACE_SYSCALL: no signal is generated) and,
// once the thread sleeps in it, interrupts it with a SIGTRAP of ours
// (tgkill: the restored tasks are traced by PTRACE_TRACEME, which
// PTRACE_INTERRUPT does not take), the one signal its injection mask
// lets through, so that it returns ERESTART_RESTARTBLOCK with its restart
// block set. The thread is left in that signal's stop, which the tracer
// swallows, before the kernel's restart fixup. done reports that the call
// returned by itself first, with ret.
func (t *task) callInterrupted(tgid, nr int, args [6]uint64) (ret uint64, done bool, err error) {
	r := t.orig
	r.Rip, r.Rax, r.Orig_rax = t.sc, uint64(nr), ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = args[0], args[1], args[2], args[3], args[4], args[5]
	if err := ptraceSetRegs(t.pid, &r); err != nil {
		return 0, false, err
	}
	syscallStop := func() error {
		if err := ptrace(unix.PTRACE_SYSCALL, t.pid, 0, 0); err != nil {
			return err
		}
		return nil
	}
	if err := syscallStop(); err != nil {
		return 0, false, err
	}
	if ws, err := waitStop(t.pid); err != nil {
		return 0, false, err
	} else if ws.StopSignal() != unix.SIGTRAP || ws.TrapCause() != 0 {
		return 0, false, fmt.Errorf("unexpected stop %#x before the call", int(ws))
	}
	if err := syscallStop(); err != nil {
		return 0, false, err
	}
	deadline := time.Now().Add(stopWaitLimit)
	interrupted := false
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(t.pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil && err != unix.EINTR {
			return 0, false, os.NewSyscallError("wait4", err)
		}
		if got == t.pid {
			if ws.Exited() || ws.Signaled() {
				return 0, false, &ExitedError{PID: t.pid, Status: ws}
			}
			if ws.StopSignal() != unix.SIGTRAP || ws.TrapCause() != 0 {
				return 0, false, fmt.Errorf("unexpected stop %#x in the call", int(ws))
			}
			out, err := ptraceGetRegs(t.pid)
			if err != nil {
				return 0, false, err
			}
			if interrupted {
				// The signal's stop comes on the way back to user mode,
				// before any restart fixup.
				if err := waitTrapStop(t.pid); err != nil {
					return 0, false, err
				}
			}
			if int64(out.Rax) == -erestartRestartBlk {
				return 0, false, nil
			}
			return out.Rax, true, nil
		}
		if !interrupted && sleeping(t.pid) {
			if err := unix.Tgkill(tgid, t.pid, unix.SIGTRAP); err != nil {
				return 0, false, os.NewSyscallError("tgkill", err)
			}
			interrupted = true
		}
		if time.Now().After(deadline) {
			return 0, false, &StopTimeoutError{PID: t.pid}
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// waitTrapStop goes on from a syscall-exit stop to the stop of the
// SIGTRAP sent to interrupt the call; the signal is not delivered.
func waitTrapStop(pid int) error {
	if err := ptraceCont(pid, 0); err != nil {
		return err
	}
	ws, err := waitStop(pid)
	if err != nil {
		return err
	}
	if ws.StopSignal() != unix.SIGTRAP || ws.TrapCause() != 0 {
		return fmt.Errorf("stop %#x instead of the interrupting SIGTRAP's", int(ws))
	}
	return nil
}

// sleeping reports whether thread tid sleeps in a system call
// (/proc/TID/stat state S or D).
func sleeping(tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", tid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'S' || s[i+2] == 'D')
}

// resumed reports whether thread i has its interrupted sleep resumed
// from a rebuilt restart block.
func (b *builder) resumed(i int) bool {
	a := b.p.meta.Attrs
	if a == nil || i >= len(a.Threads) || a.Threads[i].Sleep == nil {
		return false
	}
	_, done := b.sleepDone[i]
	return !done
}
