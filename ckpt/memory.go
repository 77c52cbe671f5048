package ckpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmSwapped = 1 << 62
	pmFile    = 1 << 61 // file page or shared anonymous
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
	var off uint64
	for _, mp := range maps {
		r, full, err := d.classify(mp)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		var runs [][2]uint64 // [start, end) addresses of saved pages
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
		default:
			runs, err = d.savedRuns(pm, r)
			if err != nil {
				return err
			}
			if r.Kind == regionFile && len(runs) > fileRunsMax {
				runs = [][2]uint64{{r.Start, r.End}}
			}
		}
		// One PT_LOAD per run of saved pages and per gap between them, so
		// gdb sees every address of the region.
		pos := r.Start
		for _, run := range runs {
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
		d.log.Info(fmt.Sprintf("%s(%d) region %#x-%#x %s %s %s: %d KiB saved", d.comm, d.pid, r.Start, r.End, mp.Perms, r.Kind, r.Name, extLen(r.Extents)/1024))
		d.meta.Regions = append(d.meta.Regions, *r)
	}
	if len(d.loads) > maxLoads {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
			Msg: fmt.Sprintf("%d memory segments exceeds max of %d", len(d.loads), maxLoads)}
	}
	d.dataLen = off
	return nil
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
	case strings.HasPrefix(name, "["):
		if d.opts.Force {
			d.warn("%s(%d): region %#x-%#x %s not saved (forced)", d.comm, d.pid, mp.Start, mp.End, name)
			return nil, false, nil
		}
		return nil, false, &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("region %#x-%#x %s cannot be checkpointed", mp.Start, mp.End, name)}
	}
	deleted := strings.HasSuffix(name, " (deleted)")
	if mp.shared() && deleted && strings.HasPrefix(name, "/SYSV") {
		// A SysV segment: its inode number is its id (newseg), its
		// bytes are saved once with the tree's IPC objects.
		r.Kind, r.Shmid = regionSysV, int(mp.Inode)
		return r, false, nil
	}
	if mp.shared() {
		if deleted || mp.Major == 0 && mp.Minor == 1 {
			// /dev/zero, SysV and memfd shared memory, or a shared file
			// that is gone: save the content, restore as shared memory.
			r.Kind = regionShmem
			return r, false, nil
		}
		mf := fmt.Sprintf("/proc/%d/map_files/%x-%x", d.pid, mp.Start, mp.End)
		ref := statRef(name, mf)
		if onTmpfs(mf) || strings.HasPrefix(ref.Path, "/tmp/") {
			// Would not survive a reboot (/tmp is emptied at boot even
			// when it is not tmpfs): saved (tmpfsmap.go).
			r.Kind, r.File, r.Tmpfs = regionShmem, &ref, true
			return r, false, nil
		}
		r.Kind, r.File = regionShared, &ref
		return r, false, nil
	}
	ref := statRef(name, fmt.Sprintf("/proc/%d/map_files/%x-%x", d.pid, mp.Start, mp.End))
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

// savedRuns returns the runs of pages of r that the image must hold: the
// present or swapped pages of anonymous memory, and of a private file
// mapping the pages that were copied on write.
func (d *dumper) savedRuns(pm *os.File, r *region) ([][2]uint64, error) {
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
			gap := uint64(1)
			if r.Kind != regionFile {
				gap = anonGapMerge
			}
			if k := len(runs); k > 0 && a <= runs[k-1][1]+(gap-1)*pageSize {
				runs[k-1][1] = a + pageSize
			} else {
				runs = append(runs, [2]uint64{a, a + pageSize})
			}
		}
		i += chunk
	}
	return runs, nil
}

// snapshot copies every saved extent of the frozen target into one buffer
// of our own, so the target can run again before the image is written:
// reading memory runs at several GB/s, writing a new file into the page
// cache at a fraction of that. The buffer is d.buf when that is large
// enough (allocated before the freeze, see allocSnapshot). It returns nil
// (and the image is written from the live, frozen target) when the buffer
// would not fit in memory.
func (d *dumper) snapshot() ([]byte, error) {
	if d.dataLen == 0 {
		return nil, nil
	}
	if uint64(len(d.buf)) < d.dataLen {
		d.freeSnapshot()
		if d.allocSnapshot(d.dataLen); d.buf == nil {
			return nil, nil
		}
	}
	buf := d.buf[:d.dataLen]
	for _, r := range d.meta.Regions {
		for _, e := range r.Extents {
			if err := d.readExtent(buf[e.Off:e.Off+e.Len], e.Addr); err != nil {
				return nil, err
			}
		}
	}
	return buf, nil
}

// allocSnapshot maps a buffer of n bytes for snapshot, unless that would
// take more than half of the available memory. Huge pages and one bulk
// populate make it far cheaper than faulting pages in one by one on
// these VMs.
func (d *dumper) allocSnapshot(n uint64) {
	if n == 0 || n > memAvailable()/2 {
		return
	}
	buf, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return
	}
	unix.Madvise(buf, unix.MADV_HUGEPAGE)
	if err := unix.Madvise(buf, unix.MADV_POPULATE_WRITE); err != nil {
		unix.Munmap(buf)
		return
	}
	d.buf = buf
}

