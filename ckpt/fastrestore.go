package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Memory restore. The process reads its saved pages into place itself: a
// pread64 injected into it, from a descriptor of the very open file
// description the restorer holds on the image (taken with pidfd_getfd),
// straight into the mapped region. That is one copy from the page cache,
// page faults taken in the process's own context, where writing through
// /proc/PID/mem, as the restore did first, walked the page tables and
// kmapped every 4 KiB page on its own and ran at a fifth of the speed.
//
// Integrity. What must be verified is what went into memory, not the
// file: a writer could change or replace the image between a check of the
// file and the process's read of it (the descriptor pins the inode, not
// its content, and the job's owner may well have write access to the
// image). So every segment is checked from the process's memory, after
// the pread put it there: the restorer reads it back (process_vm_readv,
// /proc/PID/mem for pages the process may not read) on a goroutine of its
// own, so that checking one piece overlaps the reading of the next, and
// the process does not run before every check passed. The pages are
// private anonymous copies by then (the pread copied them, nothing maps
// the image), so nothing can change them between the check and the run:
// a torn or forged segment kills the tree before it ever runs.
//
// Page size. A region comes back with the huge-page advice it had
// (MADV_HUGEPAGE, MADV_NOHUGEPAGE or neither: restoreVMFlags, after the
// fill), never with one the restore chose: VmFlags are the job's, and on
// these VMs a fault of a fresh 2 MiB page costs as much as five times its
// 512 small ones once freed memory has gone back to the host (free page
// reporting works on 2 MiB blocks): the touch-s and touch-huge-s figures
// of BenchmarkRestore. Forcing huge pages on every region from 8 MiB, as
// the restore did, made a warm 1 GiB restore take 2.8 s instead of 0.68 s.
//
// Page cache. The pages of the image the process has read are dropped
// from the page cache right after each read (POSIX_FADV_DONTNEED): they
// would only duplicate the job's memory, which a job that fills its node
// needs back, and on these VMs the faults of the next piece then take
// those pages, which the host already backs, instead of fresh ones that
// it must fault in first. A warm 4 GiB restore took 2.2-2.5 s with the
// drop against 2.8-3.3 s without (BenchmarkRestore/4096MiB, interleaved
// rounds). A second restore of the same image reads it from the disk.
//
// Segments whose bytes are not stored raw in the image file (see
// segmentFile) are read by the restorer into its own buffers, hashed there
// and decoded from there (streamSegment: the chunks of a compressed image
// on every CPU), and written into the process with process_vm_writev: what
// is verified is what is decoded, and nothing but the restorer can change
// its buffers, so the property holds without reading the memory back.
//
// Cold images. Images are written around the page cache (imagewrite.go),
// so the first restore after a checkpoint finds little of one there. A
// buffered read of it would fill the page cache first (a page allocated
// and read per 4 KiB, then copied): the piece the page cache does not
// hold whole (cachestat(2)) is read instead through a second, O_DIRECT,
// open file description of the same inode, the disk writing straight into
// the process's pages, in larger pieces that keep the disk busy. Pieces
// the page cache holds are read buffered, one copy. Either way what is
// checked is the memory the read wrote.

const (
	// fillPiece bounds one injected pread: the check of a piece runs
	// while the process reads the next.
	fillPiece = 8 << 20
	// checkPiece: memory read back for a check in pieces that stay in
	// the CPU cache for their checksum; one MAC chunk (macChunk), which
	// dataMAC then seals where it lies instead of copying it to a buffer
	// of its own first.
	checkPiece = macChunk
	// decodePiece: the buffer of the decoding path.
	decodePiece = 4 << 20
	// directPiece bounds one O_DIRECT read: the disk is given whole
	// requests (max_sectors_kb, 4 MiB on virtio) several at a time.
	directPiece = 32 << 20
	// dropAlign: the largest folio of the page cache (a PMD).
	dropAlign = 2 << 20
)

