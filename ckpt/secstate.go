package ckpt

// The security state of a process: seccomp (strict mode, filters),
// no_new_privs, the capability sets and the bounding set, securebits and
// the dumpable flag. All of it is saved, and restored exactly or the
// restore is refused: a sandboxed program never comes back unsandboxed.
//
// The engine works by injecting system calls into its targets. Seccomp
// applies to those as to the program's own, so a filter that kills on
// mmap, or strict mode, would kill the target at the first injection.
// The kernel lets a tracer with CAP_SYS_ADMIN suspend a tracee's seccomp
// while it is traced (PTRACE_O_SUSPEND_SECCOMP, the option CRIU uses):
// the engine seizes with it at checkpoint and sets it on the restored
// tasks before their filters are installed, so every later injection
// passes; detaching ends the suspension.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// secState is a process's security state (imageMeta.Security).
type secState struct {
	// Dumpable is PR_GET_DUMPABLE: per process (per mm).
	Dumpable int `json:"dumpable"`
	// Threads holds what the kernel keeps per thread, in the order of
	// imageMeta.Threads.
	Threads []threadSec `json:"threads"`
}

// threadSec is one thread's security state.
type threadSec struct {
	TID     int `json:"tid"`
	Seccomp int `json:"seccomp"` // SECCOMP_MODE_DISABLED, _STRICT, _FILTER
	// Filters are the thread's seccomp filters, oldest first.
	Filters    []seccompFilter `json:"filters,omitempty"`
	NoNewPrivs bool            `json:"no_new_privs,omitempty"`
	CapInh     uint64          `json:"cap_inh"`
	CapPrm     uint64          `json:"cap_prm"`
	CapEff     uint64          `json:"cap_eff"`
	CapBnd     uint64          `json:"cap_bnd"`
	CapAmb     uint64          `json:"cap_amb"`
	Securebits uint64          `json:"securebits"`
}

// seccompFilter is one classic BPF program (struct sock_filter array) as
// PTRACE_SECCOMP_GET_FILTER returns it, and its flags.
type seccompFilter struct {
	Prog  []byte `json:"prog"`
	Flags uint64 `json:"flags,omitempty"` // SECCOMP_FILTER_FLAG_LOG
}

const (
	seccompModeStrict = 1
	seccompModeFilter = 2

	ptraceGetSeccompMetadata = 0x420d // PTRACE_GET_SECCOMP_METADATA
	secbitNoSetuidFixup      = 1 << 2 // SECBIT_NO_SETUID_FIXUP
	sockFilterSize           = 8      // sizeof(struct sock_filter)
	bpfMaxInsns              = 4096   // BPF_MAXINSNS

	capSysAdmin = 21
	capSetPCap  = 8

	// restoreTraceOptions are the options every restored task is traced
	// with (createRoot sets them on the stub; clones inherit them).
	restoreTraceOptions = unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_EXITKILL
)

// taskSec is what /proc/PID/task/TID/status says of a thread's security.
type taskSec struct {
	seccomp, filters           int
	nnp                        bool
	inh, prm, eff, bnd, amb    uint64
	hasSeccomp, hasFilterCount bool
}

func readTaskSec(pid, tid int) (taskSec, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return taskSec{}, err
	}
	var s taskSec
	for k, v := range keyValues(data) {
		hex := func() uint64 { n, _ := strconv.ParseUint(v, 16, 64); return n }
		switch k {
		case "Seccomp":
			s.seccomp, _ = strconv.Atoi(v)
			s.hasSeccomp = true
		case "Seccomp_filters":
			s.filters, _ = strconv.Atoi(v)
			s.hasFilterCount = true
		case "NoNewPrivs":
			s.nnp = v == "1"
		case "CapInh":
			s.inh = hex()
		case "CapPrm":
			s.prm = hex()
		case "CapEff":
			s.eff = hex()
		case "CapBnd":
			s.bnd = hex()
		case "CapAmb":
			s.amb = hex()
		}
	}
	return s, nil
}

