package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	scratchSize = 64 << 10
	taskSize    = 0x7ffffffff000 // TASK_SIZE of 4-level paging on x86-64
	// scratchData is where arguments start in the scratch area; its first
	// bytes hold the syscall instruction we step through.
	scratchData = 4096

	archMapVDSO64       = 0x2003      // ARCH_MAP_VDSO_64
	ssOnStack           = 1           // SS_ONSTACK
	ssDisable           = 2           // SS_DISABLE
	atFDCWD             = ^uint64(99) // AT_FDCWD (-100) as a register value
	erestartRestartBlk  = 516         // ERESTART_RESTARTBLOCK
	prSetMMMapStructLen = 104         // sizeof(struct prctl_mm_map)
)

// builder rebuilds one process inside the traced clone pid, by system calls
// injected into it: unmap everything, map and fill every region, put the
// vDSO back, set the mm fields, take over its descriptors, restore
// signals, limits, timers, rseq and credentials, then the registers.
type builder struct {
	r       *restorer
	p       *rproc
	pid     int
	mem     *os.File
	t       *task
	scratch uint64
	xstate  []byte
	pidfd   uint64 // the restorer's pidfd, in the process
	spareFD int    // the lowest descriptor number the process did not use

	lazy      []region    // regions restored lazily (lazy.go)
	tasks     []*task     // its threads, the main thread first
	tidInside map[int]int // checkpointed tid -> tid now, as the process sees it
	// sleepDone: threads whose interrupted sleep ended at once when
	// resumed, and the call's result (sleep_linux_amd64.go).
	sleepDone map[int]uint64
}

// newBuilder prepares the traced process pid for injection: every signal
// blocked, and a scratch area with a syscall instruction. A process cloned
// from one already prepared inherits its scratch area at the same address.
func newBuilder(r *restorer, p *rproc, pid int, inherited uint64) (*builder, error) {
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	b := &builder{r: r, p: p, pid: pid, mem: mem}
	regs, err := ptraceGetRegs(pid)
	if err != nil {
		mem.Close()
		return nil, err
	}
	b.t = &task{pid: pid, orig: regs, sysStops: p.meta.trapIgnored()}
	if inherited != 0 {
		b.scratch, b.t.sc = inherited, inherited
	} else {
		if b.t.sc, err = vdsoSyscall(pid, mem); err != nil {
			mem.Close()
			return nil, err
		}
		if err := b.setupScratch(); err != nil {
			mem.Close()
			return nil, err
		}
	}
	if err := ptraceSetSigMask(pid, injectMask(pid, pid)); err != nil {
		mem.Close()
		return nil, err
	}
	return b, nil
}

