package ckpt

// Three more prctl states, each asked of the process (or thread) itself
// and given back by it: KSM merging of the whole process
// (PR_SET_MEMORY_MERGE, an mm flag), memory-deny-write-execute
// (PR_SET_MDWE, an mm flag that can never be cleared once set) and the
// machine-check kill policy (PR_MCE_KILL, per thread: task flags).
//
// MDWE forbids gaining PROT_EXEC (map_deny_write_exec), which the restore
// of memory does (regions are filled writable, then protected), so it is
// set last, after the memory, the files and the children are back
// (restoreAttrs); a child inherits it at clone (unless
// PR_MDWE_NO_INHERIT), and each child restores its own afterwards.

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	prSetMemoryMerge = 67
	prGetMemoryMerge = 68
	prSetMDWE        = 65
	prGetMDWE        = 66
	mdweFlags        = 3 // PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT
	prMCEKillDefault = 2 // what PR_MCE_KILL_GET answers when none was set
)

// prctlState is part of procAttrs.
type prctlState struct {
	MemoryMerge bool   `json:"memory_merge,omitempty"`
	MDWE        uint64 `json:"mdwe,omitempty"`
	// MlockFuture: mlockall(MCL_FUTURE) of the process (the mm's
	// def_flags, which /proc does not show): 0 none, 1 MCL_FUTURE, 2
	// MCL_FUTURE|MCL_ONFAULT. Told by a page the process maps and unmaps
	// at the checkpoint (futureLocks).
	MlockFuture uint8 `json:"mlock_future,omitempty"`
}

// injectPrctlState asks the process for its KSM merging and MDWE flags.
// A kernel without either answers EINVAL: nothing to save.
func injectPrctlState(t *task, p *prctlState) error {
	v, err := t.call("prctl", unix.SYS_PRCTL, prGetMemoryMerge, 0, 0, 0, 0)
	if err != nil && errnoOf(err) != unix.EINVAL {
		return fmt.Errorf("get memory merge: %w", err)
	}
	p.MemoryMerge = err == nil && v == 1
	v, err = t.call("prctl", unix.SYS_PRCTL, prGetMDWE, 0, 0, 0, 0)
	if err != nil && errnoOf(err) != unix.EINVAL {
		return fmt.Errorf("get MDWE: %w", err)
	}
	if err == nil {
		p.MDWE = v
	}
	p.MlockFuture, err = futureLocks(t)
	return err
}

// futureLocks tells whether the process of t did mlockall(MCL_FUTURE):
// it maps one inaccessible page, whose VmFlags (lo, lf) are the mm's
// def_flags, and unmaps it. smaps walks every page table of the process
// (15 ms a GiB here, in the freeze), so it is read only when the page
// was locked: the kernel counts a VM_LOCKED mapping in the mm's locked_vm
// as it maps it (__mmap_complete), which status shows as VmLck, and a
// frozen process's count changes by nothing else.
func futureLocks(t *task) (uint8, error) {
	const page = 4096
	before, lerr := lockedKB(t.pid)
	addr, err := t.call("mmap", unix.SYS_MMAP, 0, page, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE, ^uint64(0), 0)
	if err != nil {
		return 0, fmt.Errorf("map a page to tell mlockall(MCL_FUTURE): %w", err)
	}
	if after, err := lockedKB(t.pid); lerr == nil && err == nil && after == before {
		if _, err := t.call("munmap", unix.SYS_MUNMAP, addr, page); err != nil {
			return 0, fmt.Errorf("unmap the page that told mlockall(MCL_FUTURE): %w", err)
		}
		return 0, nil
	}
	smaps, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", t.pid))
	if _, err := t.call("munmap", unix.SYS_MUNMAP, addr, page); err != nil {
		return 0, fmt.Errorf("unmap the page that told mlockall(MCL_FUTURE): %w", err)
	}
	if rerr != nil {
		return 0, fmt.Errorf("tell mlockall(MCL_FUTURE): %w", rerr)
	}
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		if h, ok := mapsHead(line); ok {
			start, _ := strconv.ParseUint(strings.Fields(h)[0], 16, 64)
			in = start <= addr && addr < mapsEnd(line)
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			f := " " + flags + " "
			switch {
			case strings.Contains(f, " lf "):
				return 2, nil
			case strings.Contains(f, " lo "):
				return 1, nil
			}
			return 0, nil
		}
	}
	return 0, fmt.Errorf("tell mlockall(MCL_FUTURE): the page mapped at %#x is not in smaps", addr)
}

