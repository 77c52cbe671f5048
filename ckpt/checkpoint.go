package ckpt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EngineVersion names this engine in the images it writes.
const EngineVersion = "lazarus-ckpt 0.1"

// CheckpointOptions are the options of Checkpoint; the zero value is the
// default of the chkpnt command.
type CheckpointOptions struct {
	Dir       string         // directory of the image (-d); default "."
	File      string         // image name or path (-f); default COMM.PID
	Force     bool           // overwrite, and save what can be saved despite errors (-F)
	Replace   bool           // overwrite an existing image (atomically), without Force's leniency
	CheckOnly bool           // run every check, write nothing (-n)
	CopyFiles bool           // copy open regular files beside the image (-C)
	Signal    syscall.Signal // sent after success, while the target is still frozen (-k); 0: none
	Tree      bool           // the whole process tree rooted at pid (-r, -j)
	SignalAll bool           // send Signal to every process of the tree, not just the root (-K)
	Logger    *slog.Logger   // warnings (Warn), -v details (Info), -X (Debug); nil: silent
	// Key, if set, makes every image carry an HMAC with it (see
	// RestartOptions.Key): the checkpointer vouches for the images.
	Key []byte
	// SelfChannel, if not 0, is the descriptor of the root on which it
	// waits for this checkpoint of itself (see SelfRestarted); 0: none.
	SelfChannel int
	// Choices, if set, are the decisions of an interactive chkpnt (-i):
	// processes left out of the tree, descriptors ignored (restored
	// closed, as -F closes what it cannot save), saved, or copied.
	Choices *Choices
	// Compress, if not 0, stores the memory compressed with zstd at this
	// level, 1 (fastest) to MaxCompress (-z): chunk by chunk, in parallel,
	// incompressible chunks as they are (compress.go).
	Compress int
	// Track leaves a dirty-page tracker in every process (a userfaultfd
	// in write-protect async mode, dirty_linux_amd64.go), so that a later
	// checkpoint can be incremental against this one.
	Track bool
	// Parent, if set, is the root image of an earlier checkpoint of the
	// same tree: each image holds only the pages written since, of the
	// regions whose writes were tracked without a gap (the rest whole),
	// and names its parent (incremental.go). Implies Track.
	Parent string
	// Guard, if not 0, is the process that runs this checkpoint on the
	// caller's behalf and watches it (chkpnt's own process; the engine
	// runs in its worker): like the checkpointer itself, never a member
	// of the tree, and not a target.
	Guard int
	// noSnap: copy-on-write twins, no userfaultfd snapshots (a second
	// attempt after errSnapshotLost).
	noSnap bool
}

// CheckpointResult describes a finished checkpoint.
type CheckpointResult struct {
	Images []string      // image files written, the root's first
	Copies []string      // files copied with CopyFiles
	Frozen time.Duration // how long the target (every process of the tree) was stopped
	// Paused is how long the target was stopped again after Frozen: one
	// thread per process while it reaped its copy-on-write twin, the tree
	// when memory ran short while the twins were written (dumpwrite.go).
	Paused   time.Duration
	Duration time.Duration // the whole checkpoint, until the image was durable
	Memory   uint64        // bytes of memory saved (all-zero pages excluded)
	Apparent int64         // image size as ls -l shows it
	Disk     int64         // image size on disk (holes excluded)
	// Incremental: some image holds only what changed since its parent
	// (CheckpointOptions.Parent).
	Incremental bool
}

// Checkpoint saves the state of process pid into an image file. The target
// keeps running unless opts.Signal ends it. It returns only when the image
// is complete and durable; on error nothing is left under the image's name.
func Checkpoint(ctx context.Context, pid int, opts CheckpointOptions) (*CheckpointResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(discardHandler{})
	}
	if opts.Compress != 0 {
		if _, err := zstdLevel(opts.Compress); err != nil {
			return nil, err
		}
	}
	st, err := readStat(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return nil, err
	}
	if opts.ourselves(pid) {
		return nil, &UncheckpointableError{Comm: st.Comm, PID: pid, FD: -1, Msg: "a process cannot checkpoint itself"}
	}
	if st.State == 'Z' || st.State == 'X' {
		if n := exitSettled(pid); n > 0 {
			return nil, leaderExited(st.Comm, pid, n)
		}
		return nil, &UncheckpointableError{Comm: st.Comm, PID: pid, FD: -1, Msg: "process is a zombie"}
	}
	path, err := imagePath(opts.Dir, opts.File, st.Comm, pid)
	if err != nil {
		return nil, err
	}
	if !opts.CheckOnly && !opts.Force && !opts.Replace {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	if opts.Choices.skip(pid) {
		return nil, &UncheckpointableError{Comm: st.Comm, PID: pid, FD: -1, Msg: "the root of the tree is always checkpointed (chkpnt -i)"}
	}
	td := &dumpTree{opts: opts, log: log, rootPID: pid, rootPath: path, rootFile: opts.File}
	t := newTracer()
	defer t.stop()
	res := &CheckpointResult{}
	err = t.do(func() error { return td.run(ctx, res) })
	if errors.Is(err, errSnapshotLost) && !opts.noSnap {
		// The program dropped memory before its image had it: again,
		// with twins, which hold it whatever it does.
		log.Info(fmt.Sprintf("%v; checkpointing again with copy-on-write twins", err))
		opts.noSnap = true
		td = &dumpTree{opts: opts, log: log, rootPID: pid, rootPath: path, rootFile: opts.File}
		res = &CheckpointResult{}
		err = t.do(func() error { return td.run(ctx, res) })
	}
	for try := 1; try < checkpointRetries && (errors.As(err, new(*racedError)) || memberExited(err, pid)); try++ {
		// The program was changing its mappings as the checkpoint began
		// (a JIT, a garbage collector), or a process of the tree ended
		// as it was being stopped (a script's sleep): it ran on; again.
		log.Info(fmt.Sprintf("%v (attempt %d of %d)", err, try, checkpointRetries))
		time.Sleep(time.Duration(try) * 50 * time.Millisecond)
		td = &dumpTree{opts: opts, log: log, rootPID: pid, rootPath: path, rootFile: opts.File}
		res = &CheckpointResult{}
		err = t.do(func() error { return td.run(ctx, res) })
	}
	if err != nil {
		return nil, err
	}
	if opts.CheckOnly {
		for _, d := range td.procs {
			log.Info(fmt.Sprintf("%s(%d) is checkpointable", d.comm, d.pid))
		}
		return res, nil
	}
	res.Duration = time.Since(start)
	return res, nil
}

