package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lazy restore (RestartOptions.Lazy): the process runs as soon as its
// state is back, before its private anonymous memory is, and the pages
// come in from the image as it touches them. Each such region is
// registered with a userfaultfd (missing mode) made by the process itself
// (an injected userfaultfd(2): the context belongs to the mm of its
// creator), taken by the restorer with pidfd_getfd; the restorer's loader
// goroutine answers every fault with UFFDIO_COPY and meanwhile copies the
// rest in the background, so the image is needed only until everything is
// in (Process.Loaded).
//
// Integrity: the unit is the image's segment (saved extent). On the first
// fault in a segment, or when the background load reaches it, the loader
// reads the whole segment into a buffer of its own, verifies its CRC-32C
// (and HMAC) there, and only then copies it in: a page is never seen by the
// process before its segment verified, and what is copied is the buffer
// that was checked. A segment that fails kills the tree (the faulting
// thread never returns to user space) and Process.Wait reports it.
// Segments beyond lazySegMax (images of engines that did not cut them, see
// segMax) are restored eagerly, as without Lazy.
//
// The process's memory may change shape while pages are missing: the
// non-cooperative events (fork, mremap, madvise(MADV_DONTNEED), munmap)
// are followed, so a forked child gets the pages its parent had, moved
// pages come in at their new address, and dropped ones read as zeros,
// exactly as they would have with the memory present.

// lazySegMax bounds the segment loaded at a fault: reading and verifying
// it is the latency of that first fault.
const lazySegMax = 64 << 20

// userfaultfd ABI (linux/userfaultfd.h).
const (
	uffdAPI          = 0xaa
	uffdioAPI        = 0xc018aa3f
	uffdioRegister   = 0xc020aa00
	uffdioWake       = 0x8010aa02
	uffdioCopy       = 0xc028aa03
	uffdioZeropage   = 0xc020aa04
	uffdRegMissing   = 1
	uffdEventFault   = 0x12
	uffdEventFork    = 0x13
	uffdEventRemap   = 0x14
	uffdEventRemove  = 0x15
	uffdEventUnmap   = 0x16
	uffdFeatFork     = 1 << 1
	uffdFeatRemap    = 1 << 2
	uffdFeatRemove   = 1 << 3
	uffdFeatUnmap    = 1 << 6
	uffdMsgSize      = 32
	uffdLazyFeatures = uffdFeatFork | uffdFeatRemap | uffdFeatRemove | uffdFeatUnmap
)

// lazyRegion reports whether rg is restored lazily.
func (b *builder) lazyRegion(rg region) bool {
	if !b.r.opts.Lazy || rg.Kind != regionAnon || (len(rg.Extents) == 0 && !rg.FromParent) {
		return false
	}
	if len(rg.Inherit) > 0 || b.p.cow.kept[rg.Start] {
		return false // shared with a parent or an heir (cowshare.go)
	}
	for _, a := range rg.Advice {
		if a == "lo" || a == "lf" {
			return false // mlock'ed: its pages must all be there (restoreVMFlags)
		}
	}
	ls := []layer{{b.p.img, rg}}
	if rg.FromParent {
		// An incremental image's region: its pages come from the images
		// of its chain (lazyLayers), as fillLayers would place them.
		var err error
		if ls, err = b.p.img.layers(rg); err != nil {
			return false // the eager fill reports it
		}
	}
	for _, l := range ls {
		for _, e := range l.rg.Extents {
			if e.Len > lazySegMax || l.img.segment(e) < 0 {
				return false
			}
		}
	}
	return true
}

// lazyLayers returns the pieces of region rg of img, each from the image
// of its chain that holds the page last: the oldest image's extents, then
// for each newer one, the ranges it dropped (Clear: zero pages, as
// MADV_DONTNEED leaves them) and its extents over what was there.
func lazyLayers(img *Image, rg region, source func(*Image) *lazySource) ([]lazyPiece, error) {
	ls := []layer{{img, rg}}
	if rg.FromParent {
		var err error
		if ls, err = img.layers(rg); err != nil {
			return nil, err
		}
	}
	var acc lazyMM
	for i, l := range ls {
		if i > 0 {
			for _, c := range l.rg.Clear {
				acc.cut(c[0], c[1])
			}
		}
		src := source(l.img)
		for _, e := range l.rg.Extents {
			acc.cut(e.Addr, e.Addr+e.Len)
			src.segs = append(src.segs, e)
			acc.pieces = append(acc.pieces, lazyPiece{addr: e.Addr, len: e.Len, src: src, seg: len(src.segs) - 1})
		}
	}
	return acc.pieces, nil
}