// lockedKB is the VmLck of pid's status: KiB of its mappings counted as
// locked.
func lockedKB(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmLck:"); ok {
			return strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("pid %d: no VmLck in status", pid)
}

// mapsEnd is the end address of a mapping's first line in maps or smaps.
func mapsEnd(line string) uint64 {
	_, rest, _ := strings.Cut(line, "-")
	end, _ := strconv.ParseUint(strings.Fields(rest + " x")[0], 16, 64)
	return end
}

// restoreFutureLocks does mlockall(MCL_FUTURE) again, once every region is
// mapped (restoreAttrs): a mapping made after the restart is locked.
func (b *builder) restoreFutureLocks(p prctlState) error {
	if p.MlockFuture == 0 {
		return nil
	}
	flags := uint64(unix.MCL_FUTURE)
	if p.MlockFuture == 2 {
		flags |= unix.MCL_ONFAULT
	}
	if _, err := b.call("mlockall", unix.SYS_MLOCKALL, flags); err != nil {
		return fmt.Errorf("mlockall(MCL_FUTURE) cannot be restored: %w", err)
	}
	return nil
}

// mceKillQueued asks a thread for its machine-check kill policy, into
// *dst: 0: default, else the policy plus one (PR_MCE_KILL_LATE 0, EARLY
// 1). A call for injectThread's queue, its error given to wrap.
func mceKillQueued(dst *int, wrap func(error) error) queued {
	return queued{name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_MCE_KILL_GET, 0, 0, 0, 0}, then: func(v uint64, err error) error {
		if err != nil {
			if errnoOf(err) == unix.EINVAL {
				return nil
			}
			return wrap(fmt.Errorf("get machine-check kill policy: %w", err))
		}
		if v != prMCEKillDefault {
			*dst = int(v) + 1
		}
		return nil
	}}
}

func checkPrctlState(p prctlState) error {
	if p.MlockFuture > 2 {
		return fmt.Errorf("mlock_future %d", p.MlockFuture)
	}
	if p.MDWE&^mdweFlags != 0 {
		return fmt.Errorf("MDWE flags %#x", p.MDWE)
	}
	return nil
}

// restoreMemoryMerge gives KSM merging back (restoreAttrs).
func (b *builder) restoreMemoryMerge(p prctlState) error {
	if !p.MemoryMerge {
		return nil
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, prSetMemoryMerge, 1, 0, 0, 0); err != nil {
		return b.attrRefused(fmt.Errorf("KSM merging (PR_SET_MEMORY_MERGE) cannot be restored: %w", err))
	}
	return nil
}

// restoreMDWE sets memory-deny-write-execute again, last.
func (b *builder) restoreMDWE(p prctlState) error {
	if p.MDWE == 0 {
		return nil
	}
	cur, err := b.call("prctl", unix.SYS_PRCTL, prGetMDWE, 0, 0, 0, 0)
	if err == nil && cur == p.MDWE {
		return nil // inherited from its restored parent
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, prSetMDWE, p.MDWE, 0, 0, 0); err != nil {
		return b.r.forceable(fmt.Errorf("memory-deny-write-execute (PR_SET_MDWE %#x) cannot be restored: %w", p.MDWE, err))
	}
	return nil
}

// restoreMCEKill has thread t set its machine-check kill policy.
func (b *builder) restoreMCEKill(t *task, th threadAttrs) error {
	if th.MCEKill == 0 {
		return nil
	}
	return b.on(t, func() error {
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_MCE_KILL, unix.PR_MCE_KILL_SET, uint64(th.MCEKill-1), 0, 0); err != nil {
			return fmt.Errorf("set machine-check kill policy %d (tid %d): %w", th.MCEKill-1, th.TID, err)
		}
		return nil
	})
}
