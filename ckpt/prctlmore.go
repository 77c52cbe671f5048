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
	return nil
}

// injectMCEKill asks a thread for its machine-check kill policy; 0:
// default, else the policy plus one (PR_MCE_KILL_LATE 0, EARLY 1).
func injectMCEKill(t *task) (int, error) {
	v, err := t.call("prctl", unix.SYS_PRCTL, unix.PR_MCE_KILL_GET, 0, 0, 0, 0)
	if err != nil {
		if errnoOf(err) == unix.EINVAL {
			return 0, nil
		}
		return 0, fmt.Errorf("get machine-check kill policy: %w", err)
	}
	if v == prMCEKillDefault {
		return 0, nil
	}
	return int(v) + 1, nil
}

func checkPrctlState(p prctlState) error {
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