func (d *dumper) freeSnapshot() {
	if d.buf != nil {
		unix.Munmap(d.buf)
		d.buf = nil
	}
}

// snapshotEstimate guesses, before the freeze, how many bytes snapshot
// will need: the process's anonymous and shared resident memory, plus room
// for pages copied on write in file mappings.
func snapshotEstimate(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	var kb uint64
	for _, line := range strings.Split(string(data), "\n") {
		for _, k := range []string{"RssAnon:", "RssShmem:", "VmPTE:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				var n uint64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
				kb += n
			}
		}
	}
	return kb*1024 + kb*1024/16 + 8<<20
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

// writeImage writes the image under a temporary name beside its final one
// and returns that name. Memory comes from snap (see snapshot) or, when
// snap is nil, from the frozen target. All-zero pages are skipped (holes),
// so the file is sparse. The checksums (and with a key the HMACs) of the
// segments are computed as they are written and go into the checksum note,
// written last (see sums).
func (d *dumper) writeImage(ctx context.Context, snap []byte) (tmpName string, retErr error) {
	var regs []unix.PtraceRegs
	var xstate [][]byte
	if !d.zombie {
		regs, xstate = d.tregs, d.txstate
	}
	nseg := 0
	for _, r := range d.meta.Regions {
		nseg += len(r.Extents)
	}
	key := d.opts.Key
	notes, err := buildNotes(&d.meta, regs, xstate, nseg, key != nil)
	if err != nil {
		return "", err
	}
	hdr, dataStart := imageHeader(notes, d.loads)
	sumsAt := len(hdr) - sumsLen(nseg, key != nil)
	ss := sums{keyed: key != nil, head: crcOf(hdr[:sumsAt]), segs: make([]segSum, 0, nseg)}
	if key != nil {
		copy(ss.metaMAC[:], metaMAC(key, hdr[:sumsAt]))
	}
	f, err := os.CreateTemp(filepath.Dir(d.path), "."+filepath.Base(d.path)+".tmp*")
	if err != nil {
		return "", err
	}
	defer func() {
		f.Close()
		if retErr != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return "", fmt.Errorf("%s: write header: %w", d.path, err)
	}
	var buf []byte
	out := f
	if snap == nil {
		buf = make([]byte, 4<<20)
	} else if df, err := os.OpenFile(f.Name(), os.O_WRONLY|unix.O_DIRECT, 0); err == nil {
		// The snapshot is page aligned and so are the runs written from
		// it: write them around the page cache, which on these VMs costs
		// more than the disk.
		defer df.Close()
		out = df
	}
	var exts []extent
	for _, r := range d.meta.Regions {
		exts = append(exts, r.Extents...)
	}
	// From a snapshot, the checksums are computed by a goroutine of their
	// own while this one waits on the disk; it only reads snap and is
	// always waited for (snap is unmapped after us).
	var sumsDone chan []segSum
	if snap != nil {
		sumsDone = make(chan []segSum, 1)
		go func() { sumsDone <- snapshotSums(snap, exts, key, ss.metaMAC[:]) }()
		defer func() {
			if sumsDone != nil {
				<-sumsDone
			}
		}()
	}
	for _, e := range exts {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		h := newSegHash(key, ss.metaMAC[:], len(ss.segs))
		for done := uint64(0); done < e.Len; {
			var b []byte
			if snap != nil {
				b = snap[e.Off : e.Off+e.Len]
			} else {
				b = buf[:min(e.Len-done, uint64(len(buf)))]
				if err := d.readExtent(b, e.Addr+done); err != nil {
					return "", err
				}
			}
			if snap == nil {
				h.write(b)
			}
			err := writeNonZeroFile(out, b, int64(dataStart+e.Off+done))
			if err != nil && out != f && errors.Is(err, unix.EINVAL) {
				// This filesystem takes no direct I/O.
				out = f
				err = writeNonZeroFile(out, b, int64(dataStart+e.Off+done))
			}
			if err != nil {
				return "", fmt.Errorf("%s: write proc region: %w", d.path, err)
			}
			done += uint64(len(b))
		}
		ss.segs = append(ss.segs, h.sum())
	}
	if sumsDone != nil {
		ss.segs = <-sumsDone
		sumsDone = nil
	}
	if _, err := f.WriteAt(ss.encode(), int64(sumsAt)); err != nil {
		return "", fmt.Errorf("%s: write checksums: %w", d.path, err)
	}
	if err := f.Truncate(int64(dataStart + d.dataLen)); err != nil {
		return "", fmt.Errorf("%s: seek: %w", d.path, err)
	}
	return f.Name(), nil
}

// snapshotSums returns the checksums of the extents exts of snap.
func snapshotSums(snap []byte, exts []extent, key, metaMAC []byte) []segSum {
	out := make([]segSum, len(exts))
	for i, e := range exts {
		h := newSegHash(key, metaMAC, i)
		h.write(snap[e.Off : e.Off+e.Len])
		out[i] = h.sum()
	}
	return out
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