// ourselves tells whether pid is the checkpointer, or the guard it works
// for (CheckpointOptions.Guard).
func (o CheckpointOptions) ourselves(pid int) bool {
	return pid == os.Getpid() || (o.Guard > 0 && pid == o.Guard)
}

// memberExited reports that err is the end of a process of the tree other
// than its root, met as the checkpoint stopped it: the tree is not what
// was found, and a new attempt finds it as it is now.
func memberExited(err error, root int) bool {
	var ee *ExitedError
	return errors.As(err, &ee) && ee.PID != root
}

// imagePath applies the CONVEX naming rules for -d and -f.
func imagePath(dir, file, comm string, pid int) (string, error) {
	if file != "" && strings.Contains(file, "/") && dir != "" {
		fd, _ := filepath.Abs(filepath.Dir(file))
		dd, _ := filepath.Abs(dir)
		if fd != dd {
			return "", &ConflictError{Dir: dir, File: file}
		}
	}
	if dir == "" {
		dir = "."
	}
	if file != "" && strings.Contains(file, "/") {
		dir = filepath.Dir(file)
		file = filepath.Base(file)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", &os.PathError{Op: "checkpoint directory", Path: dir, Err: syscall.ENOTDIR}
	}
	if file == "" {
		file = fmt.Sprintf("%s.%d", comm, pid)
	}
	return filepath.Join(dir, file), nil
}

type dumper struct {
	pid  int
	comm string
	stat procStat
	opts CheckpointOptions
	log  *slog.Logger
	path string

	// onFault: the regions locked on fault, by start (lockonfault.go);
	// nil: not read yet.
	onFault map[uint64]bool
	// overruns: the overruns learnt by the threads their timers aim at,
	// by timer id (timeroverpre.go).
	overruns map[int]int

	meta    imageMeta
	regs    unix.PtraceRegs
	xstate  []byte
	loads   []load
	mem     *os.File
	copies  []string // the CONVEX names of its copies (copies.go)
	made    []string // the files of its copies, removed if the checkpoint fails
	dataLen uint64
	tids    []int // its threads, the main thread first
	tregs   []unix.PtraceRegs
	txstate [][]byte
	// loop: callLoop's code page in the process while inject runs
	// (callloop_linux_amd64.go); 0: none.
	loop uint64
	twin *twin     // its copy-on-write twin while the image is written (twin.go)
	snap *uffdSnap // or its userfaultfd snapshot (uffdsnap_linux_amd64.go)
	// plan: per region, the pages to save (memory.go); deferPlan: the
	// pages of the regions read from the twin are found in the twin, once
	// the process runs again (planDeferred).
	plan      []regionPlan
	deferPlan bool
	copied    map[uint64][]byte // what copyFrozen copied, by address of extent
	// inFreeze: the process is small (dumpTree.small): no twin, its
	// saved pages are all copied in the freeze (copyFrozen).
	inFreeze bool
	tmp      string // the image under its temporary name

	// mcast: its network namespace's multicast groups, once read (mcast.go).
	mcast *mcastTable

	tree     *dumpTree
	parent   *dumper
	children []*dumper
	zombie   bool // recorded from /proc only
	seized   bool // attached with ptrace, to be detached
	// noSuspend: the kernel refused to suspend its seccomp while traced
	// (see seizeTask).
	noSuspend bool
	// parentImg: its image in the parent checkpoint (incremental.go);
	// trackerFDs: the descriptors of its trackers, left out of the image.
	parentImg  *Image
	trackerFDs []int
	// madeTracker: the descriptor of the tracker this checkpoint gave the
	// process, closed again if the checkpoint fails (dropTracker); 0: none.
	madeTracker int
	// sudOff: the syscall user dispatch of each thread that its stop
	// turned off (waitFrozen), to be given back as it is let go
	// (procmisc.go); a thread with none is absent.
	sudOff map[int]*sudConfig
}

func (d *dumper) warn(format string, args ...any) {
	d.log.Warn(fmt.Sprintf(format, args...))
}

// uncheckpointable fails the checkpoint, or with Force warns and goes on.
func (d *dumper) uncheckpointable(fd int, msg string) error {
	e := &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: fd, Msg: msg}
	if !d.opts.Force {
		return e
	}
	d.warn("%v (forced: restored closed)", e)
	return nil
}

