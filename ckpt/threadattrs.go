package ckpt

// Thread attributes beyond scheduling and the parent-death signal: the
// CPU affinity and I/O priority (read from outside, sched_getaffinity and
// ioprio_get take any tid), the timer slack, the TSC mode (PR_GET_*) and
// CPUID faulting (arch_prctl ARCH_GET_CPUID): only the thread itself can
// tell. Each is per thread in the kernel
// (task_struct), so each thread gets its own back, set by itself after
// the credentials, so that the kernel refuses what its owner may not have
// (an I/O priority of the real-time class needs CAP_SYS_ADMIN).

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadExtras is part of threadAttrs.
type threadExtras struct {
	// Affinity is the CPU mask (sched_getaffinity), saved only when it is
	// not every CPU that was online.
	Affinity []uint64 `json:"affinity,omitempty"`
	// IOPrio is ioprio_get's answer; 0: none set (IOPRIO_CLASS_NONE).
	IOPrio int `json:"ioprio,omitempty"`
	// TimerSlack is PR_GET_TIMERSLACK, in ns.
	TimerSlack uint64 `json:"timer_slack,omitempty"`
	// TSC is PR_GET_TSC when rdtsc faults (PR_TSC_SIGSEGV); 0: allowed.
	TSC int `json:"tsc,omitempty"`
	// NoCPUID: the cpuid instruction faults (arch_prctl ARCH_SET_CPUID 0,
	// as a sandbox or a record-and-replay tool sets).
	NoCPUID bool `json:"no_cpuid,omitempty"`
}

const (
	ioprioWhoProcess = 1 // IOPRIO_WHO_PROCESS: one thread
	prTSCSigsegv     = 2 // PR_TSC_SIGSEGV
	archGetCPUID     = 0x1011
	archSetCPUID     = 0x1012
	affinityWords    = 16
)

// collectThreadExtras reads from outside what any tid tells.
func collectThreadExtras(tid int, x *threadExtras) error {
	var mask [affinityWords]uint64
	n, _, e := unix.Syscall(unix.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if e != 0 {
		return os.NewSyscallError("sched_getaffinity", e)
	}
	words := int(n) / 8
	all := onlineCPUs()
	if all == nil || !sameMask(mask[:words], all) {
		x.Affinity = trimMask(mask[:words])
	}
	prio, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
	if e != 0 {
		return os.NewSyscallError("ioprio_get", e)
	}
	x.IOPrio = int(prio)
	return nil
}

// threadExtrasQueue asks a thread for its timer slack and TSC mode (the
// mode at tsc in the scratch page): calls for injectThread's queue, their
// errors given to wrap.
func (d *dumper) threadExtrasQueue(x *threadExtras, tsc uint64, wrap func(error) error) []queued {
	return []queued{{name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_TIMERSLACK}, then: func(slack uint64, err error) error {
		if err != nil {
			return wrap(fmt.Errorf("get timer slack: %w", err))
		}
		x.TimerSlack = slack
		return nil
	}}, {name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_TSC, tsc}, then: func(_ uint64, err error) error {
		if err != nil {
			if errnoOf(err) == unix.EINVAL {
				return nil // not on this architecture
			}
			return wrap(fmt.Errorf("get TSC mode: %w", err))
		}
		b, err := d.readScratch(tsc, 4)
		if err != nil {
			return err
		}
		if v := int(int32(binary.LittleEndian.Uint32(b))); v == prTSCSigsegv {
			x.TSC = v
		}
		return nil
	}}, {name: "arch_prctl", nr: unix.SYS_ARCH_PRCTL, args: []uint64{archGetCPUID, 0}, then: func(allowed uint64, err error) error {
		if err != nil {
			return nil // a kernel without it: cpuid never faults
		}
		x.NoCPUID = allowed == 0
		return nil
	}}}
}

