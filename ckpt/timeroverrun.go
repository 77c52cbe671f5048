package ckpt

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// A periodic POSIX timer whose signal is pending has missed expiries the
// kernel counts in the timer itself and shows nowhere: since 6.13 the
// timer is not re-armed while its signal waits, and the dequeue
// (posixtimer_deliver_signal) forwards it over the intervals that went by
// (hrtimer_forward), giving their number as si_overrun. Queued again as a
// plain siginfo, the signal would come with overrun 0 and, the timer
// armed again beside it, be followed by a second one from the timer.
//
// So such a timer is not given its saved siginfo: it is armed, absolute,
// at its last expiry before the checkpoint (the next one less one
// interval, on its clock as the restored process reads it): it fires at
// once, queues its own signal (its value, SI_TIMER, its id) and stays
// unarmed until that is delivered, when the kernel counts the intervals
// since that expiry as the overrun, as it would have. The expiries missed
// before the checkpoint are counted too where the checkpoint could learn
// them (timeroverpre.go): it is armed that many intervals earlier.

const siTimer = -2 // SI_TIMER

// pendingTimerSignal tells whether the signal of timer pt is among the
// pending ones (siginfo of SI_TIMER with its id in si_tid).
func pendingTimerSignal(pending []pendingSig, pt posixTimer) bool {
	le := binary.LittleEndian
	for _, ps := range pending {
		if len(ps.Info) != siginfoSize {
			continue
		}
		if int(int32(le.Uint32(ps.Info))) == pt.Signal && int32(le.Uint32(ps.Info[8:])) == siTimer && int(int32(le.Uint32(ps.Info[16:]))) == pt.ID {
			return true
		}
	}
	return false
}

// timerPendingAgain reports whether the restore leaves the pending signal
// of pt to the timer itself (see above).
func timerPendingAgain(pending []pendingSig, pt posixTimer) bool {
	return pt.Interval != [2]int64{} && pt.Notify&^sigevThreadID == sigevSignal && pendingTimerSignal(pending, pt)
}

// lastExpiry returns, as TIMER_ABSTIME itimerspec value fields, the last
// expiry of pt before the checkpoint, on pt's clock now in the process
// (clock_gettime injected in it, so CPU clocks are the process's own).
func (b *builder) lastExpiry(pt posixTimer, scratch uint64) ([2]int64, error) {
	if _, err := b.call("clock_gettime", unix.SYS_CLOCK_GETTIME, uint64(pt.Clock), scratch); err != nil {
		return [2]int64{}, fmt.Errorf("clock_gettime(%d): %w", pt.Clock, err)
	}
	now := b.read(scratch, 16)
	ns := int64(binary.LittleEndian.Uint64(now))*1e9 + int64(binary.LittleEndian.Uint64(now[8:]))
	// And as many intervals before as it had missed (timeroverpre.go).
	// 0 would disarm it; any time not to come fires at once.
	ns = backExpiry(ns+pt.Next[0]*1e9+pt.Next[1], pt.Interval, pt.Overrun)
	return [2]int64{ns / 1e9, ns % 1e9}, nil
}

// timerQueuesIt tells whether pending signal ps is left to its timer.
func (b *builder) timerQueuesIt(ps pendingSig) bool {
	for _, pt := range b.p.meta.Timers {
		if timerPendingAgain([]pendingSig{ps}, pt) {
			return true
		}
	}
	return false
}
