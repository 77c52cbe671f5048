package ckpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

var fuzzKey = []byte("fuzz key")

// realImage checkpoints a small C program (signal state, timers, limits:
// much metadata, little memory) and returns its image.
func realImage(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "sigstate"), out, filepath.Join(dir, "go"))
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Signal: unix.SIGKILL, Key: fuzzKey}); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seeds are the images the fuzz target and the mutation test start from:
// synthetic ones, and as root a real one.
func seeds(t testing.TB) [][]byte {
	out := [][]byte{syntheticImage(t, t.TempDir(), nil), syntheticImage(t, t.TempDir(), fuzzKey), syntheticCompressed(t, t.TempDir())}
	if os.Geteuid() == 0 {
		out = append(out, realImage(t))
	}
	return out
}

// imageError tells whether err is one of the errors the reader may give
// for bad input.
func imageError(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotImage) || errors.Is(err, ErrIncompatible)
}

// decodeAll runs the reader and the verifier over b and returns their
// errors, failing the test on any other kind of error. What they
// allocate is bounded by the input.
func decodeAll(t *testing.T, b []byte) (decodeErr, verifyErr error) {
	t.Helper()
	return decodeAt(t, bytes.NewReader(b), int64(len(b)))
}

// patched reads as b with one byte changed, without a copy of b.
type patched struct {
	b   []byte
	at  int
	val byte
}

func (p patched) ReadAt(out []byte, off int64) (int, error) {
	n, err := bytes.NewReader(p.b).ReadAt(out, off)
	if i := int64(p.at) - off; i >= 0 && i < int64(n) {
		out[i] = p.val
	}
	return n, err
}

func decodeAt(t *testing.T, r io.ReaderAt, size int64) (decodeErr, verifyErr error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	img, decodeErr := decodeImage(r, size, fuzzKey)
	if decodeErr == nil {
		img.Creds()
		img.Files()
		img.Mapped()
		img.Children()
	}
	_, verifyErr = verifyImage(r, size, fuzzKey, "fuzz")
	runtime.ReadMemStats(&after)
	// The notes are read whole (at most maxNoteBytes), the data through a
	// fixed buffer.
	if n, max := after.TotalAlloc-before.TotalAlloc, uint64(40*min(size, maxNoteBytes)+(4<<20)); n > max {
		t.Errorf("%d bytes allocated reading an image of %d bytes", n, size)
	}
	for _, err := range []error{decodeErr, verifyErr} {
		if err != nil && !imageError(err) {
			t.Fatalf("error %v is not ErrCorrupt, ErrNotImage or ErrIncompatible", err)
		}
	}
	return decodeErr, verifyErr
}

// FuzzDecodeImage: whatever the bytes, the reader and the verifier return
// an image or one of the image errors; they never panic or hang.
func FuzzDecodeImage(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeAll(t, b)
	})
}

// TestDecodeMutations: deterministic damage to real images. Any bit
// flipped before the data is caught by the reader, any in the data by the
// verifier; truncations, duplicated notes and absurd counts are refused;
// nothing panics, hangs or allocates beyond a bound of the input's size.
func TestDecodeMutations(t *testing.T) {
	le := binary.LittleEndian
	for i, good := range seeds(t) {
		t.Logf("seed %d: %d bytes", i, len(good))
		if _, err := decodeBytes(good, fuzzKey); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		phnum := int(le.Uint16(good[56:]))
		noteOff, noteLen := le.Uint64(good[64+8:]), le.Uint64(good[64+32:])
		dataStart := int(alignPage(noteOff + noteLen))
		size := int64(len(good))
		flip := func(at int) io.ReaderAt { return patched{good, at, good[at] ^ 1<<(at%8)} }
		// Every bit before the data is covered: up to 2000 positions.
		for at := 0; at < dataStart; at += max(1, dataStart/2000) {
			if err, _ := decodeAt(t, flip(at), size); err == nil {
				t.Fatalf("seed %d: bit %d of byte %d flipped (headers, notes): image accepted", i, at%8, at)
			}
		}
		// Each of these is a full pass over the data.
		for at := dataStart; at < len(good); at += max(1, (len(good)-dataStart)/min(200, 200<<20/len(good))) {
			derr, verr := decodeAt(t, flip(at), size)
			if derr != nil || !errors.Is(verr, ErrCorrupt) {
				t.Fatalf("seed %d: byte %d of the data flipped: decode %v, verify %v; want nil, ErrCorrupt", i, at, derr, verr)
			}
		}
		for n := 0; n < len(good); n += max(1, len(good)/300) {
			if err, _ := decodeAll(t, good[:n]); err == nil {
				t.Fatalf("seed %d: truncated to %d bytes: accepted", i, n)
			}
		}
		// Each note twice, checksums made right.
		r := parseRaw(t, good)
		for j := range r.notes {
			d := parseRaw(t, good)
			d.notes = append(d.notes[:j+1], d.notes[j:]...)
			if err, _ := decodeAll(t, d.bytes(true, false, nil)); err == nil {
				t.Fatalf("seed %d: note %d (%s %#x) twice: accepted", i, j, r.notes[j].owner, r.notes[j].typ)
			}
		}
		// Absurd counts and sizes.
		set := func(at int, v uint64, size int) []byte {
			b := append([]byte(nil), good...)
			switch size {
			case 2:
				le.PutUint16(b[at:], uint16(v))
			case 4:
				le.PutUint32(b[at:], uint32(v))
			case 8:
				le.PutUint64(b[at:], v)
			}
			return b
		}
		huge := [][]byte{
			set(56, 0xffff, 2),                 // e_phnum
			set(56, 0, 2),                      // no program headers
			set(32, 1<<62, 8),                  // e_phoff
			set(64+32, 1<<40, 8),               // the notes' p_filesz
			set(64+8, uint64(len(good)), 8),    // the notes at the end of the file
			set(int(noteOff), 0xffffffff, 4),   // the first note's namesz
			set(int(noteOff)+4, 0xfffffff0, 4), // its descsz
		}
		if phnum > 1 {
			huge = append(huge, set(64+56+32, 1<<62, 8)) // a PT_LOAD's p_filesz
		}
		sn := r.note(noteOwner, noteSums)
		ss, _ := parseSums(sn.desc)
		ss.segs = make([]segSum, maxLoads+1)
		big := parseRaw(t, good)
		big.note(noteOwner, noteSums).desc = ss.encode()
		huge = append(huge, big.bytes(true, false, nil))
		deep := parseRaw(t, good)
		deep.note(noteOwner, noteMeta).desc = append(append([]byte(`{"format":2,"threads":`), bytes.Repeat([]byte("["), 1<<16)...), bytes.Repeat([]byte("]"), 1<<16)...)
		huge = append(huge, deep.bytes(true, false, nil))
		for j, b := range huge {
			if err, _ := decodeAll(t, b); err == nil {
				t.Fatalf("seed %d: absurd value %d: accepted", i, j)
			}
		}
	}
}
