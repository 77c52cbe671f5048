package ckpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The image writer streams memory to the disk with bounded buffers: the
// tracer thread reads chunks from where the memory is (the frozen process,
// its copy-on-write twin), a goroutine computes each segment's checksum and
// MAC as its chunks go by, in order, and writers put the chunks on disk,
// several at once. The buffers (writeBufs of writeChunk bytes) are all the
// memory it takes, whatever the size of the job.
//
// The data goes around the page cache (O_DIRECT, page-aligned buffers and
// offsets): measured on these VMs with dd, 1 GiB was durable in 0.9-1.3 s
// written O_DIRECT in 2-8 MiB writes, 0.7 s with two in flight, and in
// 4.2-4.9 s through the page cache and fdatasync (every page-cache page is
// fresh memory, which costs ~15 us a page to fault in here). Chunks of 8
// MiB did as well as 16 and better than 4 (1.2-1.6 s for a GiB, noisy). On
// ext4 writes into holes take the inode lock exclusively, so the writers
// overlap reading and hashing with the disk more than with each other. The
// image is durable when publish has fsynced it (the allocation of its
// blocks).
const (
	writeChunk   = 8 << 20
	writeBufs    = 6
	writeWorkers = 3
	// holeMin: a run of all-zero pages this long or longer is a hole in
	// the image (the CONVEX "seek over blocks of zeroes"); a shorter one
	// is written as zeros, cheaper than cutting the write in two (a write
	// costs about what 64 KiB take on the disk) and leaving the file in
	// fragments.
	holeMin = 32 << 10
	// directMin: shorter writes are not direct (see put).
	directMin = 64 << 10
)

// memSource is where a segment's bytes are read from: b gets the bytes of
// extent e from offset off of the extent.
type memSource interface {
	read(b []byte, e extent, off uint64) error
}

// liveSource reads the frozen process itself.
type liveSource struct{ d *dumper }

func (s liveSource) read(b []byte, e extent, off uint64) error {
	return s.d.readExtent(b, e.Addr+off)
}

// twinSource reads the process's copy-on-write twin.
type twinSource struct{ tw *twin }

func (s twinSource) read(b []byte, e extent, off uint64) error {
	return s.tw.read(b, e.Addr+off)
}

// copySource reads the copies copyFrozen made, by address of the run of
// pages copied. An extent is one such run, or a part of one: the pages of
// a small process's region that it still shares with its parent by fork
// are left out of its image (cowshare.go), which splits the run.
type copySource map[uint64][]byte

func (s copySource) read(b []byte, e extent, off uint64) error {
	c, ok := s[e.Addr]
	if !ok || uint64(len(c)) < e.Len {
		ok = false
		for start, run := range s {
			if start <= e.Addr && e.Addr+e.Len <= start+uint64(len(run)) {
				c, ok = run[e.Addr-start:], true
				break
			}
		}
	}
	if !ok {
		return fmt.Errorf("internal error: no copy of %#x", e.Addr)
	}
	copy(b, c[off:e.Len])
	return nil
}

// snapSource reads a copy of the data area (tests).
type snapSource []byte

func (s snapSource) read(b []byte, e extent, off uint64) error {
	copy(b, s[e.Off+off:])
	return nil
}

// imageWriter writes one image under a temporary name.
type imageWriter struct {
	path      string // the image's final name (for messages)
	f         *os.File
	direct    *os.File // the same file opened O_DIRECT; nil: not supported
	dataStart uint64
	sumsAt    int
	key       []byte
	ss        sums
	exts      []extent // every segment, in segment order
	written   []bool
	pool      *bufPool
	// comp compresses the chunks (compress.go); nil: stored as they are.
	comp      *compressor
	chunkBase []int // index in the chunk table of each segment's first chunk
}

// bufPool is the writer's buffers, shared by the images of one checkpoint,
// and the arena into which copyFrozen copies what the twins do not hold.
// They are allocated and populated before the freeze: the first touch of
// a page costs ~15 us on these VMs (1 ms for 64 pages in the freeze).
type bufPool struct {
	free  chan []byte
	all   [][]byte
	arena []byte
	comp  *compressor // made by the first compressed image
}

// frozenCopyMax bounds the arena.
const frozenCopyMax = 64 << 20

func newBufPool(frozen uint64) (*bufPool, error) {
	p := &bufPool{free: make(chan []byte, writeBufs)}
	for i := 0; i < writeBufs; i++ {
		b, err := populated(writeChunk)
		if err != nil {
			p.close()
			return nil, err
		}
		p.all = append(p.all, b)
		p.free <- b
	}
	if frozen > 0 {
		b, err := populated(int(alignPage(min(frozen+frozen/8+pageSize, frozenCopyMax))))
		if err != nil {
			p.close()
			return nil, err
		}
		p.arena = b
		p.all = append(p.all, b)
	}
	return p, nil
}

// populated maps n bytes (page-aligned, as O_DIRECT wants) and faults them in.
func populated(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	return b, nil
}

