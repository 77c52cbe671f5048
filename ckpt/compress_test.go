package ckpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// textmemSum runs textmem to the end (the reference) and returns its
// "sum" line.
func textmemLine(path string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "sum ") || l == "changed" {
			return l
		}
	}
	return ""
}

// textmemImage starts textmem with mib MiB and checkpoints it compressed
// (and killed); it returns the image, the output file and the reference sum.
func textmemImage(t *testing.T, dir string, mib string, opts CheckpointOptions) (img, out, want string, res *CheckpointResult) {
	t.Helper()
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, cprog(t, "textmem"), mib, ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	if want = textmemLine(ref); !strings.HasPrefix(want, "sum ") {
		t.Fatalf("reference run: %q", want)
	}
	out = filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "textmem"), mib, out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img = filepath.Join(dir, "textmem.img")
	opts.File, opts.Signal = img, unix.SIGKILL
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, opts)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	return img, out, want, res
}

// TestCompressRestart: a program with compressible, random and zero
// memory is checkpointed compressed; the image takes a fraction of the
// disk an uncompressed one takes, its metadata says so, it verifies (with
// and without its key), and the restore, the lazy restore and a second
// restore all finish with the checksum of an uninterrupted run.
func TestCompressRestart(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	img, out, want, res := textmemImage(t, dir, "96", CheckpointOptions{Compress: 1, Key: key})

	// The same program uncompressed, for the sizes.
	plainOut := filepath.Join(dir, "plain.txt")
	pc := start(t, dir, cprog(t, "textmem"), "96", plainOut)
	waitFor(t, "ready", func() bool { return lines(plainOut) >= 1 })
	plain, err := Checkpoint(context.Background(), pc.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "plain.img")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("disk: compressed %d KiB, uncompressed %d KiB (apparent %d, %d)", res.Disk>>10, plain.Disk>>10, res.Apparent>>10, plain.Apparent>>10)
	if res.Disk*2 > plain.Disk {
		t.Errorf("compressed image takes %d bytes on disk, the uncompressed one %d: want less than half", res.Disk, plain.Disk)
	}
	ri, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Compressed() != "zstd" {
		t.Errorf("Compressed() = %q, want zstd", ri.Compressed())
	}
	if pi, err := ReadImage(filepath.Join(dir, "plain.img")); err != nil || pi.Compressed() != "" {
		t.Errorf("uncompressed image: Compressed() %q, %v", pi.Compressed(), err)
	}
	if authentic, err := VerifyImage(img, key); err != nil || !authentic {
		t.Fatalf("VerifyImage with its key: %v, %v; want authentic", authentic, err)
	}
	if authentic, err := VerifyImage(img, nil); err != nil || authentic {
		t.Fatalf("VerifyImage without a key: %v, %v", authentic, err)
	}

	run := func(t *testing.T, opts RestartOptions) {
		os.WriteFile(out, []byte("ready\n"), 0o644) // as at the checkpoint
		opts.Key = key
		p, err := Restart(context.Background(), img, opts)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Lazy && p.lazy == nil {
			t.Fatal("no loader: the memory was not restored lazily")
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		if ws := waitProc(t, p); ws.ExitStatus() != 0 {
			t.Fatalf("restarted: %v (%q)", ws, textmemLine(out))
		}
		if opts.Lazy {
			<-p.Loaded()
			if err := p.LoadErr(); err != nil {
				t.Fatal(err)
			}
		}
		if got := textmemLine(out); got != want {
			t.Fatalf("after the restart %q, want %q", got, want)
		}
	}
	t.Run("restore", func(t *testing.T) { run(t, RestartOptions{}) })
	t.Run("lazy", func(t *testing.T) { run(t, RestartOptions{Lazy: true}) })
	t.Run("again", func(t *testing.T) { run(t, RestartOptions{}) })
}

// compressedChunk returns the image's table entry index, file offset and
// stored length of its first chunk stored as a zstd frame, and the raw
// length of that chunk.
func compressedChunk(t *testing.T, path string) (index int, off int64, stored, raw uint64) {
	t.Helper()
	img, err := ReadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	seg := 0
	for _, rg := range img.meta.Regions {
		for _, e := range rg.Extents {
			for j := 0; j < chunkCount(e.Len, img.comp.Chunk); j++ {
				i := img.chunkBase[seg] + j
				r := min(img.comp.Chunk, e.Len-uint64(j)*img.comp.Chunk)
				if s := uint64(img.sums.chunks[i]); s > 0 && s < r && s > 64 {
					return i, int64(img.dataStart + e.Off + uint64(j)*img.comp.Chunk), s, r
				}
			}
			seg++
		}
	}
	t.Fatal("no compressed chunk in the image")
	return
}

// resealChunked makes the checksums of the unkeyed image b right for what
// it now holds: the headers' CRC, and every segment's CRC over its stored
// form (a forger without a key).
func resealChunked(t *testing.T, b []byte, table func(chunks []uint32)) []byte {
	t.Helper()
	r := parseRaw(t, b)
	sn := r.note(noteOwner, noteSums)
	ss, err := parseSums(sn.desc)
	if err != nil {
		t.Fatal(err)
	}
	if table != nil {
		table(ss.chunks)
	}
	m := r.meta(t)
	seg, ci := 0, 0
	for _, rg := range m.Regions {
		for _, e := range rg.Extents {
			h := newSegHash(nil, nil, seg)
			for j := 0; j < chunkCount(e.Len, m.Compression.Chunk); j++ {
				var entry [4]byte
				s := ss.chunks[ci]
				binary.LittleEndian.PutUint32(entry[:], s)
				h.write(entry[:])
				at := e.Off + uint64(j)*m.Compression.Chunk
				h.write(r.data[at : at+uint64(s)])
				ci++
			}
			ss.segs[seg] = h.sum()
			seg++
		}
	}
	sn.desc = ss.encode()
	return r.bytes(true, false, nil)
}

// TestCompressCorrupt: damaged or lying compressed segments are refused as
// corrupt (ErrCorrupt), by VerifyImage and by the restore, and the process
// never runs on them: bytes of a frame changed; a table entry longer than
// its chunk; a table entry that shortens a frame, and a frame that
// announces more than its chunk, each with the CRCs made right (a forger
// without the key); the same table edit in a keyed image (its HMACs fail).
func TestCompressCorrupt(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img, out, want, _ := textmemImage(t, dir, "24", CheckpointOptions{Compress: 2})
	good, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	index, off, stored, raw := compressedChunk(t, img)

	cases := []struct {
		name  string
		forge func(t *testing.T) []byte
	}{
		{"frame-bytes", func(t *testing.T) []byte {
			b := append([]byte(nil), good...)
			for i := int64(16); i < 48; i++ {
				b[off+i] ^= 0x5a
			}
			return b
		}},
		{"entry-beyond-chunk", func(t *testing.T) []byte {
			return resealChunked(t, append([]byte(nil), good...), func(c []uint32) { c[index] = uint32(raw + pageSize) })
		}},
		{"entry-shortens-frame", func(t *testing.T) []byte {
			return resealChunked(t, append([]byte(nil), good...), func(c []uint32) { c[index] = uint32(stored / 2) })
		}},
		{"frame-announces-more", func(t *testing.T) []byte {
			b := append([]byte(nil), good...)
			// A frame of raw+4096 bytes where the chunk's was.
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
			f := enc.EncodeAll(bytes.Repeat([]byte("lying "), int(raw+pageSize)/6+1)[:raw+pageSize], nil)
			if uint64(len(f)) >= raw {
				t.Fatal("forged frame does not fit")
			}
			copy(b[off:], f)
			clear(b[off+int64(len(f)) : off+int64(alignPage(uint64(len(f))))])
			return resealChunked(t, b, func(c []uint32) { c[index] = uint32(len(f)) })
		}},
		{"entry-raw-keyed", nil}, // below
	}
	for _, c := range cases {
		if c.forge == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			path := forge(t, dir, c.name+".img", c.forge(t))
			// A forged frame with right CRCs verifies (VerifyImage
			// checks what is stored, it does not decode): the
			// restore's decoding refuses it. A shortened one leaves
			// the rest of its frame where zeros must be.
			if _, err := VerifyImage(path, nil); !errors.Is(err, ErrCorrupt) && c.name != "frame-announces-more" {
				t.Errorf("VerifyImage: %v, want %v", err, ErrCorrupt)
			}
			os.WriteFile(out, []byte("ready\n"), 0o644)
			p, err := Restart(context.Background(), path, RestartOptions{})
			if err == nil {
				unix.Kill(p.PID, unix.SIGUSR1)
				waitProc(t, p)
				t.Fatalf("restart of a forged image succeeded (%q)", textmemLine(out))
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("restart: %v, want %v", err, ErrCorrupt)
			}
			t.Logf("restart: %v", err)
			if got := textmemLine(out); got != "" {
				t.Fatalf("the process ran on a forged image: %q", got)
			}
		})
	}

	t.Run("entry-raw-keyed", func(t *testing.T) {
		key := bytes.Repeat([]byte{9}, 32)
		d := t.TempDir()
		kimg, kout, _, _ := textmemImage(t, d, "24", CheckpointOptions{Compress: 1, Key: key})
		kgood, _ := os.ReadFile(kimg)
		ki, _, _, kraw := compressedChunk(t, kimg)
		// The chunk declared raw: its frame would be taken for memory.
		b := resealChunked(t, kgood, func(c []uint32) { c[ki] = uint32(kraw) })
		path := forge(t, d, "raw.img", b)
		if _, err := VerifyImage(path, key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("VerifyImage: %v, want %v", err, ErrCorrupt)
		}
		os.WriteFile(kout, []byte("ready\n"), 0o644)
		p, err := Restart(context.Background(), path, RestartOptions{Key: key})
		if err == nil {
			unix.Kill(p.PID, unix.SIGUSR1)
			waitProc(t, p)
			t.Fatalf("restart of a forged keyed image succeeded (%q)", textmemLine(kout))
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("restart: %v, want %v", err, ErrCorrupt)
		}
	})

	t.Run("intact", func(t *testing.T) {
		os.WriteFile(out, []byte("ready\n"), 0o644)
		p, err := Restart(context.Background(), img, RestartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		waitProc(t, p)
		if got := textmemLine(out); got != want {
			t.Fatalf("after the restart %q, want %q", got, want)
		}
	})
}

