package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A twin is a copy-on-write copy of a frozen process, made by a clone
// injected into it: the kernel copies the page tables, not the pages, so
// the freeze lasts what that copy takes (tens of milliseconds per GiB)
// whatever the size of the job, and the process runs on while its image
// is written from the twin. Every private page the process writes after
// the clone is copied by the kernel (copy on write); the twin keeps the
// page as it was at the freeze.
//
// What the twin does not hold as it was:
//   - shared memory (MAP_SHARED, SysV, memfd, tmpfs files): the twin maps
//     the same pages, which the process goes on writing. Those extents are
//     written from the process itself before it is let go (phase one of
//     dumpTree.writeImages).
//   - MADV_DONTFORK regions (absent from the twin) and MADV_WIPEONFORK
//     regions (zero in it): /proc/PID/smaps says which (VmFlags dc, wf);
//     written from the process before it is let go, as shared memory.
//
// The twin is made with clone(flags 0): exit signal 0, so its end sends no
// SIGCHLD to the process, and wait(2) without __WALL or __WCLONE never
// reports it (a "clone child"). It is created traced by us
// (PTRACE_O_TRACECLONE) and never runs a user instruction: it stays in its
// first ptrace-stop with every signal blocked (the mask of the injecting
// thread), is read with process_vm_readv, and is killed (PTRACE_O_EXITKILL
// also kills it if we die). A child that exits with signal 0 is not reaped
// by the kernel: it stays a zombie of the process, so the process reaps it
// itself, by an injected wait4 (reapTwins), in a stop of one thread that
// lasts a few injected system calls.
//
// Pages of the twin already written are dropped from it (an injected
// madvise MADV_DONTNEED): the page the process shares with the twin is its
// own again (no copy on its next write), and a page the process copied is
// freed. What the copy on write costs in memory is so bounded by what the
// process dirties in the part not yet written.
type twin struct {
	pid   int    // in our PID namespace
	nspid uint64 // as its parent sees it (the clone's return value)
	sc    uint64 // a syscall instruction (the vDSO's: the twin has it too)
	regs  unix.PtraceRegs
	// dropped counts the bytes given back (see drop).
	dropped uint64
	dead    bool
}

// twinDropChunk: written ranges are dropped from the twin in batches of at
// least this many bytes (one injected madvise per contiguous range).
const twinDropChunk = 64 << 20

// makeTwin clones the frozen process d (every thread stopped, nothing
// injected left behind) into a twin. It runs on the tracer thread.
func (d *dumper) makeTwin() (tw *twin, retErr error) {
	sc, err := d.findSyscallInsn()
	if err != nil {
		return nil, err
	}
	opts := unix.PTRACE_O_SUSPEND_SECCOMP
	if d.noSuspend {
		opts = 0
	}
	if err := ptraceSetOptions(d.pid, opts|unix.PTRACE_O_TRACECLONE); err != nil {
		return nil, err
	}
	defer ptraceSetOptions(d.pid, opts)
	// The twin is born with this mask: every signal blocked but SIGTRAP
	// (see injectMask), so it never runs a handler.
	inj := injectMask(d.pid, d.pid)
	if err := ptraceSetSigMask(d.pid, inj); err != nil {
		return nil, err
	}
	defer ptraceSetSigMask(d.pid, d.meta.Threads[0].SigMask)
	defer ptraceSetRegs(d.pid, &d.regs)
	t := &task{pid: d.pid, orig: d.regs, sc: sc, sysStops: trapIgnored(d.pid)}
	// Parked while the twin is taken in hand below.
	t.parkBetweenCalls(d.meta.Threads[0].SigMask, inj)
	child := 0
	t.onEvent = func(ev int) error {
		if ev == unix.PTRACE_EVENT_CLONE || ev == unix.PTRACE_EVENT_FORK {
			msg, err := ptraceGetEventMsg(d.pid)
			child = int(msg)
			return err
		}
		return nil
	}
	// clone(flags 0, stack 0, ...): a new process (not a thread) on a
	// copy-on-write copy of the memory, exit signal 0.
	nspid, err := t.call("clone", unix.SYS_CLONE, 0, 0, 0, 0, 0)
	if err != nil {
		if child > 0 {
			unix.Kill(child, unix.SIGKILL)
			reapAll([]int{child}, 5*time.Second)
		}
		return nil, fmt.Errorf("%s(%d): copy-on-write twin: %w", d.comm, d.pid, err)
	}
	if child <= 0 {
		return nil, fmt.Errorf("%s(%d): copy-on-write twin: the clone was not reported", d.comm, d.pid)
	}
	tw = &twin{pid: child, nspid: nspid, sc: sc}
	defer func() {
		if retErr != nil {
			tw.kill()
		}
	}()
	// It starts traced by us, in a ptrace-stop.
	if _, err := waitStop(child); err != nil {
		return nil, fmt.Errorf("%s(%d): copy-on-write twin: %w", d.comm, d.pid, err)
	}
	if err := ptraceSetOptions(child, opts|unix.PTRACE_O_EXITKILL); err != nil {
		return nil, err
	}
	if tw.regs, err = ptraceGetRegs(child); err != nil {
		return nil, err
	}
	d.log.Info(fmt.Sprintf("%s(%d): copy-on-write twin %d", d.comm, d.pid, child))
	return tw, nil
}