// waitFrozen waits for the stop PTRACE_INTERRUPT asked for. A signal that
// arrives first is delivered, not lost: the interrupt is sticky and stops
// the target right after.
func (d *dumper) waitFrozen(tid int) error {
	ctx := context.Background()
	if d.tree != nil && d.tree.ctx != nil {
		ctx = d.tree.ctx
	}
	deadline := time.Now().Add(stopWaitLimit)
	for {
		ws, err := waitStopUntil(ctx, tid, deadline)
		if err != nil {
			return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		if ws.TrapCause() == unix.PTRACE_EVENT_STOP {
			return d.suspendSUD(tid) // procmisc.go
		}
		if sig, ok := groupStopSignal(ws); ok {
			// Stopped by job control (see jobctl.go): frozen as it is.
			if tid == d.pid {
				d.meta.JobStop = &jobStop{Signal: int(sig)}
			}
			return d.suspendSUD(tid)
		}
		if err := ptraceCont(tid, ws.StopSignal()); err != nil {
			return err
		}
		// Interrupted again: a signal-delivery stop right after the
		// seize ('t') was taken for a group-stop by
		// interruptUnlessStopped, which asked no interrupt, and the task
		// would run on (a parent of exiting children, stopped by each
		// SIGCHLD, until stopWaitLimit). The interrupt is a flag: one
		// asked already still traps once.
		if err := ptraceInterrupt(tid); err != nil {
			return err
		}
	}
}

// collectZombie records a zombie: who it was and its exit status.
func (d *dumper) collectZombie() {
	m := &d.meta
	m.Format, m.Engine, m.Created = FormatVersion, EngineVersion, time.Now().UTC()
	m.PID, m.PPID, m.PGID, m.SID = d.pid, d.stat.PPID, d.stat.PGID, d.stat.SID
	m.Comm = d.comm
	m.Zombie = &zombie{Status: d.stat.ExitCode}
	m.Fingerprint = localFingerprint(nil)
	if st, err := readStatus(d.pid); err == nil && len(st.NSpid) > 1 {
		m.NSPID = st.NSpid[len(st.NSpid)-1]
	}
	// Its levels (pidns.go); only a zombie reaped meanwhile has none,
	// and then its parent no longer expects it.
	_ = d.recordPIDNamespace()
}

func (d *dumper) collect() error {
	if d.zombie {
		d.collectZombie()
		return nil
	}
	pid := d.pid
	m := &d.meta
	m.Format = FormatVersion
	m.Engine = EngineVersion
	m.Created = time.Now().UTC()
	m.PID = pid
	m.PPID, m.PGID, m.SID = d.stat.PPID, d.stat.PGID, d.stat.SID
	if d.stat.ExitSignal != int(unix.SIGCHLD) {
		sig := d.stat.ExitSignal
		m.ExitSignal = &sig
	}
	m.Comm = d.comm
	m.Nice = d.stat.Nice
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		m.Cmdline = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	status, err := readStatus(pid)
	if err != nil {
		return err
	}
	m.Creds = creds{UID: status.UID, GID: status.GID, Groups: status.Groups}
	if len(status.NSpid) > 1 {
		// In a PID namespace: the pid the process sees is the innermost.
		m.NSPID = status.NSpid[len(status.NSpid)-1]
	}
	m.TTY = d.stat.TTYNr
	m.Umask = status.Umask
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Errorf("%s(%d): exe: %w", d.comm, pid, err)
	}
	m.Exe = statRef(exe, fmt.Sprintf("/proc/%d/exe", pid))
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return fmt.Errorf("%s(%d): cwd: %w", d.comm, pid, err)
	}
	if m.Cwd, err = d.checkCwd(cwd); err != nil {
		return err
	}
	var cst unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/cwd", pid), &cst) == nil {
		m.CwdDev, m.CwdIno = cst.Dev, cst.Ino
	}
	if m.Rlimits, err = readLimits(pid); err != nil {
		return err
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid)); err == nil {
		for i := 0; i+8 <= len(b); i += 8 {
			m.Auxv = append(m.Auxv, binary.LittleEndian.Uint64(b[i:]))
		}
	}
	m.MM = mmFields{
		StartCode: d.stat.StartCode, EndCode: d.stat.EndCode,
		StartData: d.stat.StartData, EndData: d.stat.EndData,
		StartBrk: d.stat.StartBrk, StartStack: d.stat.StartStack,
		ArgStart: d.stat.ArgStart, ArgEnd: d.stat.ArgEnd,
		EnvStart: d.stat.EnvStart, EnvEnd: d.stat.EnvEnd,
	}
	ts := stopProf.start()
	for i, tid := range d.tids {
		regs, err := ptraceGetRegs(tid)
		if err != nil {
			return fmt.Errorf("%s(%d): can't get syscall context (tid %d): %w", d.comm, pid, tid, err)
		}
		if d.meta.JobStop == nil {
			if err := undoStopEINTR(tid, &regs); err != nil {
				return fmt.Errorf("%s(%d): tid %d: %w", d.comm, pid, tid, err)
			}
		}
		xstate, err := ptraceGetXState(tid)
		if err != nil {
			return fmt.Errorf("%s(%d): can't get vector register state (tid %d): %w", d.comm, pid, tid, err)
		}
		d.tregs = append(d.tregs, regs)
		d.txstate = append(d.txstate, xstate)
		th := thread{TID: tid}
		if th.SigMask, err = ptraceGetSigMask(tid); err != nil {
			return err
		}
		if th.Rseq, err = ptraceGetRseq(tid); err != nil {
			return err
		}
		var head, hlen uint64
		if _, _, e := unix.Syscall(unix.SYS_GET_ROBUST_LIST, uintptr(tid), uintptr(unsafe.Pointer(&head)), uintptr(unsafe.Pointer(&hlen))); e != 0 {
			return fmt.Errorf("%s(%d): get_robust_list (tid %d): %w", d.comm, pid, tid, e)
		}
		th.RobustHead, th.RobustLen = head, hlen
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, tid)); err == nil {
			th.Comm = strings.TrimSuffix(string(b), "\n")
		}
		if st, err := readStatus(tid); err == nil && len(st.NSpid) > 1 {
			th.NSTID = st.NSpid[len(st.NSpid)-1]
		}
		shareds := []bool{false}
		if i == 0 {
			shareds = append(shareds, true) // the process-wide queue, once
		}
		for _, shared := range shareds {
			infos, err := ptracePeekSigInfo(tid, shared)
			if err != nil {
				return err
			}
			for _, in := range infos {
				m.Signals.Pending = append(m.Signals.Pending, pendingSig{Shared: shared, TID: tid, Info: in})
			}
		}
		m.Threads = append(m.Threads, th)
	}
	stopProf.since("st:threads", ts)
	if err := d.recordPIDNamespace(); err != nil { // pidns.go
		return err
	}
	ts = stopProf.start()
	d.regs, d.xstate = d.tregs[0], d.txstate[0]
	m.Fingerprint = localFingerprint(d.xstate)
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): open memory: %w", d.comm, pid, err)
	}
	d.mem = mem
	t0 := time.Now()
	if err := d.planMemory(); err != nil {
		return err
	}
	d.log.Debug(fmt.Sprintf("%s(%d): memory planned in %.1f ms", d.comm, pid, time.Since(t0).Seconds()*1e3))
	stopProf.since("st:memory", ts)
	ts = stopProf.start()
	if err := d.collectVMFlags(); err != nil {
		return err
	}
	stopProf.since("st:vmflags", ts)
	ts = stopProf.start()
	if err := d.collectSecurity(); err != nil {
		return err
	}
	stopProf.since("st:security", ts)
	ts = stopProf.start()
	if err := d.collectAttrs(); err != nil {
		return err
	}
	stopProf.since("st:attrs", ts)
	ts = stopProf.start()
	if err := d.inject(); err != nil {
		return err
	}
	stopProf.since("st:inject", ts)
	defer stopProf.since("st:files", stopProf.start())
	if err := d.collectFiles(); err != nil {
		return err
	}
	if err := d.recordMountNS(); err != nil { // mountns.go
		return err
	}
	return d.checkMounts()
}

