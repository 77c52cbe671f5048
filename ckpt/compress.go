package ckpt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Compressed images (CheckpointOptions.Compress). The layout of the file
// does not change: every saved extent keeps its place in the data area, as
// long as its memory, so the PT_LOAD headers, the extents' offsets and the
// image's apparent size are those of an uncompressed image. The extent is
// cut into chunks of compression.Chunk bytes (1 MiB), each compressed on
// its own (a zstd frame, with its content size): the chunk's stored bytes
// sit at the start of its place in the file and the rest of the place is a
// hole, so the image takes on disk what the compressed memory takes, like
// the all-zero pages that are holes already. A chunk is stored in one of
// three forms, told by its stored length in the chunk table:
//
//	0            all zeros: nothing stored (a hole)
//	the chunk's  raw: it did not compress by a page or more (never inflated)
//	other        a zstd frame of that many bytes
//
// The chunk table (one uint32 per chunk, segment after segment) is written
// with the checksums, in the sums note (integrity.go), once the data is
// written: its size follows from the metadata, so the notes can be laid
// out first. What the checksums and HMACs of a compressed segment cover is
// what is stored: for each of its chunks, the chunk's table entry (4
// bytes, little-endian) then its stored bytes. So a lying table entry, a
// frame changed in the file or a frame moved between chunks fails the
// segment's CRC-32C and HMAC; and a frame whose header does not announce
// exactly the chunk's length, or that does not decode to exactly it, is
// corrupt. The decoder never allocates more than a chunk for a frame.
//
// Chunks are independent: the writer compresses them on GOMAXPROCS
// goroutines (compressWorkers) while the buffers stream to the disk (the memory taken is
// still the writer's buffers, compressed in place, and one chunk per
// compressing goroutine), and a reader decodes any chunk on its own
// (streamSegment, in parallel too). gdb cannot read the memory of a
// compressed image (its headers and notes are those of a core file).

const (
	compressZstd = "zstd"
	// compressChunk: the chunk the writer cuts extents into. Its
	// buffers (writeChunk) hold a whole number of chunks.
	compressChunk = 1 << 20
	// Bounds of the chunk an image may declare: a reader allocates
	// chunks of that size.
	compressChunkMin = 64 << 10
	compressChunkMax = 8 << 20
	// MaxCompress is the highest level of CheckpointOptions.Compress.
	MaxCompress = 4
)

// compression is the metadata of a compressed image.
type compression struct {
	Algorithm string `json:"algorithm"` // "zstd"
	Chunk     uint64 `json:"chunk"`     // bytes of memory per chunk
	Level     int    `json:"level,omitempty"`
}

// zstdLevel maps CheckpointOptions.Compress to the encoder's levels.
func zstdLevel(level int) (zstd.EncoderLevel, error) {
	switch level {
	case 1:
		return zstd.SpeedFastest, nil
	case 2:
		return zstd.SpeedDefault, nil
	case 3:
		return zstd.SpeedBetterCompression, nil
	case 4:
		return zstd.SpeedBestCompression, nil
	}
	return 0, fmt.Errorf("compression level %d: %w (1 to %d)", level, ErrBadCompress, MaxCompress)
}

// compressWorkers is the number of goroutines compressing or decoding:
// GOMAXPROCS, at most maxCompressWorkers (each holds a chunk or two and an
// encoder's state: the memory stays bounded on a large machine).
func compressWorkers() int { return min(max(1, runtime.GOMAXPROCS(0)), maxCompressWorkers) }

const maxCompressWorkers = 8

// newEncoder returns the encoder of a checkpoint at level.
func newEncoder(level int) (*zstd.Encoder, error) {
	l, err := zstdLevel(level)
	if err != nil {
		return nil, err
	}
	// No frame checksum: the image has its own. The window need not be
	// larger than a chunk.
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(compressWorkers()),
		zstd.WithWindowSize(compressChunk), zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
}

// decoder is shared by every reader of the process: DecodeAll is safe for
// concurrent use and holds a state per concurrent call.
var decoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(compressWorkers()),
		zstd.WithDecoderMaxMemory(compressChunkMax), zstd.WithDecoderMaxWindow(compressChunkMax),
		zstd.WithDecodeAllCapLimit(true), zstd.IgnoreChecksum(true))
})

// chunkCount is the number of chunks of an extent of n bytes.
func chunkCount(n, chunk uint64) int { return int((n + chunk - 1) / chunk) }

// chunkTableLen is the size of the chunk table of the image m describes in
// the sums note: 0 when it is not compressed.
func chunkTableLen(m *imageMeta) int {
	if m.Compression == nil || m.Compression.Chunk == 0 {
		return 0
	}
	n := 0
	for _, rg := range m.Regions {
		for _, e := range rg.Extents {
			n += chunkCount(e.Len, m.Compression.Chunk)
		}
	}
	return 4 + 4*n
}

