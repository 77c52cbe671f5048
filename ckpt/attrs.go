package ckpt

// Process attributes kept by the kernel apart from memory, files, signals
// and credentials proper: the loginuid, oom_score_adj, child subreaper,
// THP disable (per process), the scheduling policy and parent-death
// signal (per thread). The filesystem ids are part of the credentials
// (creds.UID[3], GID[3]; restoreThreadCreds).
//
// Each is saved and given back exactly; what the restart may not set is
// an error (with Force a warning), or for a restart by an ordinary user,
// who keeps his own identity (CONVEX), a warning.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procAttrs is imageMeta.Attrs.
type procAttrs struct {
	// LoginUID is /proc/PID/loginuid (4294967295: unset).
	LoginUID    uint32 `json:"loginuid"`
	OOMScoreAdj int    `json:"oom_score_adj"`
	Subreaper   bool   `json:"child_subreaper,omitempty"`
	// THPDisable is what PR_GET_THP_DISABLE answers: bit 0 disabled,
	// the flags of PR_SET_THP_DISABLE above it.
	THPDisable uint64 `json:"thp_disable,omitempty"`
	// Root is the root directory (chroot), as the checkpoint saw it;
	// empty: the checkpoint's own.
	Root string `json:"root,omitempty"`
	// Membarrier holds the membarrier registrations of the process (the
	// MEMBARRIER_CMD_REGISTER_* commands to give again).
	Membarrier []int `json:"membarrier,omitempty"`
	// UTS: its UTS namespace when not the checkpointer's (utsns.go).
	UTS *utsState `json:"uts,omitempty"`
	// Threads are in the order of imageMeta.Threads.
	Threads    []threadAttrs `json:"threads"`
	prctlState               // prctlmore.go
	procMisc                 // procmisc.go
}

// membarrierCmds pairs each private expedited membarrier command with the
// registration it needs: the command answers EPERM without it, which is
// how the registration is found on kernels without
// MEMBARRIER_CMD_GET_REGISTRATIONS (membarrier.go).
var membarrierCmds = []struct{ register, cmd int }{
	{16, 8},    // REGISTER_PRIVATE_EXPEDITED, PRIVATE_EXPEDITED
	{64, 32},   // ..._SYNC_CORE
	{256, 128}, // ..._RSEQ
}

// threadAttrs is what the kernel keeps per thread.
type threadAttrs struct {
	TID       int       `json:"tid"`
	Sched     schedAttr `json:"sched"`
	PdeathSig int       `json:"pdeath_signal,omitempty"`
	// Sleep: the thread was in a sleep the kernel restarts with its
	// restart block (sleep_linux_amd64.go).
	Sleep        *restartSleep `json:"sleep,omitempty"`
	threadExtras               // threadattrs.go
	// MCEKill is the machine-check kill policy plus one; 0: the default
	// (prctlmore.go).
	MCEKill int `json:"mce_kill,omitempty"`
	// SUD is its syscall user dispatch; nil: off (procmisc.go).
	SUD *sudConfig `json:"syscall_user_dispatch,omitempty"`
	// MemPolicy is its NUMA memory policy; nil: the default
	// (mempolicy.go).
	MemPolicy *memPolicy `json:"mempolicy,omitempty"`
}

// schedAttr is struct sched_attr (SCHED_ATTR_SIZE_VER1, 56 bytes).
type schedAttr struct {
	Size     uint32 `json:"-"`
	Policy   uint32 `json:"policy"`
	Flags    uint64 `json:"flags,omitempty"`
	Nice     int32  `json:"nice,omitempty"`
	Priority uint32 `json:"priority,omitempty"`
	Runtime  uint64 `json:"runtime,omitempty"` // SCHED_DEADLINE, ns
	Deadline uint64 `json:"deadline,omitempty"`
	Period   uint64 `json:"period,omitempty"`
	UtilMin  uint32 `json:"util_min,omitempty"`
	UtilMax  uint32 `json:"util_max,omitempty"`
}

const (
	schedAttrSize      = 56
	schedDeadline      = 6
	schedFlagResetFork = 0x01 // SCHED_FLAG_RESET_ON_FORK
	schedFlagReclaim   = 0x02
	schedFlagDLOverrun = 0x04
	schedFlagKeepAll   = 0x18 // SCHED_FLAG_KEEP_POLICY | KEEP_PARAMS: never saved
	schedFlagUtilClamp = 0x60 // SCHED_FLAG_UTIL_CLAMP_MIN | MAX
	unsetLoginUID      = 4294967295

	prGetThpDisable = 42
	prSetThpDisable = 41
)

