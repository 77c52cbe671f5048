package ckpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// rawImage is an image taken apart, for tests that forge or damage images
// the way an attacker would: notes edited, added or duplicated, then put
// back together with the checksums made right again (resum), so that only
// the check under test can catch the forgery.
type rawImage struct {
	hdr   []byte // ELF header
	ph    [][]byte
	notes []rawNote
	extra [][]byte // more PT_NOTE segments, after the first
	data  []byte   // the data area
}

type rawNote struct {
	owner string
	typ   uint32
	desc  []byte
}

func parseRaw(t *testing.T, b []byte) *rawImage {
	t.Helper()
	le := binary.LittleEndian
	r := &rawImage{hdr: append([]byte(nil), b[:64]...)}
	phnum := int(le.Uint16(b[56:]))
	for i := 0; i < phnum; i++ {
		r.ph = append(r.ph, append([]byte(nil), b[64+56*i:64+56*(i+1)]...))
	}
	noteOff, noteLen := le.Uint64(r.ph[0][8:]), le.Uint64(r.ph[0][32:])
	err := walkNotes(b[noteOff:noteOff+noteLen], func(owner string, typ uint32, desc []byte, _ int) error {
		r.notes = append(r.notes, rawNote{owner, typ, append([]byte(nil), desc...)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.data = append([]byte(nil), b[alignPage(noteOff+noteLen):]...)
	return r
}

func (r *rawImage) note(owner string, typ uint32) *rawNote {
	for i := range r.notes {
		if r.notes[i].owner == owner && r.notes[i].typ == typ {
			return &r.notes[i]
		}
	}
	return nil
}

// meta decodes the metadata note.
func (r *rawImage) meta(t *testing.T) *imageMeta {
	t.Helper()
	var m imageMeta
	if err := json.Unmarshal(r.note(noteOwner, noteMeta).desc, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// editMeta re-encodes the metadata after edit.
func (r *rawImage) editMeta(t *testing.T, edit func(m *imageMeta)) *rawImage {
	t.Helper()
	m := r.meta(t)
	edit(m)
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.note(noteOwner, noteMeta).desc = js
	return r
}

func encodeNotes(notes []rawNote) []byte {
	var n noteBuf
	for _, x := range notes {
		n.add(x.owner, x.typ, x.desc)
	}
	return n.Bytes()
}

// bytes puts the image together: headers, notes, the extra note segments,
// the data at the next page boundary (the PT_LOAD offsets follow it). With
// resum the checksum note is made right for what the image now holds:
// headers and notes, and with segs every segment's CRC; with key the HMACs
// too (a forger who has the key).
func (r *rawImage) bytes(resum, segs bool, key []byte) []byte {
	le := binary.LittleEndian
	phnum := len(r.ph) + len(r.extra)
	le.PutUint16(r.hdr[56:], uint16(phnum))
	notes := encodeNotes(r.notes)
	noteOff := uint64(64 + 56*phnum)
	end := noteOff + uint64(len(notes))
	var phs [][]byte
	first := append([]byte(nil), r.ph[0]...)
	le.PutUint64(first[8:], noteOff)
	le.PutUint64(first[32:], uint64(len(notes)))
	phs = append(phs, first)
	for _, x := range r.extra {
		h := make([]byte, 56)
		le.PutUint32(h, uint32(4)) // PT_NOTE
		le.PutUint64(h[8:], end)
		le.PutUint64(h[32:], uint64(len(x)))
		phs = append(phs, h)
		end += uint64(len(x))
	}
	dataStart := alignPage(end)
	// The old data area starts at the lowest offset of a saved segment.
	oldStart := ^uint64(0)
	for _, h := range r.ph[1:] {
		if le.Uint64(h[32:]) > 0 {
			oldStart = min(oldStart, le.Uint64(h[8:]))
		}
	}
	for _, h := range r.ph[1:] {
		h = append([]byte(nil), h...)
		if le.Uint64(h[32:]) > 0 {
			le.PutUint64(h[8:], le.Uint64(h[8:])-oldStart+dataStart)
		}
		phs = append(phs, h)
	}
	out := append([]byte(nil), r.hdr...)
	for _, h := range phs {
		out = append(out, h...)
	}
	out = append(out, notes...)
	for _, x := range r.extra {
		out = append(out, x...)
	}
	out = append(out, make([]byte, dataStart-uint64(len(out)))...)
	out = append(out, r.data...)
	if !resum {
		return out
	}
	sn := r.note(noteOwner, noteSums)
	if sn == nil {
		return out
	}
	ss, err := parseSums(sn.desc)
	if err != nil {
		return out
	}
	descAt := int(noteOff) + len(notes) - int(align4(uint64(len(sn.desc))))
	ss.head = crcOf(out[:descAt])
	if key != nil {
		ss.keyed = true
		copy(ss.metaMAC[:], metaMAC(key, out[:descAt]))
	}
	if segs {
		var m imageMeta
		json.Unmarshal(r.note(noteOwner, noteMeta).desc, &m)
		i := 0
		for _, rg := range m.Regions {
			for _, e := range rg.Extents {
				if i < len(ss.segs) && e.Off+e.Len <= uint64(len(r.data)) {
					var k []byte
					if key != nil {
						k = key
					}
					h := newSegHash(k, ss.metaMAC[:], i)
					h.write(r.data[e.Off : e.Off+e.Len])
					sum := h.sum()
					if key == nil {
						sum.mac = ss.segs[i].mac
					}
					ss.segs[i] = sum
				}
				i++
			}
		}
	}
	copy(out[descAt:], ss.encode())
	return out
}

// forge writes b to dir/name and returns the path.
func forge(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syntheticImage writes, with the engine's own writer, the image of a
// process that never ran: one thread, an anonymous region with two saved
// runs, a file mapping, a few descriptors. It needs no privilege: the seed
// of the fuzz target and of the mutation test.
func syntheticImage(t testing.TB, dir string, key []byte) []byte {
	t.Helper()
	d := &dumper{path: filepath.Join(dir, "synthetic"), opts: CheckpointOptions{Key: key}}
	m := &d.meta
	m.Format, m.Checkpoint, m.Engine = FormatVersion, "synthetic-id", EngineVersion
	m.PID, m.PPID, m.PGID, m.SID, m.Comm = 4242, 1, 4242, 4242, "synth"
	m.Exe = fileRef{Path: "/bin/true"}
	m.Cwd = "/"
	m.Creds = creds{UID: [4]int{1000, 1000, 1000, 1000}, GID: [4]int{100, 100, 100, 100}, Groups: []int{100}}
	m.Rlimits = make([]rlimit, 16)
	m.Threads = []thread{{TID: 4242}}
	m.Children = []string{"synthetic.child.4243"}
	m.Files = []fileDesc{{FD: 0, Kind: fdFile, Path: "/dev/null", Desc: "a"}, {FD: 1, Kind: fdTTY, Path: "/dev/pts/0", CTTY: true, Desc: "b"}}
	const base = 0x400000
	m.Regions = []region{
		{Start: base, End: base + 16*pageSize, Prot: protRead | protWrite, Kind: regionAnon,
			Extents: []extent{{Addr: base + pageSize, Len: 2 * pageSize, Off: 0}, {Addr: base + 8*pageSize, Len: 3 * pageSize, Off: 2 * pageSize}}},
		{Start: base + 32*pageSize, End: base + 36*pageSize, Prot: protRead | protWrite, Kind: regionShared, Name: "/tmp/x", File: &fileRef{Path: "/tmp/x"}},
	}
	loads, _, dataLen, err := planLoads(m.Regions, 100)
	if err != nil {
		t.Fatal(err)
	}
	d.loads, d.dataLen = loads, dataLen
	snap := make([]byte, dataLen)
	for i := range snap {
		if (i/pageSize)%2 == 0 { // every other page zero: holes
			snap[i] = byte(i*7 + i/4096)
		}
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
	return b
}

func decodeBytes(b []byte, key []byte) (*Image, error) {
	return decodeImage(bytes.NewReader(b), int64(len(b)), key)
}

// TestSyntheticImageRoundTrip: what the writer writes the reader reads,
// and the accessors give what callers need.
func TestSyntheticImageRoundTrip(t *testing.T) {
	key := []byte("a host key")
	for _, keyed := range []bool{false, true} {
		var k []byte
		if keyed {
			k = key
		}
		b := syntheticImage(t, t.TempDir(), k)
		img, err := decodeBytes(b, key)
		if err != nil {
			t.Fatalf("keyed %v: %v", keyed, err)
		}
		if img.authentic != keyed {
			t.Errorf("keyed %v: authentic %v", keyed, img.authentic)
		}
		if got, err := verifyImage(bytes.NewReader(b), int64(len(b)), key, "synthetic"); err != nil || got != keyed {
			t.Errorf("keyed %v: VerifyImage = %v, %v; want %v, nil", keyed, got, err, keyed)
		}
		if got, err := verifyImage(bytes.NewReader(b), int64(len(b)), []byte("another key"), "synthetic"); err != nil || got {
			t.Errorf("keyed %v: VerifyImage with another key = %v, %v; want false, nil", keyed, got, err)
		}
		if c := img.Creds(); c.UID != [4]int{1000, 1000, 1000, 1000} || c.GID[0] != 100 || len(c.Groups) != 1 {
			t.Errorf("Creds() = %+v", c)
		}
		if got := img.Children(); len(got) != 1 || got[0] != "synthetic.child.4243" {
			t.Errorf("Children() = %v", got)
		}
		if got := img.Files(); len(got) != 2 || !got[1].CTTY || got[1].Kind != fdTTY {
			t.Errorf("Files() = %+v", got)
		}
		if got := img.Mapped(); len(got) != 1 || got[0] != (MappedFile{Path: "/tmp/x", Kind: "shared", Writable: true}) {
			t.Errorf("Mapped() = %+v", got)
		}
		if img.ID() != "synthetic-id" || img.Cwd() != "/" || img.Memory != 5*pageSize {
			t.Errorf("ID %q Cwd %q Memory %d", img.ID(), img.Cwd(), img.Memory)
		}
	}
}

// TestForgedNotes: an image with a second metadata note (uid 0), a second
// PT_NOTE, a duplicated note the engine reads, unknown metadata fields or
// program headers that disagree with the metadata is corrupt, even with
// every checksum made right: only the strict reader catches each.
func TestForgedNotes(t *testing.T) {
	good := syntheticImage(t, t.TempDir(), nil)
	root := func(m *imageMeta) { m.Creds = creds{Groups: []int{0}} }
	cases := []struct {
		name  string
		forge func(t *testing.T, r *rawImage) []byte
	}{
		{"second-meta-note-uid-0", func(t *testing.T, r *rawImage) []byte {
			m := r.meta(t)
			root(m)
			js, _ := json.Marshal(m)
			n := len(r.notes)
			r.notes = append(r.notes[:n-1:n-1], rawNote{noteOwner, noteMeta, js}, r.notes[n-1])
			return r.bytes(true, false, nil)
		}},
		{"second-PT_NOTE-uid-0", func(t *testing.T, r *rawImage) []byte {
			m := r.meta(t)
			root(m)
			js, _ := json.Marshal(m)
			r.extra = [][]byte{encodeNotes([]rawNote{{noteOwner, noteMeta, js}})}
			return r.bytes(true, false, nil)
		}},
		{"duplicate-prstatus", func(t *testing.T, r *rawImage) []byte {
			r.notes = append([]rawNote{r.notes[0]}, r.notes...)
			return r.bytes(true, false, nil)
		}},
		{"duplicate-sums", func(t *testing.T, r *rawImage) []byte {
			r.notes = append(r.notes, r.notes[len(r.notes)-1])
			return r.bytes(true, false, nil)
		}},
		{"unknown-note", func(t *testing.T, r *rawImage) []byte {
			n := len(r.notes)
			r.notes = append(r.notes[:n-1:n-1], rawNote{noteOwner, 0x4c5a0009, []byte("{}")}, r.notes[n-1])
			return r.bytes(true, false, nil)
		}},
		{"unknown-meta-field", func(t *testing.T, r *rawImage) []byte {
			n := r.note(noteOwner, noteMeta)
			n.desc = append([]byte(`{"uid":0,`), n.desc[1:]...)
			return r.bytes(true, false, nil)
		}},
		{"creds-key-twice-uid-0", func(t *testing.T, r *rawImage) []byte {
			n := r.note(noteOwner, noteMeta)
			n.desc = append([]byte(`{"creds":{"uid":[0,0,0,0],"gid":[0,0,0,0],"groups":[0]},`), n.desc[1:]...)
			return r.bytes(true, false, nil)
		}},
		{"Creds-key-in-other-case", func(t *testing.T, r *rawImage) []byte {
			n := r.note(noteOwner, noteMeta)
			n.desc = append(bytes.TrimSuffix(n.desc, []byte("}")), []byte(`,"Creds":{"uid":[0,0,0,0],"gid":[0,0,0,0],"groups":[0]}}`)...)
			return r.bytes(true, false, nil)
		}},
		{"nested-key-twice", func(t *testing.T, r *rawImage) []byte {
			n := r.note(noteOwner, noteMeta)
			n.desc = bytes.Replace(n.desc, []byte(`"uid":[`), []byte(`"uid":[0,0,0,0],"uid":[`), 1)
			return r.bytes(true, false, nil)
		}},
		{"data-after-meta", func(t *testing.T, r *rawImage) []byte {
			n := r.note(noteOwner, noteMeta)
			n.desc = append(n.desc, []byte(` {"format":2}`)...)
			return r.bytes(true, false, nil)
		}},
		{"load-moved", func(t *testing.T, r *rawImage) []byte {
			binary.LittleEndian.PutUint64(r.ph[2][16:], binary.LittleEndian.Uint64(r.ph[2][16:])+pageSize)
			return r.bytes(true, false, nil)
		}},
		{"load-missing", func(t *testing.T, r *rawImage) []byte {
			r.ph = r.ph[:len(r.ph)-1]
			return r.bytes(true, false, nil)
		}},
		{"extents-overlap", func(t *testing.T, r *rawImage) []byte {
			return r.editMeta(t, func(m *imageMeta) { m.Regions[0].Extents[1].Off = 0 }).bytes(true, false, nil)
		}},
		{"too-many-groups", func(t *testing.T, r *rawImage) []byte {
			return r.editMeta(t, func(m *imageMeta) { m.Creds.Groups = make([]int, maxGroups+1) }).bytes(true, false, nil)
		}},
		{"too-many-children", func(t *testing.T, r *rawImage) []byte {
			return r.editMeta(t, func(m *imageMeta) {
				for i := 0; i <= maxTreeMembers; i++ {
					m.Children = append(m.Children, "c")
				}
			}).bytes(true, false, nil)
		}},
		{"child-dotdot", func(t *testing.T, r *rawImage) []byte {
			return r.editMeta(t, func(m *imageMeta) { m.Children = []string{".."} }).bytes(true, false, nil)
		}},
		{"meta-edited-no-resum", func(t *testing.T, r *rawImage) []byte {
			return r.editMeta(t, root).bytes(false, false, nil)
		}},
		{"trailing-bytes", func(t *testing.T, r *rawImage) []byte {
			return append(r.bytes(true, false, nil), 0)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.forge(t, parseRaw(t, good))
			_, err := decodeBytes(b, nil)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode: %v, want %v", err, ErrCorrupt)
			}
			t.Log(err)
		})
	}
	// The harness itself: put back together unchanged, the image reads.
	if _, err := decodeBytes(parseRaw(t, good).bytes(true, true, nil), nil); err != nil {
		t.Fatalf("unchanged image, rebuilt: %v", err)
	}
}

// TestReadImageFIFO: a FIFO in place of an image is refused at once, not
// waited on.
func TestReadImageFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImage(p); !errors.Is(err, ErrNotImage) {
		t.Errorf("ReadImage of a FIFO: %v, want %v", err, ErrNotImage)
	}
	if _, err := VerifyImage(p, nil); !errors.Is(err, ErrNotImage) {
		t.Errorf("VerifyImage of a FIFO: %v, want %v", err, ErrNotImage)
	}
}