func (b *builder) build() error {
	r, p, m := b.r, b.p, b.p.meta
	stage := stopProf.stages()
	cur, err := ptraceGetXState(b.pid)
	if err != nil {
		return err
	}
	b.xstate = p.img.xstate[0]
	if fp := localFingerprint(cur); fp.XFeatures != m.Fingerprint.XFeatures || len(cur) != len(b.xstate) {
		err := fmt.Errorf("extended FPU state (features %#x, %d bytes) differs from this machine's (%#x, %d bytes): %w",
			m.Fingerprint.XFeatures, len(b.xstate), fp.XFeatures, len(cur), ErrIncompatible)
		if e := r.forceable(err); e != nil {
			return e
		}
		b.xstate = nil
	}
	// Close everything inherited from the stub but our pidfd; a table
	// shared with a process built before keeps its own (sharedtables.go).
	if !p.tables.files {
		if r.pidfd > 0 {
			if _, err := b.call("close_range", unix.SYS_CLOSE_RANGE, 0, r.pidfd-1, 0); err != nil {
				return err
			}
		}
		if _, err := b.call("close_range", unix.SYS_CLOSE_RANGE, r.pidfd+1, 0xffffffff, 0); err != nil {
			return err
		}
	}
	if p.cow.heir {
		if err := b.unmapKeeping(); err != nil { // cowshare.go
			return err
		}
	} else if _, err := b.call("munmap", unix.SYS_MUNMAP, 0, b.scratch); err != nil {
		return fmt.Errorf("munmap: %w", err)
	} else if _, err := b.call("munmap", unix.SYS_MUNMAP, b.scratch+scratchSize, taskSize-(b.scratch+scratchSize)); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	if m.VDSO != 0 {
		if _, err := b.call("arch_prctl", unix.SYS_ARCH_PRCTL, archMapVDSO64, m.VDSO); err != nil {
			return fmt.Errorf("map vdso at %#x: %w", m.VDSO, err)
		}
	}
	// Descriptors of our own go above every saved one.
	for _, f := range m.Files {
		b.spareFD = max(b.spareFD, f.FD+1)
	}
	b.spareFD = max(b.spareFD, 3)
	// A descriptor at the process's RLIMIT_NOFILE leaves no number above
	// it for ours (F_DUPFD: EINVAL): the limit is raised for the build,
	// and restoreLimits sets the saved one again.
	var lim unix.Rlimit
	if need := uint64(b.spareFD) + 8; unix.Prlimit(b.pid, unix.RLIMIT_NOFILE, nil, &lim) == nil && lim.Cur < need {
		raised := unix.Rlimit{Cur: need, Max: max(lim.Max, need)}
		if err := unix.Prlimit(b.pid, unix.RLIMIT_NOFILE, &raised, nil); err != nil {
			// Above the hard limit, which needs CAP_SYS_RESOURCE.
			return fmt.Errorf("fd %d is at the descriptor limit (RLIMIT_NOFILE %d), and the restart needs a few numbers above it: %w", b.spareFD-1, lim.Max, err)
		}
	}
	if p.tables.files {
		b.tableMember()
	} else {
		if b.pidfd, err = b.call("fcntl", unix.SYS_FCNTL, r.pidfd, unix.F_DUPFD_CLOEXEC, uint64(b.spareFD)); err != nil {
			return fmt.Errorf("fcntl F_DUPFD: %w", err)
		}
		b.call("close", unix.SYS_CLOSE, r.pidfd)
		// The pidfd may have landed above spareFD (when r.pidfd was spareFD
		// itself): the numbers used after it (spareFD+1, +2) must not be its.
		b.spareFD = int(b.pidfd)
	}
	img, err := openImage(p.img.Path)
	if err != nil {
		return fmt.Errorf("%s: open: %w", p.img.Path, err)
	}
	defer img.Close()
	unix.Fadvise(int(img.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	start := time.Now()
	fill, err := b.startFill(img)
	if err != nil {
		return err
	}
	defer fill.finish()
	// Start reading the image from disk now; it arrives while the
	// memory it goes to is being mapped (unless it is read O_DIRECT).
	fill.readAhead(m.Regions)
	// Mapped files are opened by the process itself, with the rights of
	// its owner, not root's (see asFileUser).
	if err := b.fileIdentity(); err != nil {
		return err
	}
	regions := sortedRegions(m.Regions)
	attached := map[uint64]bool{}
	var rings []region
	for i, rg := range regions {
		if rg.Kind == regionAIO {
			rings = append(rings, rg) // once every region is mapped
			continue
		}
		if rg.Kind == regionSysV {
			if err := b.attachSysV(rg, regions[i+1:], attached); err != nil {
				return err
			}
			continue
		}
		if p.cow.keep[rg.Start] {
			if err := b.refillKept(fill, rg); err != nil {
				return err
			}
			continue
		}
		rg.apart = i > 0 && keptApart(regions[i-1], rg, m) // mapapart.go
		if err := b.mapRegion(fill, rg); err != nil {
			return err
		}
	}
	if err := b.copyInherited(); err != nil {
		return err
	}
	checkRings, err := b.restoreAIO(fill, rings)
	if err != nil {
		return err
	}
	if err := fill.finish(); err != nil {
		return err
	}
	if err := checkRings(); err != nil {
		return err
	}
	// Its memory is built and verified: the children that share it
	// (cowshare.go).
	if err := b.cloneHeirs(); err != nil {
		return err
	}
	// Before the lazy regions are registered: a locked region is never
	// lazy (lazyRegion), so mlock faults no page through the loader.
	if err := b.restoreVMFlags(); err != nil {
		return err
	}
	if err := b.registerLazy(); err != nil {
		return err
	}
	r.log.Debug(fmt.Sprintf("%s(%d): memory restored in %.3fs (%d MiB read O_DIRECT)", p.comm(), m.PID, time.Since(start).Seconds(), fill.directBytes>>20))
	stage("b:memory")
	if err := b.setMM(); err != nil {
		return err
	}
	if p.tables.files {
		// The table is filled: its first member restored every
		// descriptor, lock and epoll interest list (sharedtables.go).
	} else if err := b.openFiles(); err != nil {
		return err
	}
	stage("b:files")
	if err := b.restoreSemUndo(); err != nil {
		return err
	}
	if err := b.restoreLoginUID(); err != nil {
		return err
	}
	if err := b.restoreUTS(); err != nil { // utsns.go
		return err
	}
	if err := b.joinUserNS(); err != nil { // userns.go
		return err
	}
	if err := b.closePidfd(); err != nil {
		return err
	}
	if err := b.restoreProcessState(); err != nil {
		return err
	}
	stage("b:procstate")
	if err := b.restoreRoot(); err != nil {
		return err
	}
	stage("b:root")
	if err := b.createThreads(); err != nil {
		return err
	}
	stage("b:createThreads")
	for i, t := range b.tasks {
		if err := b.restoreThread(t, m.Threads[i]); err != nil {
			return err
		}
	}
	stage("b:restoreThreads")
	if err := b.restoreTimers(); err != nil {
		return err
	}
	if err := b.queuePending(); err != nil {
		return err
	}
	stage("b:timers+pending")
	if err := b.keepCapsAcrossCreds(); err != nil {
		return err
	}
	if err := b.restoreCreds(); err != nil {
		return err
	}
	if err := b.restoreSecurity(); err != nil {
		return err
	}
	stage("b:creds+security")
	defer stage("b:attrs")
	return b.restoreAttrs()
}

// mountProc gives the init of a fresh PID namespace its own /proc, in the
// mount namespace created with it.
func (b *builder) mountProc() error {
	root, err := b.putString(scratchData, "/")
	if err != nil {
		return err
	}
	if _, err := b.call("mount", unix.SYS_MOUNT, 0, root, 0, unix.MS_REC|unix.MS_PRIVATE, 0); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	return b.mountProcOnly()
}

// mountProcOnly mounts a /proc of the process's PID namespace on /proc,
// in a mount namespace that propagates no mount.
func (b *builder) mountProcOnly() error {
	src, _ := b.putString(scratchData, "proc")
	dst, _ := b.putString(scratchData+64, "/proc")
	if _, err := b.call("mount", unix.SYS_MOUNT, src, dst, src, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, 0); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// takeFD copies descriptor fd of the restorer into the process, at the
// number want, and returns want.
func (b *builder) takeFD(fd int, want int, cloexec bool) error {
	got, err := b.call("pidfd_getfd", unix.SYS_PIDFD_GETFD, b.pidfd, uint64(fd), 0)
	if err != nil {
		l, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		l2, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", b.pid, b.pidfd))
		return fmt.Errorf("pidfd_getfd(%d -> %q, our fd %d -> %q): %w", b.pidfd, l2, fd, l, err)
	}
	flags := uint64(0)
	if cloexec {
		flags = unix.O_CLOEXEC
	}
	if int(got) == want {
		// pidfd_getfd sets close-on-exec.
		if !cloexec {
			if _, err := b.call("fcntl", unix.SYS_FCNTL, got, unix.F_SETFD, 0); err != nil {
				return fmt.Errorf("fcntl %d 0x0 0x0: %w", want, err)
			}
		}
		return nil
	}
	if _, err := b.call("dup3", unix.SYS_DUP3, got, uint64(want), flags); err != nil {
		b.call("close", unix.SYS_CLOSE, got) // not left to the process
		return fmt.Errorf("dup2 %d %d failed: %w", got, want, err)
	}
	_, err = b.call("close", unix.SYS_CLOSE, got)
	return err
}

func (b *builder) call(name string, nr uintptr, args ...uint64) (uint64, error) {
	return b.t.call(name, nr, args...)
}

// put writes data into the scratch area at offset off (>= scratchData) and
// returns its address in the tracee.
func (b *builder) put(off uint64, data []byte) (uint64, error) {
	if off < scratchData || off+uint64(len(data)) > scratchSize {
		return 0, fmt.Errorf("scratch overflow: %d bytes at %d", len(data), off)
	}
	addr := b.scratch + off
	if _, err := b.mem.WriteAt(data, int64(addr)); err != nil {
		return 0, fmt.Errorf("write scratch: %w", err)
	}
	return addr, nil
}

func (b *builder) putString(off uint64, s string) (uint64, error) {
	return b.put(off, append([]byte(s), 0))
}

// setupScratch maps an area that is free in the clone now and in the
// checkpointed layout, and puts a syscall instruction at its start.
func (b *builder) setupScratch() error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", b.pid))
	if err != nil {
		return err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return err
	}
	var used [][2]uint64
	for _, m := range maps {
		used = append(used, [2]uint64{m.Start, m.End})
	}
	for _, p := range b.r.procs {
		for _, rg := range p.meta.Regions {
			used = append(used, [2]uint64{rg.Start, rg.End})
		}
	}
	sort.Slice(used, func(i, j int) bool { return used[i][0] < used[j][0] })
	const guard = 1 << 20
	addr := uint64(1 << 32)
	for _, u := range used {
		if u[1]+guard <= addr {
			continue
		}
		if u[0] >= addr+scratchSize+guard {
			break
		}
		addr = (u[1] + guard + 0xffff) &^ 0xffff
	}
	if addr+scratchSize > taskSize {
		return fmt.Errorf("no free address range for the restore scratch area")
	}
	got, err := b.call("mmap", unix.SYS_MMAP, addr, scratchSize, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
	if err != nil {
		return fmt.Errorf("mmap scratch at %#x: %w", addr, err)
	}
	b.scratch = got
	if _, err := b.mem.WriteAt([]byte{0x0f, 0x05, 0xcc, 0xcc}, int64(got)); err != nil {
		return fmt.Errorf("write scratch: %w", err)
	}
	b.t.sc = got
	return nil
}

// mapRegion maps one region at its address and fills in its saved pages.
func (b *builder) mapRegion(fill *memFill, rg region) error {
	length := rg.End - rg.Start
	prot := uint64(rg.Prot)
	mapProt := prot
	if rg.hasData() || rg.accounted() && (rg.Kind == regionAnon || rg.Kind == regionFile) {
		// Filled by the process's own reads (fastrestore.go): made
		// writable meanwhile, then protected as they were. A region
		// that was writable once keeps its charge (VM_ACCOUNT) when it
		// is protected again, as it did.
		mapProt |= unix.PROT_READ | unix.PROT_WRITE
	}
	var err error
	switch rg.Kind {
	case regionVDSO, regionVsyscall:
		return nil
	case regionAnon:
		flags := uint64(unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED)
		if rg.droppable() {
			flags = mapDroppable | unix.MAP_ANONYMOUS | unix.MAP_FIXED
		}
		if rg.Stack {
			flags |= unix.MAP_GROWSDOWN
		}
		if rg.noReserve() {
			flags |= unix.MAP_NORESERVE
		}
		if rg.apart {
			err = b.mapApart(rg, mapProt, flags)
		} else {
			_, err = b.call("mmap", unix.SYS_MMAP, rg.Start, length, mapProt, flags, ^uint64(0), 0)
		}
	case regionShmem:
		// One object for every process that maps it: a memfd made and
		// filled by the restorer.
		fd, ok := b.r.shm[rg.Shm]
		if !ok {
			return fmt.Errorf("%s(%d): internal error: anon region %#x not in region table", b.p.comm(), b.p.meta.PID, rg.Start)
		}
		tmp := b.spareFD + 1
		if err := b.takeFD(fd, tmp, true); err != nil {
			return err
		}
		mfd := uint64(tmp)
		if ro, _ := rg.mapAccess(); ro && prot&unix.PROT_WRITE == 0 {
			// Mapped from a read-only descriptor of the object, as it
			// was: it may never be made writable (memflags.go).
			path, perr := b.putString(scratchData, fmt.Sprintf("/proc/self/fd/%d", tmp))
			if perr != nil {
				return perr
			}
			if mfd, err = b.call("open", unix.SYS_OPENAT, atFDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				b.call("close", unix.SYS_CLOSE, uint64(tmp))
				return fmt.Errorf("shared mapping %#x: reopen read-only: %w", rg.Start, err)
			}
			b.call("close", unix.SYS_CLOSE, uint64(tmp))
		}
		_, err = b.call("mmap", unix.SYS_MMAP, rg.Start, length, prot, unix.MAP_SHARED|unix.MAP_FIXED, mfd, rg.Offset)
		b.call("close", unix.SYS_CLOSE, mfd)
		if err != nil {
			return fmt.Errorf("mmap %#x %#x %#x: %w", rg.Start, length, prot, err)
		}
		return nil
	case regionFile, regionShared:
		flags := uint64(unix.MAP_PRIVATE | unix.MAP_FIXED)
		oflags := uint64(unix.O_RDONLY)
		if rg.Kind == regionShared {
			flags = unix.MAP_SHARED | unix.MAP_FIXED
			ro, known := rg.mapAccess()
			if prot&unix.PROT_WRITE != 0 || known && !ro {
				oflags = unix.O_RDWR
			}
		}
		path, perr := b.putString(scratchData, rg.File.Path)
		if perr != nil {
			return perr
		}
		fd, oerr := b.call("open", unix.SYS_OPENAT, atFDCWD, path, oflags|unix.O_CLOEXEC, 0)
		if oerr != nil && oflags == unix.O_RDWR && prot&unix.PROT_WRITE == 0 {
			// Read-only now, writable once of a descriptor the owner of
			// the restart may not open so (opened before a privilege
			// drop): read-only, never wider.
			b.r.warn("%s(%d): shared mapping %#x of %s: %v opening it writable; it is mapped from a read-only descriptor and may no longer be made writable",
				b.p.comm(), b.p.meta.PID, rg.Start, rg.File.Path, oerr)
			fd, oerr = b.call("open", unix.SYS_OPENAT, atFDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if oerr != nil && errnoOf(oerr) == unix.EACCES {
			fd, oerr = b.openAsRoot(path, oflags|unix.O_CLOEXEC, rg.File, oerr)
		}
		if oerr != nil {
			return fmt.Errorf("mapped file %s: %w", rg.File.Path, oerr)
		}
		_, err = b.call("mmap", unix.SYS_MMAP, rg.Start, length, mapProt, flags, fd, rg.Offset)
		b.call("close", unix.SYS_CLOSE, fd)
	default:
		return fmt.Errorf("%s: invalid MAP_TYPE (%q)", b.p.img.Path, rg.Kind)
	}
	if err != nil {
		return fmt.Errorf("mmap %#x %#x %#x: %w", rg.Start, length, prot, err)
	}
	if !rg.hasData() {
		if mapProt != prot {
			if _, err := b.call("mprotect", unix.SYS_MPROTECT, rg.Start, length, prot); err != nil {
				return fmt.Errorf("mprotect %#x: %w", rg.Start, err)
			}
		}
		return nil
	}
	if b.lazyRegion(rg) {
		b.lazy = append(b.lazy, rg) // lazy.go: registered once all are mapped
	} else if err := fill.fillRegion(rg); err != nil {
		return err
	}
	if mapProt != prot {
		if _, err := b.call("mprotect", unix.SYS_MPROTECT, rg.Start, length, prot); err != nil {
			return fmt.Errorf("mprotect %#x: %w", rg.Start, err)
		}
	}
	return nil
}

// setMM sets the mm fields (code, data, brk, stack, args, env, auxv) with
// PR_SET_MM_MAP, the one form this kernel accepts without CAP_SYS_RESOURCE.
func (b *builder) setMM() error {
	m := b.p.meta
	auxv := make([]byte, 8*len(m.Auxv))
	for i, v := range m.Auxv {
		binary.LittleEndian.PutUint64(auxv[8*i:], v)
	}
	auxvAddr, err := b.put(scratchData+1024, auxv)
	if err != nil {
		return err
	}
	st := make([]byte, prSetMMMapStructLen)
	le := binary.LittleEndian
	for i, v := range []uint64{m.MM.StartCode, m.MM.EndCode, m.MM.StartData, m.MM.EndData, m.MM.StartBrk, m.MM.Brk,
		m.MM.StartStack, m.MM.ArgStart, m.MM.ArgEnd, m.MM.EnvStart, m.MM.EnvEnd, auxvAddr} {
		le.PutUint64(st[8*i:], v)
	}
	le.PutUint32(st[96:], uint32(len(auxv)))
	exe, closeExe := b.exeFD() // exefile.go
	defer closeExe()
	le.PutUint32(st[100:], exe)
	addr, err := b.put(scratchData, st)
	if err != nil {
		return err
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, addr, prSetMMMapStructLen, 0); err != nil {
		if exe == ^uint32(0) {
			return fmt.Errorf("prctl(PR_SET_MM_MAP): %w", err)
		}
		// Refused for the executable: the fields without it.
		le.PutUint32(st[100:], ^uint32(0))
		if addr, err = b.put(scratchData, st); err != nil {
			return err
		}
		if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, addr, prSetMMMapStructLen, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_MM_MAP): %w", err)
		}
	}
	return nil
}

// openFiles gives the process its descriptors: each is a copy of the open
// file description the restorer holds for it (see openDescriptions), so
// descriptors that shared a description (dup, fork) share it again.
func (b *builder) openFiles() error {
	r, p := b.r, b.p
	files := append([]fileDesc(nil), p.meta.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].FD < files[j].FD })
	for _, f := range files {
		if f.Kind == fdClosed || p.closed[f.FD] {
			continue
		}
		fd, ok := r.descs[f.Desc]
		if !ok {
			return fmt.Errorf("internal error - double fd open %s fd %d", f.Path, f.FD)
		}
		if err := b.takeFD(fd, f.FD, f.CloExec); err != nil {
			return fmt.Errorf("fd %d %s: %w", f.FD, f.Path, err)
		}
		r.info("%s(%d) fd %d: %s %s at offset %d", p.comm(), p.meta.PID, f.FD, f.Kind, f.Path, f.Pos)
	}
	// Now that every descriptor is in place, epoll instances get their
	// interest lists back (once per instance, by its first holder);
	// before the POSIX locks, which a watch whose descriptor was closed
	// since (epollmoved.go) would drop as it closes a descriptor.
	for _, f := range files {
		if f.Kind != fdAnon || f.Anon == nil || f.Anon.Type != "eventpoll" || p.closed[f.FD] || r.epollFilled[f.Desc] {
			continue
		}
		r.epollFilled[f.Desc] = true
		var watches []epollWatch
		for _, w := range f.Anon.Watches {
			// A target that was not checkpointable (-F) or could not be
			// reopened (restart -F) is closed: it leaves the interest list
			// as the kernel drops a watch whose file is closed.
			if on := w.FD; w.Holder != nil && w.HolderPID == 0 && !openIn(p, *w.Holder) || w.Holder == nil && !openIn(p, on) {
				if w.Holder != nil {
					on = *w.Holder
				}
				r.warn("%s(%d) fd %d: epoll watch on fd %d dropped: its descriptor (fd %d) is restored closed", p.comm(), p.meta.PID, f.FD, w.FD, on)
				continue
			}
			watches = append(watches, w)
		}
		if err := b.fillEpoll(f.FD, watches); err != nil { // epollstate.go
			return err
		}
	}
	return b.restoreLocks(files)
}

// openIn reports whether descriptor fd of p is restored open.
func openIn(p *rproc, fd int) bool {
	for _, f := range p.meta.Files {
		if f.FD == fd {
			return f.Kind != fdClosed && !p.closed[fd]
		}
	}
	return false
}

// restoreProcessState restores cwd, umask, signal actions, the alternate
// signal stack, interval timers, personality, command
// name, rseq, robust futex list, tid address and pending signals.
func (b *builder) restoreProcessState() error {
	m := b.p.meta
	le := binary.LittleEndian
	if b.p.tables.fs {
		// Its working directory and umask are its parent's, set once
		// (sharedtables.go).
	} else if err := b.enterCwd(); err != nil {
		return err
	}
	if m.Umask >= 0 && !b.p.tables.fs {
		if _, err := b.call("umask", unix.SYS_UMASK, uint64(m.Umask)); err != nil {
			return fmt.Errorf("umask: %w", err)
		}
	}
	for i, a := range m.Signals.Actions {
		sig := i + 1
		if a == (sigAction{}) || sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		buf := make([]byte, 32)
		le.PutUint64(buf, a.Handler)
		le.PutUint64(buf[8:], a.Flags)
		le.PutUint64(buf[16:], a.Restorer)
		le.PutUint64(buf[24:], a.Mask)
		p, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("rt_sigaction", unix.SYS_RT_SIGACTION, uint64(sig), p, 0, 8); err != nil {
			return fmt.Errorf("sigvec (%d): %w", sig, err)
		}
	}
	for which, it := range m.Itimers {
		if it == (itimer{}) {
			continue
		}
		if it.Value == [2]int64{} && which == unix.ITIMER_REAL {
			// A periodic ITIMER_REAL that expired is re-armed by the
			// kernel only when its SIGALRM is dequeued (blocked and
			// pending, or ignored, it waits so, getitimer saying 0 left);
			// setting a zero value would disarm it. It is armed to expire
			// at once: it sends its SIGALRM (the pending one is queued
			// again after, one standard signal) and waits as it did.
			it.Value = [2]int64{0, 1}
		} else if it.Value == [2]int64{} {
			// A CPU-time itimer is re-armed by the tick that expires it;
			// caught between the two: one more interval.
			it.Value = it.Interval
		}
		buf := make([]byte, 32)
		for i, v := range []int64{it.Interval[0], it.Interval[1], it.Value[0], it.Value[1]} {
			le.PutUint64(buf[8*i:], uint64(v))
		}
		p, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("setitimer", unix.SYS_SETITIMER, uint64(which), p, 0); err != nil {
			return fmt.Errorf("setitimer(%d): %w", which, err)
		}
	}
	if _, err := b.call("personality", unix.SYS_PERSONALITY, m.Personality); err != nil {
		return fmt.Errorf("personality: %w", err)
	}
	name, err := b.putString(scratchData, m.Comm)
	if err != nil {
		return err
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_NAME, name); err != nil {
		return fmt.Errorf("set command name: %w", err)
	}
	return nil
}

// restoreThread gives the thread t what each thread has of its own: its
// alternate signal stack, rseq registration, robust futex list, tid address
// and name.
func (b *builder) restoreThread(t *task, th thread) error {
	return b.on(t, func() error {
		le := binary.LittleEndian
		if as := th.AltStack; as.Flags&ssDisable == 0 && as.Size > 0 {
			buf := make([]byte, 24)
			le.PutUint64(buf, as.SP)
			le.PutUint32(buf[8:], uint32(as.Flags&^ssOnStack))
			le.PutUint64(buf[16:], as.Size)
			p, err := b.put(scratchData, buf)
			if err != nil {
				return err
			}
			if _, err := b.call("sigaltstack", unix.SYS_SIGALTSTACK, p, 0); err != nil {
				return fmt.Errorf("sigstack (tid %d): %w", th.TID, err)
			}
		}
		if th.Rseq.Ptr != 0 {
			if _, err := b.call("rseq", unix.SYS_RSEQ, th.Rseq.Ptr, uint64(th.Rseq.Len), 0, uint64(th.Rseq.signature())); err != nil {
				return fmt.Errorf("rseq (tid %d): %w", th.TID, err)
			}
		}
		if th.RobustHead != 0 {
			if _, err := b.call("set_robust_list", unix.SYS_SET_ROBUST_LIST, th.RobustHead, th.RobustLen); err != nil {
				return fmt.Errorf("set_robust_list (tid %d): %w", th.TID, err)
			}
		}
		if _, err := b.call("set_tid_address", unix.SYS_SET_TID_ADDRESS, th.TidAddr); err != nil {
			return fmt.Errorf("set_tid_address (tid %d): %w", th.TID, err)
		}
		if err := b.restoreThreadPersonality(th); err != nil { // threadcreds.go
			return err
		}
		if th.Comm != "" {
			p, err := b.putString(scratchData, th.Comm)
			if err != nil {
				return err
			}
			if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_NAME, p); err != nil {
				return fmt.Errorf("set thread name (tid %d): %w", th.TID, err)
			}
		}
		return nil
	})
}