func (p *bufPool) close() {
	if p.comp != nil {
		p.comp.stop()
		p.comp.enc.Close()
		p.comp = nil
	}
	for _, b := range p.all {
		unix.Munmap(b)
	}
	p.all = nil
}

// newImageWriter creates d's image under a temporary name beside d.path
// with its headers and notes; its data is written by write, its
// checksums by finish.
func (d *dumper) newImageWriter(pool *bufPool) (w *imageWriter, retErr error) {
	var regs []unix.PtraceRegs
	var xstate [][]byte
	if !d.zombie {
		regs, xstate = d.tregs, d.txstate
	}
	var exts []extent
	for _, r := range d.meta.Regions {
		exts = append(exts, r.Extents...)
	}
	key := d.opts.Key
	if d.opts.Compress > 0 {
		d.meta.Compression = &compression{Algorithm: compressZstd, Chunk: compressChunk, Level: d.opts.Compress}
	}
	notes, err := buildNotes(&d.meta, regs, xstate, len(exts), key != nil)
	if err != nil {
		return nil, err
	}
	hdr, dataStart := imageHeader(notes, d.loads)
	w = &imageWriter{path: d.path, dataStart: dataStart, key: key, exts: exts, pool: pool,
		sumsAt: len(hdr) - sumsLen(len(exts), key != nil) - chunkTableLen(&d.meta), written: make([]bool, len(exts))}
	w.ss = sums{keyed: key != nil, head: crcOf(hdr[:w.sumsAt]), segs: make([]segSum, len(exts))}
	if err := w.startCompress(d.opts.Compress); err != nil {
		return nil, err
	}
	if key != nil {
		copy(w.ss.metaMAC[:], metaMAC(key, hdr[:w.sumsAt]))
	}
	f, err := os.CreateTemp(filepath.Dir(d.path), "."+filepath.Base(d.path)+".tmp*")
	if err != nil {
		return nil, err
	}
	w.f = f
	defer func() {
		if retErr != nil {
			w.abort()
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("%s: write header: %w", d.path, err)
	}
	// The file has its full size from the start: no write extends it.
	if err := f.Truncate(int64(dataStart + d.dataLen)); err != nil {
		return nil, fmt.Errorf("%s: seek: %w", d.path, err)
	}
	if df, err := os.OpenFile(f.Name(), os.O_WRONLY|unix.O_DIRECT, 0); err == nil {
		w.direct = df
	}
	return w, nil
}

// abort closes and removes the temporary file.
func (w *imageWriter) abort() {
	if w.direct != nil {
		w.direct.Close()
	}
	w.f.Close()
	os.Remove(w.f.Name())
}

// finish writes the checksums and closes the file; it returns its
// temporary name. Every segment must have been written.
func (w *imageWriter) finish() (string, error) {
	for i, ok := range w.written {
		if !ok {
			return "", fmt.Errorf("%s: internal error: segment %d not written", w.path, i)
		}
	}
	if w.direct != nil {
		w.direct.Close()
		w.direct = nil
	}
	if _, err := w.f.WriteAt(w.ss.encode(), int64(w.sumsAt)); err != nil {
		return "", fmt.Errorf("%s: write checksums: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return "", fmt.Errorf("%s: close: %w", w.path, err)
	}
	return w.f.Name(), nil
}

// wchunk is one buffer of a segment on its way to the disk.
type wchunk struct {
	seg  int
	buf  []byte // from the pool
	data []byte // the bytes, a prefix of buf
	at   int64  // file offset
	addr uint64 // where it was in memory
	off  uint64 // offset in the segment
	last bool   // the segment's last chunk
	job  *chunkJob
}

// write writes the segments segs (indices into the image's segments) read
// from src. done, if not nil, is told of each range of memory whose bytes
// are in the file (in any order); it runs on the calling goroutine, which
// may also be asked to pause (throttle, if not nil, is called between
// chunks). It returns once every write has returned.
func (w *imageWriter) write(ctx context.Context, segs []int, src memSource, done func(addr, n uint64) error, throttle func() error) (retErr error) {
	if len(segs) == 0 {
		return nil
	}
	var (
		mu       sync.Mutex
		firstErr error
		finished [][2]uint64 // written ranges not yet told to done
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	hashq := make(chan wchunk, writeBufs)
	writeq := make(chan wchunk, writeBufs)
	var wg sync.WaitGroup
	// The hasher sees every chunk of a segment in order: the checksum and
	// MAC of a segment are one stream.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(writeq)
		var h *segHash
		for c := range hashq {
			if h == nil {
				h = newSegHash(w.key, w.ss.metaMAC[:], c.seg)
			}
			if c.job != nil {
				c.job.wg.Wait()
				w.hashStored(h, c)
			} else {
				h.write(c.data)
			}
			if c.last {
				w.ss.segs[c.seg] = h.sum()
				h = nil
			}
			writeq <- c
		}
	}()
	for i := 0; i < writeWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range writeq {
				if failed() == nil {
					var err error
					if c.job != nil {
						err = w.putStored(c)
					} else {
						err = w.put(c.data, c.at)
					}
					if err != nil {
						fail(fmt.Errorf("%s: write proc region: %w", w.path, err))
					} else {
						mu.Lock()
						finished = append(finished, [2]uint64{c.addr, uint64(len(c.data))})
						mu.Unlock()
					}
				}
				w.pool.free <- c.buf
			}
		}()
	}
	// The pipeline is always drained and waited for: its goroutines use
	// the pool's buffers and the file.
	defer func() {
		close(hashq)
		wg.Wait()
		if retErr == nil {
			retErr = failed()
		}
		if retErr == nil && done != nil {
			retErr = tell(done, finished)
		}
		if retErr == nil {
			for _, s := range segs {
				w.written[s] = true
			}
		}
	}()
	for _, s := range segs {
		e := w.exts[s]
		for off := uint64(0); off < e.Len; {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := failed(); err != nil {
				return err
			}
			if done != nil {
				mu.Lock()
				var ready [][2]uint64
				if rangesLen(finished) >= twinDropChunk {
					ready, finished = finished, nil
				}
				mu.Unlock()
				if err := tell(done, ready); err != nil {
					return err
				}
			}
			if throttle != nil {
				if err := throttle(); err != nil {
					return err
				}
			}
			buf := <-w.pool.free
			n := min(e.Len-off, uint64(len(buf)))
			c := wchunk{seg: s, buf: buf, data: buf[:n], at: int64(w.dataStart + e.Off + off), addr: e.Addr + off, off: off, last: off+n == e.Len}
			if err := src.read(c.data, e, off); err != nil {
				w.pool.free <- buf
				return err
			}
			if w.comp != nil {
				c.job = w.comp.start(c.data)
			}
			hashq <- c
			off += n
		}
	}
	return nil
}

