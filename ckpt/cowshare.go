package ckpt

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// Memory shared by fork. After fork(2) a parent and its child map the very
// same physical pages of their private anonymous memory, copied only when
// one of them writes (copy on write): a job that forks 16 workers over a
// 1 GiB table uses 1 GiB, not 17. A restore that rebuilt every process on
// its own would give each a copy of its own.
//
// At checkpoint, in the freeze, the pagemap of each child is compared with
// its parent's (findCowShared): a page present in both at the same address
// of a private anonymous region with the same bounds, with the same page
// frame number, is the same page. Those runs are recorded in the child's
// region (region.Inherit) and left out of its image: the parent's image
// holds them (a page the parent has from its own parent is in that one's,
// and so on). A page frame number is only shown to root (CAP_SYS_ADMIN):
// otherwise every process saves its pages, as before. A child's image
// thus lacks what it shares (gdb shows zeros there).
//
// At restart such a child is an heir (planCow): it is not cloned from its
// parent's stub with the others, but from its parent itself, once the
// parent's memory is built and verified and before anything else of it is
// (descriptors, credentials, seccomp): the clone shares the parent's pages
// copy on write, as the fork did. The heir keeps the regions it inherits
// (unmapping everything else), drops from them the pages it did not share
// (MADV_DONTNEED: zero again) and reads its own pages into place as any
// process does (fastrestore.go). Where that cannot be done, the inherited
// pages are read from the parent's image instead, each segment verified
// (copyInherited): the process has a copy of its own, as before this
// existed. That is the case of a subtree restarted without the parent
// (Choices, or the child's image restarted alone), of a child whose parent
// region differs (an image not written by us), of a member of a process
// group of pseudo terminal sessions or the target of a pidfd (those are
// set up before the heirs exist), and of the children of a process that
// shares its parent's descriptor table (that table is filled already: the
// restorer's pidfd cannot be put back in it for the clone). An heir that
// shares its parent's tables too is cloned with CLONE_FILES or CLONE_FS
// (sharedtables.go). In a lazy restore the regions an heir
// inherits are loaded before it is cloned, not lazily.

// span is a run of pages: Len bytes at Addr.
type span struct {
	Addr uint64 `json:"addr"`
	Len  uint64 `json:"len"`
}

// pagemap: the page frame number (bits 0-54) of a present page.
const pmPFN = 1<<55 - 1

// findCowShared records, for every live child whose parent is in the
// tree, the pages of its private anonymous regions that are its parent's
// very pages. It runs in the freeze, after every member is described.
func (t *dumpTree) findCowShared() error {
	for _, d := range t.procs {
		p := d.parent
		if p == nil || d.zombie || p.zombie {
			continue
		}
		found := false
		var pm, ppm *os.File
		for i := range d.meta.Regions {
			r := &d.meta.Regions[i]
			r.Inherit = nil
			pr := p.sameAnon(*r)
			if pr == nil || !r.cowable() {
				continue
			}
			if pm == nil {
				var err error
				if pm, err = os.Open(fmt.Sprintf("/proc/%d/pagemap", d.pid)); err != nil {
					return fmt.Errorf("%s(%d): pagemap: %w", d.comm, d.pid, err)
				}
				defer pm.Close()
				if ppm, err = os.Open(fmt.Sprintf("/proc/%d/pagemap", p.pid)); err != nil {
					return fmt.Errorf("%s(%d): pagemap: %w", p.comm, p.pid, err)
				}
				defer ppm.Close()
			}
			spans, err := samePages(pm, ppm, r.Start, r.End)
			if err != nil {
				return fmt.Errorf("%s(%d): read pagemap: %w", d.comm, d.pid, err)
			}
			r.Inherit = spans
			found = found || len(spans) > 0
			if len(spans) > 0 {
				d.log.Info(fmt.Sprintf("%s(%d) region %#x-%#x: %d KiB shared with %s(%d)", d.comm, d.pid, r.Start, r.End, spanLen(spans)/1024, p.comm, p.pid))
			}
		}
		if found && !d.deferPlan {
			// Laid out already (planMemory): again, without them.
			if err := d.layout(); err != nil {
				return err
			}
		}
	}
	return nil
}

