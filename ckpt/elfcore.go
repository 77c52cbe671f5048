package ckpt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout constants of the x86-64 core-file notes gdb reads.
const (
	prstatusSize   = 336 // sizeof(struct elf_prstatus)
	prstatusRegOff = 112 // offsetof(struct elf_prstatus, pr_reg)
	prpsinfoSize   = 136 // sizeof(struct elf_prpsinfo)
	ntX86XState    = 0x202
	ntFile         = 0x46494c45
	ntAuxv         = 6
	ntFPRegSet     = 2
	ntPRPSInfo     = 3
	ntPRStatus     = 1
)

// load is one PT_LOAD segment. off is relative to the start of the data
// area, which begins at the first page boundary after the notes.
type load struct {
	vaddr, memsz, filesz, off uint64
	prot                      int
}

type noteBuf struct{ bytes.Buffer }

func (n *noteBuf) add(owner string, typ uint32, desc []byte) {
	var h [12]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(owner)+1))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(h[8:], typ)
	n.Write(h[:])
	name := append([]byte(owner), 0)
	for len(name)%4 != 0 {
		name = append(name, 0)
	}
	n.Write(name)
	n.Write(desc)
	for i := len(desc); i%4 != 0; i++ {
		n.WriteByte(0)
	}
}

func regsToArray(r *unix.PtraceRegs) threadRegs {
	return *(*threadRegs)(unsafe.Pointer(r))
}

func arrayToRegs(a *threadRegs) unix.PtraceRegs {
	return *(*unix.PtraceRegs)(unsafe.Pointer(a))
}

// buildNotes returns the PT_NOTE contents: the notes gdb understands, in
// the order the kernel writes them, then the engine's metadata, then room
// for the checksums of nseg segments (filled in by the writer once the
// data is written, see sums), HMACs included if keyed.
func buildNotes(meta *imageMeta, regs []unix.PtraceRegs, xstate [][]byte, nseg int, keyed bool) ([]byte, error) {
	var n noteBuf
	for i := range regs {
		pr := make([]byte, prstatusSize)
		binary.LittleEndian.PutUint32(pr[32:], uint32(meta.Threads[i].TID))
		binary.LittleEndian.PutUint32(pr[36:], uint32(meta.PPID))
		binary.LittleEndian.PutUint32(pr[40:], uint32(meta.PGID))
		binary.LittleEndian.PutUint32(pr[44:], uint32(meta.SID))
		binary.LittleEndian.PutUint64(pr[24:], meta.Threads[i].SigMask)
		a := regsToArray(&regs[i])
		for j, v := range a {
			binary.LittleEndian.PutUint64(pr[prstatusRegOff+8*j:], v)
		}
		binary.LittleEndian.PutUint32(pr[328:], 1) // pr_fpvalid
		n.add("CORE", ntPRStatus, pr)
		if i == 0 {
			n.add("CORE", ntPRPSInfo, prpsinfo(meta))
			auxv := make([]byte, 8*len(meta.Auxv))
			for j, v := range meta.Auxv {
				binary.LittleEndian.PutUint64(auxv[8*j:], v)
			}
			n.add("CORE", ntAuxv, auxv)
			n.add("CORE", ntFile, ntFileNote(meta.Regions))
		}
		if len(xstate[i]) >= 512 {
			n.add("CORE", ntFPRegSet, xstate[i][:512])
			n.add("LINUX", ntX86XState, xstate[i])
		}
	}
	js, err := marshalMeta(meta)
	if err != nil {
		return nil, err
	}
	n.add(noteOwner, noteMeta, js)
	n.add(noteOwner, noteSums, make([]byte, sumsLen(nseg, keyed)+chunkTableLen(meta)))
	return n.Bytes(), nil
}

