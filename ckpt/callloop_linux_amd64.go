package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// callLoop makes each system call of a table in the tracee, without a stop
// per call: an injected call costs a round trip through the tracer (a
// single step, its stop, and the parking of task.parkStop: 30 to 100
// microseconds here), and the freeze made hundreds of them for a process
// (62 rt_sigaction alone) and ten for each of its threads. r12: the table,
// 64 bytes an entry (the call's number, its six arguments, and its result
// written back in the last word), r13: the count. It ends on an int3.
//
//	loop: test r13, r13; jz done
//	      mov rax, [r12]; mov rdi, [r12+8]; mov rsi, [r12+16]
//	      mov rdx, [r12+24]; mov r10, [r12+32]; mov r8, [r12+40]
//	      mov r9, [r12+48]; syscall; mov [r12+56], rax
//	      add r12, 64; dec r13; jmp loop
//	done: int3
//
// syscall clobbers rcx and r11 only: r12 and r13 survive each call.
var callLoop = []byte{
	0x4d, 0x85, 0xed, 0x74, 0x32, 0x49, 0x8b, 0x04, 0x24, 0x49, 0x8b, 0x7c,
	0x24, 0x08, 0x49, 0x8b, 0x74, 0x24, 0x10, 0x49, 0x8b, 0x54, 0x24, 0x18,
	0x4d, 0x8b, 0x54, 0x24, 0x20, 0x4d, 0x8b, 0x44, 0x24, 0x28, 0x4d, 0x8b,
	0x4c, 0x24, 0x30, 0x0f, 0x05, 0x49, 0x89, 0x44, 0x24, 0x38, 0x49, 0x83,
	0xc4, 0x40, 0x49, 0xff, 0xcd, 0xeb, 0xc9, 0xcc,
}

const (
	loopEntry = 64 // bytes of one entry of callLoop's table
	// policyLoopAt: where policyLoop follows callLoop in the code page
	// (loopCode).
	policyLoopAt = 64
)

// queued is one injected call of a list run by runQueued, and what to make
// of its result: then gets what task.call would have returned.
type queued struct {
	name string
	nr   uintptr
	args []uint64
	then func(ret uint64, err error) error
}

// runQueued runs the calls of q in t and gives each result to its then,
// in order: in one round trip by callLoop when code (its address in the
// process, 0: none) and table (len(q)*loopEntry writable bytes there) are
// given, else one call at a time. Only calls that change nothing the
// others ask are queued together: callLoop makes them all before the
// first then sees its result.
func runQueued(t *task, mem *os.File, code, table uint64, q []queued) error {
	if code == 0 || t.sysStops || len(q) < 2 {
		for _, c := range q {
			ret, err := t.call(c.name, c.nr, c.args...)
			if err := c.then(ret, err); err != nil {
				return err
			}
		}
		return nil
	}
	buf := make([]byte, len(q)*loopEntry)
	le := binary.LittleEndian
	for i, c := range q {
		e := buf[i*loopEntry:]
		le.PutUint64(e, uint64(c.nr))
		for j, a := range c.args {
			le.PutUint64(e[8+8*j:], a)
		}
		le.PutUint64(e[56:], ^uint64(0))
	}
	if _, err := mem.WriteAt(buf, int64(table)); err != nil {
		return fmt.Errorf("write the call table: %w", err)
	}
	name := q[0].name
	if len(q) > 1 {
		name = fmt.Sprintf("%d calls from %s", len(q), name)
	}
	if err := t.run(name, code, uint64(len(callLoop)), func(r *unix.PtraceRegs) {
		r.R12, r.R13 = table, uint64(len(q))
	}); err != nil {
		return err
	}
	if _, err := mem.ReadAt(buf, int64(table)); err != nil {
		return fmt.Errorf("read the call table: %w", err)
	}
	for i, c := range q {
		ret := le.Uint64(buf[i*loopEntry+56:])
		var err error
		if v := int64(ret); v < 0 && v > -4096 {
			ret, err = 0, &syscallError{name: c.name, errno: unix.Errno(-v)}
		}
		if err := c.then(ret, err); err != nil {
			return err
		}
	}
	return nil
}