// queuePending queues the signals that were pending again, for the process
// or for their thread. Signals stay blocked until the registers are back,
// so they wait for the process to run.
func (b *builder) queuePending() error {
	le := binary.LittleEndian
	tgid := uint64(b.p.pidInside())
	if b.p.meta.trapPending() {
		// Injected between syscall stops (sysStops), so SIGTRAP may be
		// blocked too: the one queued here must wait for the program.
		for _, t := range b.tasks {
			if err := ptraceSetSigMask(t.pid, ^uint64(0)); err != nil {
				return err
			}
		}
	}
	for _, ps := range b.p.meta.Signals.Pending {
		if len(ps.Info) != siginfoSize {
			continue
		}
		if b.timerQueuesIt(ps) || staleTimerSignal(b.p.meta, ps) {
			continue // queued by its timer (restoreTimers, timeroverrun.go, timerstale.go)
		}
		sig := uint64(le.Uint32(ps.Info))
		p, err := b.put(scratchData, ps.Info)
		if err != nil {
			return err
		}
		if ps.Shared {
			_, err = b.call("rt_sigqueueinfo", unix.SYS_RT_SIGQUEUEINFO, tgid, sig, p)
		} else {
			tid, ok := b.tidInside[ps.TID]
			if !ok {
				tid = int(tgid)
			}
			// Queued by the thread itself: the kernel lets no other
			// task queue a siginfo of kill() or tgkill() (si_code >= 0,
			// SI_TKILL) for a thread.
			t := b.t
			for i, th := range b.p.meta.Threads {
				if th.TID == ps.TID && i < len(b.tasks) {
					t = b.tasks[i]
				}
			}
			err = b.on(t, func() error {
				_, err := b.call("rt_tgsigqueueinfo", unix.SYS_RT_TGSIGQUEUEINFO, tgid, uint64(tid), sig, p)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("can't restore pending signal %d: %w", sig, err)
		}
	}
	return nil
}

// cloneThread makes a thread with the clone_args at addr, retrying while
// its tid want is in use (EEXIST): a tid freed a moment ago can stay
// taken for a while, as a pid does (see the retry of cloneProcess).
func (b *builder) cloneThread(addr uint64, want int) (uint64, error) {
	retry := b.r.opts.PIDRetry
	if retry == 0 {
		retry = 10 * time.Second
	}
	deadline := time.Now().Add(retry)
	for {
		ret, err := b.call("clone3", unix.SYS_CLONE3, addr, 88)
		if err == nil || errnoOf(err) != unix.EEXIST {
			return ret, err
		}
		if time.Now().After(deadline) {
			return 0, &PIDInUseError{PID: want, Comm: b.p.comm(), Holder: pidHolder(want)}
		}
		b.r.info("tid %d for %s in use, retrying", want, b.p.comm())
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPIDFree waits, as long as a tid in use is retried (PIDRetry), for
// the task with pid in our PID namespace to be gone.
func (b *builder) waitPIDFree(pid int) {
	retry := b.r.opts.PIDRetry
	if retry == 0 {
		retry = 10 * time.Second
	}
	deadline, said := time.Now().Add(retry), time.Time{}
	for pidExists(pid) && time.Now().Before(deadline) {
		if time.Since(said) >= time.Second {
			b.r.info("tid %d for %s in use, retrying", pid, b.p.comm())
			said = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// on runs f with injections going to thread t.
func (b *builder) on(t *task, f func() error) error {
	saved := b.t
	b.t = t
	defer func() { b.t = saved }()
	return f()
}

// createThreads clones the process's other threads, each with its old tid
// (inside its PID namespace if it was in one).
func (b *builder) createThreads() error {
	m := b.p.meta
	b.tidInside = map[int]int{m.Threads[0].TID: b.p.pidInside()}
	b.tasks = []*task{b.t}
	const flags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM
	for _, th := range m.Threads[1:] {
		want := th.TID
		if th.NSTID != 0 {
			want = th.NSTID
		}
		tids := innermostFirst(th.NSTIDs, want) // pidns.go
		args := make([]byte, 88+4*len(tids))
		le := binary.LittleEndian
		le.PutUint64(args[0:], flags)
		useTid := b.p.gotPIDs()
		// Inside a user namespace made in the tree the tid is set through
		// ns_last_pid (lastpid.go), in the innermost namespace alone.
		lastPID := useTid && m.UserNS != nil
		if lastPID {
			if len(tids) > 1 {
				return fmt.Errorf("clone thread %d: a thread in a user namespace and in a PID namespace made in the tree cannot get its tid back", want)
			}
			useTid = false
		}
		if useTid {
			le.PutUint64(args[64:], b.scratch+scratchData+88)
			le.PutUint64(args[72:], uint64(len(tids)))
			for i, t := range tids {
				le.PutUint32(args[88+4*i:], uint32(t))
			}
		}
		addr, err := b.put(scratchData, args)
		if err != nil {
			return err
		}
		var tid int
		b.t.onEvent = func(ev int) error {
			if ev == unix.PTRACE_EVENT_CLONE {
				msg, err := ptraceGetEventMsg(b.pid)
				tid = int(msg)
				return err
			}
			return nil
		}
		named := want // the tid a collision is at, for messages
		if len(th.NSTIDs) > 0 && b.r.root.meta.NSPID == 0 {
			named = th.NSTIDs[0]
		}
		var ret uint64
		var regs unix.PtraceRegs
		for try := 0; ; try++ {
			if lastPID {
				if err := b.r.setLastPID(b.p, want-1); err != nil {
					return fmt.Errorf("clone thread %d: %w", want, err)
				}
			}
			ret, err = b.cloneThread(addr, named)
			if err != nil {
				b.t.onEvent = nil
				return fmt.Errorf("clone thread %d: %w", want, err)
			}
			if tid <= 0 {
				b.t.onEvent = nil
				return fmt.Errorf("clone thread %d: the new thread was not reported", want)
			}
			if _, err := waitStop(tid); err != nil {
				b.t.onEvent = nil
				return fmt.Errorf("clone thread %d: %w", want, err)
			}
			if regs, err = ptraceGetRegs(tid); err != nil {
				b.t.onEvent = nil
				return err
			}
			if !lastPID || int(ret) == want {
				break
			}
			// Another fork took the tid between the write and the
			// clone (our namespace: the machine's).
			if err := dropThread(tid, regs, b.scratch); err != nil {
				b.t.onEvent = nil
				return fmt.Errorf("clone thread %d: drop the thread that got tid %d: %w", want, ret, err)
			}
			// A process that took the tid may be gone in a moment (a
			// shell's short child): wait for it as cloneThread waits
			// out EEXIST, then try again.
			if try < lastPIDTries && b.r.lastPIDShared(b.p) && pidExists(want) {
				b.waitPIDFree(want)
			}
			if try == lastPIDTries || !b.r.lastPIDShared(b.p) || pidExists(want) {
				b.t.onEvent = nil
				return fmt.Errorf("clone thread %d: got tid %d: %w", want, ret, &PIDInUseError{PID: want, Comm: b.p.comm(), Holder: pidHolder(want)})
			}
		}
		b.t.onEvent = nil
		if err := ptraceSetSigMask(tid, injectMask(b.pid, tid)); err != nil {
			return err
		}
		b.tasks = append(b.tasks, &task{pid: tid, orig: regs, sc: b.scratch, sysStops: b.t.sysStops})
		b.tidInside[th.TID] = int(ret)
	}
	return nil
}

// restoreCreds gives the process its checkpointed uid, gids and groups when
// restart runs as root; otherwise it keeps the caller's (CONVEX). Then its
// limits and nice value: with the credentials dropped, so the kernel
// refuses what the process's owner could not set (checkOwner refuses it
// first when an Owner is enforced).
func (b *builder) restoreCreds() error {
	for i, t := range b.tasks {
		c := b.p.meta.threadCreds(i) // threadcreds.go
		if err := b.on(t, func() error { return b.restoreThreadCreds(c) }); err != nil {
			return err
		}
	}
	if err := b.restoreLimits(); err != nil {
		return err
	}
	for _, t := range b.tasks {
		// The nice value is per thread (setpriority of PRIO_PROCESS 0).
		if err := b.on(t, b.restoreNice); err != nil {
			return err
		}
	}
	return nil
}

// restoreLimits sets the resource limits that differ from those the
// process inherited from the restorer.
func (b *builder) restoreLimits() error {
	r, m := b.r, b.p.meta
	cur, err := readLimits(b.pid)
	if err != nil || len(m.Rlimits) != len(cur) {
		if len(m.Rlimits) == 0 {
			return nil
		}
		return fmt.Errorf("read limits: %d recorded, %d now: %v", len(m.Rlimits), len(cur), err)
	}
	le := binary.LittleEndian
	for res, l := range m.Rlimits {
		if l == cur[res] {
			continue
		}
		buf := make([]byte, 16)
		le.PutUint64(buf, l.Cur)
		le.PutUint64(buf[8:], l.Max)
		p, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("prlimit64", unix.SYS_PRLIMIT64, 0, uint64(res), p, 0); err != nil {
			// Raising a hard limit needs CAP_SYS_RESOURCE.
			err := fmt.Errorf("cannot restore limit %q (%d/%d): %w", limitNames[res], l.Cur, l.Max, err)
			if r.enforced(b.p) {
				if e := r.forceable(err); e != nil {
					return e
				}
				continue
			}
			r.warn("%s(%d): %v", m.Comm, m.PID, err)
		}
	}
	return nil
}

func (b *builder) restoreNice() error {
	r, m := b.r, b.p.meta
	if _, err := b.call("setpriority", unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uint64(int64(m.Nice))); err != nil {
		if r.enforced(b.p) {
			return r.forceable(fmt.Errorf("only superuser may lower priority to %d: %w", m.Nice, err))
		}
		r.warn("%s(%d): warning: only superuser may lower priority to %d", m.Comm, m.PID, m.Nice)
	}
	return nil
}

// restoreThreadCreds sets the credentials of the current injection thread:
// the kernel keeps them per thread.
func (b *builder) restoreThreadCreds(c creds) error {
	r := b.r
	if os.Geteuid() != 0 {
		if uid := os.Getuid(); uid != c.UID[0] {
			r.warn("current uid %d differs from checkpoint file uid %d", uid, c.UID[0])
		}
		if gid := os.Getgid(); gid != c.GID[0] {
			r.warn("current gid %d differs from checkpoint file gid %d", gid, c.GID[0])
		}
		return nil
	}
	if u := b.p.meta.UserNS; u != nil {
		return b.restoreNSCreds(u, c) // userns.go
	}
	if err := b.setIDs(c.Groups, c.GID[0], c.GID[1], c.GID[2], c.UID[0], c.UID[1], c.UID[2]); err != nil {
		return err
	}
	return b.restoreFSIDs(c)
}

// finish removes the scratch area, puts the registers back and lets the
// process go, after sending it sig (0: none).
func (b *builder) finish(sig syscall.Signal) error {
	p := b.p
	defer b.mem.Close()
	stage := stopProf.stages()
	if err := b.resumeSleeps(); err != nil {
		return err
	}
	stage("f:sleeps")
	defer stage("f:rest")
	// The single-step trap after munmap is reported before the next
	// instruction would be fetched from the area.
	// Last but the scratch area's removal (no mapping is made after it):
	// mappings made from now on are locked, as they were (existing ones
	// keep the locks their regions recorded).
	if err := b.restoreFutureLocks(p.meta.Attrs.prctlState); err != nil { // prctlmore.go
		return err
	}
	// Sealed regions: after every change to the mappings but the
	// scratch area's own removal (another mapping).
	if err := b.sealRegions(); err != nil { // memflags.go
		return err
	}
	if _, err := b.call("munmap", unix.SYS_MUNMAP, b.scratch, scratchSize); err != nil {
		return fmt.Errorf("munmap scratch: %w", err)
	}

	var calls []inCall
	for i, t := range b.tasks {
		regs := arrayToRegs(&p.img.regs[i])
		if ret, ok := b.sleepDone[i]; ok {
			// Its sleep ended while it was rebuilt: the call returns.
			regs.Rax, regs.Orig_rax = ret, ^uint64(0)
		} else if b.resumed(i) {
			// Its restart block is rebuilt (resumeSleeps): the kernel
			// restarts the call from it (restart_syscall).
		} else if int64(regs.Orig_rax) >= 0 && int64(regs.Rax) == -erestartRestartBlk && restartsAsIs(&regs) {
			// Its arguments are still in the registers and nothing of the
			// restart block is needed: the call is made again.
			regs.Rax = regs.Orig_rax
			regs.Rip -= 2
		} else if int64(regs.Orig_rax) >= 0 && int64(regs.Rax) == -erestartRestartBlk {
			// The kernel's restart block (remaining sleep time...) did
			// not survive; the call returns EINTR, as after a signal.
			regs.Rax = ^uint64(unix.EINTR - 1) // -EINTR
			regs.Orig_rax = ^uint64(0)
		}
		// Back in its call before restart returns (waitInCalls).
		if at, ok := b.reentersCall(&regs); ok && p.meta.JobStop == nil && sig != unix.SIGSTOP {
			calls = append(calls, inCall{tid: t.pid, at: at})
		}
		if err := ptraceSetRegs(t.pid, &regs); err != nil {
			return err
		}
		if b.xstate != nil && i < len(p.img.xstate) {
			if err := ptraceSetXState(t.pid, p.img.xstate[i]); err != nil {
				return err
			}
		}
		if err := ptraceSetSigMask(t.pid, p.meta.Threads[i].SigMask); err != nil {
			return err
		}
	}
	if sig != 0 {
		if err := unix.Kill(b.pid, sig); err != nil {
			return fmt.Errorf("kill %d: %w", sig, err)
		}
	}
	for i := len(b.tasks) - 1; i >= 0; i-- {
		if a := p.meta.Attrs; a != nil && i < len(a.Threads) {
			if err := setSUD(b.tasks[i].pid, a.Threads[i].SUD); err != nil { // procmisc.go
				return err
			}
		}
		if err := ptraceDetach(b.tasks[i].pid, 0); err != nil {
			return err
		}
	}
	waitInCalls(calls)
	return nil
}

// reentersCall reports whether the thread resumes by making its system
// call again, and where its syscall instruction is: the call number in
// rax (orig_rax too) at a syscall instruction, or a call the kernel
// restarts that way once the thread runs on (-ERESTARTSYS,
// -ERESTARTNOINTR, -ERESTARTNOHAND after the syscall instruction).
func (b *builder) reentersCall(regs *unix.PtraceRegs) (uint64, bool) {
	if int64(regs.Orig_rax) < 0 {
		return 0, false
	}
	at := regs.Rip
	switch int64(regs.Rax) {
	case int64(regs.Orig_rax):
	case -512, -513, -514: // ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND
		at -= 2
	default:
		return 0, false
	}
	insn := make([]byte, 2)
	if at < 2 || at > regs.Rip {
		return 0, false
	}
	if _, err := b.mem.ReadAt(insn, int64(at)); err != nil || insn[0] != 0x0f || insn[1] != 0x05 {
		return 0, false
	}
	return at, true
}

// inCall is a thread let go to make its call again, from its syscall
// instruction at at.
type inCall struct {
	tid int
	at  uint64
}

// waitInCalls returns once each thread is back in its call (a pause, a
// read, a wait it was blocked in), or past it, as it was at the
// checkpoint: a signal sent once restart has returned then interrupts
// the call, as it would have interrupted the original. Let go just
// before, the thread would take the signal first and then block in the
// call (a pause loop waiting for that signal would wait for ever). What
// it is doing is what /proc/PID/task/TID/syscall says: its call's
// number, another call, or in user space somewhere else than the syscall
// instruction: done; running, or in user space at the instruction: not
// yet. Bounded: 200 ms for all.
func waitInCalls(calls []inCall) {
	deadline := time.Now().Add(200 * time.Millisecond)
	for _, c := range calls {
		for time.Now().Before(deadline) && !inOrPastCall(c) {
			runtime.Gosched()
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func inOrPastCall(c inCall) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", c.tid, c.tid))
	if err != nil {
		return true // gone
	}
	f := strings.Fields(string(b))
	if len(f) == 0 || f[0] == "running" {
		return false
	}
	nr, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || nr != -1 {
		return true // in a call: its own, or one after it
	}
	// In user space, not running: at its syscall instruction it has not
	// made the call yet (preempted on the way).
	pc, err := strconv.ParseUint(strings.TrimPrefix(f[len(f)-1], "0x"), 16, 64)
	return err != nil || (pc != c.at && pc != c.at+2)
}

func (b *builder) hasZombieChild() bool {
	for _, c := range b.p.children {
		if c.meta.Zombie != nil {
			return true
		}
	}
	return false
}

// restoreLocks takes the file locks back: flock and OFD locks once per
// open file description, POSIX record locks once per process and file.
func (b *builder) restoreLocks(files []fileDesc) error {
	r := b.r
	posixDone := map[uint64]bool{}
	for _, f := range files {
		if len(f.Locks) == 0 || b.p.closed[f.FD] || f.Kind == fdClosed {
			continue
		}
		for _, l := range f.Locks {
			switch l.Kind {
			case "FLOCK":
				if r.locksDone[f.Desc] {
					continue
				}
				op := uint64(unix.LOCK_SH | unix.LOCK_NB)
				if l.Write {
					op = unix.LOCK_EX | unix.LOCK_NB
				}
				if _, err := b.call("flock", unix.SYS_FLOCK, uint64(f.FD), op); err != nil {
					return fmt.Errorf("fd %d %s: flock: %w", f.FD, f.Path, err)
				}
			case "POSIX", "OFDLCK":
				if l.Kind == "POSIX" && posixDone[f.Ino] || l.Kind == "OFDLCK" && r.locksDone[f.Desc] {
					continue
				}
				fl := make([]byte, 32) // struct flock
				typ := uint16(unix.F_RDLCK)
				if l.Write {
					typ = unix.F_WRLCK
				}
				binary.LittleEndian.PutUint16(fl, typ)
				binary.LittleEndian.PutUint64(fl[8:], uint64(l.Start))
				if l.End >= 0 {
					binary.LittleEndian.PutUint64(fl[16:], uint64(l.End-l.Start+1))
				}
				addr, err := b.put(scratchData, fl)
				if err != nil {
					return err
				}
				cmd := uint64(unix.F_SETLK)
				if l.Kind == "OFDLCK" {
					cmd = unix.F_OFD_SETLK
				}
				if _, err := b.call("fcntl", unix.SYS_FCNTL, uint64(f.FD), cmd, addr); err != nil {
					return fmt.Errorf("fd %d %s: %s lock %d-%d: %w", f.FD, f.Path, l.Kind, l.Start, l.End, err)
				}
			}
		}
		for _, l := range f.Locks {
			if l.Kind == "POSIX" {
				posixDone[f.Ino] = true
			} else {
				r.locksDone[f.Desc] = true
			}
		}
	}
	return nil
}

// restoreTimers recreates the POSIX timers with their ids
// (PR_TIMER_CREATE_RESTORE_IDS), notification and remaining time.
func (b *builder) restoreTimers() error {
	m := b.p.meta
	if len(m.Timers) == 0 && !hasStaleTimerSignals(m) { // timerstale.go
		return nil
	}
	const prTimerCreateRestoreIDs = 77
	if _, err := b.call("prctl", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_TIMER_CREATE_RESTORE_IDS): %w", err)
	}
	le := binary.LittleEndian
	// The kernel lists a process's timers newest first (timer_create adds
	// at the head), and so does the image: created from the last, they
	// are listed in /proc/PID/timers in their old order.
	for i := len(m.Timers) - 1; i >= 0; i-- {
		pt := m.Timers[i]
		buf := make([]byte, 64+8+32)
		le.PutUint64(buf, pt.Value) // struct sigevent
		le.PutUint32(buf[8:], uint32(pt.Signal))
		le.PutUint32(buf[12:], uint32(pt.Notify))
		if pt.Notify&sigevThreadID != 0 {
			tid, ok := b.tidInside[pt.TID]
			if !ok {
				tid = b.p.pidInside()
			}
			le.PutUint32(buf[16:], uint32(tid))
		}
		le.PutUint32(buf[64:], uint32(pt.ID)) // the id it must get
		next := pt.Next
		if next == [2]int64{} && pt.Interval != [2]int64{} {
			next = pt.Interval // expired, its signal pending: due again
		}
		flags := uint64(0)
		if timerPendingAgain(m.Signals.Pending, pt) { // timeroverrun.go
			var err error
			if next, err = b.lastExpiry(pt, b.scratch+scratchData); err != nil {
				return err
			}
			flags = timerAbstime
		}
		for i, v := range []int64{pt.Interval[0], pt.Interval[1], next[0], next[1]} {
			le.PutUint64(buf[72+8*i:], uint64(v))
		}
		addr, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("timer_create", unix.SYS_TIMER_CREATE, uint64(pt.Clock), addr, addr+64); err != nil {
			return fmt.Errorf("timer_create(%d): %w", pt.ID, err)
		}
		if got := binary.LittleEndian.Uint32(b.read(addr+64, 4)); int(got) != pt.ID {
			return fmt.Errorf("timer_create: got id %d, want %d", got, pt.ID)
		}
		if next != [2]int64{} {
			if _, err := b.call("timer_settime", unix.SYS_TIMER_SETTIME, uint64(pt.ID), flags, addr+72, 0); err != nil {
				return fmt.Errorf("timer_settime(%d): %w", pt.ID, err)
			}
		}
	}
	if err := b.restoreStaleTimerSignals(); err != nil { // timerstale.go
		return err
	}
	_, err := b.call("prctl", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 0, 0, 0, 0)
	return err
}

// read returns n bytes of the process's memory at addr (nil on error).
func (b *builder) read(addr uint64, n int) []byte {
	buf := make([]byte, n)
	if _, err := b.mem.ReadAt(buf, int64(addr)); err != nil {
		return make([]byte, n)
	}
	return buf
}

// fileIdentity gives the process, while it is rebuilt as root, the
// filesystem identity (fsuid, fsgid, groups) of its owner (see
// restorer.fileCreds); its full
// credentials come back at the end (restoreCreds).
func (b *builder) fileIdentity() error {
	c := b.r.fileCreds(b.p)
	if os.Geteuid() != 0 || (c.UID[3] == 0 && c.GID[3] == 0) {
		return nil
	}
	if err := b.setGroups(c.Groups); err != nil {
		return err
	}
	b.call("setfsgid", unix.SYS_SETFSGID, uint64(c.GID[3]))
	b.call("setfsuid", unix.SYS_SETFSUID, uint64(c.UID[3]))
	return nil
}

// openAsRoot opens path (in the process's memory) again with root's
// filesystem rights, after the process's own (fileIdentity) were refused
// (denied): a process that dropped its privileges after it mapped a file
// in a directory they do not reach (a root-owned 0700 one) had it mapped
// all the same. As enterCwd does, only for a root restart that restores
// the image as recorded, and only the very file of the checkpoint
// (its device and inode): anything else put at the path is refused.
func (b *builder) openAsRoot(path, flags uint64, ref *fileRef, denied error) (uint64, error) {
	if os.Geteuid() != 0 || b.r.enforced(b.p) || ref == nil || ref.Ino == 0 {
		return 0, denied
	}
	c := b.r.fileCreds(b.p)
	b.call("setfsgid", unix.SYS_SETFSGID, 0)
	b.call("setfsuid", unix.SYS_SETFSUID, 0)
	fd, err := b.call("open", unix.SYS_OPENAT, atFDCWD, path, flags, 0)
	b.call("setfsgid", unix.SYS_SETFSGID, uint64(c.GID[3]))
	b.call("setfsuid", unix.SYS_SETFSUID, uint64(c.UID[3]))
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", b.pid, fd), &st); err != nil || st.Dev != ref.Dev || st.Ino != ref.Ino {
		b.call("close", unix.SYS_CLOSE, fd)
		return 0, fmt.Errorf("not the file of the checkpoint (device %#x inode %d, was %#x %d): %w", st.Dev, st.Ino, ref.Dev, ref.Ino, denied)
	}
	return fd, nil
}

// enterCwd makes the process enter its working directory, with the
// rights its files are opened with (fileIdentity). A process that
// dropped its privileges in a directory those rights do not reach (a
// root-owned 0700 one on the path) was in it all the same: a root restart
// that restores the image as recorded (no Owner enforced) enters it with
// root's filesystem rights, then checks that the directory entered is the
// one of the checkpoint (a path changed since, a symbolic link put in
// its way, is refused).
func (b *builder) enterCwd() error {
	m := b.p.meta
	p, err := b.putString(scratchData, m.Cwd)
	if err != nil {
		return err
	}
	_, err = b.call("chdir", unix.SYS_CHDIR, p)
	if err == nil || errnoOf(err) != unix.EACCES || os.Geteuid() != 0 || b.r.enforced(b.p) || m.CwdIno == 0 {
		if err != nil {
			return fmt.Errorf("chdir %s: %w", m.Cwd, err)
		}
		return nil
	}
	c := b.r.fileCreds(b.p)
	// fsuid 0 gives the fs capabilities back (the process is still root
	// but for its fs ids here); they go again with the owner's fsuid.
	b.call("setfsgid", unix.SYS_SETFSGID, 0)
	b.call("setfsuid", unix.SYS_SETFSUID, 0)
	_, err = b.call("chdir", unix.SYS_CHDIR, p)
	b.call("setfsgid", unix.SYS_SETFSGID, uint64(c.GID[3]))
	b.call("setfsuid", unix.SYS_SETFSUID, uint64(c.UID[3]))
	if err != nil {
		return fmt.Errorf("chdir %s: %w", m.Cwd, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/cwd", b.pid), &st); err != nil {
		return fmt.Errorf("chdir %s: %w", m.Cwd, err)
	}
	if st.Dev != m.CwdDev || st.Ino != m.CwdIno {
		return fmt.Errorf("chdir %s: not the directory of the checkpoint (device %#x inode %d, was %#x %d): %w", m.Cwd, st.Dev, st.Ino, m.CwdDev, m.CwdIno, unix.EACCES)
	}
	return nil
}