// seizeTask attaches to the thread tid with its seccomp suspended while it
// is traced. Where the kernel refuses the option (no
// CONFIG_CHECKPOINT_RESTORE, no CAP_SYS_ADMIN, a tracer under seccomp) it
// attaches without, and collectSecurity then refuses a target under
// seccomp rather than kill it.
func (d *dumper) seizeTask(tid int) error {
	err := ptraceSeize(tid, unix.PTRACE_O_SUSPEND_SECCOMP)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIO) {
		return err
	}
	if err := ptraceSeize(tid, 0); err != nil {
		return err
	}
	d.noSuspend = true
	return nil
}

// collectSecurity records the security state of every thread that /proc
// and ptrace tell (securebits and dumpable are asked by injection, see
// injectSecurity). It runs before anything is injected: a thread under
// seccomp whose seccomp could not be suspended is refused here, before an
// injected call gets it killed.
func (d *dumper) collectSecurity() error {
	s := &secState{}
	for _, tid := range d.tids {
		ts, err := readTaskSec(d.pid, tid)
		if err != nil {
			return fmt.Errorf("%s(%d): security state (tid %d): %w", d.comm, d.pid, tid, err)
		}
		if !ts.hasSeccomp {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
				Msg: "this kernel does not report the seccomp mode (/proc/PID/status Seccomp:): it could not be saved"}
		}
		if ts.seccomp != 0 && d.noSuspend {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
				"tid %d is under seccomp (mode %d) and the kernel refused to suspend it while traced (PTRACE_O_SUSPEND_SECCOMP): the checkpoint's injected system calls would kill it", tid, ts.seccomp)}
		}
		th := threadSec{TID: tid, Seccomp: ts.seccomp, NoNewPrivs: ts.nnp,
			CapInh: ts.inh, CapPrm: ts.prm, CapEff: ts.eff, CapBnd: ts.bnd, CapAmb: ts.amb}
		if ts.seccomp == seccompModeFilter {
			if th.Filters, err = seccompFilters(tid); err != nil {
				return fmt.Errorf("%s(%d): seccomp filters (tid %d): %w", d.comm, d.pid, tid, err)
			}
			if ts.hasFilterCount && len(th.Filters) != ts.filters {
				return fmt.Errorf("%s(%d): seccomp filters (tid %d): read %d, the kernel reports %d", d.comm, d.pid, tid, len(th.Filters), ts.filters)
			}
		} else if ts.seccomp != 0 && ts.seccomp != seccompModeStrict {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("tid %d: unknown seccomp mode %d", tid, ts.seccomp)}
		}
		s.Threads = append(s.Threads, th)
	}
	d.meta.Security = s
	return nil
}

// seccompFilters reads the filters of a stopped tracee, oldest first:
// PTRACE_SECCOMP_GET_FILTER counts from the newest (index 0) and answers
// ENOENT past the oldest.
func seccompFilters(tid int) ([]seccompFilter, error) {
	var newestFirst []seccompFilter
	for i := 0; ; i++ {
		n, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), uintptr(i), 0, 0, 0)
		if e == unix.ENOENT {
			break
		}
		if e != 0 {
			return nil, wrapPtrace("seccomp get filter", tid, e)
		}
		if n == 0 || n > bpfMaxInsns {
			return nil, fmt.Errorf("seccomp filter %d: %d instructions", i, n)
		}
		prog := make([]byte, n*sockFilterSize)
		got, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), uintptr(i), uintptr(unsafe.Pointer(&prog[0])), 0, 0)
		if e != 0 {
			return nil, wrapPtrace("seccomp get filter", tid, e)
		}
		if got != n {
			return nil, fmt.Errorf("seccomp filter %d changed size while read", i)
		}
		f := seccompFilter{Prog: prog}
		meta := struct{ FilterOff, Flags uint64 }{FilterOff: uint64(i)}
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceGetSeccompMetadata, uintptr(tid), unsafe.Sizeof(meta), uintptr(unsafe.Pointer(&meta)), 0, 0); e != 0 {
			return nil, wrapPtrace("get seccomp metadata", tid, e)
		}
		f.Flags = meta.Flags
		newestFirst = append(newestFirst, f)
	}
	out := make([]seccompFilter, len(newestFirst))
	for i, f := range newestFirst {
		out[len(out)-1-i] = f
	}
	return out, nil
}