// checkThreadExtras refuses values the engine would not have written.
func checkThreadExtras(x threadExtras) error {
	if len(x.Affinity) > affinityWords {
		return fmt.Errorf("affinity mask of %d words", len(x.Affinity))
	}
	if x.IOPrio < 0 || x.IOPrio >= 4<<13 {
		return fmt.Errorf("I/O priority %#x", x.IOPrio)
	}
	if x.TSC != 0 && x.TSC != prTSCSigsegv {
		return fmt.Errorf("TSC mode %d", x.TSC)
	}
	return nil
}

// restoreThreadExtras has thread t set its own attributes back.
func (b *builder) restoreThreadExtras(t *task, th threadAttrs) error {
	x := th.threadExtras
	return b.on(t, func() error {
		if len(x.Affinity) > 0 {
			buf := make([]byte, 8*len(x.Affinity))
			for i, w := range x.Affinity {
				binary.LittleEndian.PutUint64(buf[8*i:], w)
			}
			addr, err := b.put(scratchData, buf)
			if err != nil {
				return err
			}
			if _, err := b.call("sched_setaffinity", unix.SYS_SCHED_SETAFFINITY, 0, uint64(len(buf)), addr); err != nil {
				if err := b.attrRefused(fmt.Errorf("CPU affinity %s (tid %d) cannot be restored: %w", maskString(x.Affinity), th.TID, err)); err != nil {
					return err
				}
			}
		}
		if x.IOPrio != 0 {
			if _, err := b.call("ioprio_set", unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uint64(x.IOPrio)); err != nil {
				if err := b.attrRefused(fmt.Errorf("I/O priority class %d level %d (tid %d) cannot be restored: %w", x.IOPrio>>13, x.IOPrio&0x1fff, th.TID, err)); err != nil {
					return err
				}
			}
		}
		if x.TimerSlack != 0 {
			cur, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_GET_TIMERSLACK)
			if err == nil && cur != x.TimerSlack {
				if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_TIMERSLACK, x.TimerSlack); err != nil {
					return fmt.Errorf("set timer slack %d (tid %d): %w", x.TimerSlack, th.TID, err)
				}
			}
		}
		if x.TSC != 0 {
			if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_TSC, uint64(x.TSC)); err != nil {
				return b.r.forceable(fmt.Errorf("TSC mode %d (tid %d) cannot be restored: %w", x.TSC, th.TID, err))
			}
		}
		if x.NoCPUID {
			if _, err := b.call("arch_prctl", unix.SYS_ARCH_PRCTL, archSetCPUID, 0); err != nil {
				return b.r.forceable(fmt.Errorf("CPUID faulting (tid %d) cannot be restored (the CPU of this machine may not have it): %w", th.TID, err))
			}
		}
		return nil
	})
}

// onlineCPUs is the mask of the CPUs online (/sys/devices/system/cpu/online:
// "0-3,6"); nil if it cannot be read.
func onlineCPUs() []uint64 {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil
	}
	var mask []uint64
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil
		}
		z := a
		if found {
			if z, err = strconv.Atoi(hi); err != nil {
				return nil
			}
		}
		for c := a; c <= z && c < 64*affinityWords; c++ {
			for len(mask) <= c/64 {
				mask = append(mask, 0)
			}
			mask[c/64] |= 1 << (c % 64)
		}
	}
	return mask
}

func trimMask(m []uint64) []uint64 {
	for len(m) > 0 && m[len(m)-1] == 0 {
		m = m[:len(m)-1]
	}
	return append([]uint64(nil), m...)
}

func sameMask(a, b []uint64) bool {
	a, b = trimMask(a), trimMask(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maskString(m []uint64) string {
	var cpus []string
	for i, w := range m {
		for bit := 0; bit < 64; bit++ {
			if w&(1<<bit) != 0 {
				cpus = append(cpus, strconv.Itoa(64*i+bit))
			}
		}
	}
	return "{" + strings.Join(cpus, ",") + "}"
}