// injectScratch: bytes of withInjection's scratch area; the answers of
// injected calls go in its first page, callLoop's table in the second.
const injectScratch = 2 * pageSize

// withInjection runs f with d's main thread ready for injected calls and
// a scratch page mapped in it, then puts everything back.
func (d *dumper) withInjection(f func(t *task, scratch uint64) error) error {
	sc, err := d.findSyscallInsn()
	if err != nil {
		return err
	}
	t := &task{pid: d.pid, orig: d.regs, sc: sc, sysStops: trapIgnored(d.pid)}
	inj := injectMask(d.pid, d.pid)
	t.parkBetweenCalls(d.meta.Threads[0].SigMask, inj)
	if err := ptraceSetSigMask(d.pid, inj); err != nil {
		return err
	}
	defer ptraceSetSigMask(d.pid, d.meta.Threads[0].SigMask)
	defer ptraceSetRegs(d.pid, &d.regs)
	scratch, err := t.call("mmap", unix.SYS_MMAP, 0, injectScratch, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	defer t.call("munmap", unix.SYS_MUNMAP, scratch, injectScratch)
	return f(t, scratch)
}

// inject asks the process itself for what only it can tell: signal
// actions, the alternate signal stack, interval timers, tid address, brk
// and personality.
func (d *dumper) inject() error {
	// Every signal is blocked while we inject so none is delivered, or
	// lost, in between (withInjection puts the thread's mask back).
	return d.withInjection(d.injectCalls)
}

func (d *dumper) injectCalls(t *task, scratch uint64) error {
	buf := make([]byte, 64)
	read := func(n int) ([]byte, error) {
		if _, err := d.mem.ReadAt(buf[:n], int64(scratch)); err != nil {
			return nil, fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
		}
		return buf[:n], nil
	}
	le := binary.LittleEndian
	m := &d.meta
	// Each action lands at its own 32 bytes of the scratch page (64 of
	// them fill half of it), read back at once after the last call:
	// one read of the tracee's memory instead of 62.
	// They are asked all at once (callLoop) where the process can run
	// it; every thread's calls then too.
	code, unmap := loopCode(t, d.mem)
	d.loop = code
	defer func() { unmap(); d.loop = 0 }()
	table := scratch + pageSize
	m.Signals.Actions = make([]sigAction, 64)
	var got [64]bool
	var q []queued
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		q = append(q, queued{name: "rt_sigaction", nr: unix.SYS_RT_SIGACTION, args: []uint64{uint64(sig), 0, scratch + uint64(sig-1)*32, 8}, then: func(_ uint64, err error) error {
			if err != nil {
				if errnoOf(err) == unix.EINVAL {
					return nil
				}
				return fmt.Errorf("%s(%d): sigvec (%d): %w", d.comm, d.pid, sig, err)
			}
			got[sig-1] = true
			return nil
		}})
	}
	if err := runQueued(t, d.mem, d.loop, table, q); err != nil {
		return err
	}
	acts := make([]byte, 64*32)
	if _, err := d.mem.ReadAt(acts, int64(scratch)); err != nil {
		return fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
	}
	for i := range got {
		if !got[i] {
			continue
		}
		b := acts[i*32:]
		m.Signals.Actions[i] = sigAction{Handler: le.Uint64(b), Flags: le.Uint64(b[8:]), Restorer: le.Uint64(b[16:]), Mask: le.Uint64(b[24:])}
	}
	// What each thread has of its own: the alternate signal stack and
	// the tid address, asked of the main thread through the scratch
	// page, and of the others all at once, each in its own area of a
	// mapping (injectOtherThreads), where callLoop can run.
	if d.loop != 0 && len(m.Threads) > 1 {
		if err := d.injectThread(t, &m.Threads[0], scratch, read); err != nil {
			return err
		}
		if err := d.injectOtherThreads(t); err != nil {
			return err
		}
		if err := d.learnOtherThreadsOverruns(t, scratch); err != nil { // timeroverpre.go
			return err
		}
	}
	for i := range m.Threads {
		if d.loop != 0 && len(m.Threads) > 1 {
			break // done above
		}
		th := &m.Threads[i]
		tt := t
		if i > 0 {
			tt = &task{pid: th.TID, orig: d.tregs[i], sc: t.sc, sysStops: t.sysStops}
			inj := injectMask(d.pid, th.TID)
			tt.parkBetweenCalls(th.SigMask, inj)
			if err := ptraceSetSigMask(th.TID, inj); err != nil {
				return err
			}
		}
		err := d.injectThread(tt, th, scratch, read)
		if err == nil && i > 0 {
			err = d.learnThreadOverruns(tt, th.TID, scratch) // timeroverpre.go
		}
		if i > 0 {
			ptraceSetRegs(th.TID, &d.tregs[i])
			ptraceSetSigMask(th.TID, th.SigMask)
		}
		if err != nil {
			return err
		}
	}
	for which := 0; which < 3; which++ {
		if _, err := t.call("getitimer", unix.SYS_GETITIMER, uint64(which), scratch); err != nil {
			return fmt.Errorf("%s(%d): getitimer(%d): %w", d.comm, d.pid, which, err)
		}
		b, err := read(32)
		if err != nil {
			return err
		}
		m.Itimers[which] = itimer{
			Interval: [2]int64{int64(le.Uint64(b)), int64(le.Uint64(b[8:]))},
			Value:    [2]int64{int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:]))},
		}
	}
	timers, err := readTimers(d.pid)
	if err != nil {
		return fmt.Errorf("%s(%d): timers: %w", d.comm, d.pid, err)
	}
	for _, pt := range timers {
		if err := d.checkTimerTarget(pt); err != nil { // threadcreds.go
			return err
		}
		if _, err := t.call("timer_gettime", unix.SYS_TIMER_GETTIME, uint64(pt.ID), scratch); err != nil {
			return fmt.Errorf("%s(%d): timer_gettime(%d): %w", d.comm, d.pid, pt.ID, err)
		}
		b, err := read(32)
		if err != nil {
			return err
		}
		pt.Interval = [2]int64{int64(le.Uint64(b)), int64(le.Uint64(b[8:]))}
		pt.Next = [2]int64{int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:]))}
		if err := d.learnOverrun(t, &pt, scratch, d.pid); err != nil { // timeroverpre.go
			return err
		}
		m.Timers = append(m.Timers, pt)
	}
	brk, err := t.call("brk", unix.SYS_BRK, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): brk: %w", d.comm, d.pid, err)
	}
	m.MM.Brk = brk
	pers, err := t.call("personality", unix.SYS_PERSONALITY, 0xffffffff)
	if err != nil {
		return fmt.Errorf("%s(%d): personality: %w", d.comm, d.pid, err)
	}
	m.Personality = pers
	return d.injectJobStops(t, scratch)
}