// nameCowParents names, in each image that inherits pages, its parent's
// image (once the images have names).
func (t *dumpTree) nameCowParents() {
	for _, d := range t.procs {
		for _, r := range d.meta.Regions {
			if len(r.Inherit) > 0 {
				d.meta.CowParent = filepath.Base(d.parent.path)
				break
			}
		}
	}
}

// sameAnon returns d's private anonymous region with r's bounds, or nil.
func (d *dumper) sameAnon(r region) *region {
	for i := range d.meta.Regions {
		pr := &d.meta.Regions[i]
		if pr.Start == r.Start && pr.End == r.End && pr.Kind == regionAnon && pr.Stack == r.Stack && pr.cowable() {
			return pr
		}
	}
	return nil
}

// cowable: a region whose pages a child can inherit at restart.
func (r region) cowable() bool {
	return r.Kind == regionAnon && !r.droppable()
}

// samePages returns the runs of [start, end) where the pagemaps pm and ppm
// show the same present page frame.
func samePages(pm, ppm *os.File, start, end uint64) ([]span, error) {
	const chunk = 1 << 15 // pages a read
	a := make([]byte, 8*chunk)
	b := make([]byte, 8*chunk)
	var out []span
	le := binary.LittleEndian
	for addr := start; addr < end; {
		n := min((end-addr)/pageSize, chunk)
		off := int64(addr / pageSize * 8)
		if _, err := pm.ReadAt(a[:8*n], off); err != nil {
			return nil, err
		}
		if _, err := ppm.ReadAt(b[:8*n], off); err != nil {
			return nil, err
		}
		for i := uint64(0); i < n; i++ {
			x, y := le.Uint64(a[8*i:]), le.Uint64(b[8*i:])
			if x&pmPresent == 0 || y&pmPresent == 0 || x&pmPFN == 0 || x&pmPFN != y&pmPFN {
				continue
			}
			pa := addr + i*pageSize
			if k := len(out); k > 0 && out[k-1].Addr+out[k-1].Len == pa {
				out[k-1].Len += pageSize
			} else {
				out = append(out, span{Addr: pa, Len: pageSize})
			}
		}
		addr += n * pageSize
	}
	return out, nil
}

func spanLen(ss []span) uint64 {
	var n uint64
	for _, s := range ss {
		n += s.Len
	}
	return n
}

// withoutSpans returns runs (sorted [start, end) pairs) less the sorted,
// disjoint spans ss.
func withoutSpans(runs [][2]uint64, ss []span) [][2]uint64 {
	if len(ss) == 0 {
		return runs
	}
	var out [][2]uint64
	j := 0
	for _, r := range runs {
		lo := r[0]
		for j < len(ss) && ss[j].Addr+ss[j].Len <= lo {
			j++
		}
		for k := j; k < len(ss) && ss[k].Addr < r[1]; k++ {
			if ss[k].Addr > lo {
				out = append(out, [2]uint64{lo, ss[k].Addr})
			}
			lo = max(lo, ss[k].Addr+ss[k].Len)
		}
		if lo < r[1] {
			out = append(out, [2]uint64{lo, r[1]})
		}
	}
	return out
}

