package ckpt

// The expiries a periodic timer missed before the checkpoint while its
// signal waited (timeroverrun.go) are counted by the kernel in the timer
// (it_overrun) and shown by no interface until the signal is taken. So
// the checkpoint takes it, in the frozen process (rt_sigtimedwait
// injected), and reads them in its si_overrun; then it sets the timer,
// absolute, that many intervals before its last expiry: it fires at once
// and queues its signal again, and the dequeue to come counts, from
// there, the expiries the program would have been told of. The image
// records the count (posixTimer.Overrun), and the restore arms the timer
// as far back (lastExpiry). What the program sees change: only
// timer_getoverrun before it takes the signal, which says 0 (the kernel
// resets it on timer_settime, as it is after a restart).
//
// Only where the signal taken is certainly the timer's: the one pending
// of its number in the queues rt_sigtimedwait looks at (the main
// thread's and the process's), and on a clock that does not start again
// at the restart (a CPU clock of the restored process starts near 0:
// so far back would be before it started).

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Scratch layout of learnOverrun, past what injectCalls reads (64 bytes).
const (
	ovSet     = 256 // sigset_t of the signal
	ovZero    = 272 // struct timespec {0, 0}
	ovInfo    = 384 // siginfo_t
	ovNow     = 512 // struct timespec
	ovGet     = 528 // struct itimerspec
	ovSettime = 576 // struct itimerspec
)

// learnThreadOverruns does what learnOverrun does for the timers aimed
// at thread tid (SIGEV_THREAD_ID), other than the main one, through t,
// that thread's injection task: their signals are in its own queue,
// which rt_sigtimedwait looks at only in it.
func (d *dumper) learnThreadOverruns(t *task, tid int, scratch uint64) error {
	timers, err := readTimers(d.pid)
	if err != nil {
		return fmt.Errorf("%s(%d): timers: %w", d.comm, d.pid, err)
	}
	le := binary.LittleEndian
	for _, pt := range timers {
		if pt.Notify&sigevThreadID == 0 || pt.TID != tid {
			continue
		}
		if _, err := t.call("timer_gettime", unix.SYS_TIMER_GETTIME, uint64(pt.ID), scratch+ovGet); err != nil {
			return fmt.Errorf("%s(%d): timer_gettime(%d): %w", d.comm, d.pid, pt.ID, err)
		}
		b := make([]byte, 16)
		if _, err := d.mem.ReadAt(b, int64(scratch+ovGet)); err != nil {
			return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
		}
		pt.Interval = [2]int64{int64(le.Uint64(b)), int64(le.Uint64(b[8:]))}
		if err := d.learnOverrun(t, &pt, scratch, tid); err != nil {
			return err
		}
		if pt.Overrun > 0 {
			if d.overruns == nil {
				d.overruns = map[int]int{}
			}
			d.overruns[pt.ID] = pt.Overrun
		}
	}
	return nil
}

// learnOtherThreadsOverruns does learnThreadOverruns for every thread but
// the main one (t) that a timer aims at, one after the other (the threads
// were asked the rest at once, injectOtherThreads).
func (d *dumper) learnOtherThreadsOverruns(t *task, scratch uint64) error {
	timers, err := readTimers(d.pid)
	if err != nil {
		return fmt.Errorf("%s(%d): timers: %w", d.comm, d.pid, err)
	}
	aimed := map[int]bool{}
	for _, pt := range timers {
		if pt.Notify&sigevThreadID != 0 {
			aimed[pt.TID] = true
		}
	}
	m := &d.meta
	for i := 1; i < len(m.Threads); i++ {
		th := &m.Threads[i]
		if !aimed[th.TID] {
			continue
		}
		tt := &task{pid: th.TID, orig: d.tregs[i], sc: t.sc, sysStops: t.sysStops}
		inj := injectMask(d.pid, th.TID)
		tt.parkBetweenCalls(th.SigMask, inj)
		err := ptraceSetSigMask(th.TID, inj)
		if err == nil {
			err = d.learnThreadOverruns(tt, th.TID, scratch)
		}
		ptraceSetRegs(th.TID, &d.tregs[i])
		ptraceSetSigMask(th.TID, th.SigMask)
		if err != nil {
			return err
		}
	}
	return nil
}