// segmentFile tells where the bytes of extent e of img lie as they are:
// at file offset off of the image file itself, holes reading as zeros.
// ok false means they must be decoded (readSegment): the one place where
// a compressed segment, or one held by an older generation, plugs in.
func (img *Image) segmentFile(e extent) (off int64, ok bool) {
	if img.comp != nil {
		return 0, false // streamSegment decodes it
	}
	return int64(img.dataStart + e.Off), true
}

// readSegment reads len(dst) bytes of the content of extent e, from byte
// at of the extent on, into dst, from the image file f.
func (img *Image) readSegment(f *os.File, e extent, at uint64, dst []byte) error {
	if at+uint64(len(dst)) > e.Len {
		return fmt.Errorf("%w: read past segment %#x-%#x", ErrCorrupt, e.Addr, e.Addr+e.Len)
	}
	off, ok := img.segmentFile(e)
	if !ok {
		return fmt.Errorf("%w: segment %#x-%#x has no stored form", ErrCorrupt, e.Addr, e.Addr+e.Len)
	}
	if _, err := f.ReadAt(dst, off+int64(at)); err != nil {
		return fmt.Errorf("read failed: unable to fill region from chkpnt file: %w", err)
	}
	return nil
}

// memFill fills the memory of one process being rebuilt and checks it.
// Its goroutine (check) is started by startFill and always ended by
// finish, which the builder defers.
type memFill struct {
	b   *builder
	own *fillSource // the process's own image
	// work: one queue per checker; segment k goes to checker k mod
	// checkers (segments are independent: each has its own checksum).
	work []chan checkItem
	next int
	done chan error
	over bool
	// chain: the images of the chain below the process's own, opened
	// when a region first needs them (incremental.go).
	chain map[*Image]*fillSource
	// directBytes counts what was read O_DIRECT (the -X log says).
	directBytes uint64
	// pf faults in anonymous memory ahead of the reads (prefault.go).
	pf prefaulter
}

// fillSource is one image file the process reads pages from: the
// restorer's descriptor and the process's.
type fillSource struct {
	img *Image
	f   *os.File
	tfd uint64
	// direct is the same inode opened O_DIRECT, at dtfd in the process
	// (see Cold images above); nil where the file system refuses it.
	direct *os.File
	dtfd   uint64
}

// openDirect gives src an O_DIRECT description of its file, at fd want of
// the process. It is opened through /proc/self/fd: the inode already
// open, whatever the path names now. Where that cannot be done, src
// reads buffered only.
func (f *memFill) openDirect(src *fillSource, want int) {
	if !directReads {
		return
	}
	d, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", src.f.Fd()), os.O_RDONLY|unix.O_DIRECT|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	if err := f.b.takeFD(int(d.Fd()), want, true); err != nil {
		d.Close()
		return
	}
	src.direct, src.dtfd = d, uint64(want)
}

// directReads: false reads every piece buffered (the benchmarks compare).
var directReads = true

// close closes src's direct description, in the process and ours.
func (f *memFill) closeDirect(src *fillSource) error {
	if src.direct == nil {
		return nil
	}
	src.direct.Close()
	src.direct = nil
	if _, err := f.b.call("close", unix.SYS_CLOSE, src.dtfd); err != nil {
		return fmt.Errorf("close image descriptor: %w", err)
	}
	return nil
}

// cached tells whether the page cache holds every page of bytes off to
// off+n of file. Without cachestat(2) (before Linux 6.5) it says yes:
// buffered reads, as before.
func cached(file *os.File, off, n int64) bool {
	var st unix.Cachestat_t
	rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	if err := unix.Cachestat(uint(file.Fd()), &rng, &st, 0); err != nil {
		return true
	}
	pages := (n + int64(os.Getpagesize()) - 1) / int64(os.Getpagesize())
	return int64(st.Cache) >= pages
}