// getSchedAttr reads a thread's scheduling from outside; the kernel lets
// anyone read it.
func getSchedAttr(tid int) (schedAttr, error) {
	var a schedAttr
	_, _, e := unix.Syscall6(unix.SYS_SCHED_GETATTR, uintptr(tid), uintptr(unsafe.Pointer(&a)), schedAttrSize, 0, 0, 0)
	if e != 0 {
		return schedAttr{}, os.NewSyscallError("sched_getattr", e)
	}
	a.Size = 0
	// The utilization clamps are reported whether or not they were set;
	// the defaults (0, 1024) mean none.
	if a.UtilMin == 0 && a.UtilMax == 1024 {
		a.UtilMin, a.UtilMax = 0, 0
	}
	a.Flags &^= schedFlagKeepAll | schedFlagUtilClamp
	return a, nil
}

// bytes is the struct sched_attr sched_setattr takes for a.
func (a schedAttr) bytes() []byte {
	b := make([]byte, schedAttrSize)
	le := binary.LittleEndian
	flags := a.Flags & (schedFlagResetFork | schedFlagReclaim | schedFlagDLOverrun)
	if a.UtilMin != 0 || a.UtilMax != 0 {
		flags |= schedFlagUtilClamp
	}
	le.PutUint32(b, schedAttrSize)
	le.PutUint32(b[4:], a.Policy)
	le.PutUint64(b[8:], flags)
	le.PutUint32(b[16:], uint32(a.Nice))
	le.PutUint32(b[20:], a.Priority)
	le.PutUint64(b[24:], a.Runtime)
	le.PutUint64(b[32:], a.Deadline)
	le.PutUint64(b[40:], a.Period)
	le.PutUint32(b[48:], a.UtilMin)
	le.PutUint32(b[52:], a.UtilMax)
	return b
}

// collectAttrs records what /proc and sched_getattr tell from outside.
func (d *dumper) collectAttrs() error {
	a := &procAttrs{LoginUID: unsetLoginUID}
	readInt := func(name string) (int64, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", d.pid, name))
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	if v, err := readInt("loginuid"); err == nil {
		a.LoginUID = uint32(v)
	} else if !errors.Is(err, os.ErrNotExist) {
		// Without CONFIG_AUDIT there is no loginuid to lose.
		return fmt.Errorf("%s(%d): loginuid: %w", d.comm, d.pid, err)
	}
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): root directory: %w", d.comm, d.pid, err)
	}
	if own, _ := os.Readlink("/proc/self/root"); root != own {
		if strings.HasSuffix(root, " (deleted)") {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("root directory %s was removed: it cannot be restored", strings.TrimSuffix(root, " (deleted)"))}
		}
		a.Root = root
	}
	v, err := readInt("oom_score_adj")
	if err != nil {
		return fmt.Errorf("%s(%d): oom_score_adj: %w", d.comm, d.pid, err)
	}
	a.OOMScoreAdj = int(v)
	if err := d.checkNamespaces(); err != nil { // nsother.go
		return err
	}
	if a.UTS, err = readUTS(d.pid); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	for i, tid := range d.tids {
		s, err := getSchedAttr(tid)
		if err != nil {
			return fmt.Errorf("%s(%d): scheduling (tid %d): %w", d.comm, d.pid, tid, err)
		}
		a.Threads = append(a.Threads, threadAttrs{TID: tid, Sched: s, Sleep: d.interruptedSleep(&d.tregs[i])})
		if err := collectThreadExtras(tid, &a.Threads[i].threadExtras); err != nil {
			return fmt.Errorf("%s(%d): tid %d: %w", d.comm, d.pid, tid, err)
		}
		a.Threads[i].SUD = d.sudOff[tid] // read and suspended as it stopped (waitFrozen)
	}
	d.collectProcMisc(&a.procMisc)
	d.meta.Attrs = a
	return nil
}

const (
	keySpecThreadKeyring  = ^uint64(0)     // KEY_SPEC_THREAD_KEYRING, -1
	keySpecProcessKeyring = ^uint64(0) - 1 // KEY_SPEC_PROCESS_KEYRING, -2
	keyctlGetKeyringID    = 0
)