// securityQueue asks thread tid for what /proc does not show: its
// securebits, and for the main thread the process's dumpable flag (calls
// for injectThread's queue).
func (d *dumper) securityQueue(tid int) []queued {
	s := d.meta.Security
	if s == nil {
		return nil
	}
	var q []queued
	for i := range s.Threads {
		th := &s.Threads[i]
		if th.TID != tid {
			continue
		}
		q = append(q, queued{name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_SECUREBITS}, then: func(bits uint64, err error) error {
			if err != nil {
				return fmt.Errorf("%s(%d): get securebits (tid %d): %w", d.comm, d.pid, tid, err)
			}
			th.Securebits = bits
			return nil
		}})
	}
	q = append(q, d.landlockProbe(tid)...)
	if tid == d.pid {
		q = append(q, queued{name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_DUMPABLE}, then: func(dump uint64, err error) error {
			if err != nil {
				return fmt.Errorf("%s(%d): get dumpable: %w", d.comm, d.pid, err)
			}
			s.Dumpable = int(dump)
			return nil
		}})
	}
	return q
}

// lastCap is the highest capability this kernel knows.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// checkSecurity refuses, before anything is started, a security state the
// restore could not give back or may not give: capabilities beyond a
// non-root owner's (who has none), a dumpable value PR_SET_DUMPABLE does
// not take, capabilities this kernel does not have.
func (r *restorer) checkSecurity(p *rproc) error {
	s := p.meta.Security
	if s == nil {
		return nil
	}
	if len(s.Threads) != len(p.meta.Threads) {
		return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: security state of %d threads for %d threads", ErrCorrupt, len(s.Threads), len(p.meta.Threads))}
	}
	// Capabilities in a user namespace of the owner's that maps only the
	// owner's ids are ones any user may have there (userns.go).
	ownNS := p.meta.UserNS != nil && r.opts.Owner != nil && ownUserNS(p.meta.UserNS, r.opts.Owner.UID, r.opts.Owner.GID) == ""
	if o := r.opts.Owner; o != nil && o.UID != 0 && !p.authentic && !ownNS {
		for _, th := range s.Threads {
			if th.CapInh|th.CapPrm|th.CapEff|th.CapAmb != 0 {
				return r.fail(p, fmt.Errorf("tid %d had capabilities (permitted %#x, effective %#x, inheritable %#x, ambient %#x) and user %d has none: refused",
					th.TID, th.CapPrm, th.CapEff, th.CapInh, th.CapAmb, o.UID))
			}
		}
	}
	if s.Dumpable != 0 && s.Dumpable != 1 {
		return r.fail(p, fmt.Errorf("dumpable flag %d cannot be restored (PR_SET_DUMPABLE takes 0 or 1)", s.Dumpable))
	}
	last, err := lastCap()
	if err != nil {
		return r.fail(p, fmt.Errorf("capabilities: %w", err))
	}
	known := uint64(1)<<(last+1) - 1
	for _, th := range s.Threads {
		if (th.CapInh|th.CapPrm|th.CapEff|th.CapAmb)&^known != 0 {
			return r.fail(p, fmt.Errorf("tid %d had capabilities this kernel does not have (last is %d): refused", th.TID, last))
		}
		if th.Seccomp != 0 && th.Seccomp != seccompModeStrict && th.Seccomp != seccompModeFilter {
			return r.fail(p, fmt.Errorf("tid %d: unknown seccomp mode %d", th.TID, th.Seccomp))
		}
		for _, f := range th.Filters {
			if n := len(f.Prog); n == 0 || n%sockFilterSize != 0 || n/sockFilterSize > bpfMaxInsns {
				return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: seccomp filter of %d bytes", ErrCorrupt, n)}
			}
		}
	}
	return nil
}