// checkChunks checks the chunk table of img against the metadata m and
// indexes it (img.chunkBase): called by decodeImage.
func (img *Image) checkChunks(m *imageMeta) error {
	c := m.Compression
	if c == nil {
		if img.sums.chunked {
			return fmt.Errorf("%w: a chunk table in an uncompressed image", ErrCorrupt)
		}
		return nil
	}
	if !img.sums.chunked {
		return fmt.Errorf("%w: compressed image without its chunk table", ErrCorrupt)
	}
	if c.Algorithm != compressZstd {
		return fmt.Errorf("%w: compression %q, this engine reads %q", ErrIncompatible, c.Algorithm, compressZstd)
	}
	if c.Chunk < compressChunkMin || c.Chunk > compressChunkMax || c.Chunk%pageSize != 0 {
		return fmt.Errorf("%w: compression chunk of %d bytes", ErrCorrupt, c.Chunk)
	}
	if c.Level < 0 || c.Level > MaxCompress {
		return fmt.Errorf("%w: compression level %d", ErrCorrupt, c.Level)
	}
	img.chunkBase = make([]int, 0, len(img.segOffs))
	img.stored = make([]uint64, 0, len(img.segOffs))
	n := 0
	for _, rg := range m.Regions {
		for _, e := range rg.Extents {
			img.chunkBase = append(img.chunkBase, n)
			k := chunkCount(e.Len, c.Chunk)
			if n+k > len(img.sums.chunks) {
				return fmt.Errorf("%w: chunk table of %d chunks, the segments have more", ErrCorrupt, len(img.sums.chunks))
			}
			var stored uint64
			for j := 0; j < k; j++ {
				raw := min(c.Chunk, e.Len-uint64(j)*c.Chunk)
				s := uint64(img.sums.chunks[n+j])
				if s > raw {
					return fmt.Errorf("%w: segment %#x-%#x: chunk %d of %d bytes stores %d", ErrCorrupt, e.Addr, e.Addr+e.Len, j, raw, s)
				}
				stored += 4 + s
			}
			img.stored = append(img.stored, stored)
			n += k
		}
	}
	if n != len(img.sums.chunks) {
		return fmt.Errorf("%w: chunk table of %d chunks for %d", ErrCorrupt, len(img.sums.chunks), n)
	}
	img.comp = c
	return nil
}

// Compressed returns the compression of the image's memory ("zstd"), ""
// if it is stored as it was.
func (img *Image) Compressed() string {
	if img.comp == nil {
		return ""
	}
	return img.comp.Algorithm
}

// streamLen is the number of bytes the checksums of segment seg cover.
func (img *Image) streamLen(seg int, e extent) uint64 {
	if img.comp == nil || seg < 0 || seg >= len(img.stored) {
		return e.Len
	}
	return img.stored[seg]
}

