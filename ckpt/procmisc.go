package ckpt

// Process state of /proc files and newer interfaces:
//
//   - /proc/PID/coredump_filter (an mm field), read and written from
//     outside (the restorer traces the process, which the write needs);
//   - the nice value of the session's autogroup (/proc/PID/autogroup),
//     given back once the sessions are made again (joinGroups), and only
//     to a process whose session leader is in the tree: another session's
//     autogroup is not the job's to change;
//   - the private futex hash size (PR_FUTEX_HASH), asked of the process
//     and set again only when it differs from what the restored process
//     got by itself from its threads (the kernel sizes a hash it chose
//     alone anew as threads come; setting it would freeze that size);
//   - syscall user dispatch of each thread (PTRACE_GET/SET_SYSCALL_USER_
//     DISPATCH_CONFIG): its mode, selector address and exempt region,
//     set again by the restorer on each thread as it is released, after
//     the last injected call (a selector at BLOCK would dispatch those).
//     For the same reason the checkpoint turns it off in each thread as
//     it stops (suspendSUD) and gives it back as it lets it go (letGo).

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	prFutexHash         = 78
	prFutexHashSetSlots = 1
	prFutexHashGetSlots = 2
	futexHashMax        = 1 << 16 // the kernel's bound on slots is lower

	ptraceGetSUD = 0x4211 // PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
	ptraceSetSUD = 0x4210
	sudOn        = 1 // PR_SYS_DISPATCH_ON, alias PR_SYS_DISPATCH_EXCLUSIVE_ON
	sudInclusive = 2 // PR_SYS_DISPATCH_INCLUSIVE_ON (see settable)
	sudModeMax   = 3
)

// procMisc is part of procAttrs.
type procMisc struct {
	// CoredumpFilter is /proc/PID/coredump_filter; nil: not read.
	CoredumpFilter *uint32 `json:"coredump_filter,omitempty"`
	// AutogroupNice is the nice value of its autogroup; nil: not read.
	AutogroupNice *int `json:"autogroup_nice,omitempty"`
	// FutexSlots is PR_FUTEX_HASH_GET_SLOTS; 0: the global hash.
	FutexSlots int `json:"futex_slots,omitempty"`
}

// sudConfig is struct ptrace_sud_config.
type sudConfig struct {
	Mode     uint64 `json:"mode"`
	Selector uint64 `json:"selector"`
	Offset   uint64 `json:"offset"`
	Len      uint64 `json:"len"`
}

// collectProcMisc reads what /proc tells from outside.
func (d *dumper) collectProcMisc(p *procMisc) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/coredump_filter", d.pid)); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 32); err == nil {
			f := uint32(v)
			p.CoredumpFilter = &f
		}
	}
	if n, ok := autogroupNice(d.pid); ok {
		p.AutogroupNice = &n
	}
}

// autogroupNice parses /proc/PID/autogroup ("/autogroup-N nice K").
func autogroupNice(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/autogroup", pid))
	if err != nil {
		return 0, false
	}
	_, v, ok := strings.Cut(strings.TrimSpace(string(b)), " nice ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// injectFutexSlots asks the process for its futex hash size.
func injectFutexSlots(t *task, p *procMisc) error {
	v, err := t.call("prctl", unix.SYS_PRCTL, prFutexHash, prFutexHashGetSlots, 0, 0, 0)
	if err != nil {
		if errnoOf(err) == unix.EINVAL {
			return nil // a kernel without it
		}
		return fmt.Errorf("get futex hash size: %w", err)
	}
	p.FutexSlots = int(v)
	return nil
}

// threadSUD reads the syscall user dispatch of a traced thread; nil: off.
func threadSUD(tid int) (*sudConfig, error) {
	var c sudConfig
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceGetSUD, uintptr(tid), unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)), 0, 0)
	if e == unix.EIO || e == unix.EINVAL {
		return nil, nil // a kernel without it
	}
	if e != 0 {
		return nil, wrapPtrace("get syscall user dispatch", tid, e)
	}
	if c.Mode == 0 {
		return nil, nil
	}
	return &c, nil
}

func checkProcMisc(p procMisc, threads []threadAttrs) error {
	if p.AutogroupNice != nil && (*p.AutogroupNice < -20 || *p.AutogroupNice > 19) {
		return fmt.Errorf("autogroup nice %d", *p.AutogroupNice)
	}
	if p.FutexSlots < 0 || p.FutexSlots > futexHashMax {
		return fmt.Errorf("futex hash of %d slots", p.FutexSlots)
	}
	for _, th := range threads {
		if th.SUD == nil {
			continue
		}
		if s := th.SUD.settable(); s.Mode == 0 || s.Mode > sudModeMax || s.Selector >= taskSize || s.Offset >= taskSize || s.Len > taskSize {
			return fmt.Errorf("tid %d: syscall user dispatch %+v", th.TID, *th.SUD)
		}
	}
	return nil
}