// keepCapsAcrossCreds makes the coming setresuid (restoreCreds) leave the
// capability sets alone (SECBIT_NO_SETUID_FIXUP), so that the restore
// still has what it needs afterwards; restoreSecurity then sets the sets
// and the securebits to exactly what was saved.
func (b *builder) keepCapsAcrossCreds() error {
	if b.p.meta.Security == nil || os.Geteuid() != 0 {
		return nil
	}
	for _, t := range b.tasks {
		err := b.on(t, func() error {
			bits, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_GET_SECUREBITS)
			if err != nil {
				return fmt.Errorf("get securebits: %w", err)
			}
			if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, bits|secbitNoSetuidFixup); err != nil {
				return fmt.Errorf("set securebits %#x: %w", bits|secbitNoSetuidFixup, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// restoreSecurity gives every thread its bounding set, capabilities,
// ambient set, securebits, no_new_privs and seccomp state, then the
// process its dumpable flag, and checks the result against /proc. It runs
// after the credentials are restored. Seccomp is suspended on the tasks
// first (PTRACE_O_SUSPEND_SECCOMP), so the filters installed here do not
// apply to what the restore still injects afterwards; the program meets
// them once it is detached.
func (b *builder) restoreSecurity() error {
	s := b.p.meta.Security
	if s == nil {
		return nil
	}
	seccomp := false
	for _, th := range s.Threads {
		seccomp = seccomp || th.Seccomp != 0
	}
	if seccomp {
		for _, t := range b.tasks {
			if err := ptraceSetOptions(t.pid, restoreTraceOptions|unix.PTRACE_O_SUSPEND_SECCOMP); err != nil {
				return fmt.Errorf("seccomp cannot be restored: the kernel refused to suspend it for the rest of the restore (PTRACE_O_SUSPEND_SECCOMP): %w", err)
			}
		}
	}
	last, err := lastCap()
	if err != nil {
		return err
	}
	// Threads that share one filter list (the usual case: installed with
	// SECCOMP_FILTER_FLAG_TSYNC, or inherited) get it installed once with
	// TSYNC, so the program can still synchronize its threads later.
	tsync := len(s.Threads) > 1 && s.Threads[0].Seccomp == seccompModeFilter
	for _, th := range s.Threads[1:] {
		tsync = tsync && sameFilters(th.Filters, s.Threads[0].Filters) && th.NoNewPrivs == s.Threads[0].NoNewPrivs
	}
	for i, t := range b.tasks {
		th := s.Threads[i]
		err := b.on(t, func() error {
			filters := !tsync || i == 0
			return b.restoreThreadSec(t.pid, th, last, filters, tsync)
		})
		if err != nil {
			return fmt.Errorf("tid %d: %w", th.TID, err)
		}
	}
	known := uint64(1)<<(last+1) - 1
	if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, uint64(s.Dumpable)); err != nil {
		return fmt.Errorf("set dumpable %d: %w", s.Dumpable, err)
	}
	if d, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_GET_DUMPABLE); err != nil || int(d) != s.Dumpable {
		return fmt.Errorf("dumpable after restore %d, want %d (%v)", d, s.Dumpable, err)
	}
	for i, t := range b.tasks {
		th := s.Threads[i]
		got, err := readTaskSec(b.pid, t.pid)
		if err != nil {
			return err
		}
		want := taskSec{seccomp: th.Seccomp, filters: len(th.Filters), nnp: th.NoNewPrivs,
			inh: th.CapInh, prm: th.CapPrm, eff: th.CapEff, bnd: th.CapBnd & known, amb: th.CapAmb}
		if !got.hasFilterCount {
			got.filters = want.filters
		}
		got.hasSeccomp, got.hasFilterCount = false, false
		if got != want {
			return fmt.Errorf("tid %d: security state after restore %+v, want %+v", th.TID, got, want)
		}
	}
	return nil
}

// restoreThreadSec restores one thread's state, injecting into it.
func (b *builder) restoreThreadSec(tid int, th threadSec, last int, filters, tsync bool) error {
	known := uint64(1)<<(last+1) - 1
	cur, err := readTaskSec(b.pid, tid)
	if err != nil {
		return err
	}
	if raise := th.CapBnd & known &^ cur.bnd; raise != 0 {
		return fmt.Errorf("bounding set %#x cannot be restored: %#x is not in this restart's bounding set %#x", th.CapBnd, raise, cur.bnd)
	}
	for c := 0; c <= last; c++ {
		bit := uint64(1) << c
		if cur.bnd&bit != 0 && th.CapBnd&bit == 0 {
			if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uint64(c)); err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	}
	// Meanwhile the thread keeps CAP_SETPCAP (securebits) and
	// CAP_SYS_ADMIN (filters without no_new_privs) if it has them; the
	// final capset below drops what it did not have.
	keep := cur.prm & (1<<capSetPCap | 1<<capSysAdmin)
	if err := b.capset(th.CapPrm|keep, th.CapEff|keep, th.CapInh); err != nil {
		return err
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient set: %w", err)
	}
	for c := 0; c <= last; c++ {
		if th.CapAmb&(1<<c) == 0 {
			continue
		}
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uint64(c), 0, 0); err != nil {
			return fmt.Errorf("raise capability %d in the ambient set: %w", c, err)
		}
	}
	bits, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_GET_SECUREBITS)
	if err != nil {
		return fmt.Errorf("get securebits: %w", err)
	}
	if bits != th.Securebits {
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, th.Securebits); err != nil {
			return fmt.Errorf("set securebits %#x: %w", th.Securebits, err)
		}
	}
	switch {
	case th.NoNewPrivs && !cur.nnp:
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	case !th.NoNewPrivs && cur.nnp:
		return errors.New("no_new_privs is set in restart and cannot be cleared: the process did not have it")
	}
	if cur.seccomp != 0 && (filters || !tsync) {
		return fmt.Errorf("restart is under seccomp (mode %d): the process's own seccomp state cannot be restored", cur.seccomp)
	}
	switch {
	case th.Seccomp == seccompModeStrict:
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_SECCOMP, seccompModeStrict); err != nil {
			return fmt.Errorf("set seccomp strict mode: %w", err)
		}
	case th.Seccomp == seccompModeFilter && filters:
		for i, f := range th.Filters {
			if err := b.installFilter(f, tsync); err != nil {
				return fmt.Errorf("install seccomp filter %d of %d: %w", i+1, len(th.Filters), err)
			}
		}
	}
	if err := b.capset(th.CapPrm, th.CapEff, th.CapInh); err != nil {
		return err
	}
	if bits, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_GET_SECUREBITS); err != nil || bits != th.Securebits {
		return fmt.Errorf("securebits after restore %#x, want %#x (%v)", bits, th.Securebits, err)
	}
	return nil
}

