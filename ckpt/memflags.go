package ckpt

// The madvise and mlock state of memory regions: what /proc/PID/smaps
// shows as VmFlags and madvise(2) or mlock(2) set. The kernel keeps it in
// the VMA, not in the pages, so a region mapped again at restore has none
// of it unless it is set again.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	mapDroppable   = 0x08 // MAP_DROPPABLE (Linux 6.11): a mapping type of its own
	mlockOnFault   = 0x01 // MLOCK_ONFAULT
	madvWipeOnFork = 18   // MADV_WIPEONFORK
	madvDontDump   = 16   // MADV_DONTDUMP
	// madvGuardInstall: MADV_GUARD_INSTALL (Linux 6.13), guard pages in
	// a region: a touch of one faults (SIGSEGV), no maps line shows them.
	madvGuardInstall = 102
)

// vmAdvice maps the VmFlags names the engine restores to the madvise
// advice that sets each; lo, lf (mlock) and dp (MAP_DROPPABLE) are not
// advice and are set apart.
var vmAdvice = map[string]int{
	"dc": unix.MADV_DONTFORK,
	"wf": madvWipeOnFork,
	"dd": madvDontDump,
	"hg": unix.MADV_HUGEPAGE,
	"nh": unix.MADV_NOHUGEPAGE,
	"mg": unix.MADV_MERGEABLE,
	"rr": unix.MADV_RANDOM,
	"sr": unix.MADV_SEQUENTIAL,
	"lo": -1,
	"lf": -1,
	"dp": -1,
	"nr": -1, // MAP_NORESERVE of an anonymous region (build.go)
	// ac: VM_ACCOUNT, charged as writable private memory: a region made
	// read-only or PROT_NONE after it was writable keeps it, so it is
	// mapped writable first (build.go).
	"ac": -1,
	// sl: sealed with mseal (Linux 6.10): sealed again last of all
	// (sealRegions), once nothing of the restore unmaps or mprotects.
	"sl": -1,
	// ms, mw: recorded of a shared mapping only (VM_MAYSHARE, MAP_SHARED;
	// the kernel leaves VM_SHARED, sh, out of a mapping of a read-only
	// descriptor), together: an image without ms says nothing of mw. A
	// shared mapping without mw (VM_MAYWRITE) was made from a descriptor
	// opened read-only, and no
	// mprotect may make it writable: it is mapped again from a read-only
	// descriptor of its object; one with mw from a writable one, even if
	// it is read-only now (mapAccess).
	"ms": -1,
	"mw": -1,
}

// collectVMFlags records, for every region planMemory found, the VmFlags
// of /proc/PID/smaps that the restore sets again (region.Advice). Reading
// smaps walks every page table of the process (25 ms for a GiB here):
// when the tree runs on while its images are written, the smaps read just
// before the freeze is used, and checked again after it (checkVMFlags).
func (d *dumper) collectVMFlags() error {
	var flags map[uint64][]string
	var growsDown map[uint64]bool
	var smaps []byte
	if v, ok := d.tree.vmas[d.pid]; ok && v.advice != nil && d.sameMaps(v.data) {
		flags, growsDown, smaps = v.advice, v.growsDown, v.data
		v.early = true
		d.tree.vmas[d.pid] = v
	} else {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", d.pid))
		if err != nil {
			return fmt.Errorf("%s(%d): smaps: %w", d.comm, d.pid, err)
		}
		flags, growsDown = parseVMFlags(data)
		smaps = data
	}
	if err := d.refuseProtectionKeys(smaps); err != nil { // pkeys.go
		return err
	}
	// A userfaultfd of the program's own is refused as a descriptor,
	// which says more.
	if start, end, ok := missingRegistered(smaps); ok && !d.ownsUserfaultfd() {
		return fmt.Errorf("%s(%d): memory %#x-%#x is still being restored lazily (registered with a userfaultfd in missing mode): its missing pages are in the image being served, not in the process; checkpoint it once every page is in: %w",
			d.comm, d.pid, start, end, ErrUnsupported)
	}
	for i := range d.meta.Regions {
		r := &d.meta.Regions[i]
		if r.Kind == regionAIO {
			if err := d.describeAIO(r); err != nil {
				return err
			}
		}
		if r.Kind != regionVDSO && len(flags[r.Start]) > 0 {
			r.Advice = flags[r.Start]
		}
		if r.Kind == regionAnon && growsDown[r.Start] {
			r.Stack = true // mapped again MAP_GROWSDOWN (build.go)
		}
	}
	return nil
}