// refuseKeyring refuses a thread or process keyring (keyctl(2)): its keys
// live in the kernel only, their payloads readable by their possessor
// alone, and a restarted process would find its keyring empty. The
// session keyring, shared with the login, is left as it is.
func (d *dumper) refuseKeyring(t *task, spec uint64, tid int) error {
	return runQueued(t, d.mem, 0, 0, []queued{d.keyringQueued(spec, tid)})
}

// keyringQueued is refuseKeyring's call, for a queue.
func (d *dumper) keyringQueued(spec uint64, tid int) queued {
	return queued{name: "keyctl", nr: unix.SYS_KEYCTL, args: []uint64{keyctlGetKeyringID, spec, 0}, then: func(_ uint64, err error) error {
		switch {
		case err == nil:
			what := "process"
			if spec == keySpecThreadKeyring {
				what = fmt.Sprintf("thread %d", tid)
			}
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("has a %s keyring (keyctl): keys cannot be checkpointed", what)}
		case errnoOf(err) != 0:
			return nil // ENOKEY: none (ENOSYS, EACCES: no keyrings to lose either)
		}
		return fmt.Errorf("%s(%d): keyring (tid %d): %w", d.comm, d.pid, tid, err)
	}}
}

// attrsQueue asks thread tid for its parent-death signal, its
// threadExtras, machine-check kill policy, thread keyring and memory
// policy: calls for injectThread's queue, answers at their places in the
// scratch page.
func (d *dumper) attrsQueue(tid int, scratch uint64) []queued {
	a := d.meta.Attrs
	if a == nil {
		return nil
	}
	var q []queued
	for i := range a.Threads {
		th := &a.Threads[i]
		if th.TID != tid {
			continue
		}
		q = append(q, queued{name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_PDEATHSIG, scratch + atPdeathSig}, then: func(_ uint64, err error) error {
			if err != nil {
				return fmt.Errorf("%s(%d): get parent-death signal (tid %d): %w", d.comm, d.pid, tid, err)
			}
			b, err := d.readScratch(scratch+atPdeathSig, 4)
			if err != nil {
				return err
			}
			th.PdeathSig = int(int32(binary.LittleEndian.Uint32(b)))
			return nil
		}})
		wrap := func(err error) error {
			if err != nil {
				return fmt.Errorf("%s(%d): tid %d: %w", d.comm, d.pid, tid, err)
			}
			return nil
		}
		q = append(q, d.threadExtrasQueue(&th.threadExtras, scratch+atTSC, wrap)...)
		q = append(q, mceKillQueued(&th.MCEKill, wrap))
		q = append(q, d.keyringQueued(keySpecThreadKeyring, tid))
		q = append(q, d.policyQueued(scratch+atPolicy, 0, &th.MemPolicy, func(err error) error { // mempolicy.go
			if err != nil {
				return fmt.Errorf("%s(%d): get_mempolicy (tid %d): %w", d.comm, d.pid, tid, err)
			}
			return nil
		}))
	}
	return q
}

// injectAttrs asks the process (thread tid, if it is the main thread)
// for its child-subreaper and THP-disable flags and the other attributes
// only the process itself can tell (prctl), and its regions' memory
// policies.
func (d *dumper) injectAttrs(t *task, tid int, scratch uint64, read func(int) ([]byte, error)) error {
	a := d.meta.Attrs
	if a == nil || tid != d.pid {
		return nil
	}
	le := binary.LittleEndian
	if err := d.injectRegionPolicies(t, scratch); err != nil { // mempolicy.go
		return err
	}
	if err := d.refuseKeyring(t, keySpecProcessKeyring, tid); err != nil {
		return err
	}
	if _, err := t.call("prctl", unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, scratch); err != nil {
		return fmt.Errorf("%s(%d): get child subreaper: %w", d.comm, d.pid, err)
	}
	b, err := read(4)
	if err != nil {
		return err
	}
	a.Subreaper = le.Uint32(b) != 0
	thp, err := t.call("prctl", unix.SYS_PRCTL, prGetThpDisable, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): get THP disable: %w", d.comm, d.pid, err)
	}
	a.THPDisable = thp
	if a.Membarrier, err = membarrierRegistrations(t); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	if err := injectPrctlState(t, &a.prctlState); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	if err := injectFutexSlots(t, &a.procMisc); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	return nil
}