// read copies twin memory at addr into b.
func (tw *twin) read(b []byte, addr uint64) error {
	return readMemory(tw.pid, b, addr)
}

// drop gives back the twin's pages of [addr, addr+n): they are written.
// It runs on the tracer thread.
func (tw *twin) drop(addr, n uint64) error {
	t := &task{pid: tw.pid, orig: tw.regs, sc: tw.sc}
	if _, err := t.call("madvise", unix.SYS_MADVISE, addr, n, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("copy-on-write twin %d: %w", tw.pid, err)
	}
	tw.dropped += n
	return nil
}

// kill ends the twin and collects its end as its tracer, which hands it,
// a zombie, to its parent (see reapTwin). It runs on the tracer thread.
func (tw *twin) kill() {
	if tw == nil || tw.dead {
		return
	}
	tw.dead = true
	unix.Kill(tw.pid, unix.SIGKILL)
	reapAll([]int{tw.pid}, 10*time.Second)
}

// reapTwin makes the process d, running again, reap its dead twin: it
// seizes one thread of it, injects wait4(twin, WNOHANG|__WALL) and lets it
// go. It runs on the tracer thread, after tw.kill. A process that is gone
// is not an error (its twin went to another parent, which reaps it).
func (d *dumper) reapTwin(tw *twin) error {
	if tw == nil {
		return nil
	}
	if !d.seized {
		// Running: one thread is stopped for the injection. A process
		// that is exiting never stops (it stays in the kernel until it
		// dies): its dead twin goes, with its other children, to the
		// reaper of its namespace, which reaps it.
		if exiting(d.pid) {
			return nil
		}
		if err := d.seizeTask(d.pid); err != nil {
			if errors.Is(err, unix.ESRCH) || exiting(d.pid) {
				return nil
			}
			return fmt.Errorf("%s(%d): reap copy-on-write twin: %w", d.comm, d.pid, err)
		}
		d.seized, d.tids = true, []int{d.pid}
		defer d.releaseOne()
		if err := interruptUnlessStopped(d.pid); err != nil {
			return err
		}
		gone, err := d.waitFrozenUnlessExiting(d.pid)
		var ee *ExitedError
		switch {
		case errors.As(err, &ee):
			d.seized = false
			return nil
		case err != nil:
			return err
		case gone:
			return nil // released (detached) on the way out
		}
	}
	regs, err := ptraceGetRegs(d.pid)
	if err != nil {
		return err
	}
	mask, err := ptraceGetSigMask(d.pid)
	if err != nil {
		return err
	}
	inj := injectMask(d.pid, d.pid)
	if err := ptraceSetSigMask(d.pid, inj); err != nil {
		return err
	}
	defer ptraceSetSigMask(d.pid, mask)
	defer ptraceSetRegs(d.pid, &regs)
	t := &task{pid: d.pid, orig: regs, sc: tw.sc, sysStops: trapIgnored(d.pid)}
	// Parked between its tries (a millisecond apart, up to 100).
	t.parkBetweenCalls(mask, inj)
	for i := 0; ; i++ {
		got, err := t.call("wait4", unix.SYS_WAIT4, tw.nspid, 0, unix.WNOHANG|unix.WALL, 0)
		if err != nil {
			return fmt.Errorf("%s(%d): reap copy-on-write twin %d: %w", d.comm, d.pid, tw.nspid, err)
		}
		if got == tw.nspid || i == 100 {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}

// pfExiting is the kernel's PF_EXITING task flag (include/linux/sched.h):
// the task is in do_exit.
const pfExiting = 0x4

// exiting reports whether process pid is exiting or dead (or gone).
func exiting(pid int) bool {
	st, err := readStat(pid)
	return err != nil || st.State == 'Z' || st.State == 'X' || st.Flags&pfExiting != 0
}

// exitPoll is how often waitFrozenUnlessExiting looks whether the process
// it waits for has begun to exit.
const exitPoll = 20 * time.Millisecond

// waitFrozenUnlessExiting is waitFrozen for a process that may begin to
// exit at any moment (it runs on, outside the freeze): gone is true, with
// no error, as soon as it is exiting, which it does without ever
// stopping.
func (d *dumper) waitFrozenUnlessExiting(tid int) (gone bool, err error) {
	ctx := context.Background()
	if d.tree != nil && d.tree.ctx != nil {
		ctx = d.tree.ctx
	}
	deadline := time.Now().Add(stopWaitLimit)
	for {
		slice := time.Now().Add(exitPoll)
		if slice.After(deadline) {
			slice = deadline
		}
		ws, err := waitStopUntil(ctx, tid, slice)
		var te *StopTimeoutError
		switch {
		case errors.As(err, &te):
			if exiting(tid) {
				return true, nil
			}
			if time.Now().After(deadline) {
				return false, fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
			}
			continue
		case err != nil:
			return false, fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		if ws.TrapCause() == unix.PTRACE_EVENT_STOP {
			return false, d.suspendSUD(tid) // procmisc.go
		}
		if _, ok := groupStopSignal(ws); ok {
			return false, d.suspendSUD(tid)
		}
		if err := ptraceCont(tid, ws.StopSignal()); err != nil {
			return false, err
		}
	}
}

// releaseOne detaches the threads of d seized since its release.
func (d *dumper) releaseOne() {
	if !d.seized {
		return
	}
	d.seized = false
	for _, tid := range d.tids {
		d.letGo(tid) // procmisc.go
	}
}

// vmaFlags is what /proc/PID/smaps tells of the mappings of a process
// that its fork copies otherwise.
type vmaFlags struct {
	starts map[uint64]bool // every mapping, by start address
	// noFork: the mappings a fork does not copy as they are: VmFlags "dc"
	// (MADV_DONTFORK) and "wf" (MADV_WIPEONFORK) ("dd" is VM_DONTDUMP).
	noFork map[uint64]bool
	// frozen is the size of the mappings whose saved pages are copied in
	// the freeze: shared ones and noFork ones.
	frozen uint64
	// private: the private memory a twin would hold (smaps Anonymous and
	// Swap of the private mappings).
	private uint64
	// advice, growsDown: what collectVMFlags records (parseVMFlags).
	advice    map[uint64][]string
	growsDown map[uint64]bool
	data      []byte // smaps
	// early: collectVMFlags took advice from this read, not from one in
	// the freeze.
	early bool
}

// readVMAFlags reads /proc/PID/smaps. It walks every page table of the
// process (25 ms for a GiB here): it is read before the freeze, and of the
// twin after it.
func readVMAFlags(pid int) (vmaFlags, error) {
	v := vmaFlags{starts: map[uint64]bool{}, noFork: map[uint64]bool{}}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return v, err
	}
	v.advice, v.growsDown = parseVMFlags(data)
	v.data = data
	var start, end uint64
	shared := false
	for _, line := range strings.Split(string(data), "\n") {
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			nofork := false
			for _, f := range strings.Fields(flags) {
				nofork = nofork || f == "dc" || f == "wf"
			}
			if nofork {
				v.noFork[start] = true
			}
			if nofork || shared {
				v.frozen += end - start
			}
			continue
		}
		if !shared {
			for _, k := range []string{"Anonymous:", "Swap:"} {
				if rest, ok := strings.CutPrefix(line, k); ok {
					var kb uint64
					fmt.Sscanf(rest, "%d", &kb)
					v.private += kb << 10
				}
			}
		}
		// A mapping's first line: "START-END PERMS ...".
		if i := strings.IndexByte(line, '-'); i > 0 && !strings.Contains(line[:i], ":") {
			var perms string
			if n, _ := fmt.Sscanf(line, "%x-%x %s", &start, &end, &perms); n == 3 {
				v.starts[start] = true
				shared = strings.Contains(perms, "s")
			}
		}
	}
	return v, nil
}

// checkTwin verifies, from the twin's smaps, that every region read from
// it was copied by the clone as it was: the flags that make a fork leave
// pages out were read before the freeze, and a region given one in
// between would be saved as zeros.
func (d *dumper) checkTwin() error {
	v, err := readVMAFlags(d.twin.pid)
	if err != nil {
		return fmt.Errorf("%s(%d): copy-on-write twin: smaps: %w", d.comm, d.pid, err)
	}
	for _, r := range d.meta.Regions {
		if d.twinBound(r) && r.Kind != regionVDSO && (!v.starts[r.Start] || v.noFork[r.Start]) {
			return raced("%w: %s(%d): memory at %#x changed how a fork copies it as the checkpoint began; checkpoint again", ErrUnsupported, d.comm, d.pid, r.Start)
		}
	}
	// The twin's flags are the process's of the freeze, but for the
	// locks (a fork does not inherit them) and the regions it lacks.
	return d.checkVMFlags(v.data, func(r region) bool { return !d.twinBound(r) }, "lo", "lf")
}

// twinBound reports whether r's saved pages are read from the twin.
func (d *dumper) twinBound(r region) bool {
	return r.Kind != regionShmem && r.Kind != regionAIO && !d.tree.vmas[d.pid].noFork[r.Start]
}

// readMemory reads memory of pid at addr into b: process_vm_readv where it
// can, /proc/PID/mem (which also reads unreadable pages) where it cannot.
func readMemory(pid int, b []byte, addr uint64) error {
	const chunk = 4 << 20
	var mem *os.File
	defer func() {
		if mem != nil {
			mem.Close()
		}
	}()
	for done := 0; done < len(b); {
		n := min(len(b)-done, chunk)
		local := []unix.Iovec{{Base: &b[done], Len: uint64(n)}}
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: n}}
		got, err := unix.ProcessVMReadv(pid, local, remote, 0)
		if err != nil || got <= 0 {
			if mem == nil {
				if mem, err = os.Open(fmt.Sprintf("/proc/%d/mem", pid)); err != nil {
					return fmt.Errorf("read pid %d va %#x c %d: %w", pid, addr+uint64(done), n, err)
				}
			}
			got, err = mem.ReadAt(b[done:done+n], int64(addr)+int64(done))
			if err != nil {
				return fmt.Errorf("read pid %d va %#x c %d: %w", pid, addr+uint64(done), n, err)
			}
		}
		done += got
	}
	return nil
}
