package ckpt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmSwapped = 1 << 62
	pmFile    = 1 << 61 // file page or shared anonymous
	pmGuard   = 1 << 58 // a guard region's page (MADV_GUARD_INSTALL; Linux 6.15)
)

const (
	// anonGapMerge: runs of saved anonymous pages closer than this many
	// pages share one segment (the gap becomes a hole, restored as
	// untouched memory), keeping the number of program headers small.
	anonGapMerge = 16
	// fileRunsMax: a private file mapping with more runs of copied pages
	// than this is saved whole.
	fileRunsMax = 64
	// maxLoads keeps e_phnum below PN_XNUM.
	maxLoads = 60000
)

// planMemory reads the maps and pagemap of the frozen target, classifies
// every region and decides which pages the image will hold.
func (d *dumper) planMemory() error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): mregion: %w", d.comm, d.pid, err)
	}
	maps, err := parseMaps(data)
	if err != nil {
		return err
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): pagemap: %w", d.comm, d.pid, err)
	}
	defer pm.Close()
	for _, mp := range maps {
		r, full, err := d.classify(mp)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		var runs [][2]uint64 // [start, end) addresses of saved pages
		deferred := false
		switch {
		case r.Kind == regionVDSO && r.Name == "[vdso]":
			b := make([]byte, r.End-r.Start)
			if _, err := d.mem.ReadAt(b, int64(r.Start)); err == nil {
				d.meta.VDSOSum = vdsoSum(b)
			}
			runs = [][2]uint64{{r.Start, r.End}}
		case r.Kind == regionVDSO, r.Kind == regionSysV:
		case r.Kind == regionShmem:
			r.Shm = fmt.Sprintf("%x:%x:%d", mp.Major, mp.Minor, mp.Inode)
			if !d.tree.shmSeen(r.Shm) {
				runs = [][2]uint64{{r.Start, r.End}}
			}
		case full:
			runs = [][2]uint64{{r.Start, r.End}}
		case r.Kind == regionShared:
		case d.deferPlan && d.twinBound(*r):
			// Its pages are found in the twin, after the freeze
			// (planDeferred): the twin's pagemap is the process's of
			// the instant of the freeze.
			deferred = true
		default:
			if runs, err = d.savedRuns(pm, r); err != nil {
				return err
			}
		}
		d.plan = append(d.plan, regionPlan{runs: runs, deferred: deferred, perms: mp.Perms, full: full})
		for _, run := range runs {
			// Offsets come with the layout; the tree looks at which
			// shared memory this image holds before (shmSeen, name).
			r.Extents = append(r.Extents, extent{Addr: run[0], Len: run[1] - run[0]})
		}
		d.meta.Regions = append(d.meta.Regions, *r)
	}
	// Writes since the parent checkpoint, and the tracker for the next
	// (dirty_linux_amd64.go).
	if err := d.trackDirty(pm); err != nil {
		return err
	}
	if !d.deferPlan {
		return d.layout()
	}
	return nil
}

// regionPlan is what planMemory found of one region: the runs of pages
// to save, or that they are to be found later (deferred).
type regionPlan struct {
	runs     [][2]uint64
	deferred bool
	perms    string
	full     bool        // every page saved (classify)
	incr     *regionIncr // inherited from the parent image (incremental.go)
}

// planDeferred finds the pages of the deferred regions in the memory of
// pid (the twin, or the frozen process itself), then lays the image out.
func (d *dumper) planDeferred(pid int) error {
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return fmt.Errorf("%s(%d): pagemap: %w", d.comm, d.pid, err)
	}
	defer pm.Close()
	for i := range d.plan {
		p := &d.plan[i]
		if !p.deferred {
			continue
		}
		r := &d.meta.Regions[i]
		t0 := time.Now()
		if p.runs, err = d.savedRuns(pm, r); err != nil {
			return err
		}
		if dt := time.Since(t0); dt > time.Millisecond {
			d.log.Debug(fmt.Sprintf("%s(%d) region %#x-%#x: pages found in %.1f ms", d.comm, d.pid, r.Start, r.End, dt.Seconds()*1e3))
		}
		p.deferred = false
	}
	d.deferPlan = false
	return d.layout()
}