// streamSegment reads extent e of img from the image file f: its stored
// bytes go through c (the segment's check) in order as they are read, its
// content is passed to fn piece by piece (at: offset in the extent; each
// piece once, b valid until fn returns). For a compressed segment the
// pieces are chunks, decoded and passed to fn on goroutines of their own:
// fn is called concurrently, for pieces in any order. fn nil: the stored
// bytes are checked, nothing is decoded. The caller verifies c once it
// returns, before anything runs on the content.
func (img *Image) streamSegment(f io.ReaderAt, e extent, c *segCheck, fn func(at uint64, b []byte) error) error {
	if img.comp == nil {
		buf := make([]byte, min(e.Len, decodePiece))
		for at := uint64(0); at < e.Len; {
			b := buf[:min(e.Len-at, uint64(len(buf)))]
			if of, ok := f.(*os.File); ok {
				if err := img.readSegment(of, e, at, b); err != nil {
					return err
				}
			} else if _, err := f.ReadAt(b, int64(img.dataStart+e.Off+at)); err != nil {
				return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: read segment %#x: %v", ErrCorrupt, e.Addr, err)}
			}
			c.h.write(b)
			if fn != nil {
				if err := fn(at, b); err != nil {
					return err
				}
			}
			at += uint64(len(b))
		}
		return nil
	}
	seg := img.segment(e)
	if seg < 0 {
		return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: no segment at %#x", ErrCorrupt, e.Addr)}
	}
	dec, err := decoder()
	if err != nil {
		return err
	}
	chunk := img.comp.Chunk
	k := chunkCount(e.Len, chunk)
	table := img.sums.chunks[img.chunkBase[seg] : img.chunkBase[seg]+k]
	// A ring of slots: up to depth chunks are being decoded and passed to
	// fn at once.
	type slot struct {
		in, out []byte
		done    chan error
		busy    bool
	}
	depth := 2 * compressWorkers()
	if fn == nil {
		depth = 1
	}
	ring := make([]*slot, min(depth, k))
	for i := range ring {
		ring[i] = &slot{done: make(chan error, 1)}
	}
	var zeros []byte
	flush := func(s *slot) error {
		if !s.busy {
			return nil
		}
		s.busy = false
		return <-s.done
	}
	defer func() {
		// Every decoding goroutine is waited for: they use the slots.
		for _, s := range ring {
			if s.busy {
				<-s.done
			}
		}
	}()
	for j := 0; j < k; j++ {
		s := ring[j%len(ring)]
		if err := flush(s); err != nil {
			return err
		}
		at := uint64(j) * chunk
		raw := min(chunk, e.Len-at)
		stored := uint64(table[j])
		var entry [4]byte
		binary.LittleEndian.PutUint32(entry[:], table[j])
		c.h.write(entry[:])
		place := int64(img.dataStart + e.Off + at)
		if fn == nil {
			// Verifying: the rest of the chunk's place, which no
			// checksum covers, must be zeros (a hole, or the padding
			// of the frame to its page).
			if err := zeroRange(f, place+int64(stored), int64(raw-stored)); err != nil {
				return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: segment %d chunk %d: %v", ErrCorrupt, seg, j, err)}
			}
		}
		if stored == 0 {
			if fn != nil {
				if len(zeros) < int(raw) {
					zeros = make([]byte, raw)
				}
				if err := fn(at, zeros[:raw]); err != nil {
					return err
				}
			}
			continue
		}
		if cap(s.in) < int(stored) {
			s.in = make([]byte, raw)
		}
		in := s.in[:stored]
		if _, err := f.ReadAt(in, place); err != nil {
			return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: segment %d chunk %d: read: %v", ErrCorrupt, seg, j, err)}
		}
		c.h.write(in)
		if fn == nil {
			continue
		}
		if stored == raw {
			if err := fn(at, in); err != nil {
				return err
			}
			continue
		}
		if cap(s.out) < int(raw) {
			s.out = make([]byte, raw)
		}
		s.busy = true
		go func(s *slot, in []byte, at, raw uint64, j int) {
			out, err := decodeChunk(dec, in, s.out[:0:raw])
			if err != nil {
				s.done <- &ImageError{Path: img.Path, Err: fmt.Errorf("%w: segment %d (%#x) chunk %d: %v", ErrCorrupt, seg, e.Addr, j, err)}
				return
			}
			s.done <- fn(at, out)
		}(s, in, at, raw, j)
	}
	for j := k; j < k+len(ring); j++ {
		if err := flush(ring[j%len(ring)]); err != nil {
			return err
		}
	}
	return nil
}

// zeroRange checks that the n bytes at off of r read as zeros: the holes
// of a file are skipped (SEEK_DATA), its data read and compared.
func zeroRange(r io.ReaderAt, off, n int64) error {
	end := off + n
	var buf []byte
	for off < end {
		dataAt, holeAt := off, end
		if f, ok := r.(*os.File); ok {
			d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
			if err == unix.ENXIO || (err == nil && d >= end) {
				return nil
			}
			if err == nil {
				dataAt = d
				if h, err := unix.Seek(int(f.Fd()), d, unix.SEEK_HOLE); err == nil && h < end {
					holeAt = h
				}
			}
		}
		for p := dataAt; p < holeAt; {
			if buf == nil {
				buf = make([]byte, min(holeAt-p, 256<<10))
			}
			b := buf[:min(int64(len(buf)), holeAt-p)]
			if _, err := r.ReadAt(b, p); err != nil {
				return fmt.Errorf("read: %v", err)
			}
			if !allZero(b) {
				return fmt.Errorf("data after the stored bytes at %d", p)
			}
			p += int64(len(b))
		}
		off = holeAt
	}
	return nil
}

// decodeChunk decodes the zstd frame in into dst (empty, of the chunk's
// capacity): the frame must announce exactly cap(dst) bytes and hold
// exactly them.
func decodeChunk(dec *zstd.Decoder, in, dst []byte) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(in); err != nil {
		return dst, fmt.Errorf("frame header: %v", err)
	}
	if h.Skippable || !h.HasFCS || h.FrameContentSize != uint64(cap(dst)) {
		return dst, fmt.Errorf("frame of %d bytes announced, chunk of %d", h.FrameContentSize, cap(dst))
	}
	out, err := dec.DecodeAll(in, dst)
	if err != nil {
		return dst, err
	}
	if len(out) != cap(dst) || &out[:1][0] != &dst[:1][0] {
		return dst, fmt.Errorf("frame decodes to %d bytes, chunk of %d", len(out), cap(dst))
	}
	return out, nil
}

