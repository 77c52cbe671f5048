package ckpt

import (
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

// trapIgnored reports whether process pid ignores SIGTRAP (/proc SigIgn,
// read before anything is injected): its calls are then injected between
// syscall stops (task.sysStops), which leave the disposition alone.
func trapIgnored(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for k, v := range keyValues(b) {
		if k == "SigIgn" {
			set, err := strconv.ParseUint(v, 16, 64)
			return err == nil && set&trapBit != 0
		}
	}
	return false
}

// trapIgnored reports whether the image's process ignored SIGTRAP: the
// restore injects between syscall stops from the start, so the
// disposition it restores stays (see task.sysStops).
func (m *imageMeta) trapIgnored() bool {
	a := m.Signals.Actions
	return len(a) >= int(unix.SIGTRAP) && a[unix.SIGTRAP-1].Handler == 1 // SIG_IGN
}
