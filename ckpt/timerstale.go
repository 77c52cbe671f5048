package ckpt

// The signal of a deleted timer: the kernel leaves it queued (sigpending
// shows it) but drops it when it is taken, a timer's signal being
// delivered only for its timer as it is (posixtimer_deliver_signal). It
// is in the image as any pending siginfo, SI_TIMER with the id of a timer
// that is no more. Queued again as a plain siginfo it would be
// delivered; the restore makes it as the kernel did instead: a timer of
// that id, fired at once, then deleted.

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// staleTimerSignal reports whether ps is the signal of a timer m no
// longer has.
func staleTimerSignal(m *imageMeta, ps pendingSig) bool {
	le := binary.LittleEndian
	if len(ps.Info) != siginfoSize || int32(le.Uint32(ps.Info[8:])) != siTimer {
		return false
	}
	id := int(int32(le.Uint32(ps.Info[16:])))
	return !slices.ContainsFunc(m.Timers, func(pt posixTimer) bool { return pt.ID == id })
}

// hasStaleTimerSignals reports whether m has any (restoreTimers makes
// them while timer ids can be chosen).
func hasStaleTimerSignals(m *imageMeta) bool {
	return slices.ContainsFunc(m.Signals.Pending, func(ps pendingSig) bool { return staleTimerSignal(m, ps) })
}

// restoreStaleTimerSignals queues the signals of deleted timers again,
// each by a timer of its id made, fired and deleted. Timer ids must be
// chosen (PR_TIMER_CREATE_RESTORE_IDS) meanwhile.
func (b *builder) restoreStaleTimerSignals() error {
	m := b.p.meta
	le := binary.LittleEndian
	for _, ps := range m.Signals.Pending {
		if !staleTimerSignal(m, ps) {
			continue
		}
		sig := le.Uint32(ps.Info)
		id := le.Uint32(ps.Info[16:])
		buf := make([]byte, 64+8+32)
		copy(buf, ps.Info[24:32]) // sigev_value: si_value
		le.PutUint32(buf[8:], sig)
		le.PutUint32(buf[12:], sigevSignal)
		peek, shared := b.pid, true
		if !ps.Shared {
			tid, ok := b.tidInside[ps.TID]
			if !ok {
				return fmt.Errorf("the signal %d of deleted timer %d is pending for thread %d, not in the image", sig, id, ps.TID)
			}
			le.PutUint32(buf[12:], sigevSignal|sigevThreadID)
			le.PutUint32(buf[16:], uint32(tid))
			for i, th := range m.Threads {
				if th.TID == ps.TID && i < len(b.tasks) {
					peek, shared = b.tasks[i].pid, false
				}
			}
		}
		le.PutUint32(buf[64:], id)
		le.PutUint64(buf[72+24:], 1) // it_value: 1 ns, absolute: at once
		addr, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("timer_create", unix.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, addr, addr+64); err != nil {
			return fmt.Errorf("timer_create(%d) for its pending signal: %w", id, err)
		}
		if got := le.Uint32(b.read(addr+64, 4)); got != id {
			return fmt.Errorf("timer_create: got id %d, want %d", got, id)
		}
		if _, err := b.call("timer_settime", unix.SYS_TIMER_SETTIME, uint64(id), timerAbstime, addr+72, 0); err != nil {
			return fmt.Errorf("timer_settime(%d): %w", id, err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			infos, err := ptracePeekSigInfo(peek, shared)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(infos, func(in []byte) bool {
				return len(in) >= 20 && int32(le.Uint32(in[8:])) == siTimer && le.Uint32(in[16:]) == id
			}) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("timer %d made for its pending signal did not fire", id)
			}
		}
		if _, err := b.call("timer_delete", unix.SYS_TIMER_DELETE, uint64(id)); err != nil {
			return fmt.Errorf("timer_delete(%d): %w", id, err)
		}
	}
	return nil
}
