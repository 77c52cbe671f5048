package ckpt

// NUMA memory policies: a thread's own (set_mempolicy) and a region's
// (mbind). The kernel keeps them in the task and in the VMA, where only
// get_mempolicy, asked by the process itself, reads them: they are asked
// by injection at checkpoint and set again at restore, the regions'
// once they are mapped and filled, each thread's by itself.

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

const (
	mpolFAddr = 1 << 1 // MPOL_F_ADDR: the policy of the VMA at addr
	// polNodes: the node bits asked and given (MAX_NUMNODES is at most
	// 1024); mbind and set_mempolicy read maxnode-1 bits.
	polNodes = 1024
)

// memPolicy is a mode with its flags (MPOL_F_STATIC_NODES...) as
// get_mempolicy gives them, and its node mask.
type memPolicy struct {
	Mode  int      `json:"mode"`
	Nodes []uint64 `json:"nodes,omitempty"`
}

// askPolicy asks the thread t for its own policy (addr 0) or for the one
// of the region at addr; nil: the default (MPOL_DEFAULT), or a kernel
// without NUMA.
func (d *dumper) askPolicy(t *task, scratch, addr uint64) (*memPolicy, error) {
	var p *memPolicy
	var perr error
	err := runQueued(t, d.mem, 0, 0, []queued{d.policyQueued(scratch, addr, &p, func(err error) error { perr = err; return nil })})
	if err == nil {
		err = perr
	}
	return p, err
}

// policyQueued is askPolicy's call, for a queue: the answer at at, the
// policy into *dst, the call's error (or nil) given to wrap.
func (d *dumper) policyQueued(at, addr uint64, dst **memPolicy, wrap func(error) error) queued {
	flags := uint64(0)
	if addr != 0 {
		flags = mpolFAddr
	}
	return queued{name: "get_mempolicy", nr: unix.SYS_GET_MEMPOLICY, args: []uint64{at, at + 8, polNodes, addr, flags}, then: func(_ uint64, err error) error {
		if err != nil {
			if errnoOf(err) == unix.ENOSYS {
				*dst = nil
				return wrap(nil)
			}
			return wrap(err)
		}
		b := make([]byte, policyAnswer)
		if _, err := d.mem.ReadAt(b, int64(at)); err != nil {
			return wrap(fmt.Errorf("read scratch: %w", err))
		}
		*dst = parsePolicy(b)
		return wrap(nil)
	}}
}

// injectRegionPolicies records every region's policy.
func (d *dumper) injectRegionPolicies(t *task, scratch uint64) error {
	var err error
	var asked []*region
	for i := range d.meta.Regions {
		if r := &d.meta.Regions[i]; r.Kind != regionVDSO {
			asked = append(asked, r)
		}
	}
	if done, err := d.askPolicies(t, asked); done || err != nil {
		return err
	}
	for _, r := range asked {
		if r.Policy, err = d.askPolicy(t, scratch, r.Start); err != nil {
			return fmt.Errorf("%s(%d): get_mempolicy of region %#x-%#x: %w", d.comm, d.pid, r.Start, r.End, err)
		}
	}
	return nil
}

// policyLoop asks get_mempolicy(MPOL_F_ADDR) of each address of a table,
// in the tracee, without a stop per call (an injected call costs a round
// trip through the tracer: 50 to 100 microseconds here, so a JVM's
// thousands of regions took hundreds of milliseconds of the freeze). r12:
// the table of addresses, r13: their count, r14: the answers, 136 bytes
// each (mode, the call's result, 1024 node bits). It ends on an int3.
//
//	loop: test r13, r13; jz done
//	      mov rdi, r14; lea rsi, [r14+8]; mov edx, 1024; mov r10, [r12]
//	      mov r8d, MPOL_F_ADDR; mov eax, SYS_get_mempolicy; syscall
//	      mov [r14+4], eax; add r12, 8; add r14, 136; dec r13; jmp loop
//	done: int3
var policyLoop = []byte{
	0x4d, 0x85, 0xed, 0x74, 0x31, 0x4c, 0x89, 0xf7, 0x49, 0x8d, 0x76, 0x08,
	0xba, 0x00, 0x04, 0x00, 0x00, 0x4d, 0x8b, 0x14, 0x24, 0x41, 0xb8, 0x02,
	0x00, 0x00, 0x00, 0xb8, 0xef, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x41, 0x89,
	0x46, 0x04, 0x49, 0x83, 0xc4, 0x08, 0x49, 0x81, 0xc6, 0x88, 0x00, 0x00,
	0x00, 0x49, 0xff, 0xcd, 0xeb, 0xca, 0xcc,
}

const policyAnswer = 8 + polNodes/8 // bytes of one answer of policyLoop