// Where the answers of a thread's queued calls land in the scratch page
// (injectThread).
const (
	atAltStack   = 0  // stack_t, 24 bytes
	atTidAddress = 32 // 8
	atPdeathSig  = 48 // 4
	atTSC        = 56 // 4
	atPolicy     = 64 // policyAnswer
)

// threadQueue asks one thread for its alternate signal stack, tid
// address and what securityQueue and attrsQueue ask of each thread:
// calls queued together (one round trip where callLoop can run), each
// answer at its own place from scratch.
func (d *dumper) threadQueue(th *thread, scratch uint64) []queued {
	le := binary.LittleEndian
	q := []queued{{name: "sigaltstack", nr: unix.SYS_SIGALTSTACK, args: []uint64{0, scratch + atAltStack}, then: func(_ uint64, err error) error {
		if err != nil {
			return fmt.Errorf("%s(%d): sigstack (tid %d): %w", d.comm, d.pid, th.TID, err)
		}
		b, err := d.readScratch(scratch+atAltStack, 24)
		if err != nil {
			return err
		}
		th.AltStack = altStack{SP: le.Uint64(b), Flags: int32(le.Uint32(b[8:])), Size: le.Uint64(b[16:])}
		return nil
	}}, {name: "prctl", nr: unix.SYS_PRCTL, args: []uint64{unix.PR_GET_TID_ADDRESS, scratch + atTidAddress}, then: func(_ uint64, err error) error {
		if err != nil {
			return fmt.Errorf("%s(%d): get tid address (tid %d): %w", d.comm, d.pid, th.TID, err)
		}
		b, err := d.readScratch(scratch+atTidAddress, 8)
		if err != nil {
			return err
		}
		th.TidAddr = le.Uint64(b)
		return nil
	}}}
	if th.TID != d.pid {
		// Its own personality (per task), kept when it is not the
		// process's (threadcreds.go).
		q = append(q, queued{name: "personality", nr: unix.SYS_PERSONALITY, args: []uint64{0xffffffff}, then: func(ret uint64, err error) error {
			if err != nil {
				return fmt.Errorf("%s(%d): personality (tid %d): %w", d.comm, d.pid, th.TID, err)
			}
			pers := ret
			th.Personality = &pers
			return nil
		}})
	}
	q = append(q, d.securityQueue(th.TID)...)
	return append(q, d.attrsQueue(th.TID, scratch)...)
}

// threadArea: bytes of each thread's area in injectOtherThreads's
// mapping: the answers of threadQueue from its start, callLoop's table
// from threadTable.
const (
	threadArea  = 2048
	threadTable = 256
)

// injectOtherThreads does injectThread for every thread but the main one,
// all at once (runThreadQueues), each thread's answers and table in its
// own area of a mapping the main thread (t) makes for them.
func (d *dumper) injectOtherThreads(t *task) error {
	m := &d.meta
	n := uint64(len(m.Threads) - 1)
	size := (n*threadArea + pageSize - 1) &^ (pageSize - 1)
	area, err := t.call("mmap", unix.SYS_MMAP, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	defer t.call("munmap", unix.SYS_MUNMAP, area, size)
	tqs := make([]threadQueue, 0, n)
	defer func() {
		for i, tq := range tqs {
			ptraceSetRegs(tq.t.pid, &d.tregs[i+1])
			ptraceSetSigMask(tq.t.pid, m.Threads[i+1].SigMask)
		}
	}()
	for i := 1; i < len(m.Threads); i++ {
		th := &m.Threads[i]
		tt := &task{pid: th.TID, orig: d.tregs[i], sc: t.sc, sysStops: t.sysStops}
		base := area + uint64(i-1)*threadArea
		if err := d.collectThreadCreds(th); err != nil { // threadcreds.go: before the landlock probe
			return err
		}
		q := d.threadQueue(th, base)
		if threadTable+len(q)*loopEntry > threadArea {
			return fmt.Errorf("%s(%d): %d calls for tid %d do not fit the area of a thread", d.comm, d.pid, len(q), th.TID)
		}
		inj := injectMask(d.pid, th.TID)
		tt.parkBetweenCalls(th.SigMask, inj)
		tqs = append(tqs, threadQueue{t: tt, table: base + threadTable, q: q})
		if err := ptraceSetSigMask(th.TID, inj); err != nil {
			return err
		}
	}
	return runThreadQueues(d.mem, d.loop, tqs)
}

// injectThread asks thread th (of task t) the calls of threadQueue, then
// the main thread what injectAttrs asks of it.
func (d *dumper) injectThread(t *task, th *thread, scratch uint64, read func(int) ([]byte, error)) error {
	if err := d.collectThreadCreds(th); err != nil { // threadcreds.go: before the landlock probe
		return err
	}
	if err := runQueued(t, d.mem, d.loop, scratch+pageSize, d.threadQueue(th, scratch)); err != nil {
		return err
	}
	return d.injectAttrs(t, th.TID, scratch, read)
}

// readScratch reads n bytes the process wrote at addr.
func (d *dumper) readScratch(addr uint64, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := d.mem.ReadAt(b, int64(addr)); err != nil {
		return nil, fmt.Errorf("%s(%d): read scratch: %w", d.comm, d.pid, err)
	}
	return b, nil
}

// findSyscallInsn returns the address of a syscall instruction the engine
// can single-step: one in the vDSO (its fallback paths make real system
// calls), else the one the thread is stopped in.
func (d *dumper) findSyscallInsn() (uint64, error) {
	for _, r := range d.meta.Regions {
		if r.Kind != regionVDSO || r.Name != "[vdso]" {
			continue
		}
		b := make([]byte, r.End-r.Start)
		if _, err := d.mem.ReadAt(b, int64(r.Start)); err != nil {
			return 0, fmt.Errorf("%s(%d): read vdso: %w", d.comm, d.pid, err)
		}
		if i := indexSyscall(b); i >= 0 {
			return r.Start + uint64(i), nil
		}
	}
	if int64(d.regs.Orig_rax) >= 0 {
		return d.regs.Rip - 2, nil
	}
	return 0, fmt.Errorf("%s(%d): no syscall instruction found to inject through", d.comm, d.pid)
}

func indexSyscall(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0x0f && b[i+1] == 0x05 {
			return i
		}
	}
	return -1
}