// capset sets the calling thread's capability sets (version 3: 64 bits,
// as two 32-bit halves).
func (b *builder) capset(prm, eff, inh uint64) error {
	buf := make([]byte, 8+24)
	le := binary.LittleEndian
	le.PutUint32(buf, unix.LINUX_CAPABILITY_VERSION_3)
	for i, set := range []uint64{eff, prm, inh} {
		le.PutUint32(buf[8+4*i:], uint32(set))
		le.PutUint32(buf[20+4*i:], uint32(set>>32))
	}
	addr, err := b.put(scratchData, buf)
	if err != nil {
		return err
	}
	if _, err := b.call("capset", unix.SYS_CAPSET, addr, addr+8); err != nil {
		return fmt.Errorf("capset(permitted %#x, effective %#x, inheritable %#x): %w", prm, eff, inh, err)
	}
	return nil
}

// installFilter installs one filter in the current injection thread
// (SECCOMP_SET_MODE_FILTER), for every thread with tsync.
func (b *builder) installFilter(f seccompFilter, tsync bool) error {
	// struct sock_fprog { unsigned short len; struct sock_filter *filter; }
	// at scratchData, the program right after it.
	prog, err := b.put(scratchData+16, f.Prog)
	if err != nil {
		return err
	}
	fprog := make([]byte, 16)
	binary.LittleEndian.PutUint16(fprog, uint16(len(f.Prog)/sockFilterSize))
	binary.LittleEndian.PutUint64(fprog[8:], prog)
	addr, err := b.put(scratchData, fprog)
	if err != nil {
		return err
	}
	flags := f.Flags & unix.SECCOMP_FILTER_FLAG_LOG
	if tsync {
		flags |= unix.SECCOMP_FILTER_FLAG_TSYNC
	}
	ret, err := b.call("seccomp", unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, addr)
	if err != nil {
		return err
	}
	if ret != 0 {
		return fmt.Errorf("thread %d could not be synchronized (TSYNC)", ret)
	}
	return nil
}