// uncached tells whether the raw extents es of src are mostly not in
// the page cache and will be read O_DIRECT: then they are not read ahead
// (readAhead), the disk would be read twice.
func (src *fillSource) uncached(es []extent) bool {
	if src.direct == nil {
		return false
	}
	var want, have uint64
	for _, e := range es {
		off, ok := src.img.segmentFile(e)
		if !ok {
			continue
		}
		var st unix.Cachestat_t
		rng := unix.CachestatRange{Off: uint64(off), Len: e.Len}
		if err := unix.Cachestat(uint(src.f.Fd()), &rng, &st, 0); err != nil {
			return false
		}
		want += e.Len
		have += st.Cache * uint64(os.Getpagesize())
	}
	return have < want/2
}

// checkers is the number of checker goroutines of one process: the
// checksum, HMAC above all, costs more than the read it checks.
const checkers = 2

// checkItem is one piece of a segment for the checker, in segment order:
// n bytes now in the process at addr, or a hole of n zero bytes, or (end)
// the segment is complete.
type checkItem struct {
	c    *segCheck
	addr uint64
	n    uint64
	hole bool
	end  bool
	sync chan error // a barrier: answered once every piece before it is checked
}

// startFill gives the process a descriptor of img (above every saved one
// and the pidfd) and starts the checker.
func (b *builder) startFill(img *os.File) (*memFill, error) {
	f := &memFill{b: b, done: make(chan error, checkers)}
	f.pf.write = func(addr, n uint64) error { return writeZeros(b.pid, addr, n) }
	want := b.spareFD + 2
	if err := b.takeFD(int(img.Fd()), want, true); err != nil {
		return nil, fmt.Errorf("image descriptor: %w", err)
	}
	f.own = &fillSource{img: b.p.img, f: img, tfd: uint64(want)}
	f.openDirect(f.own, want+1)
	for i := 0; i < checkers; i++ {
		w := make(chan checkItem, 256)
		f.work = append(f.work, w)
		go f.check(w)
	}
	return f, nil
}

// finish waits for the checker and closes the process's image descriptor;
// it returns the first failed check.
func (f *memFill) finish() error {
	if f.over {
		return nil
	}
	f.over = true
	f.pf.wait(^uint64(0))
	var err error
	for _, s := range f.chain {
		if cerr := f.closeDirect(s); cerr != nil && err == nil {
			err = cerr
		}
		if _, cerr := f.b.call("close", unix.SYS_CLOSE, s.tfd); cerr != nil && err == nil {
			err = fmt.Errorf("close image descriptor: %w", cerr)
		}
		s.f.Close()
	}
	for _, w := range f.work {
		close(w)
	}
	for range f.work {
		if e := <-f.done; e != nil && err == nil {
			err = e
		}
	}
	if cerr := f.closeDirect(f.own); cerr != nil && err == nil {
		err = cerr
	}
	if _, cerr := f.b.call("close", unix.SYS_CLOSE, f.own.tfd); cerr != nil && err == nil {
		err = fmt.Errorf("close image descriptor: %w", cerr)
	}
	return err
}

// readAhead asks the page cache for the raw extents of the regions rs of
// the process's own image, unless they will be read O_DIRECT.
func (f *memFill) readAhead(rs []region) {
	var es []extent
	for _, rg := range rs {
		es = append(es, rg.Extents...)
	}
	if f.own.uncached(es) {
		return
	}
	for _, e := range es {
		if off, ok := f.own.img.segmentFile(e); ok {
			unix.Fadvise(int(f.own.f.Fd()), off, int64(e.Len), unix.FADV_WILLNEED)
		}
	}
}

// check verifies the pieces queued on work as they come. After a failure
// it only drains the queue: the restore fails as a whole.
func (f *memFill) check(work <-chan checkItem) {
	var first error
	buf := make([]byte, checkPiece)
	for it := range work {
		if it.sync != nil {
			it.sync <- first
			continue
		}
		if first != nil {
			continue
		}
		switch {
		case it.end:
			first = it.c.verify()
		case it.hole:
			it.c.h.zeros(it.n)
		default:
			for done := uint64(0); done < it.n; {
				k := min(it.n-done, checkPiece)
				if err := f.b.readMem(buf[:k], it.addr+done); err != nil {
					first = err
					break
				}
				it.c.h.write(buf[:k])
				done += k
			}
		}
	}
	f.done <- first
}