func statRef(path, statPath string) fileRef {
	ref := fileRef{Path: strings.TrimSuffix(path, " (deleted)")}
	var st unix.Stat_t
	if err := unix.Stat(statPath, &st); err == nil {
		ref.Dev, ref.Ino, ref.Mode, ref.Size = st.Dev, st.Ino, st.Mode, st.Size
		ref.Mtime = st.Mtim.Nano()
	}
	return ref
}

// collectFiles records every open descriptor, or fails on one the engine
// cannot restore.
func (d *dumper) collectFiles() error {
	if err := d.checkThreadTables(); err != nil { // threadtables.go
		return err
	}
	dir := fmt.Sprintf("/proc/%d/fd", d.pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		choice := d.opts.Choices.fd(d.pid, fd)
		if choice.Action == FDIgnore {
			// Left out by the user: not even looked at (it may be
			// what is not checkpointable); restored closed.
			link, _ := os.Readlink(fmt.Sprintf("%s/%d", dir, fd))
			d.log.Info(fmt.Sprintf("%s(%d) fd %d %s ignored", d.comm, d.pid, fd, link))
			d.meta.Files = append(d.meta.Files, fileDesc{FD: fd, Kind: fdClosed, Path: link, Reason: reasonIgnored})
			continue
		}
		if d.isTracker(fd) {
			continue // ours, never restored (dirty_linux_amd64.go)
		}
		f, err := d.describeFD(fd)
		if err != nil {
			return err
		}
		if choice.Action == FDCopy && f.Kind == fdFile && !f.Unlinked && f.Copy == "" && !d.opts.CheckOnly {
			if err := d.copyFile(&f); err != nil {
				return err
			}
		}
		d.log.Info(fmt.Sprintf("%s(%d) fd %d %s %s flags %#o pos %d", d.comm, d.pid, fd, f.Kind, f.Path, f.Flags, f.Pos))
		d.meta.Files = append(d.meta.Files, f)
	}
	return nil
}