func sameFilters(a, b []seccompFilter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Flags != b[i].Flags || !bytes.Equal(a[i].Prog, b[i].Prog) {
			return false
		}
	}
	return true
}

// Terminals. A pseudo terminal slave is a number (/dev/pts/N) that the
// kernel gives to the next pty opened once its pair is gone: reopened by
// its number after a restart it may be a stranger's terminal. So a slave
// that is not the control terminal (which restart points to its own
// terminal) is refused at checkpoint, and never reopened by path at
// restore, whatever an image says.

// isPTYSlave tells whether a character device number is a pty slave
// (Unix98 ptys: majors 136 to 143).
func isPTYSlave(rdev uint64) bool {
	maj := unix.Major(rdev)
	return maj >= 136 && maj <= 143
}

// ptySlaveMsg is why a pty slave that is not the control terminal cannot
// be checkpointed: its master is outside the tree, or, inside, the pair
// would not come back as a pair.
func (d *dumper) ptySlaveMsg(path string, rdev uint64) string {
	index := int(unix.Minor(rdev)) + int(unix.Major(rdev)-136)*256
	if d.tree != nil {
		for _, o := range d.tree.procs {
			if !o.zombie && holdsPTYMaster(o.pid, index) {
				return fmt.Sprintf("is pseudo terminal %s (both ends of a pseudo terminal are not checkpointable yet)", path)
			}
		}
	}
	return fmt.Sprintf("is pseudo terminal %s (its master is outside of selected processes)", path)
}

// holdsPTYMaster tells whether pid has the master of pty index open
// (fdinfo of a ptmx descriptor shows its tty-index).
func holdsPTYMaster(pid, index int) bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err != nil || (l != "/dev/ptmx" && !strings.HasSuffix(l, "/ptmx")) {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			continue
		}
		for k, v := range keyValues(info) {
			if k == "tty-index" && v == strconv.Itoa(index) {
				return true
			}
		}
	}
	return false
}

// errForeignTerminal: a descriptor of an image that would be a pty slave
// reopened by its number.
var errForeignTerminal = errors.New("a terminal that is not the control terminal is not reopened if it may belong to someone else (a pseudo terminal slave is only a number)")