// registerLazy registers the lazy regions of the process (b.lazy) with a
// userfaultfd of its own and hands it to the loader.
func (b *builder) registerLazy() error {
	if len(b.lazy) == 0 {
		return nil
	}
	fd, err := b.call("userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK)
	if err != nil {
		return fmt.Errorf("lazy restore: userfaultfd: %w", err)
	}
	defer b.call("close", unix.SYS_CLOSE, fd)
	le := binary.LittleEndian
	api := make([]byte, 24)
	le.PutUint64(api, uffdAPI)
	le.PutUint64(api[8:], uffdLazyFeatures)
	addr, err := b.put(scratchData, api)
	if err != nil {
		return err
	}
	if _, err := b.call("ioctl", unix.SYS_IOCTL, fd, uffdioAPI, addr); err != nil {
		return fmt.Errorf("lazy restore: UFFDIO_API: %w", err)
	}
	m := &lazyMM{}
	var srcs []*lazySource
	handed := false // to the loader, which closes them
	defer func() {
		for _, s := range srcs {
			if s.f != nil && !handed {
				s.f.Close()
			}
		}
	}()
	source := func(img *Image) *lazySource {
		for _, s := range srcs {
			if s.img == img {
				return s
			}
		}
		s := &lazySource{img: img}
		srcs = append(srcs, s)
		return s
	}
	for _, rg := range b.lazy {
		reg := make([]byte, 32)
		le.PutUint64(reg, rg.Start)
		le.PutUint64(reg[8:], rg.End-rg.Start)
		le.PutUint64(reg[16:], uffdRegMissing)
		if addr, err = b.put(scratchData, reg); err != nil {
			return err
		}
		if _, err := b.call("ioctl", unix.SYS_IOCTL, fd, uffdioRegister, addr); err != nil {
			return fmt.Errorf("lazy restore: register %#x-%#x: %w", rg.Start, rg.End, err)
		}
		ps, err := lazyLayers(b.p.img, rg, source)
		if err != nil {
			return err
		}
		m.pieces = append(m.pieces, ps...)
	}
	pidfd, err := unix.PidfdOpen(b.pid, 0)
	if err != nil {
		return fmt.Errorf("lazy restore: pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	ufd, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		return fmt.Errorf("lazy restore: pidfd_getfd: %w", err)
	}
	for _, s := range srcs {
		if s.f, err = openImage(s.img.Path); err != nil {
			unix.Close(ufd)
			return err
		}
	}
	m.fd = ufd
	sort.Slice(m.pieces, func(i, j int) bool { return m.pieces[i].addr < m.pieces[j].addr })
	if b.r.lazy == nil {
		if b.r.lazy, err = newLazyLoader(b.r.killAll, b.r.root.img.Path); err != nil {
			m.close()
			return err
		}
	}
	b.r.lazy.add(m, srcs, pidfd)
	handed = true
	return nil
}

// killAll kills every process the restore created.
func (r *restorer) killAll() {
	for _, pid := range r.created {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// lazySource is one image whose segments are loaded lazily.
type lazySource struct {
	img  *Image
	f    *os.File
	segs []extent
}

// lazyPiece is a part of a segment not yet in memory: len bytes at addr
// are bytes off.. of segment seg of src.
type lazyPiece struct {
	addr, len uint64
	off       uint64
	src       *lazySource
	seg       int
}

// lazyMM is one address space with pages missing, and its userfaultfd.
type lazyMM struct {
	fd     int
	pieces []lazyPiece // sorted by addr, disjoint
	// The keeper holds a duplicate of fd as id (lazykeep.go).
	keep *keeper
	id   uint32
}

func (m *lazyMM) close() {
	if m.fd >= 0 {
		unix.Close(m.fd)
		m.fd = -1
		m.keep.send(keepClose, m.id)
	}
	m.pieces = nil
}

// find returns the index of the piece holding addr, or -1.
func (m *lazyMM) find(addr uint64) int {
	i := sort.Search(len(m.pieces), func(i int) bool { return m.pieces[i].addr+m.pieces[i].len > addr })
	if i < len(m.pieces) && m.pieces[i].addr <= addr {
		return i
	}
	return -1
}

// cut takes [start, end) out of the pieces and returns what it took.
func (m *lazyMM) cut(start, end uint64) []lazyPiece {
	var kept, taken []lazyPiece
	for _, p := range m.pieces {
		pe := p.addr + p.len
		if pe <= start || p.addr >= end {
			kept = append(kept, p)
			continue
		}
		if p.addr < start {
			kept = append(kept, lazyPiece{addr: p.addr, len: start - p.addr, off: p.off, src: p.src, seg: p.seg})
		}
		if pe > end {
			kept = append(kept, lazyPiece{addr: end, len: pe - end, off: p.off + (end - p.addr), src: p.src, seg: p.seg})
		}
		lo, hi := max(p.addr, start), min(pe, end)
		taken = append(taken, lazyPiece{addr: lo, len: hi - lo, off: p.off + (lo - p.addr), src: p.src, seg: p.seg})
	}
	m.pieces = kept
	return taken
}

// lazyLoader serves the faults of every lazily restored process of a
// tree and loads the rest in the background. Its goroutine is started by
// newLazyLoader and ends when every page is in, when a segment fails its
// check (the tree is killed), or on stop; done is closed then.
type lazyLoader struct {
	mu      sync.Mutex
	pending []*lazyMM
	srcs    []*lazySource
	wake    [2]int // add, seal and stop wake the poll
	stopped bool
	sealed  bool // every process of the tree is added

	mms  []*lazyMM // the goroutine's own
	keep *keeper   // holds every userfaultfd too (lazykeep.go)
	kill func()
	err  error // set before done is closed
	done chan struct{}
	buf  []byte
	// vsegs: compressed segments verified, stored form (load).
	vsegs []*verifiedSeg
}

// lazyHold, if set, holds the background load (the pages not faulted,
// copied in while nothing faults) until it is closed: tests set it to have
// pages missing for as long as they need.
var lazyHold chan struct{}

// lazyHeld reports whether lazyHold holds the background load.
func lazyHeld() bool {
	if lazyHold == nil {
		return false
	}
	select {
	case <-lazyHold:
		return false
	default:
		return true
	}
}

func newLazyLoader(kill func(), image string) (*lazyLoader, error) {
	l := &lazyLoader{kill: kill, done: make(chan struct{})}
	if err := unix.Pipe2(l.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("lazy restore: %w", err)
	}
	k, err := startKeeper(image)
	if err != nil {
		unix.Close(l.wake[0])
		unix.Close(l.wake[1])
		return nil, err
	}
	l.keep = k
	go l.run()
	return l, nil
}

// add hands the loader the address space of the process of pidfd, and the
// keeper a duplicate of its userfaultfd.
func (l *lazyLoader) add(m *lazyMM, srcs []*lazySource, pidfd int) {
	m.keep, m.id = l.keep, l.keep.ids.Add(1)
	l.keep.send(keepMM, m.id, m.fd, pidfd)
	l.mu.Lock()
	l.pending = append(l.pending, m)
	l.srcs = append(l.srcs, srcs...)
	l.mu.Unlock()
	unix.Write(l.wake[1], []byte{0})
}

// seal tells the loader that every process is added (pids, the whole
// tree, killed by the keeper if we end first): it ends once all their
// pages are in.
func (l *lazyLoader) seal(pids []int) {
	l.keep.procs(pids)
	l.mu.Lock()
	l.sealed = true
	l.mu.Unlock()
	unix.Write(l.wake[1], []byte{0})
}

// stop ends the loader (the restore failed) and waits for it.
func (l *lazyLoader) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	unix.Write(l.wake[1], []byte{0})
	<-l.done
}

func (l *lazyLoader) run() {
	defer func() {
		for _, m := range l.mms {
			m.close()
		}
		l.mu.Lock()
		for _, m := range l.pending {
			m.close()
		}
		for _, s := range l.srcs {
			s.f.Close()
		}
		l.mu.Unlock()
		unix.Close(l.wake[0])
		unix.Close(l.wake[1])
		// Every page is in, or the tree was killed: the keeper can let
		// the userfaultfds go.
		l.keep.done()
		close(l.done)
	}()
	for {
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return
		}
		l.mms = append(l.mms, l.pending...)
		l.pending = nil
		sealed := l.sealed
		l.mu.Unlock()
		var live []*lazyMM
		for _, m := range l.mms {
			if m.fd >= 0 && len(m.pieces) > 0 {
				live = append(live, m)
			} else {
				m.close()
			}
		}
		l.mms = live
		if sealed && len(live) == 0 {
			return // every page is in
		}
		fds := []unix.PollFd{{Fd: int32(l.wake[0]), Events: unix.POLLIN}}
		for _, m := range live {
			fds = append(fds, unix.PollFd{Fd: int32(m.fd), Events: unix.POLLIN})
		}
		// The background load starts once the tree runs: until then only
		// faults are served, so the restore itself does not wait for it.
		timeout := 0
		held := lazyHeld()
		if len(live) == 0 || !sealed {
			timeout = -1
		} else if held {
			timeout = 50 // ms: look at lazyHold again
		}
		n, err := unix.Poll(fds, timeout)
		if err != nil && err != unix.EINTR {
			l.fail(fmt.Errorf("lazy restore: poll: %w", err))
			return
		}
		if n > 0 && fds[0].Revents != 0 {
			var b [64]byte
			unix.Read(l.wake[0], b[:])
		}
		busy := false
		for i, m := range live {
			if fds[i+1].Revents == 0 {
				continue
			}
			busy = true
			if err := l.events(m); err != nil {
				l.fail(err)
				return
			}
		}
		if !busy && sealed && len(live) > 0 && !held {
			// Nothing faulting: load the next segment in the background.
			p := live[0].pieces[0]
			if err := l.load(p.src, p.seg, p.off); err != nil {
				l.fail(err)
				return
			}
		}
	}
}

func (l *lazyLoader) fail(err error) {
	l.kill()
	l.err = err
}

// events reads and handles the messages queued on m's userfaultfd.
func (l *lazyLoader) events(m *lazyMM) error {
	var msg [16 * uffdMsgSize]byte
	for m.fd >= 0 {
		n, err := unix.Read(m.fd, msg[:])
		if err == unix.EAGAIN || err == unix.EINTR {
			return nil
		}
		if err != nil || n <= 0 {
			m.close() // the address space is gone
			return nil
		}
		le := binary.LittleEndian
		for o := 0; o+uffdMsgSize <= n; o += uffdMsgSize {
			b := msg[o : o+uffdMsgSize]
			switch b[0] {
			case uffdEventFault:
				addr := le.Uint64(b[16:]) &^ (pageSize - 1)
				if i := m.find(addr); i >= 0 {
					p := m.pieces[i]
					if err := l.load(p.src, p.seg, p.off+(addr-p.addr)); err != nil {
						return err
					}
					continue
				}
				// Not saved (never touched), or dropped since: a zero page,
				// as it would have been.
				m.zero(addr)
			case uffdEventFork:
				c := &lazyMM{fd: int(le.Uint32(b[8:])), pieces: append([]lazyPiece(nil), m.pieces...), keep: l.keep, id: l.keep.ids.Add(1)}
				unix.CloseOnExec(c.fd)
				l.keep.send(keepFork, c.id, c.fd)
				l.mms = append(l.mms, c)
			case uffdEventRemap:
				from, to, n := le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
				moved := m.cut(from, from+n)
				m.cut(to, to+n)
				for _, p := range moved {
					p.addr = p.addr - from + to
					m.pieces = append(m.pieces, p)
				}
				sort.Slice(m.pieces, func(i, j int) bool { return m.pieces[i].addr < m.pieces[j].addr })
			case uffdEventRemove, uffdEventUnmap:
				m.cut(le.Uint64(b[8:]), le.Uint64(b[16:]))
			}
		}
	}
	return nil
}

// zero answers a fault at addr with a zero page (or just wakes the thread
// when the page came in meanwhile).
func (m *lazyMM) zero(addr uint64) {
	arg := [4]uint64{addr, pageSize, 0, 0}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m.fd), uffdioZeropage, uintptr(unsafe.Pointer(&arg))); e == unix.EEXIST {
		unix.Syscall(unix.SYS_IOCTL, uintptr(m.fd), uffdioWake, uintptr(unsafe.Pointer(&arg)))
	}
}