// TestCompressChunks: the writer's compression of a chunk and the reader's
// decoding round-trip text, random and zero chunks (random ones stored
// raw, zero ones not at all); hostile frames are refused without a panic
// or an allocation beyond the chunk.
func TestCompressChunks(t *testing.T) {
	enc, err := newEncoder(1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	cp := &compressor{enc: enc, chunk: compressChunk}
	dec, err := decoder()
	if err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("00001234 pressure density 0.125000 4242\n"), compressChunk/40+1)[:compressChunk]
	random := make([]byte, compressChunk)
	x := uint64(88172645463325252)
	for i := 0; i < len(random); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(random[i:], x)
	}
	for _, c := range []struct {
		name string
		in   []byte
		kind string
	}{
		{"text", text, "zstd"}, {"random", random, "raw"}, {"zero", make([]byte, compressChunk), "zero"},
		{"short-text", text[:3*pageSize], "zstd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), c.in...)
			s := cp.compress(b, make([]byte, 0, compressChunk))
			kind := "zstd"
			switch {
			case s == 0:
				kind = "zero"
			case int(s) == len(b):
				kind = "raw"
			}
			if kind != c.kind {
				t.Fatalf("stored %d of %d bytes (%s), want %s", s, len(b), kind, c.kind)
			}
			if kind != "zstd" {
				return
			}
			if !allZero(b[s:alignPage(uint64(s))]) {
				t.Error("the frame is not followed by zeros to the page")
			}
			got, err := decodeChunk(dec, b[:s], make([]byte, 0, len(c.in)))
			if err != nil || !bytes.Equal(got, c.in) {
				t.Fatalf("decoded %d bytes, %v; want the chunk back", len(got), err)
			}
		})
	}
	frame := enc.EncodeAll(text, nil)
	two := append(append([]byte(nil), frame...), frame...)
	for _, c := range []struct {
		name string
		in   []byte
		cap  int
	}{
		{"announces-more", frame, compressChunk / 2},
		{"announces-less", frame, 2 * compressChunk},
		{"two-frames", two, compressChunk},
		{"truncated", frame[:len(frame)/2], compressChunk},
		{"garbage", bytes.Repeat([]byte{0xff}, 100), compressChunk},
		{"empty", nil, compressChunk},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := make([]byte, 0, c.cap)
			if c.name == "two-frames" {
				// A frame announcing a chunk, then more: the cap holds.
				out, err := decodeChunk(dec, c.in, dst)
				if err == nil {
					t.Fatalf("decoded %d bytes from two frames, want an error", len(out))
				}
				return
			}
			if out, err := decodeChunk(dec, c.in, dst); err == nil {
				t.Fatalf("decoded %d bytes, want an error", len(out))
			}
		})
	}
}