// refuseTerminal refuses, at the check before anything starts, a
// descriptor of the image that is not the control terminal and names a
// pty slave.
func refuseTerminal(f fileDesc) error {
	if f.CTTY {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(f.Path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && isPTYSlave(st.Rdev) {
		return fmt.Errorf("fd %d %s: %w", f.FD, f.Path, errForeignTerminal)
	}
	if strings.HasPrefix(f.Path, "/dev/pts/") && f.Path != "/dev/pts/ptmx" {
		return fmt.Errorf("fd %d %s: %w", f.FD, f.Path, errForeignTerminal)
	}
	return nil
}

// checkOpened refuses a descriptor the restorer just opened by path for a
// description that is not the control terminal, if it turns out to be a
// pty slave (whatever kind the image claims, and through whatever symbolic
// link), or a terminal of another user than the process's (a virtual
// console or serial line someone is logged in on: its device belongs to
// them). It closes fd then.
func checkOpened(fd int, f fileDesc, uid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("fd %d %s: fstat: %w", f.FD, f.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil
	}
	if isPTYSlave(st.Rdev) {
		unix.Close(fd)
		return fmt.Errorf("fd %d %s: %w", f.FD, f.Path, errForeignTerminal)
	}
	if maj := unix.Major(st.Rdev); (maj == 4 || maj == 5) && st.Uid != 0 && int(st.Uid) != uid {
		unix.Close(fd)
		return fmt.Errorf("fd %d %s: the terminal belongs to uid %d, not to the process's uid %d: %w", f.FD, f.Path, st.Uid, uid, errForeignTerminal)
	}
	return nil
}

// landlockProbe refuses a thread confined by a landlock ruleset
// (landlock_restrict_self): the kernel shows its rules nowhere (no /proc
// file, no getter), so the restore could not confine it again. Landlock
// lets a confined thread ptrace-read only processes inside its own
// domain: the thread is asked kcmp of a process confined by nothing, which
// it could read but for landlock, seen from its PID namespace. That is
// the checkpointer itself where the thread may ptrace-read it (it has
// CAP_SYS_PTRACE, or the same ids as this process and a dumpable one) and
// sees its pid (same PID namespace); elsewhere, when we are root, a
// reference process made for the thread's namespace and ids
// (landlockref.go). A thread in a user namespace other than ours
// (userns.go) may ptrace-read no process outside it: there the reference
// is always one made in its namespace. Not root and neither: the question
// cannot be asked, and a landlocked thread there is not found.
func (d *dumper) landlockProbe(tid int) []queued {
	s := d.meta.Security
	if s == nil {
		return nil
	}
	var ourNS bool
	if own, err := nsInode(d.pid, "user"); err != nil {
		return nil
	} else if self, err := selfNSInode("user"); err != nil {
		return nil
	} else {
		ourNS = own == self
	}
	var capEff, capPrm uint64
	for _, th := range s.Threads {
		if th.TID == tid {
			capEff, capPrm = th.CapEff, th.CapPrm
		}
	}
	// The thread's own ids (threadcreds.go): a thread may have others
	// than its process's.
	c, me := d.meta.Creds, os.Getuid()
	for i := range d.meta.Threads {
		if th := d.meta.Threads[i]; th.TID == tid && th.Creds != nil {
			c = *th.Creds
		}
	}
	sameIDs := true
	for i := 0; i < 3; i++ {
		sameIDs = sameIDs && c.UID[i] == me && c.GID[i] == os.Getgid()
	}
	if dump, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); dump != 1 {
		sameIDs = false
	}
	// With the same ids, the capabilities still decide: the kernel lets
	// a thread ptrace-read a process whose permitted set is not within
	// its own only with CAP_SYS_PTRACE (cap_ptrace_access_check). A
	// reference with uid 0 has our capabilities too.
	own, err := ownPermittedCaps()
	capsWithin := err == nil && capPrm&own == own
	sameIDs = sameIDs && capsWithin
	ptraceCap := capEff&(1<<unix.CAP_SYS_PTRACE) != 0
	a, b := uint64(d.pid), uint64(os.Getpid())
	if !ourNS || d.meta.NSPID != 0 || !ptraceCap && !sameIDs {
		// A reference with uid 0 in our namespace has our capabilities
		// too; one in another has none (startRefUserNS).
		if os.Geteuid() != 0 || d.tree == nil || ourNS && c.UID[0] == 0 && !ptraceCap && !capsWithin {
			return nil
		}
		ref, err := d.tree.landlock.get(d.pid, c.UID[0], c.GID[0], d.log)
		if err != nil {
			d.warn("%s(%d) tid %d: not probed for a landlock ruleset (a reference process: %v): if it is confined by one, a restore will not confine it", d.comm, d.pid, tid, err)
			return nil
		}
		a, b = uint64(ref), uint64(ref)
	}
	return []queued{{name: "kcmp", nr: unix.SYS_KCMP, args: []uint64{a, b, kcmpVM, 0, 0}, then: func(_ uint64, err error) error {
		if errnoOf(err) == unix.EPERM {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
				"tid %d is confined by a landlock ruleset (landlock_restrict_self; or another security module forbids it to ptrace-read an unconfined process): its rules cannot be read, and a restore would not confine it", tid)}
		}
		return nil
	}}}
}
