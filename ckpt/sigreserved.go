package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sigevThreadID is SIGEV_THREAD_ID: the timer signals one thread.
const sigevThreadID = 4

// timerNotify decodes the "notify:" line of /proc/PID/timers
// (fs/proc/base.c show_timer: "%s/%s.%d", the kind without
// SIGEV_THREAD_ID, then "tid" or "pid") into a sigev_notify value.
func timerNotify(how, who string) int {
	n := 0 // SIGEV_SIGNAL
	switch how {
	case "none":
		n = 1 // SIGEV_NONE
	case "thread":
		n = 2 // SIGEV_THREAD: glibc's; the kernel never has one
	}
	if strings.HasPrefix(who, "tid") {
		n |= sigevThreadID
	}
	return n
}

// The engine runs injected system calls by single-stepping, and the kernel
// reports each step with a forced SIGTRAP (force_sig_fault). A forced
// signal that is blocked (or ignored) has its action reset to SIG_DFL
// (kernel/signal.c force_sig_info_to_task): blocking SIGTRAP while
// injecting, as every other signal is blocked, would take a program's own
// SIGTRAP handler away, and it would die of its next breakpoint. So the
// mask of an injection leaves SIGTRAP unblocked; the thread's own mask is
// put back afterwards. When a SIGTRAP is already pending for the thread it
// stays blocked (unblocked, it would be delivered in the middle of an
// injection and lost).
const trapBit = uint64(1) << (unix.SIGTRAP - 1)

// injectMask is the signal mask thread tid of process pid gets while
// system calls are injected into it.
func injectMask(pid, tid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return ^uint64(0)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "SigPnd" && k != "ShdPnd") {
			continue
		}
		set, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil || set&trapBit != 0 {
			return ^uint64(0)
		}
	}
	return ^trapBit
}

// trapIgnored reports whether process pid ignores SIGTRAP, or has one
// pending for any thread (/proc status SigIgn, ShdPnd, SigPnd, read
// before anything is injected). Its calls are then injected between
// syscall stops (task.sysStops): a forced step SIGTRAP would reset an
// ignored SIGTRAP to SIG_DFL, and with one pending (so blocked while
// injecting, see injectMask) reset the handler and merge with the
// pending one, which the tracer would swallow.
func trapIgnored(pid int) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name()))
		if err != nil {
			continue
		}
		for k, v := range keyValues(b) {
			if k == "SigIgn" || k == "SigPnd" || k == "ShdPnd" {
				if set, err := strconv.ParseUint(v, 16, 64); err == nil && set&trapBit != 0 {
					return true
				}
			}
		}
	}
	return false
}

// trapIgnored reports whether the image's process ignored SIGTRAP or had
// one pending: the restore injects between syscall stops from the start,
// so the disposition it restores stays (see task.sysStops).
func (m *imageMeta) trapIgnored() bool {
	a := m.Signals.Actions
	return len(a) >= int(unix.SIGTRAP) && a[unix.SIGTRAP-1].Handler == 1 || m.trapPending() // SIG_IGN
}

// trapPending reports whether a SIGTRAP was pending in the image.
func (m *imageMeta) trapPending() bool {
	for _, ps := range m.Signals.Pending {
		if len(ps.Info) >= 4 && binary.LittleEndian.Uint32(ps.Info) == uint32(unix.SIGTRAP) {
			return true
		}
	}
	return false
}
