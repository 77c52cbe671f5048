package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tracer runs every ptrace request of one traced tree on a single OS thread.
// The kernel attaches a tracee to the thread that called PTRACE_SEIZE (or that
// started it with PTRACE_TRACEME); requests from any other thread of ours fail
// with ESRCH. So one goroutine, locked to its thread, executes the closures
// passed to do, and ends when stop is called.
type tracer struct {
	work chan func()
	done chan struct{}
}

func newTracer() *tracer {
	t := &tracer{work: make(chan func()), done: make(chan struct{})}
	go func() {
		// The thread is never unlocked: when this goroutine returns, the
		// runtime ends the thread, which detaches anything left attached.
		runtime.LockOSThread()
		defer close(t.done)
		for f := range t.work {
			f()
		}
	}()
	return t
}

// do runs f on the tracer thread and returns its error.
func (t *tracer) do(f func() error) error {
	errc := make(chan error, 1)
	t.work <- func() { errc <- f() }
	return <-errc
}

func (t *tracer) stop() {
	close(t.work)
	<-t.done
}

func ptrace(req int, pid int, addr, data uintptr) error {
	if stopProf.on {
		defer stopProf.since(ptraceName(req), time.Now())
	}
	for {
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func ptraceSeize(pid int, options int) error {
	return wrapPtrace("seize", pid, ptrace(unix.PTRACE_SEIZE, pid, 0, uintptr(options)))
}

func ptraceInterrupt(pid int) error {
	return wrapPtrace("interrupt", pid, ptrace(unix.PTRACE_INTERRUPT, pid, 0, 0))
}

func ptraceDetach(pid int, sig syscall.Signal) error {
	return wrapPtrace("detach", pid, ptrace(unix.PTRACE_DETACH, pid, 0, uintptr(sig)))
}

func ptraceCont(pid int, sig syscall.Signal) error {
	return wrapPtrace("cont", pid, ptrace(unix.PTRACE_CONT, pid, 0, uintptr(sig)))
}

func ptraceSingleStep(pid int) error {
	return wrapPtrace("singlestep", pid, ptrace(unix.PTRACE_SINGLESTEP, pid, 0, 0))
}

func ptraceSetOptions(pid int, options int) error {
	return wrapPtrace("setoptions", pid, ptrace(unix.PTRACE_SETOPTIONS, pid, 0, uintptr(options)))
}

func ptraceGetEventMsg(pid int) (uint, error) {
	var msg uint
	err := ptrace(unix.PTRACE_GETEVENTMSG, pid, 0, uintptr(unsafe.Pointer(&msg)))
	return msg, wrapPtrace("geteventmsg", pid, err)
}

func ptraceGetRegs(pid int) (unix.PtraceRegs, error) {
	var r unix.PtraceRegs
	err := ptrace(unix.PTRACE_GETREGS, pid, 0, uintptr(unsafe.Pointer(&r)))
	return r, wrapPtrace("getregs", pid, err)
}

func ptraceSetRegs(pid int, r *unix.PtraceRegs) error {
	return wrapPtrace("setregs", pid, ptrace(unix.PTRACE_SETREGS, pid, 0, uintptr(unsafe.Pointer(r))))
}

// xstateMax bounds the XSAVE area; AVX-512 with AMX tiles needs ~11 KiB.
const xstateMax = 16384

func ptraceGetXState(pid int) ([]byte, error) {
	buf := make([]byte, xstateMax)
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	err := ptrace(unix.PTRACE_GETREGSET, pid, unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov)))
	if err != nil {
		return nil, wrapPtrace("getregset xstate", pid, err)
	}
	return buf[:iov.Len], nil
}

func ptraceSetXState(pid int, xs []byte) error {
	if len(xs) == 0 {
		return nil
	}
	buf := append([]byte(nil), xs...)
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	return wrapPtrace("setregset xstate", pid, ptrace(unix.PTRACE_SETREGSET, pid, unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov))))
}