// syntheticCompressed writes, with the engine's own writer, a compressed
// and keyed image of a process that never ran (see syntheticImage): one
// anonymous region with an extent of 3 MiB and a page, whose chunks
// compress, are random (stored raw) or zeros (not stored), and a short
// extent. A seed of the
// fuzz target and of the mutation test.
func syntheticCompressed(t testing.TB, dir string) []byte {
	t.Helper()
	d := &dumper{path: filepath.Join(dir, "synthetic"), opts: CheckpointOptions{Key: fuzzKey, Compress: 1}}
	m := &d.meta
	m.Format, m.Checkpoint, m.Engine = FormatVersion, "synthetic-z", EngineVersion
	m.PID, m.PPID, m.PGID, m.SID, m.Comm = 4343, 1, 4343, 4343, "synthz"
	m.Exe = fileRef{Path: "/bin/true"}
	m.Cwd = "/"
	m.Creds = creds{UID: [4]int{1000, 1000, 1000, 1000}, GID: [4]int{100, 100, 100, 100}, Groups: []int{100}}
	m.Rlimits = make([]rlimit, 16)
	m.Threads = []thread{{TID: 4343}}
	const base = 0x400000
	big := uint64(3<<20 + pageSize)
	m.Regions = []region{{Start: base, End: base + big + 16*pageSize, Prot: protRead | protWrite, Kind: regionAnon,
		Extents: []extent{{Addr: base, Len: big, Off: 0}, {Addr: base + big + 4*pageSize, Len: 2 * pageSize, Off: big}}}}
	loads, _, dataLen, err := planLoads(m.Regions, 100)
	if err != nil {
		t.Fatal(err)
	}
	d.loads, d.dataLen = loads, dataLen
	snap := make([]byte, dataLen)
	text := []byte("00001234 pressure density 0.125000 4242\n")
	x := uint64(88172645463325252)
	for i := range snap {
		switch i >> 20 {
		case 0, 3: // text: compressed
			snap[i] = text[i%len(text)]
		case 1: // random: raw
			if i%8 == 0 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				binary.LittleEndian.PutUint64(snap[i:], x)
			}
		} // 2: zeros
	}
	d.tregs = []unix.PtraceRegs{{}}
	d.txstate = [][]byte{make([]byte, 832)}
	tmp, err := d.writeImage(context.Background(), snap)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(tmp)
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	img, err := decodeBytes(b, fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	// The big extent's last chunk is one page: it cannot save a page,
	// it is stored raw.
	if kinds := chunkKinds(img); kinds != "zrZrz" {
		t.Fatalf("synthetic compressed image: chunks %q, want zrZrz (z compressed, r raw, Z zeros)", kinds)
	}
	return b
}