// layout turns the runs of every region into its extents and the image's
// PT_LOAD segments.
func (d *dumper) layout() error {
	var off uint64
	d.loads = d.loads[:0]
	for i := range d.meta.Regions {
		r := &d.meta.Regions[i]
		runs := d.plan[i].runs
		switch inc := d.plan[i].incr; {
		case len(r.Inherit) > 0:
			// Pages still shared with the parent process (cowshare.go) are
			// in the parent's image: the rest of the region is saved
			// whole, and the next generation takes it whole too (the
			// pages of a parent process's image are no layer of this
			// process's chain).
			runs = withoutSpans(runs, r.Inherit)
			r.Tracked = false
		case inc != nil:
			runs = inc.saved
			r.FromParent, r.Clear = true, inc.clear
		}
		if r.Kind == regionFile && len(runs) > fileRunsMax {
			runs = [][2]uint64{{r.Start, r.End}}
		}
		runs = splitRuns(runs, segMax)
		r.Extents = nil
		// One PT_LOAD per run of saved pages and per gap between them, so
		// gdb sees every address of the region.
		pos := r.Start
		for _, run := range runs {
			if run[1] <= run[0] || run[0] < pos || run[1] > r.End {
				// Never a segment a restart refuses (checkImage): an
				// empty or misplaced run is an internal error.
				return fmt.Errorf("%s(%d) region %#x-%#x: internal error: pages to save %#x-%#x", d.comm, d.pid, r.Start, r.End, run[0], run[1])
			}
			if run[0] > pos {
				d.loads = append(d.loads, load{vaddr: pos, memsz: run[0] - pos, prot: r.Prot})
			}
			n := run[1] - run[0]
			d.loads = append(d.loads, load{vaddr: run[0], memsz: n, filesz: n, off: off, prot: r.Prot})
			r.Extents = append(r.Extents, extent{Addr: run[0], Len: n, Off: off})
			off += n
			pos = run[1]
		}
		if pos < r.End {
			d.loads = append(d.loads, load{vaddr: pos, memsz: r.End - pos, prot: r.Prot})
		}
		d.log.Info(fmt.Sprintf("%s(%d) region %#x-%#x %s %s %s: %d KiB saved", d.comm, d.pid, r.Start, r.End, d.plan[i].perms, r.Kind, r.Name, extLen(r.Extents)/1024))
	}
	if len(d.loads) > maxLoads {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
			Msg: fmt.Sprintf("%d memory segments exceeds max of %d", len(d.loads), maxLoads)}
	}
	d.dataLen = off
	return nil
}

// segMax bounds a saved run (one segment, checked as a whole): a lazy
// restore reads and verifies a whole segment at its first fault.
const segMax = lazySegMax

// splitRuns cuts the runs longer than max.
func splitRuns(runs [][2]uint64, max uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range runs {
		for r[1]-r[0] > max {
			out = append(out, [2]uint64{r[0], r[0] + max})
			r[0] += max
		}
		out = append(out, r)
	}
	return out
}

func extLen(es []extent) uint64 {
	var n uint64
	for _, e := range es {
		n += e.Len
	}
	return n
}