// wake wakes the threads waiting on a fault in [addr, addr+n).
func (m *lazyMM) wake(addr, n uint64) {
	arg := [2]uint64{addr, n}
	unix.Syscall(unix.SYS_IOCTL, uintptr(m.fd), uffdioWake, uintptr(unsafe.Pointer(&arg)))
}

// load brings in the part of segment seg of src that holds byte at of it:
// the whole segment when it is stored as it is (its check covers it all),
// the chunk of at when it is compressed (compressed segments are read and
// verified whole, stored form only, then each chunk is decoded when a page
// of it is wanted). What it copies is what was verified: the bytes read
// into the loader's own buffer and checked there, or decoded from such.
func (l *lazyLoader) load(src *lazySource, seg int, at uint64) error {
	e := src.segs[seg]
	if src.img.comp == nil {
		if uint64(cap(l.buf)) < e.Len {
			l.buf = make([]byte, e.Len)
		}
		buf := l.buf[:e.Len]
		c := src.img.checkSegment(e)
		for at := uint64(0); at < e.Len; {
			k := min(e.Len-at, checkPiece)
			if err := src.img.readSegment(src.f, e, at, buf[at:at+k]); err != nil {
				return &ImageError{Path: src.img.Path, Err: err}
			}
			c.h.write(buf[at : at+k])
			at += k
		}
		if err := c.verify(); err != nil {
			return fmt.Errorf("lazy restore: %w: the job is killed, it never ran on it", err)
		}
		return l.place(src, seg, 0, buf)
	}
	v, err := l.verified(src, seg)
	if err != nil {
		return err
	}
	chunk := src.img.comp.Chunk
	j := int(at / chunk)
	lo := uint64(j) * chunk
	raw := min(chunk, e.Len-lo)
	if uint64(cap(l.buf)) < raw {
		l.buf = make([]byte, raw)
	}
	buf := l.buf[:raw]
	switch in := v.chunks[j]; {
	case len(in) == 0:
		clear(buf)
	case uint64(len(in)) == raw:
		copy(buf, in)
	default:
		dec, err := decoder()
		if err != nil {
			return err
		}
		if buf, err = decodeChunk(dec, in, buf[:0:raw]); err != nil {
			return fmt.Errorf("lazy restore: %w: the job is killed, it never ran on it",
				&ImageError{Path: src.img.Path, Err: fmt.Errorf("%w: segment %d (%#x) chunk %d: %v", ErrCorrupt, src.img.segment(e), e.Addr, j, err)})
		}
	}
	err = l.place(src, seg, lo, buf)
	if !l.missing(src, seg) {
		l.forget(src, seg)
	}
	return err
}