// restoreProcMisc gives back the coredump filter and the futex hash size
// (restoreAttrs; the threads exist).
func (b *builder) restoreProcMisc(p procMisc) error {
	if p.CoredumpFilter != nil {
		path := fmt.Sprintf("/proc/%d/coredump_filter", b.pid)
		if err := os.WriteFile(path, []byte(fmt.Sprintf("%#x", *p.CoredumpFilter)), 0); err != nil {
			return b.attrRefused(fmt.Errorf("coredump_filter %#x cannot be restored: %w", *p.CoredumpFilter, err))
		}
	}
	if p.FutexSlots != 0 {
		cur, err := b.call("prctl", unix.SYS_PRCTL, prFutexHash, prFutexHashGetSlots, 0, 0, 0)
		if err == nil && int(cur) != p.FutexSlots {
			if _, err := b.call("prctl", unix.SYS_PRCTL, prFutexHash, prFutexHashSetSlots, uint64(p.FutexSlots), 0, 0); err != nil {
				return b.attrRefused(fmt.Errorf("futex hash of %d slots cannot be restored: %w", p.FutexSlots, err))
			}
		}
	}
	return nil
}

// restoreAutogroups sets the autogroup nice values, once the sessions are
// back (after joinGroups).
func (r *restorer) restoreAutogroups() error {
	inTree := map[int]bool{}
	for _, p := range r.procs {
		inTree[p.meta.PID] = true
	}
	for _, p := range r.procs {
		a := p.meta.Attrs
		if p.meta.Zombie != nil || a == nil || a.AutogroupNice == nil || !inTree[p.meta.SID] {
			continue
		}
		if cur, ok := autogroupNice(p.pid); !ok || cur == *a.AutogroupNice {
			continue
		}
		path := fmt.Sprintf("/proc/%d/autogroup", p.pid)
		if err := os.WriteFile(path, []byte(strconv.Itoa(*a.AutogroupNice)), 0); err != nil {
			err = fmt.Errorf("%s(%d): autogroup nice %d cannot be restored: %w", p.comm(), p.meta.PID, *a.AutogroupNice, err)
			if os.Geteuid() != 0 {
				r.warn("warning: %v", err)
				continue
			}
			if err := r.forceable(err); err != nil {
				return err
			}
		}
	}
	return nil
}

// settable returns s as PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG takes
// it. The kernel keeps an inclusive region (PR_SYS_DISPATCH_INCLUSIVE_ON:
// the region given is the one dispatched) as the exclusive one of its
// complement, offset at its end and len its negated length, and reports
// it so (mode ON); given back so it is refused (offset+len wraps, EINVAL,
// as prctl checks), so it is given back as the inclusive region it is.
func (s sudConfig) settable() sudConfig {
	if s.Mode == sudOn && s.Offset != 0 && s.Len != 0 && s.Offset+s.Len <= s.Offset {
		return sudConfig{Mode: sudInclusive, Selector: s.Selector, Offset: s.Offset + s.Len, Len: -s.Len}
	}
	return s
}

// setSUD sets the syscall user dispatch of stopped thread tid; nil:
// leaves it as it is.
func setSUD(tid int, s *sudConfig) error {
	if s == nil {
		return nil
	}
	c := s.settable()
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceSetSUD, uintptr(tid), unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)), 0, 0)
	if e != 0 {
		return wrapPtrace("set syscall user dispatch", tid, e)
	}
	return nil
}

// suspendSUD turns off the syscall user dispatch of thread tid of d as
// soon as it is stopped (waitFrozen), before anything is injected into
// it, and records it for resumeSUD. Every stop of a live thread of d goes
// through it: the freeze, the stops after the tree was let go (refreeze,
// reapTwin) and the one before it (the userfaultfd made before the
// freeze). A thread stopped again keeps what its first stop recorded.
func (d *dumper) suspendSUD(tid int) error {
	if _, ok := d.sudOff[tid]; ok {
		return nil
	}
	s, err := threadSUD(tid)
	if err != nil || s == nil {
		if err != nil {
			return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		return nil
	}
	if err := setSUD(tid, &sudConfig{}); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	if d.sudOff == nil {
		d.sudOff = map[int]*sudConfig{}
	}
	d.sudOff[tid] = s
	return nil
}

// letGo gives thread tid of d its syscall user dispatch back and
// detaches it. A thread an error path met running is stopped first: both
// need a ptrace-stop.
func (d *dumper) letGo(tid int) error {
	s := d.sudOff[tid]
	delete(d.sudOff, tid)
	var sudErr error
	detach := func(sig syscall.Signal) error {
		if err := setSUD(tid, s); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return err // not stopped: stopped first, below
			}
			sudErr = err // detached all the same
		}
		return ptraceDetach(tid, sig)
	}
	err := detach(0)
	if errors.Is(err, unix.ESRCH) {
		if err = ptraceInterrupt(tid); err == nil {
			var ws unix.WaitStatus
			if ws, err = waitStop(tid); err == nil {
				// A signal-delivery stop: the signal goes back to it.
				sig := ws.StopSignal()
				if ws.TrapCause() > 0 {
					sig = 0
				}
				err = detach(sig)
			}
		}
	}
	if sudErr != nil {
		d.warn("%s(%d): tid %d: syscall user dispatch not given back: %v", d.comm, d.pid, tid, sudErr)
	}
	return err
}