// classify turns a maps line into a region. full reports that every page
// of it must be saved (a private mapping of a file that is gone or was
// replaced, restored as anonymous memory).
func (d *dumper) classify(mp mapping) (*region, bool, error) {
	if strings.HasPrefix(mp.Path, "/") && strings.Contains(mp.Path, `\`) {
		// maps writes a newline of a name as \012 and a backslash as
		// itself: the name is ambiguous, its map_files link is not.
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/map_files/%x-%x", d.pid, mp.Start, mp.End)); err == nil {
			mp.Path = link
		}
	}
	r := &region{Start: mp.Start, End: mp.End, Prot: mp.prot(), Name: mp.Path, Offset: mp.Offset}
	name := mp.Path
	switch {
	case name == "[vsyscall]":
		return nil, false, nil
	case name == "[vdso]" || strings.HasPrefix(name, "[vvar"):
		r.Kind = regionVDSO
		if d.meta.VDSO == 0 || mp.Start < d.meta.VDSO {
			d.meta.VDSO = mp.Start
		}
		return r, false, nil
	case name == "" || name == "[heap]" || name == "[stack]" || strings.HasPrefix(name, "[anon:"):
		r.Kind = regionAnon
		if mp.shared() {
			r.Kind = regionShmem
		}
		r.Stack = name == "[stack]"
		return r, false, nil
	case strings.HasPrefix(name, "[anon_shmem:"):
		r.Kind = regionShmem
		return r, false, nil
	case strings.HasPrefix(name, "anon_inode:"):
		// The memory of a kernel object (io_uring rings, a perf
		// buffer, a BPF map...), mapped even after its descriptor is
		// closed: not a file that can be opened again.
		kind := strings.Trim(strings.TrimPrefix(name, "anon_inode:"), "[]")
		if d.opts.Force {
			d.warn("%s(%d): region %#x-%#x %s not saved (forced)", d.comm, d.pid, mp.Start, mp.End, name)
			return nil, false, nil
		}
		return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("region %#x-%#x: memory of %s is not checkpointable", mp.Start, mp.End, kind)}
	case strings.HasPrefix(name, "["):
		if d.opts.Force {
			d.warn("%s(%d): region %#x-%#x %s not saved (forced)", d.comm, d.pid, mp.Start, mp.End, name)
			return nil, false, nil
		}
		return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("region %#x-%#x %s cannot be checkpointed", mp.Start, mp.End, name)}
	}
	deleted := strings.HasSuffix(name, " (deleted)")
	if name == "/secretmem (deleted)" && mp.Major == 0 {
		return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("region %#x-%#x%s", mp.Start, mp.End, secretMemMsg)}
	}
	if mp.shared() && name == aioRingName {
		r.Kind = regionAIO // saved whole, described by describeAIO (aio.go)
		return r, true, nil
	}
	if mp.shared() && deleted && strings.HasPrefix(name, "/SYSV") {
		// A SysV segment: its inode number is its id (newseg), its
		// bytes are saved once with the tree's IPC objects.
		r.Kind, r.Shmid = regionSysV, int(mp.Inode)
		return r, false, nil
	}
	if mp.shared() {
		if msg := pastEOF(d.pid, mp, name); msg != "" {
			return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: msg}
		}
		if deleted || mp.Major == 0 && mp.Minor == 1 {
			// /dev/zero, SysV and memfd shared memory, or a shared file
			// that is gone: save the content, restore as shared memory.
			r.Kind = regionShmem
			if strings.HasPrefix(name, "/memfd:") {
				seals, err := mappedSeals(d.pid, mp.Start, mp.End)
				if err != nil {
					return nil, false, fmt.Errorf("%s(%d): memfd mapping %#x-%#x: F_GET_SEALS: %w", d.comm, d.pid, mp.Start, mp.End, err)
				}
				if seals&unix.F_SEAL_FUTURE_WRITE != 0 && strings.Contains(mp.Perms, "w") {
					return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("memfd mapping %#x-%#x %s is writable under F_SEAL_FUTURE_WRITE: no writable mapping can be made again under that seal", mp.Start, mp.End, name)}
				}
				r.Seals = seals
			}
			return r, false, nil
		}
		ref, mf := d.mapRef(mp, name)
		if onTmpfs(mf) || strings.HasPrefix(ref.Path, "/tmp/") {
			// Would not survive a reboot (/tmp is emptied at boot even
			// when it is not tmpfs): saved (tmpfsmap.go).
			r.Kind, r.File, r.Tmpfs = regionShmem, &ref, true
			return r, false, nil
		}
		r.Kind, r.File = regionShared, &ref
		return r, false, nil
	}
	ref, _ := d.mapRef(mp, name)
	var cur unix.Stat_t
	if deleted || unix.Stat(ref.Path, &cur) != nil || cur.Ino != mp.Inode {
		// The file under that name is not the mapped one any more: keep
		// every page, as anonymous memory.
		r.Kind = regionAnon
		return r, true, nil
	}
	r.Kind, r.File = regionFile, &ref
	return r, false, nil
}

// pastEOF says why shared mapping mp cannot be saved when it reaches
// whole pages past the end of its file (cut after it was mapped): those
// fault with SIGBUS, which no restore keeps for a mapping whose content it
// saves (made again as shared memory, or as a tmpfs file as large as the
// mapping). A shared mapping of a file that stays (regionShared) is mapped
// again as it is: only the content-saved ones come here, and a mapping
// whose file cannot be looked at is left to the rest of classify.
func pastEOF(pid int, mp mapping, name string) string {
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, mp.Start, mp.End), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	end := mp.Offset + (mp.End - mp.Start)
	if (uint64(st.Size)+pageSize-1)/pageSize*pageSize >= end {
		return ""
	}
	onFile := strings.HasPrefix(name, "/") && !strings.HasSuffix(name, " (deleted)")
	var fs unix.Statfs_t
	kept := unix.Statfs(fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, mp.Start, mp.End), &fs) == nil && fs.Type == unix.TMPFS_MAGIC
	if onFile && !kept && !strings.HasPrefix(name, "/tmp/") {
		return "" // regionShared: mapped again from the file itself
	}
	return fmt.Sprintf("shared mapping %#x-%#x of %s reaches past the end of its file (%d bytes): its pages there fault (SIGBUS), and a restore of its saved content would make them memory", mp.Start, mp.End, name, st.Size)
}

// mapRef describes the file of mapping mp (named name), and returns the
// path it was read from. The mapping's own link in /proc/PID/map_files
// is exact, but the kernel lets only a holder of CAP_CHECKPOINT_RESTORE
// (or CAP_SYS_ADMIN) follow it: for an ordinary user's checkpoint the file
// is read at its name, and taken only when its device and inode are the
// ones maps gives for the mapping. Otherwise the reference stays without
// identity (the restart then finds the file changed).
func (d *dumper) mapRef(mp mapping, name string) (fileRef, string) {
	mf := fmt.Sprintf("/proc/%d/map_files/%x-%x", d.pid, mp.Start, mp.End)
	ref := statRef(name, mf)
	if ref.Ino != 0 || !strings.HasPrefix(ref.Path, "/") {
		return ref, mf
	}
	var st unix.Stat_t
	if unix.Stat(ref.Path, &st) != nil || st.Ino != mp.Inode ||
		unix.Major(st.Dev) != mp.Major || unix.Minor(st.Dev) != mp.Minor {
		return ref, mf
	}
	ref.Dev, ref.Ino, ref.Mode, ref.Size = st.Dev, st.Ino, st.Mode, st.Size
	ref.Mtime = st.Mtim.Nano()
	return ref, ref.Path
}

// usePagemapScan: savedRuns asks PAGEMAP_SCAN (tests compare both ways).
var usePagemapScan = true

// savedRuns returns the runs of pages of r that the image must hold: the
// present or swapped pages of anonymous memory, and of a private file
// mapping the pages that were copied on write.
func (d *dumper) savedRuns(pm *os.File, r *region) ([][2]uint64, error) {
	gap := uint64(anonGapMerge)
	if r.Kind == regionFile || d.lockedOnFault(r.Start) { // lockonfault.go
		gap = 1
	}
	r.Guards = nil
	if usePagemapScan {
		runs, guards, err := scanSavedGuards(pm, r.Start, r.End, r.Kind == regionFile, gap)
		if err != errNoScan {
			if err != nil {
				return nil, fmt.Errorf("%s(%d): read pagemap: %w", d.comm, d.pid, err)
			}
			r.Guards = extentsOf(guards)
			return runs, nil
		}
	}
	var guards [][2]uint64
	n := (r.End - r.Start) / pageSize
	buf := make([]byte, 8*min(n, 1<<16))
	var runs [][2]uint64
	for i := uint64(0); i < n; {
		chunk := min(n-i, uint64(len(buf)/8))
		b := buf[:chunk*8]
		if _, err := pm.ReadAt(b, int64((r.Start/pageSize+i)*8)); err != nil {
			return nil, fmt.Errorf("%s(%d): read pagemap: %w", d.comm, d.pid, err)
		}
		for j := uint64(0); j < chunk; j++ {
			e := binary.LittleEndian.Uint64(b[j*8:])
			if e&pmGuard != 0 {
				a := r.Start + (i+j)*pageSize
				if k := len(guards); k > 0 && guards[k-1][1] == a {
					guards[k-1][1] = a + pageSize
				} else {
					guards = append(guards, [2]uint64{a, a + pageSize})
				}
				continue
			}
			var keep bool
			if r.Kind == regionFile {
				keep = e&pmPresent != 0 && e&pmFile == 0 || e&pmSwapped != 0
			} else {
				keep = e&(pmPresent|pmSwapped) != 0
			}
			if !keep {
				continue
			}
			a := r.Start + (i+j)*pageSize
			if k := len(runs); k > 0 && a <= runs[k-1][1]+(gap-1)*pageSize && !guardAfter(guards, runs[k-1][1]) {
				runs[k-1][1] = a + pageSize
			} else {
				runs = append(runs, [2]uint64{a, a + pageSize})
			}
		}
		i += chunk
	}
	r.Guards = extentsOf(guards)
	return runs, nil
}

// extentsOf turns runs [start, end) into extents.
func extentsOf(runs [][2]uint64) []extent {
	var out []extent
	for _, g := range runs {
		out = append(out, extent{Addr: g[0], Len: g[1] - g[0]})
	}
	return out
}

// readExtent reads target memory at addr into b: process_vm_readv where it
// can, /proc/PID/mem (which also reads unreadable pages) where it cannot.
func (d *dumper) readExtent(b []byte, addr uint64) error {
	const chunk = 4 << 20
	for done := 0; done < len(b); {
		n := min(len(b)-done, chunk)
		local := []unix.Iovec{{Base: &b[done], Len: uint64(n)}}
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: n}}
		got, err := unix.ProcessVMReadv(d.pid, local, remote, 0)
		if err != nil || got <= 0 {
			got, err = d.mem.ReadAt(b[done:done+n], int64(addr)+int64(done))
			if err != nil {
				return fmt.Errorf("read %s(%d) va %#x c %d: %w", d.comm, d.pid, addr+uint64(done), n, err)
			}
		}
		done += got
	}
	return nil
}

func memAvailable() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			var kb uint64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

var zeroPage [pageSize]byte

// writeNonZeroFile writes b at off, seeking over all-zero pages (the CONVEX
// "seek over blocks of zeroes").
func writeNonZeroFile(f io.WriterAt, b []byte, off int64) error {
	n := len(b)
	for p := 0; p < n; {
		if bytes.Equal(b[p:p+pageSize], zeroPage[:]) {
			p += pageSize
			continue
		}
		q := p + pageSize
		for q < n && !bytes.Equal(b[q:q+pageSize], zeroPage[:]) {
			q += pageSize
		}
		if _, err := f.WriteAt(b[p:q], off+int64(p)); err != nil {
			return err
		}
		p = q
	}
	return nil
}

// fdWriter writes to a raw descriptor that must not be owned (and closed
// by a finalizer) by an *os.File.
type fdWriter int

func (w fdWriter) WriteAt(b []byte, off int64) (int, error) {
	n, err := unix.Pwrite(int(w), b, off)
	if err != nil {
		return n, &os.PathError{Op: "pwrite", Path: "fd " + strconv.Itoa(int(w)), Err: err}
	}
	return n, nil
}

// secretMemMagic: SECRETMEM_MAGIC, the filesystem of memfd_secret areas.
const secretMemMagic = 0x5345434d

// secretMemMsg says why a memfd_secret area is refused.
const secretMemMsg = ": a memfd_secret area: its pages are out of the kernel's direct map, no other process (nor /proc/PID/mem) may read them, so its content cannot be saved"

// isSecretMem reports whether path (a /proc/PID/fd link) is a
// memfd_secret descriptor.
func isSecretMem(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == secretMemMagic
}