// checkAttrs refuses, before anything is started, attributes that do not
// belong to this image.
func (r *restorer) checkAttrs(p *rproc) error {
	if err := checkAdvice(p); err != nil {
		return err
	}
	if err := checkAIO(p); err != nil {
		return err
	}
	if err := r.checkFanotify(p); err != nil {
		return err
	}
	if err := checkSignals(p); err != nil {
		return err
	}
	a := p.meta.Attrs
	if a == nil {
		return nil
	}
	if len(a.Threads) != len(p.meta.Threads) {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: attributes of %d threads for %d threads", ErrCorrupt, len(a.Threads), len(p.meta.Threads))}
	}
	if err := checkUTS(a.UTS); err != nil {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	if a.OOMScoreAdj < -1000 || a.OOMScoreAdj > 1000 {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: oom_score_adj %d", ErrCorrupt, a.OOMScoreAdj)}
	}
	if err := checkPrctlState(a.prctlState); err != nil {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	if err := checkProcMisc(a.procMisc, a.Threads); err != nil {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	for _, reg := range a.Membarrier {
		if !validMembarrier(reg) {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: membarrier registration %d", ErrCorrupt, reg)}
		}
	}
	for _, th := range a.Threads {
		if th.MCEKill < 0 || th.MCEKill > 2 {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: machine-check kill policy %d", ErrCorrupt, th.MCEKill-1)}
		}
		if th.PdeathSig < 0 || th.PdeathSig > 64 {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: parent-death signal %d", ErrCorrupt, th.PdeathSig)}
		}
		if err := checkThreadExtras(th.threadExtras); err != nil {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: tid %d: %v", ErrCorrupt, th.TID, err)}
		}
	}
	return nil
}

// attrRefused reports an attribute the restart could not give back: for a
// restart by an ordinary user, who keeps his own identity and rights, a
// warning; else an error (a warning with Force).
func (b *builder) attrRefused(err error) error {
	if os.Geteuid() != 0 {
		b.r.warn("%s(%d): warning: %v", b.p.comm(), b.p.meta.PID, err)
		return nil
	}
	return b.r.forceable(err)
}

// restoreLoginUID sets the loginuid. The kernel lets only the process
// itself write its /proc/PID/loginuid (proc_loginuid_write), so the
// restorer opens the file and the process writes to it through a copy of
// the descriptor (pidfd_getfd: b.pidfd is still open). Setting it needs
// no privilege while the restart's own (inherited) loginuid is unset,
// CAP_AUDIT_CONTROL otherwise. For an enforced Owner only his own uid is
// taken; another is not restored, with a warning.
func (b *builder) restoreLoginUID() error {
	a := b.p.meta.Attrs
	if a == nil {
		return nil
	}
	path := fmt.Sprintf("/proc/%d/loginuid", b.pid)
	cur, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if a.LoginUID == unsetLoginUID {
			return nil
		}
		return b.attrRefused(fmt.Errorf("loginuid %d cannot be restored: this kernel has none", a.LoginUID))
	}
	if err != nil {
		return err
	}
	now, _ := strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 32)
	if uint32(now) == a.LoginUID {
		return nil
	}
	if o := b.r.opts.Owner; b.r.enforced(b.p) && int(a.LoginUID) != o.UID {
		// An audit identity is never chosen by the image: the owner may
		// be logged in as himself, else the restart's stays.
		b.r.warn("%s(%d): warning: loginuid %d not restored (user %d may not choose it): restart's %d kept", b.p.comm(), b.p.meta.PID, a.LoginUID, o.UID, now)
		return nil
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return b.attrRefused(fmt.Errorf("loginuid %d not restored (restart's %d kept): %w", a.LoginUID, now, err))
	}
	defer unix.Close(fd)
	if err := b.takeFD(fd, b.spareFD+1, true); err != nil {
		return fmt.Errorf("loginuid: %w", err)
	}
	defer b.call("close", unix.SYS_CLOSE, uint64(b.spareFD+1))
	s := strconv.FormatUint(uint64(a.LoginUID), 10)
	addr, err := b.putString(scratchData, s)
	if err != nil {
		return err
	}
	if _, err := b.call("write", unix.SYS_WRITE, uint64(b.spareFD+1), addr, uint64(len(s))); err != nil {
		return b.attrRefused(fmt.Errorf("loginuid %d not restored (restart's %d kept; changing a set loginuid needs CAP_AUDIT_CONTROL): %w", a.LoginUID, now, err))
	}
	return nil
}

// restoreAttrs gives back the rest, once the credentials and security
// state are: the kernel clears the parent-death signal when the
// credentials change (commit_creds), so it comes last.
func (b *builder) restoreAttrs() error {
	if err := b.restoreAsyncAndLeases(); err != nil {
		return err
	}
	if err := b.restoreMqNotify(); err != nil { // mqueue.go
		return err
	}
	a := b.p.meta.Attrs
	if a == nil {
		return nil
	}
	if err := b.restoreOOMScoreAdj(a.OOMScoreAdj); err != nil {
		return err
	}
	if a.Subreaper {
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_CHILD_SUBREAPER, 1); err != nil {
			return fmt.Errorf("set child subreaper: %w", err)
		}
	}
	if a.THPDisable&1 != 0 {
		if _, err := b.call("prctl", unix.SYS_PRCTL, prSetThpDisable, 1, a.THPDisable>>1, 0, 0); err != nil {
			return fmt.Errorf("set THP disable %#x: %w", a.THPDisable, err)
		}
	}
	if err := b.restoreMemoryMerge(a.prctlState); err != nil {
		return err
	}
	for _, reg := range a.Membarrier {
		if _, err := b.call("membarrier", unix.SYS_MEMBARRIER, uint64(reg), 0, 0); err != nil {
			return b.r.forceable(fmt.Errorf("membarrier registration %d cannot be restored: %w", reg, err))
		}
	}
	for i, t := range b.tasks {
		th := a.Threads[i]
		if err := b.restoreSched(t, th); err != nil {
			return err
		}
		if err := b.restoreThreadExtras(t, th); err != nil {
			return err
		}
		if err := b.restoreMCEKill(t, th); err != nil {
			return err
		}
		if err := b.restoreThreadPolicy(t, th); err != nil { // mempolicy.go
			return err
		}
		if th.PdeathSig != 0 {
			err := b.on(t, func() error {
				_, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uint64(th.PdeathSig))
				return err
			})
			if err != nil {
				return fmt.Errorf("set parent-death signal %d (tid %d): %w", th.PdeathSig, th.TID, err)
			}
		}
	}
	if err := b.restoreProcMisc(a.procMisc); err != nil {
		return err
	}
	return b.restoreMDWE(a.prctlState) // last: no PROT_EXEC may be gained after it
}