func (d *dumper) describeFD(fd int) (fileDesc, error) {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", d.pid, fd))
	if errors.Is(err, unix.ENAMETOOLONG) {
		// Reached by openat from directory to directory: no name can
		// open it again.
		f := fileDesc{FD: fd, Kind: fdClosed, Reason: "its path is longer than PATH_MAX"}
		return f, d.uncheckpointable(fd, ": its path is longer than PATH_MAX (file name too long): no name can open it again")
	}
	if err != nil {
		return fileDesc{}, fmt.Errorf("%s(%d) fd %d fstat: %w", d.comm, d.pid, fd, err)
	}
	info, err := readFdInfo(d.pid, fd)
	if err != nil {
		return fileDesc{}, fmt.Errorf("%s(%d) fd %d fstat: %w", d.comm, d.pid, fd, err)
	}
	f := fileDesc{FD: fd, Path: link, Flags: info.Flags &^ unix.O_CLOEXEC, Pos: info.Pos, CloExec: info.Flags&unix.O_CLOEXEC != 0}
	closed := func(msg string) (fileDesc, error) {
		f.Kind, f.Reason = fdClosed, msg
		return f, d.uncheckpointable(fd, msg)
	}
	switch {
	case strings.HasPrefix(link, "socket:"):
		// Dispatched by family: TCP and UDP over IP (inetsock.go), unix
		// sockets (unixsock.go), whose peer must be in the tree
		// (dumpTree.linkFiles checks).
		if ok, refuse, err := d.describeInet(fd, &f); ok || err != nil {
			if err != nil {
				return fileDesc{}, err
			}
			if refuse != "" {
				f.Inet = nil
				return closed(refuse)
			}
			f.Ino = info.Ino
			return f, nil
		}
		why, err := d.describeSocket(fd, &f, info.Ino)
		if err != nil {
			return fileDesc{}, err
		}
		if why != "" {
			return closed(why)
		}
		return f, nil
	case strings.HasPrefix(link, "pipe:"):
		// Whether its other end is inside the tree is decided by
		// dumpTree.linkFiles, which sees every member.
		f.Kind, f.Ino = fdPipe, info.Ino
		return f, nil
	case strings.HasPrefix(link, "anon_inode:"):
		kind := strings.Trim(strings.TrimPrefix(link, "anon_inode:"), "[]")
		a, err := readAnonFile(d.pid, fd, kind)
		if errors.Is(err, ErrUnsupported) {
			return closed(fmt.Sprintf(": %s is not checkpointable yet", kind))
		}
		if err != nil {
			return closed(fmt.Sprintf(": %s: %v", kind, err))
		}
		if kind == "eventpoll" {
			d.epollTargets(fd, a) // epollmoved.go
			markReported(d.pid, fd, a)
		}
		f.Kind, f.Anon, f.Ino = fdAnon, a, info.Ino
		return f, nil
	}
	if msg := unreopenable(link); msg != "" {
		return closed(msg)
	}
	if msg := d.procOfTree(link); msg != "" {
		return closed(msg)
	}
	if isMqueue(d.pid, fd) {
		// Its queue is saved once for the tree (mqueue.go).
		f.Kind, f.Ino, f.MntID = fdMqueue, info.Ino, info.MntID
		if msg := mqueueEarlyRefusal(d.pid, fd, link); msg != "" {
			return closed(msg)
		}
		return f, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", d.pid, fd), &st); err != nil {
		return fileDesc{}, fmt.Errorf("%s(%d) fd %d fstat: %w", d.comm, d.pid, fd, err)
	}
	ref := statRef(link, fmt.Sprintf("/proc/%d/fd/%d", d.pid, fd))
	f.File = &ref
	f.Ino, f.MntID = info.Ino, info.MntID
	f.Locks = info.Locks
	proc := fmt.Sprintf("/proc/%d/fd/%d", d.pid, fd)
	if f.Flags&unix.O_PATH != 0 && st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// O_PATH on a FIFO, socket, device or symlink: a reference to
		// the inode only (no I/O, no device, no peer), opened again by
		// its path with O_PATH. The kernel keeps no O_NOFOLLOW in the
		// description's flags: a symlink's is recorded.
		if removed(link, proc) {
			return closed(fmt.Sprintf(": %s was removed (an O_PATH descriptor of it)", strings.TrimSuffix(link, " (deleted)")))
		}
		f.Kind = fdFile
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			f.Flags |= unix.O_NOFOLLOW
		}
		return f, nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f.Kind = fdFile
		if isSecretMem(proc) {
			return closed(secretMemMsg)
		}
		if removed(link, proc) {
			// An unlinked file (O_TMPFILE, memfd, removed after open):
			// its content goes beside the image as COMM.PID.-.FD (CONVEX),
			// once per file (unlinked.go).
			if err := d.describeUnlinked(&f, &st); err != nil {
				return fileDesc{}, err
			}
			return f, nil
		}
		if d.opts.CopyFiles && !d.opts.CheckOnly && d.opts.Choices.fd(d.pid, fd).Action != FDSave {
			if err := d.copyFile(&f); err != nil {
				return fileDesc{}, err
			}
		}
	case unix.S_IFDIR:
		if removed(link, proc) {
			return closed(fmt.Sprintf(": unlinked directory %s is not checkpointable yet", ref.Path))
		}
		f.Kind = fdDir
	case unix.S_IFCHR:
		if msg := deletedDevice(link, proc); msg != "" {
			return closed(msg)
		}
		if d.describePTY(fd, &f, st.Rdev) {
			return f, nil // a pty of the tree (pty.go)
		}
		maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
		switch {
		case maj == 1 && (min == 3 || min == 5 || min == 7 || min == 8 || min == 9):
			f.Kind = fdDevice // null, zero, full, random, urandom
		case maj == 4 || (maj == 5 && min <= 2) || (maj >= 136 && maj <= 143):
			f.Kind = fdTTY // virtual consoles, serial lines, /dev/tty, console, ptys
			f.CTTY = d.stat.TTYNr != 0 && (st.Rdev == ttyDev(d.stat.TTYNr) || (maj == 5 && min == 0))
			if f.CTTY && d.meta.Terminal == nil {
				d.meta.Terminal = terminalState(d.pid, fd)
			}
			if !f.CTTY && isPTYSlave(st.Rdev) {
				return closed(d.ptySlaveMsg(ref.Path, st.Rdev))
			}
		default:
			return closed(fmt.Sprintf(": %s: device does not support checkpoint capability", link))
		}
	case unix.S_IFIFO:
		// Its other end and its bytes in transit: dumpTree.linkFifos.
		f.Kind, f.Unlinked = fdFifo, removed(link, proc)
	default:
		return closed(fmt.Sprintf(": unknown file type %#x", st.Mode&unix.S_IFMT))
	}
	return f, nil
}

// isAbsent says whether nothing has the name path.
func isAbsent(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, os.ErrNotExist)
}

// copyFile copies an open regular file beside the image as
// COMM.PID.FILENAME.FD (CONVEX -C, copies.go). It reads through the
// target's own descriptor, so it copies what the process sees.
func (d *dumper) copyFile(f *fileDesc) error {
	base := filepath.Base(f.File.Path)
	if f.Unlinked {
		base = "-"
	}
	name := fmt.Sprintf("%s.%d.%s.%d", d.comm, d.pid, base, f.FD)
	src, err := os.Open(fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD))
	if err == nil {
		defer src.Close()
		var fi os.FileInfo
		if fi, err = src.Stat(); err == nil {
			err = d.writeCopy(f, name, src, fi.Size(), os.FileMode(f.File.Mode&0o7777))
		}
	}
	if err != nil {
		dst := filepath.Join(filepath.Dir(d.tree.rootPath), name)
		return fmt.Errorf("%s(%d) fd %d %s copy to %s: %w", d.comm, d.pid, f.FD, f.File.Path, dst, err)
	}
	return nil
}

// writeFileAtomic writes r to path under a temporary name, fsyncs and
// renames it into place.
func writeFileAtomic(path string, r io.Reader, mode os.FileMode, overwrite bool) (retErr error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return publish(tmp.Name(), path, overwrite)
}

// publish makes tmp durable and renames it to path; without overwrite an
// existing path is an ErrExists error and is left alone.
// checkpointRetries bounds the attempts at a checkpoint of a program that
// changes its mappings as each begins (racedError).
var checkpointRetries = 8