// askPolicies asks the policy of every region at once, by policyLoop. It
// reports false (and no error) when it could not be run at all: the
// regions are then asked one call each. A program whose SIGTRAP is
// ignored or pending is not given the int3 (see task.sysStops).
func (d *dumper) askPolicies(t *task, regions []*region) (bool, error) {
	if t.sysStops || len(regions) < 8 {
		return false, nil
	}
	n := uint64(len(regions))
	dataLen := (n*8 + n*policyAnswer + pageSize - 1) &^ (pageSize - 1)
	// The code page injectCalls mapped (callloop_linux_amd64.go), else
	// one of its own.
	code := d.loop + policyLoopAt
	if d.loop == 0 {
		c, err := t.call("mmap", unix.SYS_MMAP, 0, pageSize, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
		if err != nil {
			return false, nil // W^X rules, a filter: one call each
		}
		defer t.call("munmap", unix.SYS_MUNMAP, c, pageSize)
		// Written through /proc/PID/mem, which writes a read-only page for
		// its tracer: the code page is never writable in the process.
		if _, err := d.mem.WriteAt(policyLoop, int64(c)); err != nil {
			return false, nil
		}
		code = c
	}
	data, err := t.call("mmap", unix.SYS_MMAP, 0, dataLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return false, nil
	}
	defer t.call("munmap", unix.SYS_MUNMAP, data, dataLen)
	table := make([]byte, n*8)
	for i, r := range regions {
		binary.LittleEndian.PutUint64(table[8*i:], r.Start)
	}
	if _, err := d.mem.WriteAt(table, int64(data)); err != nil {
		return false, fmt.Errorf("%s(%d): write the region table: %w", d.comm, d.pid, err)
	}
	answers := data + n*8
	if err := t.run("get_mempolicy of every region", code, uint64(len(policyLoop)), func(r *unix.PtraceRegs) {
		r.R12, r.R13, r.R14 = data, n, answers
	}); err != nil {
		return false, fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	out := make([]byte, n*policyAnswer)
	if _, err := d.mem.ReadAt(out, int64(answers)); err != nil {
		return false, fmt.Errorf("%s(%d): read the policies: %w", d.comm, d.pid, err)
	}
	for i, r := range regions {
		a := out[uint64(i)*policyAnswer:]
		if ret := int32(binary.LittleEndian.Uint32(a[4:])); ret != 0 {
			if unix.Errno(-ret) == unix.ENOSYS {
				r.Policy = nil
				continue
			}
			return false, fmt.Errorf("%s(%d): get_mempolicy of region %#x-%#x: %w", d.comm, d.pid, r.Start, r.End, unix.Errno(-ret))
		}
		r.Policy = parsePolicy(a)
	}
	return true, nil
}

// parsePolicy reads get_mempolicy's answer: the mode (int), then (at 8)
// the node mask; nil for MPOL_DEFAULT.
func parsePolicy(b []byte) *memPolicy {
	p := &memPolicy{Mode: int(int32(binary.LittleEndian.Uint32(b)))}
	if p.Mode == 0 {
		return nil
	}
	for i := 0; i < polNodes/64; i++ {
		p.Nodes = append(p.Nodes, binary.LittleEndian.Uint64(b[8+8*i:]))
	}
	for len(p.Nodes) > 0 && p.Nodes[len(p.Nodes)-1] == 0 {
		p.Nodes = p.Nodes[:len(p.Nodes)-1]
	}
	return p
}

// check refuses a policy no kernel call could have given.
func (p *memPolicy) check() error {
	if p != nil && (p.Mode < 0 || p.Mode&0xff > 16 || len(p.Nodes) > polNodes/64) {
		return fmt.Errorf("%w: memory policy mode %#x, %d node words", ErrCorrupt, p.Mode, len(p.Nodes))
	}
	return nil
}

// putNodes writes p's node mask into the scratch area.
func (b *builder) putNodes(p *memPolicy) (uint64, error) {
	buf := make([]byte, polNodes/8)
	for i, w := range p.Nodes {
		binary.LittleEndian.PutUint64(buf[8*i:], w)
	}
	return b.put(scratchData, buf)
}

// restoreRegionPolicy binds region r as it was (mbind: its pages, already
// in place, stay where they are; later ones follow the policy).
func (b *builder) restoreRegionPolicy(r region) error {
	p := r.Policy
	if p == nil {
		return nil
	}
	if err := p.check(); err != nil {
		return err
	}
	nodes, err := b.putNodes(p)
	if err != nil {
		return err
	}
	if _, err := b.call("mbind", unix.SYS_MBIND, r.Start, r.End-r.Start, uint64(p.Mode), nodes, polNodes+1, 0); err != nil {
		return b.r.forceable(fmt.Errorf("region %#x-%#x: memory policy %#x cannot be restored (mbind): %w", r.Start, r.End, p.Mode, err))
	}
	return nil
}

// restoreThreadPolicy gives thread t its own policy (set_mempolicy acts
// on the calling thread only).
func (b *builder) restoreThreadPolicy(t *task, th threadAttrs) error {
	p := th.MemPolicy
	if p == nil {
		return nil
	}
	if err := p.check(); err != nil {
		return err
	}
	return b.on(t, func() error {
		nodes, err := b.putNodes(p)
		if err != nil {
			return err
		}
		if _, err := b.call("set_mempolicy", unix.SYS_SET_MEMPOLICY, uint64(p.Mode), nodes, polNodes+1); err != nil {
			return b.r.forceable(fmt.Errorf("tid %d: memory policy %#x cannot be restored (set_mempolicy): %w", th.TID, p.Mode, err))
		}
		return nil
	})
}