func prpsinfo(meta *imageMeta) []byte {
	p := make([]byte, prpsinfoSize)
	p[0] = 0 // running
	p[1] = 'R'
	p[3] = byte(int8(meta.Nice))
	binary.LittleEndian.PutUint32(p[16:], uint32(meta.Creds.UID[1]))
	binary.LittleEndian.PutUint32(p[20:], uint32(meta.Creds.GID[1]))
	binary.LittleEndian.PutUint32(p[24:], uint32(meta.PID))
	binary.LittleEndian.PutUint32(p[28:], uint32(meta.PPID))
	binary.LittleEndian.PutUint32(p[32:], uint32(meta.PGID))
	binary.LittleEndian.PutUint32(p[36:], uint32(meta.SID))
	copy(p[40:55], meta.Comm)
	args := ""
	for i, a := range meta.Cmdline {
		if i > 0 {
			args += " "
		}
		args += a
	}
	copy(p[56:135], args)
	return p
}

// ntFileNote lists the file mappings the way the kernel's NT_FILE does, so
// gdb finds the executable and the shared libraries.
func ntFileNote(regions []region) []byte {
	var ents []region
	for _, r := range regions {
		if r.File != nil && (r.Kind == regionFile || r.Kind == regionShared) {
			ents = append(ents, r)
		}
	}
	var b bytes.Buffer
	put := func(v uint64) { binary.Write(&b, binary.LittleEndian, v) }
	put(uint64(len(ents)))
	put(pageSize)
	for _, r := range ents {
		put(r.Start)
		put(r.End)
		put(r.Offset / pageSize)
	}
	for _, r := range ents {
		b.WriteString(r.File.Path)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// imageHeader returns the ELF header and program headers for notes and
// loads, and the file offset at which the data area starts.
func imageHeader(notes []byte, loads []load) ([]byte, uint64) {
	phnum := 1 + len(loads)
	noteOff := uint64(64 + 56*phnum)
	dataStart := alignPage(noteOff + uint64(len(notes)))
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)}
	b.Write(ident[:])
	binary.Write(&b, le, uint16(elf.ET_CORE))
	binary.Write(&b, le, uint16(elf.EM_X86_64))
	binary.Write(&b, le, uint32(elf.EV_CURRENT))
	binary.Write(&b, le, uint64(0))  // entry
	binary.Write(&b, le, uint64(64)) // phoff
	binary.Write(&b, le, uint64(0))  // shoff
	binary.Write(&b, le, uint32(0))  // flags
	binary.Write(&b, le, uint16(64)) // ehsize
	binary.Write(&b, le, uint16(56)) // phentsize
	binary.Write(&b, le, uint16(phnum))
	binary.Write(&b, le, uint16(64)) // shentsize
	binary.Write(&b, le, uint16(0))  // shnum
	binary.Write(&b, le, uint16(0))  // shstrndx
	var note [phentSize]byte
	putPhdr(note[:], elf.PT_NOTE, 0, noteOff, 0, uint64(len(notes)), 0, 4)
	b.Write(note[:])
	for _, l := range loads {
		h := loadHeader(l, dataStart)
		b.Write(h[:])
	}
	b.Write(notes)
	return b.Bytes(), dataStart
}

// loadHeader returns the program header of l, in an image whose data
// starts at dataStart.
func loadHeader(l load, dataStart uint64) [phentSize]byte {
	var fl elf.ProgFlag
	if l.prot&protRead != 0 {
		fl |= elf.PF_R
	}
	if l.prot&protWrite != 0 {
		fl |= elf.PF_W
	}
	if l.prot&protExec != 0 {
		fl |= elf.PF_X
	}
	off := uint64(0)
	if l.filesz > 0 {
		off = dataStart + l.off
	}
	var h [phentSize]byte
	putPhdr(h[:], elf.PT_LOAD, fl, off, l.vaddr, l.filesz, l.memsz, pageSize)
	return h
}

func putPhdr(b []byte, typ elf.ProgType, flags elf.ProgFlag, off, vaddr, filesz, memsz, align uint64) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(typ))
	le.PutUint32(b[4:], uint32(flags))
	le.PutUint64(b[8:], off)
	le.PutUint64(b[16:], vaddr)
	le.PutUint64(b[24:], 0) // paddr
	le.PutUint64(b[32:], filesz)
	le.PutUint64(b[40:], memsz)
	le.PutUint64(b[48:], align)
}

func alignPage(n uint64) uint64 { return (n + pageSize - 1) &^ (pageSize - 1) }