// loopCode maps a page of code in the process of t, callLoop at its start
// and policyLoop at policyLoopAt, written through /proc/PID/mem (which
// writes a read-only page for its tracer: the page is never writable in
// the process). It returns 0 and no error when the process may not have
// it (W^X rules, a filter) or cannot run it (task.sysStops): its calls are
// then made one at a time.
func loopCode(t *task, mem *os.File) (code uint64, unmap func()) {
	if t.sysStops {
		return 0, func() {}
	}
	code, err := t.call("mmap", unix.SYS_MMAP, 0, pageSize, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return 0, func() {}
	}
	unmap = func() { t.call("munmap", unix.SYS_MUNMAP, code, pageSize) }
	page := make([]byte, policyLoopAt+len(policyLoop))
	copy(page, callLoop)
	copy(page[policyLoopAt:], policyLoop)
	if _, err := mem.WriteAt(page, int64(code)); err != nil {
		unmap()
		return 0, func() {}
	}
	return code, unmap
}

// threadQueue is one thread's calls for runThreadQueues, callLoop's table
// at table.
type threadQueue struct {
	t     *task
	table uint64
	q     []queued
}

// runThreadQueues runs the queue of every thread by callLoop at code, the
// threads all at once: each thread's round trips (resumed, stopped at the
// int3, parked, stopped again) cost the wake-up of the CPU it runs on,
// 100 to 200 microseconds here for a thread on the other one, and thread
// after thread they added up to most of the freeze of a process of 64.
// Every thread is parked as soon as its code is seen done, then the
// answers are given to the queues' thens, thread by thread, in order.
func runThreadQueues(mem *os.File, code uint64, tqs []threadQueue) error {
	le := binary.LittleEndian
	bufs := make([][]byte, len(tqs))
	for i, tq := range tqs {
		if tq.t.sysStops || code == 0 {
			return fmt.Errorf("tid %d: no call loop to run", tq.t.pid)
		}
		buf := make([]byte, len(tq.q)*loopEntry)
		for j, c := range tq.q {
			e := buf[j*loopEntry:]
			le.PutUint64(e, uint64(c.nr))
			for k, a := range c.args {
				le.PutUint64(e[8+8*k:], a)
			}
			le.PutUint64(e[56:], ^uint64(0))
		}
		if _, err := mem.WriteAt(buf, int64(tq.table)); err != nil {
			return fmt.Errorf("tid %d: write the call table: %w", tq.t.pid, err)
		}
		bufs[i] = buf
	}
	t0 := stopProf.start()
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	var started, parking []*task
	for _, tq := range tqs {
		table, n := tq.table, uint64(len(tq.q))
		if err := tq.t.runStart(code, func(r *unix.PtraceRegs) { r.R12, r.R13 = table, n }); err != nil {
			keep(err)
			break
		}
		started = append(started, tq.t)
	}
	// Every thread set going is waited for, and parked, even after an
	// error: none is left in the stop of its int3.
	for _, t := range started {
		if err := t.runEnd("the calls of a thread", code, uint64(len(callLoop))); err != nil {
			keep(err)
			continue
		}
		if !t.park {
			continue
		}
		if err := t.parkStart(); err != nil {
			keep(err)
			continue
		}
		parking = append(parking, t)
	}
	for _, t := range parking {
		if err := t.parkEnd(); err != nil {
			keep(fmt.Errorf("inject the calls of a thread: %w", err))
		}
	}
	stopProf.since(fmt.Sprintf("runs:%d threads", len(tqs)), t0)
	if firstErr != nil {
		return firstErr
	}
	for i, tq := range tqs {
		if _, err := mem.ReadAt(bufs[i], int64(tq.table)); err != nil {
			return fmt.Errorf("tid %d: read the call table: %w", tq.t.pid, err)
		}
		for j, c := range tq.q {
			ret := le.Uint64(bufs[i][j*loopEntry+56:])
			var err error
			if v := int64(ret); v < 0 && v > -4096 {
				ret, err = 0, &syscallError{name: c.name, errno: unix.Errno(-v)}
			}
			if err := c.then(ret, err); err != nil {
				return err
			}
		}
	}
	return nil
}