// restoreOOMScoreAdj writes /proc/PID/oom_score_adj from the restorer.
// The process inherited the restart's value, and lowering below it
// (oom_score_adj_min) needs CAP_SYS_RESOURCE, which root does not
// always have; an enforced Owner may never lower it.
func (b *builder) restoreOOMScoreAdj(adj int) error {
	path := fmt.Sprintf("/proc/%d/oom_score_adj", b.pid)
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	now, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	if now == adj {
		return nil
	}
	if adj < now && b.r.enforced(b.p) {
		return b.r.forceable(fmt.Errorf("oom_score_adj %d is below this restart's %d: user %d may not lower it", adj, now, b.r.opts.Owner.UID))
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(adj)), 0); err != nil {
		return b.attrRefused(fmt.Errorf("oom_score_adj %d not restored (restart's %d kept; lowering it needs CAP_SYS_RESOURCE): %w", adj, now, err))
	}
	return nil
}

// restoreSched sets a thread's scheduling policy, priority, nice value
// and flags. A root restore of the image's own credentials sets them from
// the restorer (the process had them, whatever rights it has now; a real
// time policy inherited from a privileged parent, say); otherwise the
// thread sets them itself, with its restored rights, so the kernel
// refuses what its owner may not have.
func (b *builder) restoreSched(t *task, th threadAttrs) error {
	cur, err := getSchedAttr(t.pid)
	if err != nil {
		return err
	}
	if cur == th.Sched {
		return nil
	}
	want := th.Sched
	if want.Policy != schedDeadline && want.Runtime == cur.Runtime {
		// For the fair policies sched_runtime is the time slice; the
		// default one is left default (a value given makes it custom).
		want.Runtime = 0
	}
	attr := want.bytes()
	// sched_setattr sets the nice value of the fair policies only
	// (SCHED_OTHER, SCHED_BATCH): a SCHED_IDLE or real-time thread keeps
	// the one it had, here its creator's, not the one it had at the
	// checkpoint (which comes back if it returns to SCHED_OTHER).
	// setpriority sets it under any policy.
	fixNice := want.Nice != cur.Nice && want.Policy != unix.SCHED_NORMAL && want.Policy != unix.SCHED_BATCH
	if os.Geteuid() == 0 && !b.r.enforced(b.p) {
		if fixNice {
			err = unix.Setpriority(unix.PRIO_PROCESS, t.pid, int(want.Nice))
		}
		if err == nil {
			_, _, e := unix.Syscall(unix.SYS_SCHED_SETATTR, uintptr(t.pid), uintptr(unsafe.Pointer(&attr[0])), 0)
			if e != 0 {
				err = os.NewSyscallError("sched_setattr", e)
			}
		}
	} else {
		err = b.on(t, func() error {
			if fixNice {
				if _, err := b.call("setpriority", unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uint64(int64(want.Nice))); err != nil {
					return err
				}
			}
			addr, err := b.put(scratchData, attr)
			if err != nil {
				return err
			}
			_, err = b.call("sched_setattr", unix.SYS_SCHED_SETATTR, 0, addr, 0)
			return err
		})
	}
	if err != nil {
		return b.attrRefused(fmt.Errorf("scheduling policy %d priority %d nice %d (tid %d) cannot be restored: %w", th.Sched.Policy, th.Sched.Priority, th.Sched.Nice, th.TID, err))
	}
	if got, err := getSchedAttr(t.pid); err != nil || got != th.Sched {
		return fmt.Errorf("tid %d: scheduling after restore %+v, want %+v (%v)", th.TID, got, th.Sched, err)
	}
	return nil
}