func rangesLen(rs [][2]uint64) uint64 {
	var n uint64
	for _, r := range rs {
		n += r[1]
	}
	return n
}

// tell passes the ranges rs to done, adjacent ones merged.
func tell(done func(addr, n uint64) error, rs [][2]uint64) error {
	if len(rs) == 0 {
		return nil
	}
	sortRanges(rs)
	cur := rs[0]
	for _, r := range rs[1:] {
		if r[0] == cur[0]+cur[1] {
			cur[1] += r[1]
			continue
		}
		if err := done(cur[0], cur[1]); err != nil {
			return err
		}
		cur = r
	}
	return done(cur[0], cur[1])
}

func sortRanges(rs [][2]uint64) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j][0] < rs[j-1][0]; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// put writes b at file offset off, runs of at least holeMin zero bytes
// left as holes; directly where the file takes it.
func (w *imageWriter) put(b []byte, off int64) error {
	return writeRuns(b, off, func(p []byte, at int64) error {
		// Short writes (the scattered pages of an incremental image) go
		// through the page cache: a direct write costs about what one of
		// 64 KiB does, whatever its size; publish fsyncs both.
		if w.direct != nil && len(p) >= directMin {
			_, err := w.direct.WriteAt(p, at)
			if err == nil || !errors.Is(err, unix.EINVAL) {
				return err
			}
			// This filesystem takes no direct I/O (or not of this).
		}
		_, err := w.f.WriteAt(p, at)
		return err
	})
}

// writeRuns calls put for each part of b (at file offset off) that is not
// a run of at least holeMin zero bytes, on page boundaries.
func writeRuns(b []byte, off int64, put func(p []byte, at int64) error) error {
	n := len(b)
	zero := func(p int) bool { return bytes.Equal(b[p:min(p+pageSize, n)], zeroPage[:min(pageSize, n-p)]) }
	start := -1 // start of the pending data run
	for p := 0; p < n; {
		if !zero(p) {
			if start < 0 {
				start = p
			}
			p += pageSize
			continue
		}
		q := p + pageSize
		for q < n && zero(q) {
			q += pageSize
		}
		q = min(q, n)
		if q-p < holeMin && (p > 0 || q < n) {
			// A short zero run beside data: written with it.
			if start < 0 {
				start = p
			}
			p = q
			continue
		}
		if start >= 0 {
			if err := put(b[start:p], off+int64(start)); err != nil {
				return err
			}
			start = -1
		}
		p = q
	}
	if start >= 0 {
		return put(b[start:], off+int64(start))
	}
	return nil
}

// writeImage writes d's image from snap (a copy of its data area), or from
// the frozen process when snap is nil, and returns its temporary name.
func (d *dumper) writeImage(ctx context.Context, snap []byte) (string, error) {
	pool, err := newBufPool(0)
	if err != nil {
		return "", err
	}
	defer pool.close()
	w, err := d.newImageWriter(pool)
	if err != nil {
		return "", err
	}
	var src memSource = liveSource{d}
	if snap != nil {
		src = snapSource(snap)
	}
	if err := w.write(ctx, allSegments(len(w.exts)), src, nil, nil); err != nil {
		w.abort()
		return "", err
	}
	tmp, err := w.finish()
	if err != nil {
		os.Remove(w.f.Name())
	}
	return tmp, err
}

func allSegments(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