// chunkKinds lists the chunks of img: z compressed, r raw, Z zeros.
func chunkKinds(img *Image) string {
	var s []byte
	seg := 0
	for _, rg := range img.meta.Regions {
		for _, e := range rg.Extents {
			for j := 0; j < chunkCount(e.Len, img.comp.Chunk); j++ {
				raw := min(img.comp.Chunk, e.Len-uint64(j)*img.comp.Chunk)
				switch st := uint64(img.sums.chunks[img.chunkBase[seg]+j]); {
				case st == 0:
					s = append(s, 'Z')
				case st == raw:
					s = append(s, 'r')
				default:
					s = append(s, 'z')
				}
			}
			seg++
		}
	}
	return string(s)
}

// TestCompressSyntheticRoundTrip: the synthetic compressed image decodes,
// verifies as authentic, and its segments stream back to the memory it
// was written from.
func TestCompressSyntheticRoundTrip(t *testing.T) {
	b := syntheticCompressed(t, t.TempDir())
	authentic, err := verifyImage(bytes.NewReader(b), int64(len(b)), fuzzKey, "synthetic")
	if err != nil || !authentic {
		t.Fatalf("verify: %v, %v; want authentic", authentic, err)
	}
	img, err := decodeBytes(b, fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range img.meta.Regions {
		for _, e := range rg.Extents {
			got := make([]byte, e.Len)
			c := img.checkSegment(e)
			if err := img.streamSegment(bytes.NewReader(b), e, c, func(at uint64, p []byte) error {
				copy(got[at:], p)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := c.verify(); err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < e.Len; i++ {
				var want byte
				switch off := e.Off + i; off >> 20 {
				case 0, 3:
					want = "00001234 pressure density 0.125000 4242\n"[off%40]
				case 1:
					continue // random
				}
				if got[i] != want {
					t.Fatalf("segment %#x byte %d: %q, want %q", e.Addr, i, got[i], want)
				}
			}
		}
	}
}

// TestCompressSharedMemory: a parent and child sharing anonymous shared
// memory and a memfd, checkpointed as a tree with compression: the shared
// objects are filled from the compressed segments (the child checks every
// word) and stay one object for both.
func TestCompressSharedMemory(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "shmobj"), out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "shmobj.img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGKILL, SignalAll: true, Compress: 1})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	for _, path := range res.Images {
		ri, err := ReadImage(path)
		if err != nil {
			t.Fatal(err)
		}
		if ri.Compressed() != "zstd" {
			t.Fatalf("%s: compression %q", path, ri.Compressed())
		}
		waitFor(t, "old members to be reaped", func() bool {
			_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(ri.PID)))
			return err != nil
		})
	}
	p, err := Restart(context.Background(), img, RestartOptions{PIDRetry: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "anon 1 memfd 1 child 1") {
		t.Fatalf("after the restart: %q", b)
	}
}