// restoreFSIDs gives the current injection thread its filesystem ids,
// which setresuid and setresgid have just set to the effective ones. The
// kernel lets a thread choose any of its real, effective or saved ids, or
// any id with CAP_SETUID/CAP_SETGID, which the restore keeps
// (keepCapsAcrossCreds) until the security state is restored.
func (b *builder) restoreFSIDs(c creds) error {
	if c.GID[3] != c.GID[1] {
		b.call("setfsgid", unix.SYS_SETFSGID, uint64(c.GID[3]))
	}
	if c.UID[3] != c.UID[1] {
		b.call("setfsuid", unix.SYS_SETFSUID, uint64(c.UID[3]))
	}
	st, err := readStatus(b.t.pid)
	if err != nil {
		return err
	}
	if st.UID[3] != c.UID[3] || st.GID[3] != c.GID[3] {
		return fmt.Errorf("filesystem ids after restore %d/%d, want %d/%d", st.UID[3], st.GID[3], c.UID[3], c.GID[3])
	}
	return nil
}

// restoreRoot makes the process chroot to its root directory, once its
// working directory (a path from the restart's root) is set and /proc is
// mounted: threads cloned after share it (CLONE_FS). It runs before the
// credentials and capabilities are restored, as the process may have
// dropped CAP_SYS_CHROOT since. An enforced Owner may not choose a root:
// chroot with set-user-id programs inside is a way to root.
func (b *builder) restoreRoot() error {
	a := b.p.meta.Attrs
	if a == nil || a.Root == "" || b.p.tables.fs {
		return nil
	}
	if b.r.enforced(b.p) {
		return b.r.forceable(fmt.Errorf("root directory %s: user %d may not chroot", a.Root, b.r.opts.Owner.UID))
	}
	p, err := b.putString(scratchData, a.Root)
	if err != nil {
		return err
	}
	if _, err := b.call("chroot", unix.SYS_CHROOT, p); err != nil {
		// Never a warning: the program would see another filesystem.
		return b.r.forceable(fmt.Errorf("root directory %s cannot be restored: chroot: %w", a.Root, err))
	}
	return nil
}

// keepsParentThread reports whether the restored root has a parent-death
// signal. Its parent is the restart process (CONVEX), and precisely the
// thread it was cloned from (CLONE_PARENT from the stub that thread
// started): the kernel sends the signal when that thread ends, even while
// the process lives on (forget_original_parent), so the thread must stay
// as long as the root does (Process.Wait ends it).
func (p *rproc) keepsParentThread() bool {
	if p.meta.Attrs == nil {
		return false
	}
	for _, th := range p.meta.Attrs.Threads {
		if th.PdeathSig != 0 {
			return true
		}
	}
	return false
}
