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
	flags := uint64(0)
	if addr != 0 {
		flags = mpolFAddr
	}
	if _, err := t.call("get_mempolicy", unix.SYS_GET_MEMPOLICY, scratch, scratch+8, polNodes, addr, flags); err != nil {
		if errnoOf(err) == unix.ENOSYS {
			return nil, nil
		}
		return nil, err
	}
	b := make([]byte, 8+polNodes/8)
	if _, err := d.mem.ReadAt(b, int64(scratch)); err != nil {
		return nil, fmt.Errorf("read scratch: %w", err)
	}
	p := &memPolicy{Mode: int(int32(binary.LittleEndian.Uint32(b)))}
	if p.Mode == 0 {
		return nil, nil
	}
	for i := 0; i < polNodes/64; i++ {
		p.Nodes = append(p.Nodes, binary.LittleEndian.Uint64(b[8+8*i:]))
	}
	for len(p.Nodes) > 0 && p.Nodes[len(p.Nodes)-1] == 0 {
		p.Nodes = p.Nodes[:len(p.Nodes)-1]
	}
	return p, nil
}

// injectPolicies records thread tid's policy and, for the main thread,
// every region's.
func (d *dumper) injectPolicies(t *task, tid int, scratch uint64, th *threadAttrs) error {
	p, err := d.askPolicy(t, scratch, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): get_mempolicy (tid %d): %w", d.comm, d.pid, tid, err)
	}
	th.MemPolicy = p
	if tid != d.pid {
		return nil
	}
	for i := range d.meta.Regions {
		r := &d.meta.Regions[i]
		if r.Kind == regionVDSO {
			continue
		}
		if r.Policy, err = d.askPolicy(t, scratch, r.Start); err != nil {
			return fmt.Errorf("%s(%d): get_mempolicy of region %#x-%#x: %w", d.comm, d.pid, r.Start, r.End, err)
		}
	}
	return nil
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