// sameMaps reports whether the mappings of d (its maps, read now: no
// page-table walk) are those of smaps (data, read before the freeze):
// same start addresses, permissions, offsets and files. An end that moved
// (brk, a neighbour merged, which takes the same flags) keeps the flags of
// the mapping; a part advised apart is a mapping of its own, at a start
// of its own.
func (d *dumper) sameMaps(smaps []byte) bool {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", d.pid))
	if err != nil {
		return false
	}
	before := map[string]bool{}
	for _, line := range strings.Split(string(smaps), "\n") {
		if h, ok := mapsHead(line); ok {
			before[h] = true
		}
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if h, ok := mapsHead(line); ok && !before[h] {
			return false
		}
	}
	return true
}

// mapsHead returns "start perms offset dev inode" of a mapping's first
// line in maps or smaps.
func mapsHead(line string) (string, bool) {
	a, _, ok := strings.Cut(line, "-")
	if !ok || strings.Contains(a, " ") || strings.Contains(a, ":") {
		return "", false
	}
	f := strings.Fields(line)
	if len(f) < 5 {
		return "", false
	}
	return a + " " + strings.Join(f[1:5], " "), true
}

// missingRegistered returns the first mapping of smaps registered with a
// userfaultfd in missing mode (VmFlags um): its pages that are not present
// are served by whoever holds that userfaultfd (a lazy restore's loader,
// lazy.go), and pagemap cannot tell them from pages never touched, so a
// checkpoint would save them as holes.
func missingRegistered(smaps []byte) (start, end uint64, ok bool) {
	for _, line := range strings.Split(string(smaps), "\n") {
		if v, found := strings.CutPrefix(line, "VmFlags:"); found {
			if ok && slices.Contains(strings.Fields(v), "um") {
				return start, end, true
			}
			continue
		}
		if a, rest, found := strings.Cut(line, "-"); found && !strings.Contains(a, " ") && !strings.Contains(a, ":") {
			s, err1 := strconv.ParseUint(a, 16, 64)
			e, err2 := strconv.ParseUint(strings.Fields(rest + " ")[0], 16, 64)
			start, end, ok = s, e, err1 == nil && err2 == nil
		}
	}
	return 0, 0, false
}

// ownsUserfaultfd reports whether d's process has a userfaultfd
// descriptor that is not a tracker of ours.
func (d *dumper) ownsUserfaultfd() bool {
	dir := fmt.Sprintf("/proc/%d/fd", d.pid)
	ents, _ := os.ReadDir(dir)
	trackers := map[int]bool{}
	for _, t := range d.findTrackers() {
		trackers[t.fd] = true
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if l, _ := os.Readlink(dir + "/" + e.Name()); err == nil && l == "anon_inode:[userfaultfd]" && !trackers[fd] {
			return true
		}
	}
	return false
}

// parseVMFlags reads smaps: the VmFlags the restore sets again (every
// mapping has an entry, empty if none), and which mappings grow down
// (VmFlags gd: mapped MAP_GROWSDOWN, [stack] or not), by start address.
func parseVMFlags(data []byte) (flags map[uint64][]string, growsDown map[uint64]bool) {
	flags, growsDown = map[uint64][]string{}, map[uint64]bool{}
	var start uint64
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			all := strings.Fields(v)
			shared := slices.Contains(all, "ms")
			for _, fl := range all {
				growsDown[start] = growsDown[start] || fl == "gd"
				if _, ok := vmAdvice[fl]; ok && (shared || fl != "mw") {
					flags[start] = append(flags[start], fl)
				}
			}
			continue
		}
		// A region's first line: "start-end perms offset dev inode path".
		if a, _, ok := strings.Cut(line, "-"); ok && !strings.Contains(a, " ") && !strings.Contains(a, ":") {
			if n, err := strconv.ParseUint(a, 16, 64); err == nil {
				start = n
				flags[start] = []string{}
			}
		}
	}
	return flags, growsDown
}