func publish(tmp, path string, overwrite bool) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return &os.PathError{Op: "fsync", Path: path, Err: err}
	}
	flags := uint(unix.RENAME_NOREPLACE)
	if overwrite {
		flags = 0
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, flags); err != nil {
		if err == unix.EEXIST {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return &os.PathError{Op: "rename", Path: path, Err: err}
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

func localFingerprint(xstate []byte) fingerprint {
	var u unix.Utsname
	unix.Uname(&u)
	fp := fingerprint{
		Kernel:   unix.ByteSliceToString(u.Release[:]),
		Machine:  unix.ByteSliceToString(u.Machine[:]),
		CPUFlags: isaFlags(cpuFlags()),
		XSize:    len(xstate),
	}
	if len(xstate) >= 480 {
		// struct _fpx_sw_bytes in the FXSAVE area's software-reserved
		// bytes: magic1, extended_size, xfeatures, xstate_size.
		fp.XFeatures = binary.LittleEndian.Uint64(xstate[464+8:])
	}
	return fp
}

// isaFlags keeps the CPU flags that name instructions a program may use:
// those are what an image needs of the machine it restarts on.
func isaFlags(flags []string) []string {
	prefixes := []string{"sse", "ssse", "avx", "fma", "f16c", "bmi", "adx", "aes", "pclmul", "sha",
		"popcnt", "abm", "lzcnt", "movbe", "rdrand", "rdseed", "xsave", "fsgsbase", "erms", "fsrm",
		"vpclmul", "gfni", "vaes", "amx", "cx16", "cx8", "mmx", "fxsr", "cmov", "lahf", "clflush",
		"clwb", "clzero", "rdpid", "movdir", "serialize", "wbnoinvd", "pku", "ospke", "rtm", "hle"}
	var out []string
	for _, f := range flags {
		for _, p := range prefixes {
			if strings.HasPrefix(f, p) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

func vdsoSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }

// ttyDev converts the tty_nr of /proc/PID/stat to a dev_t.
func ttyDev(nr int) uint64 {
	major := uint32(nr>>8) & 0xfff
	minor := uint32(nr&0xff) | uint32(nr>>12)&0xfff00
	return unix.Mkdev(major, minor)
}

// terminalState reads the settings and window size of the terminal open
// as fd in pid, through a copy of the descriptor.
func terminalState(pid, fd int) *terminal {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pidfd)
	tfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(tfd)
	tio, err := unix.IoctlGetTermios(tfd, unix.TCGETS)
	if err != nil {
		return nil
	}
	t := &terminal{Iflag: tio.Iflag, Oflag: tio.Oflag, Cflag: tio.Cflag, Lflag: tio.Lflag, Line: tio.Line, Cc: tio.Cc[:]}
	if ws, err := unix.IoctlGetWinsize(tfd, unix.TIOCGWINSZ); err == nil {
		t.Rows, t.Cols = ws.Row, ws.Col
	}
	return t
}

// readTimers lists the POSIX timers of pid from /proc/PID/timers.
func readTimers(pid int) ([]posixTimer, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/timers", pid))
	if err != nil {
		return nil, err
	}
	var out []posixTimer
	for k, v := range keyValues(data) {
		switch k {
		case "ID":
			id, _ := strconv.Atoi(v)
			out = append(out, posixTimer{ID: id})
		case "signal":
			if len(out) > 0 {
				sig, val, _ := strings.Cut(v, "/")
				out[len(out)-1].Signal, _ = strconv.Atoi(sig)
				out[len(out)-1].Value, _ = strconv.ParseUint(val, 16, 64)
			}
		case "notify":
			if len(out) > 0 {
				how, who, _ := strings.Cut(v, "/")
				t := &out[len(out)-1]
				// "signal/tid.N": SIGEV_SIGNAL|SIGEV_THREAD_ID to thread N,
				// how glibc's SIGEV_THREAD timers look to the kernel (its
				// helper thread waits for signal 32); "signal/pid.N": the
				// process.
				t.Notify = timerNotify(how, who)
				if _, n, ok := strings.Cut(who, "."); ok {
					t.TID, _ = strconv.Atoi(n)
				}
			}
		case "ClockID":
			if len(out) > 0 {
				out[len(out)-1].Clock, _ = strconv.Atoi(v)
			}
		}
	}
	return out, nil
}

// liveThreads counts the threads of pid that have not exited. The stat
// of a process whose main thread called pthread_exit says Z (the
// leader's state) while its other threads go on.
func liveThreads(pid int) int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(tid); err == nil && st.State != 'Z' && st.State != 'X' {
			n++
		}
	}
	return n
}

// Bounds of exitSettled's wait: a little for any process whose main
// thread is dead and others alive, longer while they are marked exiting.
const (
	exitSettleAny     = 100 * time.Millisecond
	exitSettleExiting = 2 * time.Second
)

// exitSettled returns the live threads of pid, whose main thread has
// exited, once they have had the time to end: a process in exit_group (a
// pool worker that returns from main while its threads run) is seen for
// a moment with a zombie leader and threads not gone yet, and is a zombie
// (checkpointed as one) a moment later. A leader that called pthread_exit
// keeps its threads: the wait ends at exitSettleAny with them.
func exitSettled(pid int) int {
	start := time.Now()
	for {
		n, exiting := liveThreads(pid), threadsExiting(pid)
		waited := time.Since(start)
		if n == 0 || waited >= exitSettleExiting || waited >= exitSettleAny && !exiting {
			return n
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// threadsExiting reports whether a live thread of pid is on its way out:
// PF_EXITING, or the SIGKILL exit_group sends every thread pending.
func threadsExiting(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		st, err := readStat(tid)
		if err != nil || st.State == 'Z' || st.State == 'X' {
			continue
		}
		if st.Flags&pfExiting != 0 || killPending(tid) {
			return true
		}
	}
	return false
}

// killPending reports whether SIGKILL is pending for thread tid.
func killPending(tid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "SigPnd:")
		if !ok {
			v, ok = strings.CutPrefix(line, "ShdPnd:")
		}
		if ok {
			if mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && mask&(1<<(unix.SIGKILL-1)) != 0 {
				return true
			}
		}
	}
	return false
}

// leaderExited refuses a process whose main thread has exited while n
// others run: a restored process cannot be given a thread-group leader
// that is already dead, and recording it as a zombie would drop the
// threads still at work.
func leaderExited(comm string, pid, n int) error {
	return &UncheckpointableError{Comm: comm, PID: pid, FD: -1,
		Msg: fmt.Sprintf("its main thread has exited (pthread_exit) while %d other thread(s) run", n)}
}