// verifiedSeg is the stored form of a compressed segment, verified: its
// chunks' stored bytes (a frame, the raw chunk, or none: zeros).
type verifiedSeg struct {
	src    *lazySource
	seg    int
	chunks [][]byte
}

// lazyVerifiedMax bounds the compressed segments kept verified at once
// (each at most lazySegMax, usually much less); a segment dropped is read
// and verified again if a page of it is wanted later.
const lazyVerifiedMax = 8

// verified returns segment seg of src in its stored form, read and
// verified whole (its CRC-32C and HMAC cover the stored form, chunk table
// entries included: streamSegment's order).
func (l *lazyLoader) verified(src *lazySource, seg int) (*verifiedSeg, error) {
	for i, v := range l.vsegs {
		if v.src == src && v.seg == seg {
			l.vsegs = append(append(l.vsegs[:i:i], l.vsegs[i+1:]...), v) // most recent last
			return v, nil
		}
	}
	e := src.segs[seg]
	img := src.img
	index := img.segment(e)
	if index < 0 {
		return nil, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: no segment at %#x", ErrCorrupt, e.Addr)}
	}
	chunk := img.comp.Chunk
	k := chunkCount(e.Len, chunk)
	table := img.sums.chunks[img.chunkBase[index] : img.chunkBase[index]+k]
	var total uint64
	for _, n := range table {
		total += uint64(n)
	}
	c := img.checkSegment(e)
	all := make([]byte, total)
	v := &verifiedSeg{src: src, seg: seg, chunks: make([][]byte, k)}
	var pos uint64
	for j, n := range table {
		var entry [4]byte
		binary.LittleEndian.PutUint32(entry[:], n)
		c.h.write(entry[:])
		in := all[pos : pos+uint64(n)]
		if n > 0 {
			if _, err := src.f.ReadAt(in, int64(img.dataStart+e.Off+uint64(j)*chunk)); err != nil {
				return nil, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: segment %d chunk %d: read: %v", ErrCorrupt, index, j, err)}
			}
			c.h.write(in)
		}
		v.chunks[j] = in
		pos += uint64(n)
	}
	if err := c.verify(); err != nil {
		return nil, fmt.Errorf("lazy restore: %w: the job is killed, it never ran on it", err)
	}
	if len(l.vsegs) >= lazyVerifiedMax {
		l.vsegs = l.vsegs[1:]
	}
	l.vsegs = append(l.vsegs, v)
	return v, nil
}

