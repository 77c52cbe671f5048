package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dirty-page tracking for incremental checkpoints. This kernel has no
// soft-dirty bits; it has userfaultfd write-protection in async mode
// (UFFD_FEATURE_WP_ASYNC, Linux 6.7): a write to a protected page just
// clears the page's uffd-wp bit, no fault is delivered, and PAGEMAP_SCAN
// lists the pages whose bit is clear (PAGE_IS_WRITTEN).
//
// At a checkpoint with Track, in the freeze, each process gets a new
// userfaultfd made by the process itself (an injected userfaultfd(2): the
// context belongs to the mm of its creator), moved to a descriptor at or
// above trackFDBase, close-on-exec. Every private region (anonymous
// memory, private file mappings) is registered with it in write-protect
// mode and its present pages protected (PAGEMAP_SCAN with
// PM_SCAN_WP_MATCHING, which also tells which pages are present). The
// image records the tracker (trackRecord) and the regions it covers
// (region.Tracked). The descriptor is the one thing that keeps the
// registration alive once the checkpointer is gone, so it stays in the
// process; it is never saved in an image.
//
// At the next checkpoint against that image (Parent), the tracker is used
// only if it is provably the one recorded: same boot, same process (start
// time), same descriptor and inode. It is then re-armed in place, not
// replaced (trackDirty, rearm_linux_amd64.go), after it is moved to
// another descriptor, which only the new image records: a checkpoint that
// fails or dies after it took written pages out of the tracker leaves no
// tracker that an image on disk records, and the next one saves
// everything. A region inherits from its parent only
// if the parent's region was Tracked, this one maps the same thing at the
// same addresses, and PAGEMAP_SCAN with PM_SCAN_CHECK_WPASYNC agrees that
// it is still registered; anything else (the descriptor closed, an exec,
// a region unmapped and mapped again, mremap, which drops the
// registration without UFFD_FEATURE_EVENT_REMAP, a fork's child, a
// restored process but one restored with Track, retrack_linux_amd64.go)
// saves the region whole. Pages unmapped or dropped
// since are not "written": they are found as the parent's pages that are
// not present any more (region.Clear).
//
// What the tracker changes for the program: one more descriptor (a
// program may close it: its next checkpoint is then full); its private
// regions are registered, so its own userfaultfd cannot register them
// (EBUSY); the first write to each protected page after a checkpoint
// takes a minor fault (~30 us measured here). Writes that bypass the
// page tables (DMA into pinned pages: io_uring fixed buffers, RDMA) are
// not seen; the descriptors that allow them are not checkpointable.

const (
	uffdioUnregister      = 0x8010aa01 // _IOR(0xAA, 1, struct uffdio_range)
	uffdRegWP             = 2
	uffdUserModeOnly      = 1
	uffdFeatWPUnpopulated = 1 << 13
	uffdFeatWPAsync       = 1 << 15
	uffdFeatInitialized   = 1 << 31
	// uffdTrackFeatures are a tracker's features; a userfaultfd with
	// exactly these is taken for one of ours (the lazy restore's are
	// others).
	uffdTrackFeatures = uffdFeatWPAsync | uffdFeatWPUnpopulated

	pageIsWritten      = 1 << 1
	pmScanWPMatching   = 1 << 0
	pmScanCheckWPAsync = 1 << 1

	// trackFDBase: a tracker goes to the lowest free descriptor from
	// here (below the usual RLIMIT_NOFILE of 1024), where a program's own
	// descriptors rarely are.
	trackFDBase = 1000
	// incrRunsMax bounds the runs of written pages of an incremental
	// image (two program headers each, see maxLoads).
	incrRunsMax = 25000
)

// bootID identifies this boot of the machine.
func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

type trackerFD struct {
	fd  int
	ino uint64
}