// chunkJob is the compression of the chunks of one writer buffer: the
// stored length of each, once wg is done.
type chunkJob struct {
	wg     sync.WaitGroup
	stored []uint32
}

// compressor compresses the writer's buffers, chunk by chunk, on its
// goroutines: each chunk is replaced, in place, by its stored form.
type compressor struct {
	enc   *zstd.Encoder
	chunk uint64
	jobs  chan compressTask
	wg    sync.WaitGroup
}

type compressTask struct {
	job *chunkJob
	i   int
	b   []byte // the chunk, in the writer's buffer
}

func newCompressor(enc *zstd.Encoder) *compressor {
	n := compressWorkers()
	cp := &compressor{enc: enc, chunk: compressChunk, jobs: make(chan compressTask, n*int(writeChunk/compressChunk))}
	for i := 0; i < n; i++ {
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			scratch := make([]byte, 0, compressChunk+compressChunk/8)
			for t := range cp.jobs {
				t.job.stored[t.i] = cp.compress(t.b, scratch)
				t.job.wg.Done()
			}
		}()
	}
	return cp
}

// stop ends the goroutines once their tasks are done.
func (cp *compressor) stop() {
	close(cp.jobs)
	cp.wg.Wait()
}

// start queues the compression of the chunks of b (the bytes of a
// segment from a chunk boundary on).
func (cp *compressor) start(b []byte) *chunkJob {
	k := chunkCount(uint64(len(b)), cp.chunk)
	j := &chunkJob{stored: make([]uint32, k)}
	j.wg.Add(k)
	for i := 0; i < k; i++ {
		lo := uint64(i) * cp.chunk
		cp.jobs <- compressTask{job: j, i: i, b: b[lo:min(lo+cp.chunk, uint64(len(b)))]}
	}
	return j
}

// compress replaces chunk b by its stored form and returns its stored
// length: 0 for zeros, len(b) for raw. A compressed frame is followed by
// zeros to the next page (the writer writes whole pages).
func (cp *compressor) compress(b, scratch []byte) uint32 {
	if allZero(b) {
		return 0
	}
	out := cp.enc.EncodeAll(b, scratch[:0])
	if alignPage(uint64(len(out))) >= uint64(len(b)) {
		return uint32(len(b))
	}
	n := copy(b, out)
	clear(b[n:alignPage(uint64(n))])
	return uint32(n)
}

func allZero(b []byte) bool {
	for p := 0; p < len(b); p += pageSize {
		if !bytes.Equal(b[p:min(p+pageSize, len(b))], zeroPage[:min(pageSize, len(b)-p)]) {
			return false
		}
	}
	return true
}

// putStored writes the chunks of c in their stored form (see compress):
// zero chunks are left as holes.
func (w *imageWriter) putStored(c wchunk) error {
	for i, s := range c.job.stored {
		lo := uint64(i) * compressChunk
		b := c.data[lo:min(lo+compressChunk, uint64(len(c.data)))]
		switch {
		case s == 0:
		case uint64(s) == uint64(len(b)):
			if err := w.put(b, c.at+int64(lo)); err != nil {
				return err
			}
		default:
			if err := w.put(b[:alignPage(uint64(s))], c.at+int64(lo)); err != nil {
				return err
			}
		}
	}
	return nil
}

// hashStored passes the stored form of the chunks of c through h and
// records their table entries.
func (w *imageWriter) hashStored(h *segHash, c wchunk) {
	base := w.chunkBase[c.seg] + int(c.off/compressChunk)
	var entry [4]byte
	for i, s := range c.job.stored {
		lo := uint64(i) * compressChunk
		binary.LittleEndian.PutUint32(entry[:], s)
		h.write(entry[:])
		h.write(c.data[lo : lo+uint64(s)])
		w.ss.chunks[base+i] = s
	}
}

// startCompress sets w up to compress its chunks at level (0: not).
func (w *imageWriter) startCompress(level int) error {
	if level == 0 {
		return nil
	}
	if w.pool.comp == nil {
		enc, err := newEncoder(level)
		if err != nil {
			return err
		}
		w.pool.comp = newCompressor(enc)
	}
	w.comp = w.pool.comp
	n := 0
	for _, e := range w.exts {
		w.chunkBase = append(w.chunkBase, n)
		n += chunkCount(e.Len, compressChunk)
	}
	w.ss.chunked, w.ss.chunks = true, make([]uint32, n)
	return nil
}