// checkVMFlags compares the VmFlags recorded for d's regions with those
// of smaps now (data, of pid): the recorded ones were read before the
// freeze, and a program that changed them in between would be restored
// with the old ones. ignore lists flags not compared (those a fork does
// not copy, for a twin's smaps).
func (d *dumper) checkVMFlags(data []byte, skip func(region) bool, ignore ...string) error {
	now, _ := parseVMFlags(data)
	keep := func(fl []string) []string {
		var out []string
		for _, f := range fl {
			if !slices.Contains(ignore, f) {
				out = append(out, f)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, r := range d.meta.Regions {
		if _, ok := now[r.Start]; !ok || r.Kind == regionVDSO || skip(r) {
			continue // gone since (unmapped: see the callers)
		}
		if !slices.Equal(keep(r.Advice), keep(now[r.Start])) {
			return raced("%w: %s(%d): memory at %#x changed its flags (%v, now %v) as the checkpoint began; checkpoint again", ErrUnsupported, d.comm, d.pid, r.Start, r.Advice, now[r.Start])
		}
	}
	return nil
}

// checkAdvice refuses VmFlags the engine did not write.
func checkAdvice(p *rproc) error {
	for _, r := range p.meta.Regions {
		for _, a := range r.Advice {
			if _, ok := vmAdvice[a]; !ok {
				return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: region %#x: advice %q", ErrCorrupt, r.Start, a)}
			}
		}
	}
	return nil
}

// noReserve reports whether the region was mapped MAP_NORESERVE.
func (r region) noReserve() bool { return r.hasFlag("nr") }

// accounted reports whether the region was charged as writable private
// memory (VM_ACCOUNT).
func (r region) accounted() bool { return r.hasFlag("ac") }

func (r region) hasFlag(f string) bool {
	for _, a := range r.Advice {
		if a == f {
			return true
		}
	}
	return false
}

// mapAccess says how a shared mapping's object is opened to map it again:
// readOnly if the mapping had no VM_MAYWRITE (its file was open
// read-only: mprotect(PROT_WRITE) fails with EACCES, as it did),
// writable if it had (a read-only mapping of a writable descriptor may
// be made writable again). An image that did not record it (no ms):
// known false, and the mapping is opened as its protection needs.
func (r region) mapAccess() (readOnly, known bool) {
	if !r.hasFlag("ms") {
		return false, false
	}
	return !r.hasFlag("mw"), true
}

// droppable reports whether the region was mapped MAP_DROPPABLE.
func (r region) droppable() bool {
	for _, a := range r.Advice {
		if a == "dp" {
			return true
		}
	}
	return false
}

// restoreVMFlags sets the advice and locks of every region once all of
// them are mapped and filled (a lock faults every page in; a region
// advised DONTFORK or WIPEONFORK is filled like any other).
func (b *builder) restoreVMFlags() error {
	for _, r := range b.p.meta.Regions {
		length := r.End - r.Start
		if err := b.restoreRegionPolicy(r); err != nil { // mempolicy.go
			return err
		}
		// Guards first: the kernel refuses them in a locked region.
		for _, g := range r.Guards {
			if g.Addr < r.Start || g.Addr+g.Len > r.End || g.Len == 0 {
				return fmt.Errorf("region %#x-%#x: guard pages %#x+%#x outside it: %w", r.Start, r.End, g.Addr, g.Len, ErrCorrupt)
			}
			if _, err := b.call("madvise", unix.SYS_MADVISE, g.Addr, g.Len, madvGuardInstall); err != nil {
				return fmt.Errorf("region %#x-%#x: guard pages at %#x: madvise(MADV_GUARD_INSTALL): %w", r.Start, r.End, g.Addr, err)
			}
		}
		lock, onFault := false, false
		for _, a := range r.Advice {
			switch a {
			case "lo":
				lock = true
			case "lf":
				onFault = true
			case "dp", "nr", "ac", "ms", "mw", "sl":
			default:
				if _, err := b.call("madvise", unix.SYS_MADVISE, r.Start, length, uint64(vmAdvice[a])); err != nil {
					return fmt.Errorf("region %#x-%#x: madvise %s: %w", r.Start, r.End, a, err)
				}
			}
		}
		switch {
		case onFault:
			_, err := b.call("mlock2", unix.SYS_MLOCK2, r.Start, length, mlockOnFault)
			if err != nil {
				return fmt.Errorf("region %#x-%#x: mlock2(MLOCK_ONFAULT): %w", r.Start, r.End, err)
			}
		case lock:
			if _, err := b.call("mlock", unix.SYS_MLOCK, r.Start, length); err != nil {
				return fmt.Errorf("region %#x-%#x: mlock: %w", r.Start, r.End, err)
			}
		}
	}
	return nil
}

// sealRegions seals again (mseal) the regions that were sealed: last of
// the memory work of the restore (finish), since a sealed region can no
// longer be unmapped, moved or mprotected, and no earlier, since the
// kernel keeps no other trace of a seal than the VMA's flag.
func (b *builder) sealRegions() error {
	for _, r := range b.p.meta.Regions {
		if !r.hasFlag("sl") {
			continue
		}
		if _, err := b.call("mseal", sysMseal, r.Start, r.End-r.Start, 0); err != nil {
			return fmt.Errorf("region %#x-%#x: mseal: %w", r.Start, r.End, err)
		}
	}
	return nil
}

// sysMseal: mseal(2), Linux 6.10 (x86-64 and the generic table).
const sysMseal = 462
