package ckpt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Image file layout. Each process is one ELF core file (ET_CORE):
//
//	ELF header
//	program headers: PT_NOTE, then one PT_LOAD per run of a memory region
//	notes: NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE, NT_FPREGSET,
//	       NT_X86_XSTATE (what gdb reads), then the engine's own note
//	       "LAZARUS"/noteMeta: JSON metadata (imageMeta), versioned by Format
//	page data: PT_LOAD segments at page-aligned offsets; all-zero and
//	       never-touched pages are holes in a sparse file
//
// gdb opens it like a core dump (gdb PROGRAM IMAGE). Data of a run that
// was not saved (clean file pages, vvar) has p_filesz 0: gdb reads those
// from the mapped files, as for a kernel core dump.

// FormatVersion is the image format this engine writes. Images of any other
// format are refused: a version we do not know is never restored "best effort".
const FormatVersion = 1

const (
	noteOwner = "LAZARUS"
	noteMeta  = 0x4c5a0001
	pageSize  = 4096
)

// imageMeta is the on-disk metadata of one process.
type imageMeta struct {
	Format      int         `json:"format"`
	Engine      string      `json:"engine"`
	Created     time.Time   `json:"created"`
	Fingerprint fingerprint `json:"fingerprint"`

	PID         int      `json:"pid"`
	PPID        int      `json:"ppid"`
	PGID        int      `json:"pgid"`
	SID         int      `json:"sid"`
	Comm        string   `json:"comm"`
	Cmdline     []string `json:"cmdline,omitempty"`
	Exe         fileRef  `json:"exe"`
	Cwd         string   `json:"cwd"`
	Umask       int      `json:"umask"`
	Creds       creds    `json:"creds"`
	Personality uint64   `json:"personality"`
	Nice        int      `json:"nice"`
	MM          mmFields `json:"mm"`
	Auxv        []uint64 `json:"auxv"`
	VDSO        uint64   `json:"vdso,omitempty"` // start of the [vvar]..[vdso] block; 0: none
	VDSOSum     string   `json:"vdso_sum,omitempty"`

	NSPID    int        `json:"ns_pid,omitempty"`   // pid inside its PID namespace; 0: not in one
	TTY      int        `json:"tty,omitempty"`      // control terminal device number; 0: none
	Terminal *terminal  `json:"terminal,omitempty"` // its settings, if a descriptor of it was open
	Children []string   `json:"children,omitempty"` // images of the children, in the same directory
	Zombie   *zombie    `json:"zombie,omitempty"`   // the process had exited, not yet reaped
	Pipes    []pipeData `json:"pipes,omitempty"`    // bytes in transit in pipes whose read end this process holds

	Regions []region     `json:"regions"`
	Files   []fileDesc   `json:"files"`
	Signals sigState     `json:"signals"`
	Rlimits []rlimit     `json:"rlimits"`
	Itimers [3]itimer    `json:"itimers"`
	Timers  []posixTimer `json:"timers,omitempty"`
	Threads []thread     `json:"threads"`
	// Security: seccomp, no_new_privs, capabilities, securebits,
	// dumpable (secstate.go); nil in images of engines that did not save it.
	Security *secState `json:"security,omitempty"`
}

// terminal holds the settings (termios) and window size of a control
// terminal.
type terminal struct {
	Iflag uint32  `json:"iflag"`
	Oflag uint32  `json:"oflag"`
	Cflag uint32  `json:"cflag"`
	Lflag uint32  `json:"lflag"`
	Line  uint8   `json:"line"`
	Cc    []uint8 `json:"cc"`
	Rows  uint16  `json:"rows"`
	Cols  uint16  `json:"cols"`
}

type fileLock struct {
	Kind  string `json:"kind"` // FLOCK, POSIX, OFDLCK
	Write bool   `json:"write"`
	Start int64  `json:"start"`
	End   int64  `json:"end"` // -1: to the end of the file
}

type zombie struct {
	Status int `json:"status"` // wait status
}

type pipeData struct {
	Ino  uint64 `json:"ino"`
	Size int    `json:"size"` // capacity
	Data []byte `json:"data,omitempty"`
}

type fingerprint struct {
	Kernel    string   `json:"kernel"`
	Machine   string   `json:"machine"`
	CPUFlags  []string `json:"cpu_flags"`
	XFeatures uint64   `json:"xfeatures"`
	XSize     int      `json:"xsize"`
}