// forget drops the verified stored form of segment seg of src.
func (l *lazyLoader) forget(src *lazySource, seg int) {
	for i, v := range l.vsegs {
		if v.src == src && v.seg == seg {
			l.vsegs = append(l.vsegs[:i:i], l.vsegs[i+1:]...)
			return
		}
	}
}

// missing reports whether an address space still misses a part of segment
// seg of src.
func (l *lazyLoader) missing(src *lazySource, seg int) bool {
	for _, m := range l.mms {
		for _, p := range m.pieces {
			if p.src == src && p.seg == seg {
				return true
			}
		}
	}
	return false
}

// place copies buf, bytes lo.. of segment seg of src, into every address
// space that still misses a part of them.
func (l *lazyLoader) place(src *lazySource, seg int, lo uint64, buf []byte) error {
	hi := lo + uint64(len(buf))
	for _, m := range l.mms {
		for m.fd >= 0 {
			var mine []lazyPiece
			rest := m.pieces[:0:0]
			for _, p := range m.pieces {
				if p.src != src || p.seg != seg || p.off+p.len <= lo || p.off >= hi {
					rest = append(rest, p)
					continue
				}
				// The part of p in [lo, hi) is placed; the rest stays.
				if p.off < lo {
					rest = append(rest, lazyPiece{addr: p.addr, len: lo - p.off, off: p.off, src: src, seg: seg})
				}
				if p.off+p.len > hi {
					rest = append(rest, lazyPiece{addr: p.addr + (hi - p.off), len: p.off + p.len - hi, off: hi, src: src, seg: seg})
				}
				a, b := max(p.off, lo), min(p.off+p.len, hi)
				mine = append(mine, lazyPiece{addr: p.addr + (a - p.off), len: b - a, off: a, src: src, seg: seg})
			}
			if len(mine) == 0 {
				break
			}
			again := false
			for i, p := range mine {
				switch err := m.copy(p.addr, buf[p.off-lo:p.off-lo+p.len]); err {
				case nil:
					m.wake(p.addr, p.len)
				case unix.EAGAIN:
					// The address space is changing (an event is queued):
					// take the events first, then copy what is left.
					rest = append(rest, mine[i:]...)
					again = true
				default:
					m.close() // gone (ESRCH) or no longer registered
				}
				if again || m.fd < 0 {
					break
				}
			}
			if m.fd < 0 {
				break
			}
			sort.Slice(rest, func(i, j int) bool { return rest[i].addr < rest[j].addr })
			m.pieces = rest
			if !again {
				break
			}
			if err := l.events(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// copy puts b at addr with UFFDIO_COPY, page by page past pages that are
// there already (EEXIST).
func (m *lazyMM) copy(addr uint64, b []byte) error {
	for done := uint64(0); done < uint64(len(b)); {
		arg := [5]uint64{addr + done, uint64(uintptr(unsafe.Pointer(&b[done]))), uint64(len(b)) - done, 0, 0}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m.fd), uffdioCopy, uintptr(unsafe.Pointer(&arg)))
		n := int64(arg[4])
		switch {
		case e == 0:
			return nil
		case e == unix.EAGAIN && n > 0:
			done += uint64(n) // a part, up to a page that is there
		case e == unix.EEXIST:
			done += pageSize
		case e == unix.EINTR:
		default:
			return e
		}
	}
	return nil
}

// Loaded returns a channel closed once every page of a lazily restored
// tree is in memory: from then on the image is not needed any more (the
// batch system keeps it until then). Without Lazy it is closed already.
func (p *Process) Loaded() <-chan struct{} {
	if p.lazy == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.lazy.done
}

// LoadErr returns why loading a lazily restored tree failed (the tree was
// killed), once Loaded is closed; nil if it did not.
func (p *Process) LoadErr() error {
	if p.lazy == nil {
		return nil
	}
	<-p.lazy.done
	return p.lazy.err
}