// checkInherit checks the inherited runs of an image's regions: only in
// private anonymous regions, page-aligned, in order, inside their region,
// apart from its saved extents, with the parent's image named.
func checkInherit(m *imageMeta) error {
	if m.CowParent != "" {
		if err := checkChildName(m.CowParent); err != nil {
			return err
		}
	}
	n := 0
	for _, rg := range m.Regions {
		if len(rg.Inherit) == 0 {
			continue
		}
		if rg.Kind != regionAnon || m.CowParent == "" {
			return fmt.Errorf("%w: region %#x-%#x: pages inherited in a %s region or from no parent", ErrCorrupt, rg.Start, rg.End, rg.Kind)
		}
		pos, j := rg.Start, 0
		for _, s := range rg.Inherit {
			if n++; n > maxLoads {
				return fmt.Errorf("%w: more than %d inherited runs", ErrCorrupt, maxLoads)
			}
			if s.Len == 0 || s.Addr < pos || s.Addr%pageSize != 0 || s.Len%pageSize != 0 || s.Len > rg.End-s.Addr {
				return fmt.Errorf("%w: region %#x-%#x: bad inherited run %#x+%#x", ErrCorrupt, rg.Start, rg.End, s.Addr, s.Len)
			}
			pos = s.Addr + s.Len
			for j < len(rg.Extents) && rg.Extents[j].Addr+rg.Extents[j].Len <= s.Addr {
				j++
			}
			if j < len(rg.Extents) && rg.Extents[j].Addr < pos {
				return fmt.Errorf("%w: region %#x-%#x: inherited run %#x+%#x overlaps a saved segment", ErrCorrupt, rg.Start, rg.End, s.Addr, s.Len)
			}
		}
	}
	return nil
}

// cowState is what the restore does with a process's inherited pages.
type cowState struct {
	heirs []*rproc // children cloned from it once its memory is built
	// heir: cloned from its parent once the parent's memory is built;
	// keep lists the regions (by start) it keeps from it.
	heir bool
	keep map[uint64]bool
	// late: it or an ancestor is an heir: created during the build.
	late bool
	// kept: its regions (by start) an heir keeps, restored eagerly.
	kept map[uint64]bool
}

// cowRestore is the restorer's part.
type cowRestore struct {
	ctx    context.Context
	images map[string]*Image // ancestors' images read for copyInherited
}

// planCow decides which processes are heirs (see the top of this file):
// an heir and its parent are both authentic or both not (else its pages
// come from the parent's image, under cowImage's rules).
func (r *restorer) planCow(ctx context.Context) {
	r.cow.ctx = ctx
	// Processes set up before the heirs exist: pidfd targets, senders
	// whose credentials queued unix messages carry (sendAgain names their
	// new pids), and session leaders of a pseudo terminal of the tree
	// (takePTYControl).
	early := map[int]bool{}
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			if f.Kind == fdAnon && f.Anon != nil && f.Anon.Type == "pidfd" {
				early[f.Anon.PidfdPID] = true
			}
			if f.Kind == fdSocket && f.Sock != nil {
				for _, m := range f.Sock.Queue {
					if m.Creds != nil && m.Creds.PID != 0 {
						early[int(m.Creds.PID)] = true
					}
				}
			}
		}
	}
	for _, po := range r.ptys {
		early[po.pair.Session] = true
	}
	var blocked func(p *rproc) bool
	blocked = func(p *rproc) bool {
		if early[p.meta.PID] {
			return true
		}
		for _, c := range p.children {
			if blocked(c) {
				return true
			}
		}
		return false
	}
	for _, c := range r.procs {
		p := c.parent
		if p == nil || c.meta.Zombie != nil || p.meta.Zombie != nil || c.meta.CowParent == "" || c.meta.Ghost != nil ||
			filepath.Base(p.img.Path) != c.meta.CowParent || p.meta.PID != c.meta.PPID ||
			c.authentic != p.authentic || p.tables.files || blocked(c) || unshares(p.meta) {
			// A child of a process that unshared CLONE_NEWPID is cloned
			// before or after the unshare (pidns.go), not with the heirs.
			continue
		}
		keep := map[uint64]bool{}
		ok := true
		for _, rg := range c.meta.Regions {
			if len(rg.Inherit) == 0 {
				continue
			}
			if !parentHas(p.meta, rg) {
				ok = false
				break
			}
			keep[rg.Start] = true
		}
		if !ok || len(keep) == 0 {
			continue
		}
		c.cow.heir, c.cow.keep = true, keep
		p.cow.heirs = append(p.cow.heirs, c)
		if p.cow.kept == nil {
			p.cow.kept = map[uint64]bool{}
		}
		for a := range keep {
			p.cow.kept[a] = true
		}
	}
	for _, p := range r.procs { // parents first
		p.cow.late = p.cow.heir || p.parent != nil && p.parent.cow.late
	}
}