// fileRef identifies a file by path and, to tell whether it changed, by
// what stat said at checkpoint time.
type fileRef struct {
	Path  string `json:"path"`
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Mode  uint32 `json:"mode,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Mtime int64  `json:"mtime_ns,omitempty"`
}

type creds struct {
	UID    [4]int `json:"uid"` // real, effective, saved, fs
	GID    [4]int `json:"gid"`
	Groups []int  `json:"groups"`
}

type mmFields struct {
	StartCode  uint64 `json:"start_code"`
	EndCode    uint64 `json:"end_code"`
	StartData  uint64 `json:"start_data"`
	EndData    uint64 `json:"end_data"`
	StartBrk   uint64 `json:"start_brk"`
	Brk        uint64 `json:"brk"`
	StartStack uint64 `json:"start_stack"`
	ArgStart   uint64 `json:"arg_start"`
	ArgEnd     uint64 `json:"arg_end"`
	EnvStart   uint64 `json:"env_start"`
	EnvEnd     uint64 `json:"env_end"`
}

// Region kinds.
const (
	regionAnon     = "anon"     // private anonymous, heap, stack; content saved
	regionFile     = "file"     // private file mapping; pages copied on write saved
	regionShared   = "shared"   // shared file mapping; by reference
	regionShmem    = "shmem"    // shared anonymous memory; content saved
	regionVDSO     = "vdso"     // [vvar] [vvar_vclock] [vdso]: mapped by the kernel
	regionVsyscall = "vsyscall" // fixed, never restored
)

type region struct {
	Start  uint64   `json:"start"`
	End    uint64   `json:"end"`
	Prot   int      `json:"prot"`
	Kind   string   `json:"kind"`
	Name   string   `json:"name,omitempty"` // the maps name: a path, [heap], [stack]...
	Offset uint64   `json:"offset,omitempty"`
	File   *fileRef `json:"file,omitempty"`
	Stack  bool     `json:"stack,omitempty"`
	// Shm names a shared memory object: regions of the tree with the same
	// Shm map one object; its content is saved with its first mapping.
	Shm string `json:"shm,omitempty"`
	// ShmImage names the image (same directory) holding Shm's content,
	// when it is not this one.
	ShmImage string   `json:"shm_image,omitempty"`
	Extents  []extent `json:"extents,omitempty"`
}

// extent is a saved run of pages: Len bytes at Addr, stored at file offset Off.
type extent struct {
	Addr uint64 `json:"addr"`
	Len  uint64 `json:"len"`
	Off  uint64 `json:"off"`
}

// File descriptor kinds.
const (
	fdFile   = "file"
	fdDir    = "dir"
	fdDevice = "device"
	fdTTY    = "tty"
	fdPipe   = "pipe"
	fdAnon   = "anon"   // eventfd, epoll, timerfd, signalfd: see anonFile
	fdSocket = "unix"   // one end of a connected unix stream socket whose peer is in the tree
	fdClosed = "closed" // not checkpointable; saved with -F, restored closed
)

type fileDesc struct {
	FD      int      `json:"fd"`
	Kind    string   `json:"kind"`
	Path    string   `json:"path"`
	Flags   int      `json:"flags"`
	Pos     int64    `json:"pos"`
	CloExec bool     `json:"cloexec,omitempty"`
	File    *fileRef `json:"file,omitempty"`
	Reason  string   `json:"reason,omitempty"` // why a closed descriptor was not saved
	Copy    string   `json:"copy,omitempty"`   // -C: name of the copy beside the image
	// Desc names the open file description: descriptors of the tree with
	// the same Desc share one (dup, fork), and still do after a restart.
	Desc string    `json:"desc"`
	CTTY bool      `json:"ctty,omitempty"` // a terminal that is the process's control terminal
	Anon *anonFile `json:"anon,omitempty"`
	Sock *unixSock `json:"sock,omitempty"`
	// Unlinked: the file had no name any more; its content is in Copy.
	Unlinked bool `json:"unlinked,omitempty"`
	// Locks this descriptor's file description (flock, OFD) or, for
	// POSIX record locks, this process held on the file.
	Locks []fileLock `json:"locks,omitempty"`
	Ino   uint64     `json:"ino,omitempty"` // the pipe's inode, for pipes
	MntID int        `json:"-"`
}

type sigAction struct {
	Handler  uint64 `json:"handler"`
	Flags    uint64 `json:"flags"`
	Restorer uint64 `json:"restorer"`
	Mask     uint64 `json:"mask"`
}

type sigState struct {
	Actions []sigAction  `json:"actions"` // index sig-1
	Pending []pendingSig `json:"pending,omitempty"`
}

type altStack struct {
	SP    uint64 `json:"sp"`
	Flags int32  `json:"flags"`
	Size  uint64 `json:"size"`
}

type pendingSig struct {
	Shared bool   `json:"shared"`
	TID    int    `json:"tid,omitempty"` // the thread it is queued for (not shared)
	Info   []byte `json:"info"`
}

type itimer struct {
	Interval [2]int64 `json:"interval"` // sec, usec
	Value    [2]int64 `json:"value"`
}

// posixTimer is a timer_create(2) timer: its id, clock, notification and
// what was left of it (timer_gettime).
type posixTimer struct {
	ID       int      `json:"id"`
	Clock    int      `json:"clock"`
	Signal   int      `json:"signal"`
	Value    uint64   `json:"value"`  // sigev_value
	Notify   int      `json:"notify"` // SIGEV_*
	TID      int      `json:"tid,omitempty"`
	Interval [2]int64 `json:"interval"` // sec, nsec
	Next     [2]int64 `json:"next"`
}

type thread struct {
	TID        int        `json:"tid"`
	NSTID      int        `json:"ns_tid,omitempty"` // tid inside its PID namespace
	Comm       string     `json:"comm,omitempty"`
	AltStack   altStack   `json:"altstack"`
	SigMask    uint64     `json:"sigmask"`
	Rseq       rseqConfig `json:"rseq"`
	RobustHead uint64     `json:"robust_head"`
	RobustLen  uint64     `json:"robust_len"`
	TidAddr    uint64     `json:"tid_addr"`
}

// Image describes a checkpoint file.
type Image struct {
	Path    string    // the file
	Format  int       // engine format version
	Created time.Time // when the checkpoint was taken
	PID     int       // process ID at checkpoint time
	Comm    string    // command name
	Exe     string    // executable
	Threads int
	Regions int    // memory regions
	Memory  uint64 // bytes of saved memory (apparent)
	Files   int    // open descriptors
	Kernel  string // kernel release at checkpoint time

	meta      *imageMeta
	regs      []threadRegs
	xstate    [][]byte
	size      int64
	dataStart uint64 // file offset of the page data
}

// threadRegs is a thread's general registers as in NT_PRSTATUS.
type threadRegs = [27]uint64

// ReadImage reads and checks the metadata of a checkpoint file, without its
// memory. A file that is not an image gives ErrNotImage; a damaged one
// ErrCorrupt.
func ReadImage(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &ImageError{Path: path, Err: ErrNotImage}
	}
	img, err := decodeImage(f, st.Size())
	if err != nil {
		return nil, &ImageError{Path: path, Err: err}
	}
	img.Path = path
	return img, nil
}

func decodeImage(r io.ReaderAt, size int64) (img *Image, retErr error) {
	var hdr [64]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, ErrNotImage
	}
	if !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) || elf.Type(binary.LittleEndian.Uint16(hdr[16:])) != elf.ET_CORE {
		return nil, ErrNotImage
	}
	if elf.Machine(binary.LittleEndian.Uint16(hdr[18:])) != elf.EM_X86_64 || hdr[4] != byte(elf.ELFCLASS64) {
		return nil, fmt.Errorf("%w: not an x86-64 image", ErrIncompatible)
	}
	phoff := binary.LittleEndian.Uint64(hdr[32:])
	phnum := int(binary.LittleEndian.Uint16(hdr[56:]))
	if phoff > uint64(size) || uint64(phnum)*56 > uint64(size)-phoff {
		return nil, fmt.Errorf("%w: program headers beyond end of file", ErrCorrupt)
	}
	ph := make([]byte, phnum*56)
	if _, err := r.ReadAt(ph, int64(phoff)); err != nil {
		return nil, fmt.Errorf("%w: read program headers: %v", ErrCorrupt, err)
	}
	var notes []byte
	var dataStart uint64
	for i := 0; i < phnum; i++ {
		p := ph[i*56:]
		typ := elf.ProgType(binary.LittleEndian.Uint32(p))
		off := binary.LittleEndian.Uint64(p[8:])
		filesz := binary.LittleEndian.Uint64(p[32:])
		if off > uint64(size) || filesz > uint64(size)-off {
			return nil, fmt.Errorf("%w: segment %d ends beyond end of file (truncated image?)", ErrCorrupt, i)
		}
		switch typ {
		case elf.PT_NOTE:
			if filesz > 64<<20 {
				return nil, fmt.Errorf("%w: note segment of %d bytes", ErrCorrupt, filesz)
			}
			notes = make([]byte, filesz)
			dataStart = alignPage(off + filesz)
			if _, err := r.ReadAt(notes, int64(off)); err != nil {
				return nil, fmt.Errorf("%w: read notes: %v", ErrCorrupt, err)
			}
		}
	}
	img = &Image{size: size, dataStart: dataStart}
	var metaJSON []byte
	err := walkNotes(notes, func(owner string, typ uint32, desc []byte) error {
		switch {
		case owner == noteOwner && typ == noteMeta:
			metaJSON = desc
		case owner == "CORE" && typ == uint32(elf.NT_PRSTATUS):
			if len(desc) < prstatusSize {
				return fmt.Errorf("%w: short NT_PRSTATUS", ErrCorrupt)
			}
			var regs threadRegs
			for i := range regs {
				regs[i] = binary.LittleEndian.Uint64(desc[prstatusRegOff+8*i:])
			}
			img.regs = append(img.regs, regs)
		case owner == "LINUX" && typ == ntX86XState:
			img.xstate = append(img.xstate, append([]byte(nil), desc...))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if metaJSON == nil {
		return nil, ErrNotImage
	}
	var meta imageMeta
	if err := json.Unmarshal(metaJSON, &meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrCorrupt, err)
	}
	if meta.Format != FormatVersion {
		return nil, fmt.Errorf("%w: image format %d, this engine reads format %d", ErrIncompatible, meta.Format, FormatVersion)
	}
	if (len(meta.Threads) == 0 && meta.Zombie == nil) || len(img.regs) != len(meta.Threads) {
		return nil, fmt.Errorf("%w: %d threads described, %d register sets", ErrCorrupt, len(meta.Threads), len(img.regs))
	}
	for _, rg := range meta.Regions {
		if rg.End <= rg.Start || rg.Start%pageSize != 0 || rg.End%pageSize != 0 {
			return nil, fmt.Errorf("%w: bad region %#x-%#x", ErrCorrupt, rg.Start, rg.End)
		}
		for _, e := range rg.Extents {
			if e.Addr < rg.Start || e.Addr+e.Len > rg.End || dataStart+e.Off+e.Len > uint64(size) || e.Off+e.Len < e.Off {
				return nil, fmt.Errorf("%w: region %#x-%#x: data beyond end of file (truncated image?)", ErrCorrupt, rg.Start, rg.End)
			}
		}
	}
	img.meta = &meta
	img.Format = meta.Format
	img.Created = meta.Created
	img.PID = meta.PID
	img.Comm = meta.Comm
	img.Exe = meta.Exe.Path
	img.Threads = len(meta.Threads)
	img.Regions = len(meta.Regions)
	img.Files = len(meta.Files)
	img.Kernel = meta.Fingerprint.Kernel
	for _, rg := range meta.Regions {
		for _, e := range rg.Extents {
			img.Memory += e.Len
		}
	}
	return img, nil
}

func walkNotes(b []byte, f func(owner string, typ uint32, desc []byte) error) error {
	for len(b) > 0 {
		if len(b) < 12 {
			return fmt.Errorf("%w: short note header", ErrCorrupt)
		}
		namesz := uint64(binary.LittleEndian.Uint32(b))
		descsz := uint64(binary.LittleEndian.Uint32(b[4:]))
		typ := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		nameEnd := align4(namesz)
		if nameEnd > uint64(len(b)) || align4(descsz) > uint64(len(b))-nameEnd {
			return fmt.Errorf("%w: note beyond its segment", ErrCorrupt)
		}
		name := string(bytes.TrimRight(b[:namesz], "\x00"))
		if err := f(name, typ, b[nameEnd:nameEnd+descsz]); err != nil {
			return err
		}
		b = b[nameEnd+align4(descsz):]
	}
	return nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Errors about image files.
var (
	// ErrNotImage: the file is not a checkpoint image.
	ErrNotImage = errors.New("not checkpoint file format")
	// ErrCorrupt: the image is damaged or truncated.
	ErrCorrupt = errors.New("checkpoint file is corrupt or truncated")
	// ErrIncompatible: the image was written by an engine or for a machine
	// this one cannot restore it on.
	ErrIncompatible = errors.New("incompatible checkpoint")
)

// ImageError is an error about one image file.
type ImageError struct {
	Path string
	Err  error
}

func (e *ImageError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ImageError) Unwrap() error { return e.Err }