// readMem reads the process's memory at addr into b: process_vm_readv, or
// /proc/PID/mem for what the process may not read itself.
func (b *builder) readMem(buf []byte, addr uint64) error {
	for done := 0; done < len(buf); {
		local := []unix.Iovec{{Base: &buf[done], Len: uint64(len(buf) - done)}}
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: len(buf) - done}}
		got, err := unix.ProcessVMReadv(b.pid, local, remote, 0)
		if err != nil || got <= 0 {
			got, err = b.mem.ReadAt(buf[done:], int64(addr)+int64(done))
			if err != nil {
				return fmt.Errorf("check va %#x: %w", addr+uint64(done), err)
			}
		}
		done += got
	}
	return nil
}

// fillRegion fills every saved extent of rg. A private file mapping's
// saved pages replace the file's, zero or not; in anonymous memory a zero
// page (a hole of the image) is left untouched.
func (f *memFill) fillRegion(rg region) error {
	f.pf.on = rg.Kind == regionAnon
	defer func() { f.pf.on = false }()
	if rg.FromParent {
		return f.fillLayers(rg)
	}
	return f.fillExtents(f.own, rg.Extents, rg.Kind == regionFile)
}

// fillExtents fills the extents es of src's image.
func (f *memFill) fillExtents(src *fillSource, es []extent, all bool) error {
	for _, e := range es {
		var err error
		if off, ok := src.img.segmentFile(e); ok {
			err = f.fillRaw(src, e, off, all)
		} else {
			err = f.fillDecoded(src, e, all)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fillLayers fills a region an incremental image inherits: from the
// oldest image of its chain up, each image's pages verified before the
// next one's go over them, the pages gone since dropped in between
// (MADV_DONTNEED: zero, or the file's page again). The pages of an image
// above the oldest are written whole, zeros included: they replace pages.
func (f *memFill) fillLayers(rg region) error {
	ls, err := f.b.p.img.layers(rg)
	if err != nil {
		return err
	}
	for i, l := range ls {
		if i > 0 {
			if err := f.sync(); err != nil {
				return err
			}
			for _, c := range l.rg.Clear {
				if _, err := f.b.call("madvise", unix.SYS_MADVISE, c[0], c[1]-c[0], unix.MADV_DONTNEED); err != nil {
					return fmt.Errorf("region %#x-%#x: drop %#x-%#x: %w", rg.Start, rg.End, c[0], c[1], err)
				}
			}
		}
		src, err := f.source(l.img)
		if err != nil {
			return err
		}
		if i > 0 {
			err = f.fillScattered(src, l.rg.Extents)
		} else {
			err = f.fillExtents(src, l.rg.Extents, rg.Kind == regionFile)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fillScattered fills extents es of src's image whole, zeros included:
// the runs of pages a newer image of a chain holds. They are scattered in
// memory and follow one another in the file, so one injected preadv reads
// up to iovMax of them (a pread each cost a round trip per page).
func (f *memFill) fillScattered(src *fillSource, es []extent) error {
	for len(es) > 0 {
		n, total := 0, uint64(0)
		base, ok := src.img.segmentFile(es[0])
		for n < len(es) && n < iovMax && total+es[n].Len <= fillPiece {
			off, raw := src.img.segmentFile(es[n])
			if !ok || !raw || off != base+int64(total) {
				break
			}
			total += es[n].Len
			n++
		}
		if n <= 1 {
			if err := f.fillExtents(src, es[:1], true); err != nil {
				return err
			}
			es = es[1:]
			continue
		}
		iov := make([]byte, 16*n)
		for k, e := range es[:n] {
			binary.LittleEndian.PutUint64(iov[16*k:], e.Addr)
			binary.LittleEndian.PutUint64(iov[16*k+8:], e.Len)
		}
		addr, err := f.b.put(scratchData, iov)
		if err != nil {
			return err
		}
		got, err := f.b.call("preadv", unix.SYS_PREADV, src.tfd, addr, uint64(n), uint64(base), 0)
		if err != nil {
			return fmt.Errorf("read failed: unable to fill region from chkpnt file: %w", err)
		}
		if got != total {
			return &ImageError{Path: src.img.Path, Err: fmt.Errorf("%w: segments %#x...: %d bytes of %d read", ErrCorrupt, es[0].Addr, got, total)}
		}
		for _, e := range es[:n] {
			c := src.img.checkSegment(e)
			work := f.work[f.next%len(f.work)]
			f.next++
			work <- checkItem{c: c, addr: e.Addr, n: e.Len}
			work <- checkItem{c: c, end: true}
		}
		es = es[n:]
	}
	return nil
}

// iovMax is IOV_MAX; 16 bytes each, they fit the scratch area.
const iovMax = 1024

// sync waits until every piece queued so far is checked; it returns the
// first failed check.
func (f *memFill) sync() error {
	var first error
	for _, w := range f.work {
		c := make(chan error, 1)
		w <- checkItem{sync: c}
		if err := <-c; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// source returns the file of img to fill from: the process's own image,
// or one of its chain, given to the process on first use.
func (f *memFill) source(img *Image) (*fillSource, error) {
	if img == f.b.p.img {
		return f.own, nil
	}
	if s, ok := f.chain[img]; ok {
		return s, nil
	}
	file, err := openImage(img.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", img.Path, err)
	}
	// Two descriptors each: the image's and its O_DIRECT one.
	want := f.b.spareFD + 4 + 2*len(f.chain)
	if err := f.b.takeFD(int(file.Fd()), want, true); err != nil {
		file.Close()
		return nil, fmt.Errorf("image descriptor: %w", err)
	}
	if f.chain == nil {
		f.chain = map[*Image]*fillSource{}
	}
	s := &fillSource{img: img, f: file, tfd: uint64(want)}
	f.chain[img] = s
	f.openDirect(s, want+1)
	// Its pages are read next, few or many: from the disk now, unless
	// they are read O_DIRECT (the process's own image was asked for
	// before the regions were mapped).
	unix.Fadvise(int(file.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	if st, err := file.Stat(); s.direct == nil || err == nil && cached(file, int64(img.dataStart), st.Size()-int64(img.dataStart)) {
		unix.Fadvise(int(file.Fd()), int64(img.dataStart), 0, unix.FADV_WILLNEED)
	}
	return s, nil
}

// fillRaw has the process pread extent e from the image file, data run by
// data run (SEEK_DATA/SEEK_HOLE), and queues each piece for its check.
func (f *memFill) fillRaw(src *fillSource, e extent, base int64, all bool) error {
	c := src.img.checkSegment(e)
	work := f.work[f.next%len(f.work)]
	f.next++
	fd := int(src.f.Fd())
	end := base + int64(e.Len)
	pos := base
	for pos < end {
		dataAt, holeAt := pos, end
		if !all {
			d, err := unix.Seek(fd, pos, unix.SEEK_DATA)
			if err == unix.ENXIO || (err == nil && d >= end) {
				break
			}
			if err == nil {
				dataAt = d
				if h, err := unix.Seek(fd, d, unix.SEEK_HOLE); err == nil && h < end {
					holeAt = h
				}
			}
		}
		if dataAt > pos {
			work <- checkItem{c: c, n: uint64(dataAt - pos), hole: true}
		}
		f.pf.startRun(e.Addr+uint64(dataAt-base), e.Addr+uint64(holeAt-base))
		for p := dataAt; p < holeAt; {
			addr := e.Addr + uint64(p-base)
			n, got, err := f.readPiece(src, addr, p, holeAt-p)
			if err != nil {
				return fmt.Errorf("read failed: unable to fill region from chkpnt file: %w", err)
			}
			if got == 0 || int64(got) > n {
				return &ImageError{Path: src.img.Path, Err: fmt.Errorf("%w: segment %#x-%#x: file ends at %d", ErrCorrupt, e.Addr, e.Addr+e.Len, p)}
			}
			work <- checkItem{c: c, addr: addr, n: got}
			p += int64(got)
		}
		pos = holeAt
	}
	f.pf.wait(^uint64(0))
	if pos < end {
		work <- checkItem{c: c, n: uint64(end - pos), hole: true}
	}
	work <- checkItem{c: c, end: true}
	return nil
}

// readPiece has the process read up to rest bytes at file offset off of
// src into addr, in one call: O_DIRECT what the page cache does not hold
// (see Cold images), buffered the rest. n is what it asked for.
func (f *memFill) readPiece(src *fillSource, addr uint64, off, rest int64) (n int64, got uint64, err error) {
	if src.direct != nil {
		n = min(int64(directPiece), rest)
		if !cached(src.f, off, n) {
			f.pf.before(addr, uint64(n))
			got, err = f.b.call("pread64", unix.SYS_PREAD64, src.dtfd, addr, uint64(n), uint64(off))
			if errnoOf(err) != unix.EINVAL {
				f.directBytes += got
				return n, got, err
			}
			// Alignment the file system does not take: buffered
			// from now on.
			if err := f.closeDirect(src); err != nil {
				return 0, 0, err
			}
		}
	}
	n = min(int64(fillPiece), rest)
	f.pf.before(addr, uint64(n))
	got, err = f.b.call("pread64", unix.SYS_PREAD64, src.tfd, addr, uint64(n), uint64(off))
	if err == nil && got > 0 {
		// What the process read goes out of the page cache (see
		// Page cache): its pages back the next piece's faults. The
		// kernel drops only the folios wholly in the range, and they
		// may be 2 MiB: from the 2 MiB boundary below, so that the one
		// across the last piece's end, read by now, goes too.
		from := off &^ (dropAlign - 1)
		unix.Fadvise(int(src.f.Fd()), from, off+int64(got)-from, unix.FADV_DONTNEED)
	}
	return n, got, err
}

// fillDecoded reads extent e through readSegment into a buffer of ours,
// checks it there and writes it into the process (process_vm_writev):
// what is checked is what is written.
func (f *memFill) fillDecoded(src *fillSource, e extent, all bool) error {
	img := src.img
	c := img.checkSegment(e)
	w := memWriter{b: f.b}
	err := img.streamSegment(src.f, e, c, func(at uint64, b []byte) error {
		if all {
			_, err := w.WriteAt(b, int64(e.Addr+at))
			return err
		}
		return writeNonZeroFile(w, b, int64(e.Addr+at))
	})
	if err != nil {
		return err
	}
	return c.verify()
}

// memWriter writes into the process's memory with process_vm_writev, and
// through /proc/PID/mem what it may not write itself.
type memWriter struct{ b *builder }

func (w memWriter) WriteAt(buf []byte, off int64) (int, error) {
	for done := 0; done < len(buf); {
		local := []unix.Iovec{{Base: &buf[done], Len: uint64(len(buf) - done)}}
		remote := []unix.RemoteIovec{{Base: uintptr(off) + uintptr(done), Len: len(buf) - done}}
		got, err := unix.ProcessVMWritev(w.b.pid, local, remote, 0)
		if err != nil || got <= 0 {
			if got, err = w.b.mem.WriteAt(buf[done:], off+int64(done)); err != nil {
				return done, fmt.Errorf("write va %#x: %w", uint64(off)+uint64(done), err)
			}
		}
		done += got
	}
	return len(buf), nil
}