func ptraceGetSigMask(pid int) (uint64, error) {
	var m uint64
	err := ptrace(unix.PTRACE_GETSIGMASK, pid, 8, uintptr(unsafe.Pointer(&m)))
	return m, wrapPtrace("getsigmask", pid, err)
}

func ptraceSetSigMask(pid int, m uint64) error {
	return wrapPtrace("setsigmask", pid, ptrace(unix.PTRACE_SETSIGMASK, pid, 8, uintptr(unsafe.Pointer(&m))))
}

// siginfoSize is sizeof(siginfo_t) on Linux.
const siginfoSize = 128

// ptracePeekSigInfo returns the queued siginfo records of the thread
// (shared=false) or of the whole process (shared=true), oldest first.
func ptracePeekSigInfo(pid int, shared bool) ([][]byte, error) {
	type peekArgs struct {
		Off   uint64
		Flags uint32
		Nr    int32
	}
	var out [][]byte
	buf := make([]byte, 32*siginfoSize)
	for off := uint64(0); ; {
		a := peekArgs{Off: off, Nr: 32}
		if shared {
			a.Flags = 1 // PTRACE_PEEKSIGINFO_SHARED
		}
		r, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKSIGINFO, uintptr(pid),
			uintptr(unsafe.Pointer(&a)), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
		if e != 0 {
			return nil, wrapPtrace("peeksiginfo", pid, e)
		}
		n := int(r)
		for i := 0; i < n; i++ {
			out = append(out, append([]byte(nil), buf[i*siginfoSize:(i+1)*siginfoSize]...))
		}
		if n < 32 {
			return out, nil
		}
		off += uint64(n)
	}
}

// rseqConfig mirrors struct ptrace_rseq_configuration.
type rseqConfig struct {
	Ptr   uint64 `json:"ptr"`
	Len   uint32 `json:"len"`
	Sig   uint32 `json:"sig"`
	Flags uint32 `json:"flags"`
	Pad   uint32 `json:"-"`
}

// signature is the rseq signature to register with. The engine once read
// struct ptrace_rseq_configuration with flags and signature swapped; its
// images say flags = the signature, sig = 0 (the kernel's flags are
// always 0), and are read as they meant.
func (c rseqConfig) signature() uint32 {
	if c.Sig == 0 && c.Flags != 0 {
		return c.Flags
	}
	return c.Sig
}