// findTrackers lists the trackers of ours in d's process: userfaultfds
// with exactly the trackers' features (fdinfo's "API:\tAA:FEATURES:IOCTLS").
func (d *dumper) findTrackers() []trackerFD {
	dir := fmt.Sprintf("/proc/%d/fd", d.pid)
	ents, _ := os.ReadDir(dir)
	var out []trackerFD
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink(dir + "/" + e.Name()); l != "anon_inode:[userfaultfd]" {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", d.pid, fd))
		if err != nil {
			continue
		}
		var feat, ino uint64
		for k, v := range keyValues(data) {
			switch k {
			case "API":
				if f := strings.Split(v, ":"); len(f) == 3 {
					feat, _ = strconv.ParseUint(f[1], 16, 64)
				}
			case "ino":
				ino, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		if feat&^uffdFeatInitialized == uffdTrackFeatures {
			out = append(out, trackerFD{fd, ino})
		}
	}
	return out
}

// isTracker reports whether fd of d's process is a tracker of ours.
func (d *dumper) isTracker(fd int) bool {
	for _, t := range d.trackerFDs {
		if t == fd {
			return true
		}
	}
	return false
}

// trackDirty runs in the freeze, once the regions are known: it finds the
// pages written since the parent checkpoint where the parent's tracker
// says so (the regions d.plan[i].incr inherits) and re-arms that tracker
// in place for the next checkpoint; where there is no tracker to trust
// it drops the old ones and, with Track or Parent, makes a new one.
//
// Re-armed in place (rearm): one PAGEMAP_SCAN with PM_SCAN_WP_MATCHING
// per region both returns the pages written since the tracker was last
// armed and protects them again, atomically (the kernel walks the page
// table under its lock): what a write meets after it is counted for the
// next generation, what it met before for this one. Only the written
// pages' entries are rewritten, where dropping the tracker and arming a
// new one rewrote every entry twice (UFFDIO_UNREGISTER, then the new
// protection). The pages written before the freeze may have been
// re-armed already (t.rearmed, rearm_linux_amd64.go): this generation is
// both sets.
//
// The witness: before the tracker is touched, its descriptor is moved to
// another number (moveTracker), which only the image this checkpoint
// writes records. A checkpoint that fails or is killed after it leaves a
// tracker the parent image does not name: the next checkpoint against
// that image saves everything (trackerIntact), never an image with the
// pages this one took out of the tracker missing.
func (d *dumper) trackDirty(pm *os.File) error {
	if d.zombie {
		return nil
	}
	t0 := time.Now()
	found := d.findTrackers()
	for _, t := range found {
		d.trackerFDs = append(d.trackerFDs, t.fd) // never in an image
	}
	if d.opts.CheckOnly {
		return nil
	}
	want := d.opts.Track || d.opts.Parent != ""
	if !want && len(found) == 0 {
		return nil
	}
	var pre *rearmed
	if d.tree != nil {
		pre = d.tree.rearmed[d.pid]
		delete(d.tree.rearmed, d.pid)
	}
	written := map[int][][2]uint64{}
	keep := trackerFD{fd: -1} // the tracker re-armed in place
	if p := d.parentImg; p != nil {
		why := restoredTracker(p, d.opts.Key, d.stat.StartTime) // retrack_linux_amd64.go
		if why == "" {
			keep, why = d.trackerIntact(p, found, pre)
		}
		if why != "" {
			keep = trackerFD{fd: -1}
			d.log.Info(fmt.Sprintf("%s(%d): writes since %s not known (%s): its memory is saved whole", d.comm, d.pid, p.Path, why))
		}
	}
	// The witness first (the kept tracker moved, unless that was done
	// before the freeze), the old trackers closed, the new one made if
	// none is kept: one injection.
	newFD := -1
	moved := keep.fd >= 0 && pre != nil && pre.fd == keep.fd
	err := d.withInjection(func(t *task, _ uint64) error {
		for _, tr := range found {
			if tr.fd != keep.fd {
				t.call("close", unix.SYS_CLOSE, uint64(tr.fd))
			}
		}
		if keep.fd >= 0 && !moved {
			fd, err := moveTracker(t, keep.fd)
			if err != nil {
				return err
			}
			keep.fd = fd
			d.trackerFDs = append(d.trackerFDs, fd)
		}
		if keep.fd >= 0 || !want || d.opts.Signal == unix.SIGKILL {
			return nil // kept, or the process ends with this checkpoint
		}
		low, err := t.call("userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly)
		if err != nil {
			return err
		}
		newFD = int(low)
		if hi, err := t.call("fcntl", unix.SYS_FCNTL, low, unix.F_DUPFD_CLOEXEC, trackFDBase); err == nil {
			t.call("close", unix.SYS_CLOSE, low)
			newFD = int(hi)
		}
		return nil
	})
	if err != nil {
		d.log.Info(fmt.Sprintf("%s(%d): no dirty-page tracker: %v", d.comm, d.pid, err))
		if keep.fd >= 0 && !moved {
			// Not moved: untouched, and still the parent's; this
			// checkpoint leaves it alone and saves everything.
			keep = trackerFD{fd: -1}
		}
		newFD = -1
	}
	present := map[int][][2]uint64{}
	if keep.fd >= 0 {
		// From here on the tracker is this checkpoint's (moved).
		d.madeTracker = keep.fd
		if why := d.rearm(keep.fd, pm, pre, written); why != "" {
			d.log.Info(fmt.Sprintf("%s(%d): writes since %s not known (%s): its memory is saved whole", d.comm, d.pid, d.parentImg.Path, why))
			clear(written)
		}
		if err := d.protect(keep.fd, keep.ino, false, pm, written, present); err != nil {
			d.log.Info(fmt.Sprintf("%s(%d): no dirty-page tracker: %v", d.comm, d.pid, err))
		}
	} else if newFD > 0 {
		d.madeTracker = newFD
		d.trackerFDs = append(d.trackerFDs, newFD)
		if err := d.protect(newFD, 0, true, pm, nil, present); err != nil {
			d.log.Info(fmt.Sprintf("%s(%d): no dirty-page tracker: %v", d.comm, d.pid, err))
		}
	}
	incr := map[int]*regionIncr{}
	total := 0
	for i, w := range written {
		r := d.meta.Regions[i]
		pres, ok := present[i]
		if !ok {
			var err error
			if pres, err = scanSaved(pm, r.Start, r.End, r.Kind == regionFile, 1); err != nil {
				return fmt.Errorf("%s(%d): read pagemap: %w", d.comm, d.pid, err)
			}
		}
		cov, err := d.parentImg.coverage(*d.parentImg.regionAt(r.Start, r.End))
		if err != nil {
			return err
		}
		incr[i] = &regionIncr{saved: intersectRuns(w, pres), clear: subtractRuns(cov, pres)}
		total += len(incr[i].saved)
	}
	// Pages apart stay apart (each run is a segment, two program
	// headers), unless that makes too many for one image: then the
	// region with the most runs has its closest ones joined, again.
	gaps := map[int]uint64{}
	for total > incrRunsMax {
		most := -1
		for i, inc := range incr {
			if d.meta.Regions[i].Kind != regionFile && (most < 0 || len(inc.saved) > len(incr[most].saved)) {
				most = i
			}
		}
		if most < 0 || len(incr[most].saved) <= 1 {
			break
		}
		gaps[most] = max(gaps[most]*2, 2)
		n := len(incr[most].saved)
		incr[most].saved = mergeGaps(incr[most].saved, gaps[most])
		total -= n - len(incr[most].saved)
	}
	for i, inc := range incr {
		d.plan[i].incr = inc
		// runs too: what the twin does not hold is copied by them
		// (copyFrozen).
		d.plan[i].runs, d.plan[i].deferred = inc.saved, false
	}
	d.log.Debug(fmt.Sprintf("%s(%d): writes tracked in %.1f ms, %d regions inherit, tracker re-armed in place %v", d.comm, d.pid, time.Since(t0).Seconds()*1e3, len(incr), keep.fd >= 0))
	return nil
}

// moveTracker moves the tracker at fd of the process t injects into to
// the lowest free descriptor from trackFDBase but fd, and returns it.
func moveTracker(t *task, fd int) (int, error) {
	nfd, err := t.call("fcntl", unix.SYS_FCNTL, uint64(fd), unix.F_DUPFD_CLOEXEC, trackFDBase)
	if err != nil {
		return -1, fmt.Errorf("move the dirty-page tracker: %w", err)
	}
	if _, err := t.call("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
		t.call("close", unix.SYS_CLOSE, nfd)
		return -1, fmt.Errorf("move the dirty-page tracker: %w", err)
	}
	return int(nfd), nil
}

// trackerIntact returns the tracker the parent image p recorded, as it
// is now (moved before the freeze if pre says so), or says why it cannot
// be trusted.
func (d *dumper) trackerIntact(p *Image, found []trackerFD, pre *rearmed) (trackerFD, string) {
	none := trackerFD{fd: -1}
	rec := p.meta.Track
	switch {
	case rec == nil:
		return none, "no tracker was left at that checkpoint"
	case p.depth()+1 >= maxChain:
		return none, fmt.Sprintf("a chain of %d images", maxChain)
	case rec.Boot != bootID():
		return none, "the machine was restarted since"
	case rec.Start != d.stat.StartTime:
		return none, "another process since"
	}
	fd := rec.FD
	if pre != nil {
		if pre.ino != rec.Ino || pre.start != rec.Start {
			return none, "its tracker was re-armed for another image"
		}
		fd = pre.fd
	}
	for _, t := range found {
		if t.fd == fd && t.ino == rec.Ino {
			return t, ""
		}
	}
	return none, "its tracker is gone (closed, moved by a checkpoint that did not end, or the program exec'd)"
}

// inherits reports whether region i of d can take its pages written
// since the parent image from the tracker; pr is the parent's region.
func (d *dumper) inherits(i int) bool {
	r := d.meta.Regions[i]
	pr := d.parentImg.regionAt(r.Start, r.End)
	// A parent region with pages inherited from its parent process lacks
	// them: they are in that process's image, no layer of this chain
	// (cowshare.go).
	return trackable(r, d.plan[i]) && pr != nil && pr.Tracked && len(pr.Inherit) == 0 && sameMapping(r, *pr)
}

// rearm re-arms the tracker at fd (this checkpoint's: moved) in place for
// every region that inherits, and puts in written (by region index) the
// pages written since the parent checkpoint: those it protects again,
// and those pre protected again before the freeze. A region the scan
// refuses (EPERM: not registered any more, after an mremap, a new
// mapping) is left out: protect registers it, and it is saved whole.
func (d *dumper) rearm(fd int, pm *os.File, pre *rearmed, written map[int][][2]uint64) string {
	if pre != nil && pre.err != "" {
		return pre.err
	}
	for i, r := range d.meta.Regions {
		if !d.inherits(i) {
			continue
		}
		span := [][2]uint64{{r.Start, r.End}}
		if pre != nil && len(intersectRuns(pre.lost, span)) > 0 {
			continue // its scan before the freeze failed midway
		}
		w, err := scanRearm(pm, r.Start, r.End, r.Kind == regionFile)
		if err != nil {
			d.log.Info(fmt.Sprintf("%s(%d) region %#x-%#x: writes not tracked (%v): saved whole", d.comm, d.pid, r.Start, r.End, err))
			continue
		}
		if pre != nil {
			w = unionRuns(w, intersectRuns(pre.written, span))
		}
		written[i] = w
	}
	return ""
}

// protect registers with the tracker fd of the process (ino: its inode,
// 0: to be read; api: new, its features to be set) every trackable region
// of d that is not in skip, and protects its present pages; present gets
// them (for a private file mapping, those copied on write).
func (d *dumper) protect(fd int, ino uint64, api bool, pm *os.File, skip map[int][][2]uint64, present map[int][][2]uint64) error {
	uffd, err := d.copyFD(fd)
	if err != nil {
		return err
	}
	defer unix.Close(uffd)
	if api {
		api := struct{ api, features, ioctls uint64 }{uffdAPI, uffdTrackFeatures, 0}
		if err := uffdIoctl(uffd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
			return fmt.Errorf("UFFDIO_API: %w", err)
		}
	}
	if ino == 0 {
		if info, err := readFdInfo(d.pid, fd); err == nil {
			ino = info.Ino
		}
	}
	n := 0
	for i := range d.meta.Regions {
		r := &d.meta.Regions[i]
		if !trackable(*r, d.plan[i]) {
			continue
		}
		if _, ok := skip[i]; ok {
			r.Tracked = true // re-armed in place
			n++
			continue
		}
		if err := uffdRange(uffd, uffdioRegister, r.Start, r.End, uffdRegWP); err != nil {
			continue // VM_DROPPABLE, hugetlb...: saved whole next time
		}
		runs, err := scanProtect(pm, r.Start, r.End, r.Kind == regionFile)
		if err != nil {
			uffdRange(uffd, uffdioUnregister, r.Start, r.End, 0)
			continue
		}
		r.Tracked = true
		present[i] = runs
		n++
	}
	d.meta.Track = &trackRecord{FD: fd, Ino: ino, Boot: bootID(), Start: d.stat.StartTime}
	d.log.Debug(fmt.Sprintf("%s(%d): dirty-page tracker at fd %d, %d regions", d.comm, d.pid, fd, n))
	return nil
}

// copyFD returns a copy of descriptor fd of d's process.
func (d *dumper) copyFD(fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(d.pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	c, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	return c, nil
}

func uffdIoctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// uffdRange runs UFFDIO_REGISTER (with mode) or UFFDIO_UNREGISTER on
// [start, end).
func uffdRange(fd int, req uintptr, start, end, mode uint64) error {
	var b [32]byte
	le := binary.LittleEndian
	le.PutUint64(b[:], start)
	le.PutUint64(b[8:], end-start)
	le.PutUint64(b[16:], mode)
	return uffdIoctl(fd, req, unsafe.Pointer(&b[0]))
}

// pmScan runs PAGEMAP_SCAN over [start, end) and calls f for each run
// reported.
func pmScan(pm *os.File, start, end, flags, mask, anyof, ret uint64, f func(pageRegion)) error {
	vec := make([]pageRegion, 1024)
	for start < end {
		a := pmScanArg{size: uint64(unsafe.Sizeof(pmScanArg{})), flags: flags, start: start, end: end,
			vec: uint64(uintptr(unsafe.Pointer(&vec[0]))), vecLen: uint64(len(vec)),
			categoryMask: mask, categoryAnyofMask: anyof, returnMask: ret}
		n, _, e := unix.Syscall(unix.SYS_IOCTL, pm.Fd(), pagemapScan, uintptr(unsafe.Pointer(&a)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return os.NewSyscallError("ioctl PAGEMAP_SCAN", e)
		}
		for _, r := range vec[:n] {
			f(r)
		}
		if a.walkEnd <= start {
			break
		}
		start = a.walkEnd
	}
	return nil
}

// keepPage reports whether a run of a private file mapping's pages holds
// the process's own (copied on write, or swapped) rather than the file's.
func keepPage(file bool, cat uint64) bool {
	return !file || cat&pageIsSwapped != 0 || cat&pageIsFile == 0
}

// scanRearm returns the runs of [start, end) written since they were
// protected and protects them again (PM_SCAN_WP_MATCHING: in one walk of
// the page table, under its lock, so no write falls between the two); an
// error (EPERM) if the range is not registered in write-protect async
// mode any more. With an error, the runs are those protected again
// before it (exactly the pages reported).
func scanRearm(pm *os.File, start, end uint64, file bool) ([][2]uint64, error) {
	var runs [][2]uint64
	// PAGE_IS_FILE only where it matters (scanSaved).
	ret := uint64(pageIsWritten)
	if file {
		ret |= pageIsFile | pageIsSwapped
	}
	// Present or swapped only: an entry emptied since it was protected
	// (MADV_DONTNEED) counts as written too, and protecting it would
	// leave a uffd-wp marker that pagemap reports as a swapped page.
	err := pmScan(pm, start, end, pmScanWPMatching|pmScanCheckWPAsync, pageIsWritten, pageIsPresent|pageIsSwapped, ret, func(r pageRegion) {
		if keepPage(file, r.categories) {
			runs = appendRun(runs, r.start, r.end)
		}
	})
	return runs, err
}

// scanProtect protects the present and swapped pages of [start, end) and
// returns them (of a private file mapping, those that are not the file's).
func scanProtect(pm *os.File, start, end uint64, file bool) ([][2]uint64, error) {
	var runs [][2]uint64
	err := pmScan(pm, start, end, pmScanWPMatching|pmScanCheckWPAsync, 0, pageIsPresent|pageIsSwapped, pageIsPresent|pageIsSwapped|pageIsFile, func(r pageRegion) {
		if keepPage(file, r.categories) {
			runs = appendRun(runs, r.start, r.end)
		}
	})
	if errors.Is(err, unix.EINVAL) {
		return nil, fmt.Errorf("%w: PAGEMAP_SCAN write-protection", ErrUnsupported)
	}
	return runs, err
}

func appendRun(runs [][2]uint64, start, end uint64) [][2]uint64 {
	if k := len(runs); k > 0 && start <= runs[k-1][1] {
		runs[k-1][1] = max(runs[k-1][1], end)
		return runs
	}
	return append(runs, [2]uint64{start, end})
}

// dropTracker closes, in a process still frozen, the tracker this
// checkpoint gave it: a checkpoint that fails leaves the program with no
// descriptor of ours (closing the userfaultfd ends its registrations and
// write protections). The tracker of an earlier checkpoint was closed
// already: the next checkpoint is whole.
func (d *dumper) dropTracker() {
	fd := d.madeTracker
	if fd <= 0 || d.zombie || !d.seized {
		return
	}
	d.madeTracker = 0
	err := d.withInjection(func(t *task, _ uint64) error {
		_, err := t.call("close", unix.SYS_CLOSE, uint64(fd))
		return err
	})
	if err != nil {
		d.warn("%s(%d): cannot close the dirty-page tracker at fd %d the failed checkpoint left: %v", d.comm, d.pid, fd, err)
	}
}