// parentHas: m has a private anonymous region like rg, which an heir can
// keep.
func parentHas(m *imageMeta, rg region) bool {
	for _, pr := range m.Regions {
		if pr.Start == rg.Start && pr.End == rg.End && pr.Kind == regionAnon && pr.Stack == rg.Stack && pr.cowable() && rg.cowable() {
			return true
		}
	}
	return false
}

// createSubtree sets up p and creates its children, and theirs, but the
// heirs (created by cloneHeirs).
func (r *restorer) createSubtree(ctx context.Context, p *rproc) error {
	if err := r.createChildren(ctx, p); err != nil {
		return err
	}
	for _, c := range p.children {
		if !c.cow.heir {
			if err := r.createSubtree(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// cloneHeirs clones the heirs of the process, whose memory is now built
// and verified, and their subtrees.
func (b *builder) cloneHeirs() error {
	r, p := b.r, b.p
	if len(p.cow.heirs) == 0 {
		return nil
	}
	// The restorer's pidfd at its number, as a stub's children find it.
	if _, err := b.call("dup3", unix.SYS_DUP3, b.pidfd, r.pidfd, unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("dup2 %d %d failed: %w", b.pidfd, r.pidfd, err)
	}
	defer b.call("close", unix.SYS_CLOSE, r.pidfd)
	for _, c := range p.cow.heirs {
		pid, err := r.clone(r.cow.ctx, b, c, c.tableFlags()|c.nsCloneFlags())
		if err != nil {
			return err
		}
		c.pid = pid
		if c.b, err = newBuilder(r, c, pid, b.scratch); err != nil {
			return r.fail(c, err)
		}
		if os.Geteuid() == 0 {
			// The parent's file identity (fileIdentity) back to root's:
			// the heir sets its own.
			c.b.call("setfsgid", unix.SYS_SETFSGID, 0)
			c.b.call("setfsuid", unix.SYS_SETFSUID, 0)
		}
		r.info("%s(%d): cloned from %s(%d), sharing its memory", c.comm(), c.meta.PID, p.comm(), p.meta.PID)
		if err := r.createSubtree(r.cow.ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// unmapKeeping unmaps everything of an heir but the scratch area and the
// regions it keeps from its parent.
func (b *builder) unmapKeeping() error {
	keep := [][2]uint64{{b.scratch, b.scratch + scratchSize}}
	for _, rg := range b.p.meta.Regions {
		if b.p.cow.keep[rg.Start] {
			keep = append(keep, [2]uint64{rg.Start, rg.End})
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i][0] < keep[j][0] })
	pos := uint64(0)
	for _, k := range append(keep, [2]uint64{taskSize, taskSize}) {
		if k[0] > pos {
			if _, err := b.call("munmap", unix.SYS_MUNMAP, pos, k[0]-pos); err != nil {
				return fmt.Errorf("munmap %#x-%#x: %w", pos, k[0], err)
			}
		}
		pos = max(pos, k[1])
	}
	return nil
}

// refillKept makes a region an heir kept from its parent its own: the
// pages it did not share dropped (zero again), its own saved pages read
// into place, its protection set.
func (b *builder) refillKept(fill *memFill, rg region) error {
	length := rg.End - rg.Start
	if len(rg.Extents) > 0 {
		if _, err := b.call("mprotect", unix.SYS_MPROTECT, rg.Start, length, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return fmt.Errorf("mprotect %#x: %w", rg.Start, err)
		}
	}
	pos := rg.Start
	for _, s := range append(rg.Inherit, span{Addr: rg.End}) {
		if s.Addr > pos {
			if _, err := b.call("madvise", unix.SYS_MADVISE, pos, s.Addr-pos, unix.MADV_DONTNEED); err != nil {
				return fmt.Errorf("madvise %#x-%#x MADV_DONTNEED: %w", pos, s.Addr, err)
			}
		}
		pos = s.Addr + s.Len
	}
	if err := fill.fillRegion(rg); err != nil {
		return err
	}
	if _, err := b.call("mprotect", unix.SYS_MPROTECT, rg.Start, length, uint64(rg.Prot)); err != nil {
		return fmt.Errorf("mprotect %#x: %w", rg.Start, err)
	}
	return nil
}

// copyInherited writes the inherited pages of the regions the process
// does not keep from a parent into its memory, from its ancestors' images.
func (b *builder) copyInherited() error {
	for _, rg := range b.p.meta.Regions {
		if len(rg.Inherit) == 0 || b.p.cow.keep[rg.Start] {
			continue
		}
		for _, s := range rg.Inherit {
			if err := b.r.copyFromParent(b, b.p.img, s.Addr, s.Addr+s.Len, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyFromParent writes [lo, hi) of the process, inherited by the process
// of image img, from img's parent's image (and further up for what that
// one inherited). Every segment read is verified as a whole before any of
// it is written.
func (r *restorer) copyFromParent(b *builder, img *Image, lo, hi uint64, depth int) error {
	if depth >= maxTreeMembers {
		return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: inherited pages: the chain of parents has a cycle", ErrCorrupt)}
	}
	parent, err := r.cowImage(img)
	if err != nil {
		return err
	}
	var pr *region
	for i := range parent.meta.Regions {
		x := &parent.meta.Regions[i]
		if x.Kind == regionAnon && x.Start <= lo && hi <= x.End {
			pr = x
			break
		}
	}
	if pr == nil {
		return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: inherited pages %#x-%#x not in the parent's image %s", ErrCorrupt, lo, hi, parent.Path)}
	}
	for _, s := range pr.Inherit {
		if a, z := max(lo, s.Addr), min(hi, s.Addr+s.Len); a < z {
			if err := r.copyFromParent(b, parent, a, z, depth+1); err != nil {
				return err
			}
		}
	}
	var f *os.File
	for _, e := range pr.Extents {
		a, z := max(lo, e.Addr), min(hi, e.Addr+e.Len)
		if a >= z {
			continue
		}
		if f == nil {
			if f, err = openImage(parent.Path); err != nil {
				return err
			}
			defer f.Close()
		}
		buf := make([]byte, e.Len)
		if err := parent.readSegment(f, e, 0, buf); err != nil {
			return err
		}
		c := parent.checkSegment(e)
		c.h.write(buf)
		if err := c.verify(); err != nil {
			return err
		}
		if err := writeNonZeroFile(memWriter{b: b}, buf[a-e.Addr:z-e.Addr], int64(a)); err != nil {
			return err
		}
	}
	return nil
}

// cowImage reads (once) the image of img's parent, which must be of the
// same checkpoint, and authentic if img is.
func (r *restorer) cowImage(img *Image) (*Image, error) {
	if img.meta.CowParent == "" {
		return nil, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: inherited pages and no parent image", ErrCorrupt)}
	}
	path := findMember(filepath.Dir(img.Path), img.meta.CowParent, img.meta.Checkpoint)
	if r.cow.images == nil {
		r.cow.images = map[string]*Image{}
	}
	parent, ok := r.cow.images[path]
	if !ok {
		var err error
		if parent, err = readImage(path, r.opts.Key); err != nil {
			return nil, fmt.Errorf("pages inherited by %s: %w", img.Path, err)
		}
		r.cow.images[path] = parent
	}
	if parent.meta.Checkpoint != img.meta.Checkpoint {
		return nil, &ImageError{Path: parent.Path, Err: fmt.Errorf("%w: parent image of another checkpoint (id %s) than %s (id %s)",
			ErrCorrupt, parent.meta.Checkpoint, img.Path, img.meta.Checkpoint)}
	}
	if img.authentic && !parent.authentic {
		return nil, &ImageError{Path: parent.Path, Err: fmt.Errorf("%w: parent image of authentic %s is not authentic", ErrCorrupt, img.Path)}
	}
	if !img.authentic && parent.authentic && r.opts.Owner != nil && r.opts.Owner.UID != 0 {
		// Restored for its owner, it could name any page of an image
		// restored as recorded (another user's process, say).
		return nil, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: not authentic, it inherits pages from authentic %s", ErrCorrupt, parent.Path)}
	}
	return parent, nil
}