func ptraceGetRseq(pid int) (rseqConfig, error) {
	var c rseqConfig
	err := ptrace(unix.PTRACE_GET_RSEQ_CONFIGURATION, pid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, wrapPtrace("get rseq configuration", pid, err)
}

func wrapPtrace(op string, pid int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ptrace %s pid %d: %w", op, pid, err)
}

// waitStop waits, within stopWaitLimit, for pid to enter a ptrace-stop and
// returns its status. It returns an *ExitedError if the process ended
// instead, and a *StopTimeoutError if it did neither in time.
func waitStop(pid int) (unix.WaitStatus, error) {
	return waitStopUntil(context.Background(), pid, time.Now().Add(stopWaitLimit))
}

// stopWaitLimit bounds every wait for a tracee to stop: a task that never
// stops (one the engine misjudged, a kernel that lost the trap) must not
// hang chkpnt or restart forever with the tree traced.
const stopWaitLimit = 60 * time.Second

// waitStopUntil is waitStop with its own deadline and a context. wait4
// cannot time out, so it polls with WNOHANG: first yielding (an injected
// system call stops again within microseconds), then sleeping a little
// longer each round.
func waitStopUntil(ctx context.Context, pid int, deadline time.Time) (unix.WaitStatus, error) {
	if stopProf.on {
		defer stopProf.since("wait", time.Now())
	}
	pause := time.Duration(0)
	for round := 0; ; round++ {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECHILD && exitedTask(pid) {
			// Reaped meanwhile (a thread of a group that ended, reaped
			// by reapGroupThreads while its leader was waited for).
			return ws, &ExitedError{PID: pid, Status: ws}
		}
		if err != nil {
			return ws, os.NewSyscallError("wait4", err)
		}
		if got == pid {
			if ws.Exited() || ws.Signaled() {
				return ws, &ExitedError{PID: pid, Status: ws}
			}
			return ws, nil
		}
		if round >= 64 && round%16 == 0 {
			reapGroupThreads(pid)
		}
		if err := ctx.Err(); err != nil {
			return ws, fmt.Errorf("wait for pid %d to stop: %w", pid, err)
		}
		if time.Now().After(deadline) {
			return ws, &StopTimeoutError{PID: pid}
		}
		switch {
		case round < 64:
			runtime.Gosched()
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		default:
			if round == 64 {
				stopProf.add("wait:slept", 0)
			}
			pause = min(max(2*pause, 10*time.Microsecond), 2*time.Millisecond)
			time.Sleep(pause)
		}
	}
}

// reapGroupThreads reaps the ended threads of pid when pid is a thread
// group's leader that has ended (a zombie) but whose end is not reported
// yet: the kernel reports it to its tracer only once the other threads
// are gone, and those, traced too, wait as zombies for the tracer to reap
// them. Without it, a process that ended (exit_group) while the freeze
// stopped it would be waited for until stopWaitLimit.
func reapGroupThreads(pid int) {
	st, err := readStat(pid)
	if err != nil || st.State != 'Z' && st.State != 'X' {
		return
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return
	}
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil && tid != pid {
			var ws unix.WaitStatus
			unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
		}
	}
}

// exitedTask reports whether task pid has ended: gone, or a zombie.
func exitedTask(pid int) bool {
	st, err := readStat(pid)
	return err != nil || st.State == 'Z' || st.State == 'X'
}

// ExitedError reports that a traced process ended while the engine worked on
// it.
type ExitedError struct {
	PID    int
	Status unix.WaitStatus
}

func (e *ExitedError) Error() string {
	if e.Status.Signaled() {
		return fmt.Sprintf("process %d was killed by signal %d", e.PID, e.Status.Signal())
	}
	return fmt.Sprintf("process %d exited with status %d", e.PID, e.Status.ExitStatus())
}

// task is one stopped thread into which the engine injects system calls. The
// registers the thread had when it stopped are kept in orig and put back by
// resume; syscalls run by single-stepping a `syscall` instruction at sc.
type task struct {
	pid  int
	orig unix.PtraceRegs
	sc   uint64 // address of a 0f 05 (syscall) instruction in an executable page
	// onEvent, if set, sees every ptrace event stop (fork, clone...) met
	// while a syscall runs.
	onEvent func(event int) error
	// sysStops: run the call between its syscall-entry and -exit stops
	// (PTRACE_SYSCALL) instead of single-stepping it, for a program whose
	// SIGTRAP is ignored: the kernel reports a step with a forced
	// SIGTRAP, and forcing an ignored signal resets it to SIG_DFL
	// (force_sig_info_to_task); syscall stops send no signal.
	sysStops bool
	// park: between injected calls the thread waits in an interrupt
	// stop with its own registers and mask (ownMask), and is given
	// injMask again before each call (parkStop).
	park             bool
	ownMask, injMask uint64
}

// parkBetweenCalls makes t wait between injected calls as the freeze
// left it, with signal mask own, and run each call with mask inj.
func (t *task) parkBetweenCalls(own, inj uint64) {
	t.park, t.ownMask, t.injMask = true, own, inj
}

// syscallError is the errno an injected system call returned.
type syscallError struct {
	name  string
	errno unix.Errno
}

func (e *syscallError) Error() string { return e.name + ": " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }

// run runs injected code at entry, codeLen bytes ending with an int3,
// with the registers set sets (the others as the task's own), until the
// int3: several system calls for one round trip through the tracer. The
// trap's SIGTRAP is a signal-delivery stop the next resume discards; as
// a step's, it is not for a task with sysStops.
func (t *task) run(name string, entry, codeLen uint64, set func(*unix.PtraceRegs)) error {
	if stopProf.on {
		defer stopProf.since("run:"+name, time.Now())
	}
	if err := t.runStart(entry, set); err != nil {
		return err
	}
	if err := t.runEnd(name, entry, codeLen); err != nil {
		return err
	}
	if t.park {
		if err := t.parkStop(); err != nil {
			return fmt.Errorf("inject %s: %w", name, err)
		}
	}
	return nil
}

// runStart sets t going in the code at entry, as run does.
func (t *task) runStart(entry uint64, set func(*unix.PtraceRegs)) error {
	r := t.orig
	r.Rip = entry
	r.Orig_rax = ^uint64(0)
	set(&r)
	if t.park {
		if err := ptraceSetSigMask(t.pid, t.injMask); err != nil {
			return err
		}
	}
	if err := ptraceSetRegs(t.pid, &r); err != nil {
		return err
	}
	return ptraceCont(t.pid, 0)
}

// runEnd waits for t, set going by runStart, to reach the int3 that ends
// the code at entry, codeLen bytes; it does not park t.
func (t *task) runEnd(name string, entry, codeLen uint64) error {
	for {
		ws, err := waitStop(t.pid)
		if err != nil {
			return fmt.Errorf("inject %s: %w", name, err)
		}
		if ev := ws.TrapCause(); ws.StopSignal() == unix.SIGTRAP && ev > 0 {
			if t.onEvent != nil {
				if err := t.onEvent(ev); err != nil {
					return err
				}
			}
			if err := ptraceCont(t.pid, 0); err != nil {
				return err
			}
			continue
		}
		if ws.StopSignal() != unix.SIGTRAP {
			return fmt.Errorf("inject %s: tracee stopped by signal %d", name, ws.StopSignal())
		}
		break
	}
	out, err := ptraceGetRegs(t.pid)
	if err != nil {
		return err
	}
	if out.Rip != entry+codeLen {
		return fmt.Errorf("inject %s: tracee stopped at %#x, not at the end of the code at %#x", name, out.Rip, entry)
	}
	return nil
}

// call runs system call nr with args in the tracee and returns its result.
func (t *task) call(name string, nr uintptr, args ...uint64) (uint64, error) {
	if stopProf.on {
		defer stopProf.since("call:"+name, time.Now())
	}
	r := t.orig
	r.Rip = t.sc
	r.Rax = uint64(nr)
	// orig_rax = -1 keeps the kernel from applying syscall-restart fixups
	// of an interrupted call to the registers we set.
	r.Orig_rax = ^uint64(0)
	regs := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*regs[i] = a
	}
	if t.park {
		if err := ptraceSetSigMask(t.pid, t.injMask); err != nil {
			return 0, err
		}
	}
	if err := ptraceSetRegs(t.pid, &r); err != nil {
		return 0, err
	}
	step := func() error { return ptraceSingleStep(t.pid) }
	stops := 1 // the trap after the step
	if t.sysStops {
		step = func() error { return ptrace(unix.PTRACE_SYSCALL, t.pid, 0, 0) }
		stops = 2 // syscall entry and exit
	}
	if err := step(); err != nil {
		return 0, err
	}
	for {
		ws, err := waitStop(t.pid)
		if err != nil {
			return 0, fmt.Errorf("inject %s: %w", name, err)
		}
		if ev := ws.TrapCause(); ws.StopSignal() == unix.SIGTRAP && ev > 0 {
			if t.onEvent != nil {
				if err := t.onEvent(ev); err != nil {
					return 0, err
				}
			}
			if err := step(); err != nil {
				return 0, err
			}
			continue
		}
		if ws.StopSignal() != unix.SIGTRAP {
			// Every signal is blocked while we inject, so this is a
			// synchronous fault caused by the call itself.
			return 0, fmt.Errorf("inject %s: tracee stopped by signal %d", name, ws.StopSignal())
		}
		if stops--; stops > 0 {
			if err := step(); err != nil {
				return 0, err
			}
			continue
		}
		break
	}
	out, err := ptraceGetRegs(t.pid)
	if err != nil {
		return 0, err
	}
	if out.Rip != t.sc+2 {
		return 0, fmt.Errorf("inject %s: tracee stopped at %#x, not after the syscall at %#x", name, out.Rip, t.sc)
	}
	if t.park {
		if err := t.parkStop(); err != nil {
			return 0, fmt.Errorf("inject %s: %w", name, err)
		}
	}
	if v := int64(out.Rax); v < 0 && v > -4096 {
		return 0, &syscallError{name: name, errno: unix.Errno(-v)}
	}
	return out.Rax, nil
}