// learnOverrun fills pt.Overrun for a timer whose signal the restore
// leaves to the timer (timerPendingAgain), where it can (see above),
// through t, the injection task of thread tid (whose queue, and the
// process's, hold its signal).
func (d *dumper) learnOverrun(t *task, pt *posixTimer, scratch uint64, tid int) error {
	m := &d.meta
	if v, ok := d.overruns[pt.ID]; ok {
		pt.Overrun = v // learnt by its thread
		return nil
	}
	if pt.Clock < 0 || !timerPendingAgain(m.Signals.Pending, *pt) {
		return nil
	}
	target := d.pid
	if pt.Notify&sigevThreadID != 0 {
		target = pt.TID
	}
	if target != tid {
		return nil
	}
	le := binary.LittleEndian
	n := 0
	for _, ps := range m.Signals.Pending {
		if len(ps.Info) >= 4 && (ps.Shared || ps.TID == tid) && int(int32(le.Uint32(ps.Info))) == pt.Signal {
			n++
		}
	}
	if n != 1 || pt.Signal < 1 || pt.Signal > 64 {
		return nil
	}
	buf := make([]byte, 32)
	le.PutUint64(buf, 1<<(pt.Signal-1))
	if _, err := d.mem.WriteAt(buf, int64(scratch+ovSet)); err != nil {
		return fmt.Errorf("%s(%d): write scratch: %w", d.comm, d.pid, err)
	}
	sig, err := t.call("rt_sigtimedwait", unix.SYS_RT_SIGTIMEDWAIT, scratch+ovSet, scratch+ovInfo, scratch+ovZero, 8)
	if err != nil {
		return fmt.Errorf("%s(%d): take the signal of timer %d: %w", d.comm, d.pid, pt.ID, err)
	}
	info := make([]byte, 32)
	if _, err := d.mem.ReadAt(info, int64(scratch+ovInfo)); err != nil {
		return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
	}
	if int(sig) != pt.Signal || int32(le.Uint32(info[8:])) != siTimer || int(int32(le.Uint32(info[16:]))) != pt.ID {
		return fmt.Errorf("%s(%d): took signal %d (code %d) for timer %d's: internal error", d.comm, d.pid, sig, int32(le.Uint32(info[8:])), pt.ID)
	}
	overrun := int(int32(le.Uint32(info[20:])))
	// Queued again: the timer set so far back that the next dequeue
	// counts these and what comes after.
	if _, err := t.call("clock_gettime", unix.SYS_CLOCK_GETTIME, uint64(pt.Clock), scratch+ovNow); err != nil {
		return fmt.Errorf("%s(%d): clock_gettime(%d): %w", d.comm, d.pid, pt.Clock, err)
	}
	if _, err := t.call("timer_gettime", unix.SYS_TIMER_GETTIME, uint64(pt.ID), scratch+ovGet); err != nil {
		return fmt.Errorf("%s(%d): timer_gettime(%d): %w", d.comm, d.pid, pt.ID, err)
	}
	b := make([]byte, 48)
	if _, err := d.mem.ReadAt(b, int64(scratch+ovNow)); err != nil {
		return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
	}
	now := int64(le.Uint64(b))*1e9 + int64(le.Uint64(b[8:]))
	next := int64(le.Uint64(b[16+16:]))*1e9 + int64(le.Uint64(b[16+24:]))
	at := backExpiry(now+next, pt.Interval, overrun)
	for i, v := range []int64{pt.Interval[0], pt.Interval[1], at / 1e9, at % 1e9} {
		le.PutUint64(buf[8*i:], uint64(v))
	}
	if _, err := d.mem.WriteAt(buf, int64(scratch+ovSettime)); err != nil {
		return fmt.Errorf("%s(%d): write scratch: %w", d.comm, d.pid, err)
	}
	if _, err := t.call("timer_settime", unix.SYS_TIMER_SETTIME, uint64(pt.ID), timerAbstime, scratch+ovSettime, 0); err != nil {
		return fmt.Errorf("%s(%d): timer_settime(%d): %w", d.comm, d.pid, pt.ID, err)
	}
	// It fires from the timer interrupt, at once: the signal is back
	// before the checkpoint goes on.
	shared := pt.Notify&sigevThreadID == 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		infos, err := ptracePeekSigInfo(tid, shared)
		if err != nil {
			return err
		}
		var back []pendingSig
		for _, in := range infos {
			back = append(back, pendingSig{Info: in})
		}
		if pendingTimerSignal(back, *pt) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s(%d): the signal of timer %d was not queued again", d.comm, d.pid, pt.ID)
		}
	}
	pt.Overrun = overrun
	return nil
}

// backExpiry is the time, on a timer's clock, overrun intervals before
// the expiry before next (ns): 1 ns (any past time) where that would be
// before the clock's start.
func backExpiry(next int64, interval [2]int64, overrun int) int64 {
	iv := interval[0]*1e9 + interval[1]
	if iv <= 0 || overrun < 0 || int64(overrun) >= math.MaxInt64/iv-1 {
		return 1
	}
	at := next - iv*int64(overrun+1)
	if at <= 0 {
		return 1
	}
	return at
}
