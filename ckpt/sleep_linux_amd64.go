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
	// Every sleeping thread is set going in its call first, then each is
	// interrupted and collected: thread after thread, the round trips
	// and the waits for each to fall asleep added up (100 ms for 64
	// threads here). Each thread's remaining time has its own place in
	// the scratch area: the kernel reads it as the call begins.
	var going []int
	var firstErr error
	for i, t := range b.tasks {
		s := a.Threads[i].Sleep
		if s == nil {
			continue
		}
		if !restartable[s.NR] {
			firstErr = &ImageError{Path: b.p.img.Path, Err: fmt.Errorf("%w: tid %d sleeps in system call %d", ErrCorrupt, a.Threads[i].TID, s.NR)}
			break
		}
		const slots = (scratchSize - scratchData) / 16
		if i > 0 && i%slots == 0 {
			// No place of its own left: the threads set going so far
			// are collected before their places are used again.
			if err := b.endSleeps(going); err != nil {
				return err
			}
			going = going[:0]
		}
		args := s.Args
		if s.Left != nil {
			buf := make([]byte, 16)
			binary.LittleEndian.PutUint64(buf, uint64(s.Left[0]))
			binary.LittleEndian.PutUint64(buf[8:], uint64(s.Left[1]))
			addr, err := b.put(scratchData+16*uint64(i%slots), buf)
			if err != nil {
				firstErr = err
				break
			}
			if s.NR == unix.SYS_NANOSLEEP {
				args[0] = addr
			} else {
				args[2] = addr
				args[1] &^= timerAbstime
			}
		}
		if err := t.callInterruptedStart(s.NR, args); err != nil {
			firstErr = fmt.Errorf("tid %d: resume interrupted system call %d: %w", a.Threads[i].TID, s.NR, err)
			break
		}
		going = append(going, i)
	}
	// Those set going are collected even after an error: none is left
	// in an injected call.
	if err := b.endSleeps(going); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// endSleeps interrupts and collects the call of each thread of going
// (indexes of b.tasks) set going by callInterruptedStart; it returns the
// first error.
func (b *builder) endSleeps(going []int) error {
	a := b.p.meta.Attrs
	calls := make([]*sleepCall, len(going))
	for k, i := range going {
		calls[k] = &sleepCall{t: b.tasks[i]}
	}
	pollSleeps(b.pid, calls)
	var firstErr error
	for k, i := range going {
		c := calls[k]
		if c.err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("tid %d: resume interrupted system call %d: %w", a.Threads[i].TID, a.Threads[i].Sleep.NR, c.err)
			}
			continue
		}
		if c.done {
			if b.sleepDone == nil {
				b.sleepDone = map[int]uint64{}
			}
			b.sleepDone[i] = c.ret
		}
	}
	return firstErr
}

// callInterruptedStart and pollSleeps run system call nr in the
// thread of process tgid between syscall stops (PTRACE_SYSCALL: no signal is generated) and,
// once the thread sleeps in it, interrupts it with a SIGTRAP of ours
// (tgkill: the restored tasks are traced by PTRACE_TRACEME, which
// PTRACE_INTERRUPT does not take), the one signal its injection mask
// lets through, so that it returns ERESTART_RESTARTBLOCK with its restart
// block set. The thread is left in that signal's stop, which the tracer
// swallows, before the kernel's restart fixup. done reports that the call
// (sleepCall.done) returned by itself first, with ret.
//
// callInterruptedStart sets the call going, up to the thread's entering
// it; pollSleeps does the rest, for several threads' calls under way at
// once.
func (t *task) callInterruptedStart(nr int, args [6]uint64) error {
	r := t.orig
	r.Rip, r.Rax, r.Orig_rax = t.sc, uint64(nr), ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = args[0], args[1], args[2], args[3], args[4], args[5]
	if err := ptraceSetRegs(t.pid, &r); err != nil {
		return err
	}
	syscallStop := func() error {
		if err := ptrace(unix.PTRACE_SYSCALL, t.pid, 0, 0); err != nil {
			return err
		}
		return nil
	}
	if err := syscallStop(); err != nil {
		return err
	}
	if ws, err := waitStop(t.pid); err != nil {
		return err
	} else if ws.StopSignal() != unix.SIGTRAP || ws.TrapCause() != 0 {
		return fmt.Errorf("unexpected stop %#x before the call", int(ws))
	}
	return syscallStop()
}

// sleepCall is one thread's call set going by callInterruptedStart, as
// endSleeps polls it.
type sleepCall struct {
	t           *task
	interrupted bool // the SIGTRAP that interrupts it was sent
	over        bool // collected (or failed)
	ret         uint64
	done        bool // it returned by itself, with ret
	err         error
}

// poll is one look of endSleeps at c, a call of a thread of process tgid:
// it collects the call if it stopped, else interrupts it once the thread
// sleeps in it.
func (c *sleepCall) poll(tgid int) {
	t := c.t
	var ws unix.WaitStatus
	got, err := unix.Wait4(t.pid, &ws, unix.WALL|unix.WNOHANG, nil)
	if err != nil && err != unix.EINTR {
		c.over, c.err = true, os.NewSyscallError("wait4", err)
		return
	}
	if got == t.pid {
		c.over = true
		if ws.Exited() || ws.Signaled() {
			c.err = &ExitedError{PID: t.pid, Status: ws}
			return
		}
		if ws.StopSignal() != unix.SIGTRAP || ws.TrapCause() != 0 {
			c.err = fmt.Errorf("unexpected stop %#x in the call", int(ws))
			return
		}
		out, err := ptraceGetRegs(t.pid)
		if err != nil {
			c.err = err
			return
		}
		if c.interrupted {
			// The signal's stop comes on the way back to user mode,
			// before any restart fixup.
			if err := waitTrapStop(t.pid); err != nil {
				c.err = err
				return
			}
		}
		if int64(out.Rax) != -erestartRestartBlk {
			c.ret, c.done = out.Rax, true
		}
		return
	}
	if !c.interrupted && sleeping(t.pid) {
		if err := unix.Tgkill(tgid, t.pid, unix.SIGTRAP); err != nil {
			c.over, c.err = true, os.NewSyscallError("tgkill", err)
			return
		}
		c.interrupted = true
	}
}

// pollSleeps polls every call of calls (callInterruptedStart's, in the
// threads of process tgid) until each is collected, all in one loop: a
// thread is interrupted as soon as it sleeps, whatever the others do.
func pollSleeps(tgid int, calls []*sleepCall) {
	deadline := time.Now().Add(stopWaitLimit)
	for {
		left := 0
		for _, c := range calls {
			if !c.over {
				c.poll(tgid)
			}
			if !c.over {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range calls {
				if !c.over {
					c.over, c.err = true, &StopTimeoutError{PID: c.t.pid}
				}
			}
			return
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