// parkStop moves t, stopped after an injected call, back to what the
// freeze made of it: an interrupt stop (PTRACE_EVENT_STOP), its own
// registers and signal mask. The stop after a single step is a
// signal-delivery-stop for SIGTRAP: a tracer that dies there leaves the
// kernel to deliver that SIGTRAP, which kills a program without a handler
// for it (ptrace_stop returns the stop's signal when nobody resumed it),
// and a thread resumed with an injected call's registers runs on at the
// instruction after the vDSO's syscall, with them. An interrupt stop's
// code is never delivered, and from its own registers the thread goes on
// as if it had never been stopped, its interrupted system call restarted
// as the freeze's own stop would have it. The checkpointer's work between
// two calls (reading what a call wrote, the sleeps of reapTwins) is so
// done with the thread in a state the kernel alone undoes; only the call
// itself, microseconds, is not.
func (t *task) parkStop() error {
	if stopProf.on {
		defer stopProf.since("park", time.Now())
	}
	if err := t.parkStart(); err != nil {
		return err
	}
	return t.parkEnd()
}

// parkStart sets t going towards its interrupt stop (parkStop).
func (t *task) parkStart() error {
	// The interrupt is pending before the thread is resumed: it stops
	// in get_signal before it can return to user mode
	// (do_jobctl_trap), so it never runs an instruction here.
	if err := ptraceInterrupt(t.pid); err != nil {
		return err
	}
	if err := ptraceSetRegs(t.pid, &t.orig); err != nil {
		return err
	}
	if err := ptraceSetSigMask(t.pid, t.ownMask); err != nil {
		return err
	}
	return ptraceCont(t.pid, 0)
}

// parkEnd waits for t, set going by parkStart, to be in its interrupt
// stop.
func (t *task) parkEnd() error {
	ws, err := waitStop(t.pid)
	if err != nil {
		return err
	}
	// The interrupt stop of a task in a group stop (a stopped job,
	// jobctl.go) reports the stop's signal, not SIGTRAP.
	if !ws.Stopped() || int(ws>>16)&0xff != unix.PTRACE_EVENT_STOP {
		return fmt.Errorf("pid %d: got stop %#x after an injected call, want an interrupt stop", t.pid, uint32(ws))
	}
	return nil
}

// errnoOf extracts the errno of an injected call, or 0.
func errnoOf(err error) unix.Errno {
	var se *syscallError
	if errors.As(err, &se) {
		return se.errno
	}
	return 0
}

// restartsAsIs tells whether a system call interrupted with
// ERESTART_RESTARTBLOCK can simply be made again: poll(2) without a
// timeout (the kernel always gives poll a restart block, do_restart_poll,
// even when it has nothing to count down; its arguments are still in rdi,
// rsi and rdx, which the syscall instruction preserves). Made again, it
// waits as it did; returning EINTR instead ends programs that do not
// expect it there (util-linux script(1)).
func restartsAsIs(regs *unix.PtraceRegs) bool {
	return regs.Orig_rax == unix.SYS_POLL && int32(regs.Rdx) < 0
}
