package ckpt

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Image file layout. Each process is one ELF core file (ET_CORE):
//
//	ELF header
//	program headers: PT_NOTE, then one PT_LOAD per run of a memory region
//	notes: NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE, NT_FPREGSET,
//	       NT_X86_XSTATE (what gdb reads), then the engine's own notes:
//	       "LAZARUS"/noteMeta: JSON metadata (imageMeta), versioned by Format
//	       "LAZARUS"/noteSums, last: checksums and HMACs (see sums)
//	page data: PT_LOAD segments at page-aligned offsets; all-zero and
//	       never-touched pages are holes in a sparse file
//
// gdb opens it like a core dump (gdb PROGRAM IMAGE). Data of a run that
// was not saved (clean file pages, vvar) has p_filesz 0: gdb reads those
// from the mapped files, as for a kernel core dump.
//
// The image is untrusted input: decodeImage is its one reader (callers use
// the accessors of Image, never their own parser) and refuses anything it
// did not write itself: a second PT_NOTE, a second note of a kind it reads,
// unknown notes or metadata fields, program headers that are not exactly
// those the metadata implies, counts beyond the bounds below.

// FormatVersion is the image format this engine writes. Images of any other
// format are refused: a version we do not know is never restored "best effort".
// Format 2 added the checksums, HMACs and checkpoint id.
const FormatVersion = 2

const (
	noteOwner = "LAZARUS"
	noteMeta  = 0x4c5a0001
	noteSums  = 0x4c5a0002
	pageSize  = 4096
)

// Bounds of what one image may describe. An image beyond them is corrupt:
// they keep what a hostile image can make the reader allocate bounded.
const (
	maxNoteBytes  = 64 << 20 // the PT_NOTE segment, the metadata included
	maxThreads    = 1 << 15
	maxRegions    = 1 << 16 // vm.max_map_count is 65530 by default
	maxFiles      = 1 << 20 // NR_OPEN
	maxGroups     = 65536   // NGROUPS_MAX
	maxRlimits    = 16      // RLIM_NLIMITS
	maxSignals    = 64
	maxTimers     = 1 << 16
	maxPending    = 1 << 16
	maxImagePipes = 1 << 20
)

// imageMeta is the on-disk metadata of one process.
type imageMeta struct {
	Format int `json:"format"`
	// Checkpoint is the random id of the checkpoint: every image of one
	// tree carries the same, so a tree mixing images of two checkpoints
	// is refused.
	Checkpoint  string      `json:"checkpoint"`
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

	NSPID int `json:"ns_pid,omitempty"` // pid inside its PID namespace; 0: not in one
	// NSPids: for a member of a PID namespace made inside the tree, its
	// pid in each namespace from the root's down to its own (pidns.go).
	NSPids   []int     `json:"ns_pids,omitempty"`
	PIDNS    *pidNS    `json:"pid_ns,omitempty"`   // how its PID namespace came about (pidns.go)
	TTY      int       `json:"tty,omitempty"`      // control terminal device number; 0: none
	Terminal *terminal `json:"terminal,omitempty"` // its settings, if a descriptor of it was open
	Children []string  `json:"children,omitempty"` // images of the children, in the same directory
	Zombie   *zombie   `json:"zombie,omitempty"`   // the process had exited, not yet reaped
	// Ghost: the leader of its session or process group had exited; the
	// restart makes one for the moment (ghost.go).
	Ghost   *ghostLeader `json:"ghost,omitempty"`
	JobStop *jobStop     `json:"job_stop,omitempty"` // stopped by job control (jobctl.go)
	Pipes   []pipeData   `json:"pipes,omitempty"`    // bytes in transit in pipes whose read end this process holds (or a socket of it, in flight)

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
	// IPC: the SysV objects of the tree, in the root's image (sysvipc.go).
	IPC *sysvIPC `json:"ipc,omitempty"`
	// MountNS: the process was in a mount namespace other than its
	// parent's (the root: than the checkpointer's); nil: its parent's
	// (mountns.go).
	MountNS *mountNS `json:"mount_ns,omitempty"`
	// TimeNS: the process made a time namespace (timens.go); nil: it is
	// in its parent's namespace for children.
	TimeNS *timeNS `json:"time_ns,omitempty"`
	// UserNS: the process was in a user namespace other than the
	// checkpointer's (userns.go).
	UserNS *userNS `json:"user_ns,omitempty"`
	// NetNS: the process was in a network namespace other than the
	// checkpointer's (netns.go).
	NetNS *netNS `json:"net_ns,omitempty"`
	// CgroupNS: the process was in a cgroup namespace other than its
	// parent's (the root: the checkpointer's) (cgroupns.go).
	CgroupNS *cgroupNS `json:"cgroup_ns,omitempty"`
	// SemUndo: the process's SEM_UNDO adjustments (semundo.go).
	SemUndo []semUndo `json:"sem_undo,omitempty"`
	// Attrs: loginuid, oom_score_adj, scheduling, parent-death signal...
	// (attrs.go); nil in images of engines that did not save them.
	Attrs *procAttrs `json:"attrs,omitempty"`
	// CowParent names the parent's image (same directory), which holds the
	// pages of the regions' Inherit runs (cowshare.go).
	CowParent string `json:"cow_parent,omitempty"`
	// Tables: the kernel tables shared with the parent (sharedtables.go).
	Tables *sharedTables `json:"tables,omitempty"`
	// Compression: the memory is stored compressed, chunk by chunk
	// (compress.go); nil: as it was.
	Compression *compression `json:"compression,omitempty"`
	// Parent: this image holds only the pages changed since the image
	// it names (incremental.go); nil: self-contained.
	Parent *parentRef `json:"parent,omitempty"`
	// ExitSignal: the signal its end sends its parent when not SIGCHLD
	// (clone's exit_signal: another signal, or 0 for none); nil: SIGCHLD.
	ExitSignal *int `json:"exit_signal,omitempty"`
	// CwdDev, CwdIno: the working directory's identity, which lets a
	// root restart enter it with root's rights when the process's own no
	// longer reach it (build.go, enterCwd); 0: not recorded.
	CwdDev uint64 `json:"cwd_dev,omitempty"`
	CwdIno uint64 `json:"cwd_ino,omitempty"`
	// Track: the dirty-page tracker left in the process at this
	// checkpoint (dirty_linux_amd64.go); nil: none.
	Track *trackRecord `json:"track,omitempty"`
	// State: a merged image's stand-in for the digest of the image it
	// replaces, so that images naming that one as parent still accept
	// it (merge.go); "": the image's own digest.
	State string `json:"state,omitempty"`
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
	// Packets: the lengths of the packets Data is made of, in a pipe in
	// packet mode (written O_DIRECT: each read returns one), see
	// pipepacket.go.
	Packets []int `json:"packets,omitempty"`
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
	regionSysV     = "sysvshm"  // a SysV shared memory segment: Shmid, attached again (sysvipc.go)
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
	// Tmpfs: a shared mapping of File, a file on tmpfs; its content is
	// saved as for Shm, and the file made again if it is gone (tmpfsmap.go).
	Tmpfs bool `json:"tmpfs,omitempty"`
	// Shm names a shared memory object: regions of the tree with the same
	// Shm map one object; its content is saved with its first mapping.
	Shm string `json:"shm,omitempty"`
	// ShmImage names the image (same directory) holding Shm's content,
	// when it is not this one.
	ShmImage string `json:"shm_image,omitempty"`
	// Seals: F_GET_SEALS of the memfd a regionShmem maps (shmobj.go):
	// the memfd is made again with them, even when no descriptor holds it.
	Seals int `json:"seals,omitempty"`
	// apart: mapped apart from the region below it (mapapart.go); not
	// in the image.
	apart bool
	// Shmid: the SysV segment a regionSysV attaches.
	Shmid   int      `json:"shmid,omitempty"`
	Extents []extent `json:"extents,omitempty"`
	// Guards: runs of guard pages (MADV_GUARD_INSTALL), not saved,
	// installed again once the region is filled (memflags.go).
	Guards []extent `json:"guards,omitempty"`
	// Policy: its NUMA memory policy (mbind); nil: none of its own
	// (mempolicy.go).
	Policy *memPolicy `json:"mempolicy,omitempty"`
	// Inherit: runs of pages that were the parent's very pages (copy on
	// write since a fork), left out of this image (cowshare.go).
	Inherit []span `json:"inherit,omitempty"`
	// Advice: its VmFlags set by madvise, mlock or MAP_DROPPABLE
	// (memflags.go).
	Advice []string `json:"advice,omitempty"`
	// AIO: the AIO context whose ring a regionAIO is (aio.go).
	AIO *aioRing `json:"aio,omitempty"`
	// FromParent: the pages of the region not in Extents are those of
	// the same region in the parent image, but for Clear (incremental.go).
	FromParent bool `json:"from_parent,omitempty"`
	// Clear: runs [start, end) of pages the parent holds that are gone
	// since (zero, or the file's again).
	Clear [][2]uint64 `json:"clear,omitempty"`
	// Tracked: the region was registered with the dirty-page tracker at
	// this checkpoint.
	Tracked bool `json:"tracked,omitempty"`
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
	fdSocket = "unix"   // a unix socket: see unixSock
	fdFifo   = "fifo"   // a named pipe: see fifo.go
	fdInet   = "inet"   // a TCP or UDP socket: see inetSock
	fdPTY    = "pty"    // a pseudo terminal of the tree, master or slave: see pty.go
	fdMqueue = "mqueue" // a POSIX message queue: see mqueue.go
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
	Copy    string   `json:"copy,omitempty"`   // -C or unlinked: the CONVEX name of the copy beside the image
	// CopyGen, CopySize, CopySum: the copy's data under this checkpoint's
	// own name, its size and contentSum (copies.go).
	CopyGen  string `json:"copy_gen,omitempty"`
	CopySize int64  `json:"copy_size,omitempty"`
	CopySum  string `json:"copy_sum,omitempty"`
	// Desc names the open file description: descriptors of the tree with
	// the same Desc share one (dup, fork), and still do after a restart.
	Desc string    `json:"desc"`
	CTTY bool      `json:"ctty,omitempty"` // a terminal that is the process's control terminal
	Anon *anonFile `json:"anon,omitempty"`
	Sock *unixSock `json:"sock,omitempty"`
	// Fifo holds the bytes in transit in a named pipe, on one descriptor
	// of the tree that has it open.
	Fifo *pipeData `json:"fifo,omitempty"`
	Inet *inetSock `json:"inet,omitempty"`
	Pty  *ptyState `json:"pty,omitempty"`
	// Unlinked: the file had no name any more; its content is in Copy.
	Unlinked bool `json:"unlinked,omitempty"`
	// Unl: which file it is, its owner, seals (unlinked.go).
	Unl *unlinkedFile `json:"unlinked_file,omitempty"`
	// Locks this descriptor's file description (flock, OFD) or, for
	// POSIX record locks, this process held on the file.
	Locks []fileLock `json:"locks,omitempty"`
	Ino   uint64     `json:"ino,omitempty"` // the pipe's inode, for pipes
	MntID int        `json:"-"`
	// Signals: owner (F_SETOWN), F_SETSIG signal and lease of the
	// description (fdowner.go).
	Signals *fileSignals `json:"signals,omitempty"`
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
	// Overrun: the expiries it missed before the checkpoint while its
	// signal was pending (timeroverpre.go).
	Overrun int `json:"overrun,omitempty"`
}

type thread struct {
	TID        int        `json:"tid"`
	NSTID      int        `json:"ns_tid,omitempty"`  // tid inside its PID namespace
	NSTIDs     []int      `json:"ns_tids,omitempty"` // as imageMeta.NSPids
	Comm       string     `json:"comm,omitempty"`
	AltStack   altStack   `json:"altstack"`
	SigMask    uint64     `json:"sigmask"`
	Rseq       rseqConfig `json:"rseq"`
	RobustHead uint64     `json:"robust_head"`
	RobustLen  uint64     `json:"robust_len"`
	TidAddr    uint64     `json:"tid_addr"`
	// Creds: the thread's own credentials when they are not its
	// process's; nil: the process's (threadcreds.go).
	Creds *creds `json:"creds,omitempty"`
	// Personality: the thread's own (per task); nil: the process's.
	Personality *uint64 `json:"personality,omitempty"`
}

// Image describes a checkpoint file.
type Image struct {
	Path        string    // the file
	Format      int       // engine format version
	Created     time.Time // when the checkpoint was taken
	PID         int       // process ID at checkpoint time
	Comm        string    // command name
	Exe         string    // executable
	Threads     int
	Regions     int    // memory regions
	Memory      uint64 // bytes of saved memory (apparent)
	Descriptors int    // open descriptors (Files lists them)
	Kernel      string // kernel release at checkpoint time

	meta      *imageMeta
	regs      []threadRegs
	xstate    [][]byte
	size      int64
	dataStart uint64 // file offset of the page data
	sums      sums
	segOffs   []uint64 // data offset of each segment (extent), in segment order
	// authentic: the metadata's HMAC verified with the key it was read
	// with; the segments' HMACs are then checked as they are read.
	authentic bool
	key       []byte
	file      [2]uint64 // device and inode of the file read
	// Compressed images (compress.go): the compression, the index of
	// each segment's first chunk in sums.chunks, and the bytes each
	// segment's checksums cover.
	comp      *compression
	chunkBase []int
	stored    []uint64
	digest    [32]byte // SHA-256 of the headers and notes (incremental.go)
	// parent: the image Parent names, once loaded (loadChain); nil:
	// none, or not loaded.
	parent *Image
}

// Creds are the credentials of an image's process.
type Creds struct {
	UID    [4]int // real, effective, saved, filesystem
	GID    [4]int
	Groups []int // supplementary groups
}

// OpenFile is a descriptor an image's process had open.
type OpenFile struct {
	FD    int
	Kind  string // file, dir, device, tty, pipe, anon, unix, closed
	Path  string
	Flags int  // open flags
	CTTY  bool // its control terminal
}

// MappedFile is a file an image's process had mapped.
type MappedFile struct {
	Path     string
	Kind     string // "file" (private) or "shared"
	Writable bool   // a shared mapping with PROT_WRITE: the restore opens it read-write
}

// Creds returns the credentials the process had.
func (img *Image) Creds() Creds {
	c := img.meta.Creds
	return Creds{UID: c.UID, GID: c.GID, Groups: append([]int(nil), c.Groups...)}
}

// Children returns the names of the images of the process's children, in
// the same directory.
func (img *Image) Children() []string { return append([]string(nil), img.meta.Children...) }

// Cwd returns the process's working directory.
func (img *Image) Cwd() string { return img.meta.Cwd }

// ID returns the checkpoint's id: the same in every image of one tree.
func (img *Image) ID() string { return img.meta.Checkpoint }

// Files returns the descriptors the process had open.
func (img *Image) Files() []OpenFile {
	out := make([]OpenFile, 0, len(img.meta.Files))
	for _, f := range img.meta.Files {
		out = append(out, OpenFile{FD: f.FD, Kind: f.Kind, Path: f.Path, Flags: f.Flags, CTTY: f.CTTY})
	}
	return out
}

// FileCopy is a copy of a file's content that the checkpoint wrote beside
// the image (an unlinked file's, or with -C an open file's): Gen is its
// name of that checkpoint, Name its CONVEX name (copies.go). The restart
// looks for Gen first, then Name.
type FileCopy struct{ Name, Gen string }

// Copies returns the copies beside the image that its restart reads, each
// once.
func (img *Image) Copies() []FileCopy {
	var out []FileCopy
	seen := map[FileCopy]bool{}
	for _, f := range img.meta.Files {
		c := FileCopy{Name: f.Copy, Gen: f.CopyGen}
		if f.Copy == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// Mapped returns the files the process had mapped (the restore opens them
// again).
func (img *Image) Mapped() []MappedFile {
	var out []MappedFile
	for _, r := range img.meta.Regions {
		if r.File == nil || (r.Kind != regionFile && r.Kind != regionShared) {
			continue
		}
		out = append(out, MappedFile{Path: r.File.Path, Kind: r.Kind, Writable: r.Kind == regionShared && r.Prot&protWrite != 0})
	}
	return out
}

// threadRegs is a thread's general registers as in NT_PRSTATUS.
type threadRegs = [27]uint64

// ReadImage reads and checks the metadata of a checkpoint file, without its
// memory: the checksum of its headers and notes is verified, not the
// memory's (see VerifyImage). A file that is not an image gives
// ErrNotImage; a damaged one ErrCorrupt.
func ReadImage(path string) (*Image, error) {
	return readImage(path, nil)
}

// readImage is ReadImage that also authenticates the metadata with key
// (nil: none).
func readImage(path string, key []byte) (*Image, error) {
	f, err := openImage(path)
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
	img, err := decodeImage(f, st.Size(), key)
	if err != nil {
		return nil, &ImageError{Path: path, Err: err}
	}
	img.Path = path
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		img.file = [2]uint64{sys.Dev, sys.Ino}
	}
	return img, nil
}

// openImage opens an image file for reading. O_NONBLOCK: the open of a
// FIFO put in place of an image returns at once (and the file is then
// refused as not regular) instead of waiting for a writer.
func openImage(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// Sizes in the ELF header.
const (
	ehSize    = 64
	phentSize = 56
)

func decodeImage(r io.ReaderAt, size int64, key []byte) (*Image, error) {
	var hdr [ehSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, ErrNotImage
	}
	le := binary.LittleEndian
	if !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) || elf.Type(le.Uint16(hdr[16:])) != elf.ET_CORE {
		return nil, ErrNotImage
	}
	if elf.Machine(le.Uint16(hdr[18:])) != elf.EM_X86_64 || hdr[4] != byte(elf.ELFCLASS64) || hdr[5] != byte(elf.ELFDATA2LSB) {
		return nil, fmt.Errorf("%w: not an x86-64 image", ErrIncompatible)
	}
	phoff := le.Uint64(hdr[32:])
	phnum := uint64(le.Uint16(hdr[56:]))
	if phoff != ehSize || le.Uint16(hdr[54:]) != phentSize || phnum == 0 || phnum > maxLoads+1 {
		return nil, fmt.Errorf("%w: program headers: %d at %d", ErrCorrupt, phnum, phoff)
	}
	if uint64(size) < phoff+phnum*phentSize {
		return nil, fmt.Errorf("%w: program headers beyond end of file", ErrCorrupt)
	}
	ph := make([]byte, phnum*phentSize)
	if _, err := r.ReadAt(ph, int64(phoff)); err != nil {
		return nil, fmt.Errorf("%w: read program headers: %v", ErrCorrupt, err)
	}
	// Exactly one PT_NOTE, first, right after the program headers; every
	// other segment a PT_LOAD (checked against the metadata below).
	if elf.ProgType(le.Uint32(ph)) != elf.PT_NOTE {
		return nil, fmt.Errorf("%w: first segment is not the notes", ErrCorrupt)
	}
	for i := uint64(1); i < phnum; i++ {
		if typ := elf.ProgType(le.Uint32(ph[i*phentSize:])); typ != elf.PT_LOAD {
			return nil, fmt.Errorf("%w: segment %d: type %v (one PT_NOTE, then PT_LOADs)", ErrCorrupt, i, typ)
		}
	}
	noteOff, noteLen := le.Uint64(ph[8:]), le.Uint64(ph[32:])
	if noteOff != phoff+phnum*phentSize || noteLen > maxNoteBytes || noteLen > uint64(size)-noteOff {
		return nil, fmt.Errorf("%w: note segment of %d bytes at %d in %d (truncated image?)", ErrCorrupt, noteLen, noteOff, size)
	}
	notes := make([]byte, noteLen)
	if _, err := r.ReadAt(notes, int64(noteOff)); err != nil {
		return nil, fmt.Errorf("%w: read notes: %v", ErrCorrupt, err)
	}
	dataStart := alignPage(noteOff + noteLen)
	if dataStart > uint64(size) {
		return nil, fmt.Errorf("%w: file of %d bytes ends before its data (truncated image?)", ErrCorrupt, size)
	}
	// The padding before the data is the only part of the file no
	// checksum covers: it must be zeros.
	pad := make([]byte, dataStart-(noteOff+noteLen))
	if _, err := r.ReadAt(pad, int64(noteOff+noteLen)); err != nil || !bytes.Equal(pad, zeroPage[:len(pad)]) {
		return nil, fmt.Errorf("%w: padding after the notes", ErrCorrupt)
	}
	img := &Image{size: size, dataStart: dataStart, digest: sha256.Sum256(append(append(hdr[:len(hdr):len(hdr)], ph...), notes...))}

	var metaJSON, sumsDesc []byte
	sumsAt := -1 // offset of the sums note's descriptor in notes
	seen := map[[2]uint64]int{}
	err := walkNotes(notes, func(owner string, typ uint32, desc []byte, descAt int) error {
		if sumsDesc != nil {
			return fmt.Errorf("%w: a note after the checksums", ErrCorrupt)
		}
		k := [2]uint64{uint64(typ), 0}
		switch owner {
		case "CORE":
			k[1] = 1
		case "LINUX":
			k[1] = 2
		case noteOwner:
			k[1] = 3
		default:
			return fmt.Errorf("%w: unknown note %q %#x", ErrCorrupt, owner, typ)
		}
		seen[k]++
		switch {
		case owner == noteOwner && typ == noteMeta:
			metaJSON = desc
		case owner == noteOwner && typ == noteSums:
			sumsDesc, sumsAt = desc, descAt
		case owner == "CORE" && typ == ntPRStatus:
			if len(img.regs) >= maxThreads {
				return fmt.Errorf("%w: more than %d threads", ErrCorrupt, maxThreads)
			}
			if len(desc) != prstatusSize {
				return fmt.Errorf("%w: NT_PRSTATUS of %d bytes", ErrCorrupt, len(desc))
			}
			var regs threadRegs
			for i := range regs {
				regs[i] = le.Uint64(desc[prstatusRegOff+8*i:])
			}
			img.regs = append(img.regs, regs)
		case owner == "LINUX" && typ == ntX86XState:
			if len(desc) < 576 || len(desc) > 1<<16 {
				return fmt.Errorf("%w: NT_X86_XSTATE of %d bytes", ErrCorrupt, len(desc))
			}
			img.xstate = append(img.xstate, append([]byte(nil), desc...))
		case owner == "CORE" && typ == ntFPRegSet:
		case owner == "CORE" && (typ == ntPRPSInfo || typ == ntAuxv || typ == ntFile):
			if seen[k] > 1 {
				return fmt.Errorf("%w: two notes %q %#x", ErrCorrupt, owner, typ)
			}
		default:
			return fmt.Errorf("%w: unknown note %q %#x", ErrCorrupt, owner, typ)
		}
		if owner == noteOwner && seen[k] > 1 {
			return fmt.Errorf("%w: two %s notes %#x", ErrCorrupt, noteOwner, typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if metaJSON == nil {
		return nil, ErrNotImage
	}
	if n := seen[[2]uint64{ntFPRegSet, 1}]; n != len(img.xstate) {
		return nil, fmt.Errorf("%w: %d NT_FPREGSET notes, %d NT_X86_XSTATE", ErrCorrupt, n, len(img.xstate))
	}
	// The version first: an image of another format is incompatible, not
	// corrupt (format 1 had no checksums).
	var version struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(metaJSON, &version); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrCorrupt, err)
	}
	if version.Format != FormatVersion {
		return nil, fmt.Errorf("%w: image format %d, this engine reads format %d", ErrIncompatible, version.Format, FormatVersion)
	}
	if sumsDesc == nil {
		return nil, fmt.Errorf("%w: no checksums", ErrCorrupt)
	}
	if img.sums, err = parseSums(sumsDesc); err != nil {
		return nil, err
	}
	// Headers and notes up to the checksums' own descriptor.
	covered := [][]byte{hdr[:], ph, notes[:sumsAt]}
	if crcOf(covered...) != img.sums.head {
		return nil, fmt.Errorf("%w: checksum of the headers and notes", ErrCorrupt)
	}
	if key != nil && img.sums.keyed {
		img.authentic = hmac.Equal(metaMAC(key, covered...), img.sums.metaMAC[:])
		if img.authentic {
			img.key = key
		}
	}
	if err := uniqueKeys(metaJSON); err != nil {
		return nil, err
	}
	var meta imageMeta
	dec := json.NewDecoder(bytes.NewReader(metaJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrCorrupt, err)
	}
	unescapeMeta(&meta)
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: metadata: data after the object", ErrCorrupt)
	}
	if err := checkMeta(&meta, len(img.regs), len(img.xstate)); err != nil {
		return nil, err
	}
	loads, segOffs, dataLen, err := planLoads(meta.Regions, int(phnum)-1)
	if err != nil {
		return nil, err
	}
	img.segOffs = segOffs
	img.Memory = dataLen
	if uint64(len(loads)) != phnum-1 {
		return nil, fmt.Errorf("%w: %d memory segments, the regions make %d", ErrCorrupt, phnum-1, len(loads))
	}
	for i, l := range loads {
		if want := loadHeader(l, dataStart); !bytes.Equal(ph[(i+1)*phentSize:(i+2)*phentSize], want[:]) {
			return nil, fmt.Errorf("%w: segment %d (%#x) does not match the metadata", ErrCorrupt, i+1, l.vaddr)
		}
	}
	if uint64(len(img.segOffs)) != uint64(len(img.sums.segs)) {
		return nil, fmt.Errorf("%w: %d checksums for %d segments", ErrCorrupt, len(img.sums.segs), len(img.segOffs))
	}
	if err := img.checkChunks(&meta); err != nil {
		return nil, err
	}
	if dataStart+dataLen != uint64(size) || dataStart+dataLen < dataStart {
		return nil, fmt.Errorf("%w: file of %d bytes, %d expected (truncated image?)", ErrCorrupt, size, dataStart+dataLen)
	}
	img.meta = &meta
	img.Format = meta.Format
	img.Created = meta.Created
	img.PID = meta.PID
	img.Comm = meta.Comm
	img.Exe = meta.Exe.Path
	img.Threads = len(meta.Threads)
	img.Regions = len(meta.Regions)
	img.Descriptors = len(meta.Files)
	img.Kernel = meta.Fingerprint.Kernel
	return img, nil
}

// uniqueKeys fails if an object of the JSON js has a key twice, as
// encoding/json matches them (ignoring case): it would take the last one,
// and a reader taking the first would see another process.
func uniqueKeys(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	type object struct {
		keys  map[string]bool
		isKey bool // the next token is a key
	}
	var stack []*object
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: metadata: %v", ErrCorrupt, err)
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isKey {
			if k, ok := tok.(string); ok {
				k = strings.ToLower(k)
				if top.keys[k] {
					return fmt.Errorf("%w: metadata: key %q twice", ErrCorrupt, k)
				}
				top.keys[k] = true
				top.isKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil {
				top.isKey = true // after this value
			}
			stack = append(stack, &object{keys: map[string]bool{}, isKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &object{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			top = nil
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
		}
		if top != nil && top.keys != nil {
			top.isKey = true // a value ended: a key comes next
		}
	}
}

// planLoads returns the PT_LOAD segments the regions make, in the order
// the writer makes them (see planMemory): per region, a segment for each
// saved extent and for each gap between them. The extents' data must follow
// one another from offset 0 of the data area. It stops past max segments.
func planLoads(regions []region, max int) (loads []load, segOffs []uint64, dataLen uint64, err error) {
	for _, rg := range regions {
		pos := rg.Start
		for _, e := range rg.Extents {
			if e.Off != dataLen {
				return nil, nil, 0, fmt.Errorf("%w: region %#x-%#x: data at %d, want %d", ErrCorrupt, rg.Start, rg.End, e.Off, dataLen)
			}
			if e.Addr > pos {
				loads = append(loads, load{vaddr: pos, memsz: e.Addr - pos, prot: rg.Prot})
			}
			loads = append(loads, load{vaddr: e.Addr, memsz: e.Len, filesz: e.Len, off: e.Off, prot: rg.Prot})
			segOffs = append(segOffs, e.Off)
			dataLen += e.Len
			pos = e.Addr + e.Len
		}
		if pos < rg.End {
			loads = append(loads, load{vaddr: pos, memsz: rg.End - pos, prot: rg.Prot})
		}
		if len(loads) > max {
			break
		}
	}
	return loads, segOffs, dataLen, nil
}

// checkMeta checks what the metadata describes against the bounds and
// against the notes: nregs register sets and nxstate extended states.
func checkMeta(m *imageMeta, nregs, nxstate int) error {
	for _, b := range []struct {
		what   string
		n, max int
	}{
		{"threads", len(m.Threads), maxThreads}, {"regions", len(m.Regions), maxRegions},
		{"files", len(m.Files), maxFiles}, {"groups", len(m.Creds.Groups), maxGroups},
		{"children", len(m.Children), maxTreeMembers}, {"limits", len(m.Rlimits), maxRlimits},
		{"signal actions", len(m.Signals.Actions), maxSignals}, {"pending signals", len(m.Signals.Pending), maxPending},
		{"timers", len(m.Timers), maxTimers}, {"pipes", len(m.Pipes), maxImagePipes},
	} {
		if b.n > b.max {
			return fmt.Errorf("%w: %d %s, at most %d", ErrCorrupt, b.n, b.what, b.max)
		}
	}
	if err := checkThreadCreds(m, nil); err != nil { // threadcreds.go
		return err
	}
	if err := checkNSPids(m); err != nil { // pidns.go
		return err
	}
	if err := checkUserNS(m); err != nil { // userns.go
		return err
	}
	if err := checkTimeNS(m); err != nil { // timens.go
		return err
	}
	if err := checkNetNS(m); err != nil { // netns.go
		return err
	}
	if err := checkGhost(m); err != nil { // ghost.go
		return err
	}
	if err := checkCgroupNS(m); err != nil { // cgroupns.go
		return err
	}
	for _, pt := range m.Timers {
		if pt.Overrun < 0 {
			return fmt.Errorf("%w: timer %d: overrun %d", ErrCorrupt, pt.ID, pt.Overrun)
		}
	}
	if m.Checkpoint == "" {
		return fmt.Errorf("%w: no checkpoint id", ErrCorrupt)
	}
	if (len(m.Threads) == 0 && m.Zombie == nil) || nregs != len(m.Threads) {
		return fmt.Errorf("%w: %d threads described, %d register sets", ErrCorrupt, len(m.Threads), nregs)
	}
	if nxstate != nregs {
		return fmt.Errorf("%w: %d threads, %d extended states", ErrCorrupt, nregs, nxstate)
	}
	if m.Nice < -20 || m.Nice > 19 {
		return fmt.Errorf("%w: nice %d", ErrCorrupt, m.Nice)
	}
	if e := m.ExitSignal; e != nil && (*e < 0 || *e > maxSignals) {
		return fmt.Errorf("%w: exit signal %d", ErrCorrupt, *e)
	}
	// Names of files beside the image: children, copies of files (-C),
	// the image holding a shared memory object.
	names := m.Children
	for _, f := range m.Files {
		if err := checkCopyRef(f); err != nil {
			return err
		}
	}
	for _, rg := range m.Regions {
		if rg.ShmImage != "" {
			names = append(names[:len(names):len(names)], rg.ShmImage)
		}
	}
	for _, name := range names {
		if err := checkChildName(name); err != nil {
			return err
		}
	}
	for _, pd := range m.Pipes {
		if err := pd.checkPackets(); err != nil {
			return err
		}
	}
	for _, f := range m.Files {
		if err := checkFileKinds(f); err != nil {
			return err
		}
		if f.Fifo != nil {
			if err := f.Fifo.checkPackets(); err != nil {
				return err
			}
		}
		if err := checkPTY(f); err != nil {
			return err
		}
	}
	if err := checkIncremental(m); err != nil {
		return err
	}
	if err := checkIPC(m.IPC); err != nil {
		return err
	}
	if err := checkInherit(m); err != nil {
		return err
	}
	if len(m.SemUndo) > maxIPCObjects {
		return fmt.Errorf("%w: %d SEM_UNDO lists", ErrCorrupt, len(m.SemUndo))
	}
	for _, u := range m.SemUndo {
		if len(u.Adj) > maxSemaphores {
			return fmt.Errorf("%w: %d SEM_UNDO adjustments", ErrCorrupt, len(u.Adj))
		}
	}
	var prevEnd uint64
	nseg := 0
	for i, rg := range m.Regions {
		if rg.End <= rg.Start || rg.Start%pageSize != 0 || rg.End%pageSize != 0 || rg.End > taskSize || (i > 0 && rg.Start < prevEnd) {
			return fmt.Errorf("%w: bad region %#x-%#x", ErrCorrupt, rg.Start, rg.End)
		}
		prevEnd = rg.End
		if rg.Seals&^memfdSealMask != 0 || rg.Seals != 0 && rg.Kind != regionShmem {
			return fmt.Errorf("%w: region %#x-%#x: seals %#x", ErrCorrupt, rg.Start, rg.End, rg.Seals)
		}
		if (rg.Kind == regionFile || rg.Kind == regionShared || rg.Tmpfs) && rg.File == nil {
			return fmt.Errorf("%w: region %#x-%#x: %s mapping without its file", ErrCorrupt, rg.Start, rg.End, rg.Kind)
		}
		pos := rg.Start
		for _, e := range rg.Extents {
			if nseg++; nseg > maxLoads {
				return fmt.Errorf("%w: more than %d memory segments", ErrCorrupt, maxLoads)
			}
			if e.Len == 0 || e.Addr < pos || e.Addr%pageSize != 0 || e.Len%pageSize != 0 || e.Len > rg.End-e.Addr || e.Off%pageSize != 0 {
				return fmt.Errorf("%w: region %#x-%#x: bad segment %#x+%#x", ErrCorrupt, rg.Start, rg.End, e.Addr, e.Len)
			}
			pos = e.Addr + e.Len
		}
	}
	return nil
}

// checkChildName checks the name of a file beside the image (a child's
// image...): a name in the same directory, nothing else.
func checkChildName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: file %q beside the image", ErrCorrupt, name)
	}
	return nil
}

func walkNotes(b []byte, f func(owner string, typ uint32, desc []byte, descAt int) error) error {
	at := 0
	for len(b) > 0 {
		if len(b) < 12 {
			return fmt.Errorf("%w: short note header", ErrCorrupt)
		}
		namesz := uint64(binary.LittleEndian.Uint32(b))
		descsz := uint64(binary.LittleEndian.Uint32(b[4:]))
		typ := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		at += 12
		nameEnd := align4(namesz)
		if nameEnd > uint64(len(b)) || align4(descsz) > uint64(len(b))-nameEnd {
			return fmt.Errorf("%w: note beyond its segment", ErrCorrupt)
		}
		name := string(bytes.TrimRight(b[:namesz], "\x00"))
		if err := f(name, typ, b[nameEnd:nameEnd+descsz], at+int(nameEnd)); err != nil {
			return err
		}
		n := nameEnd + align4(descsz)
		b = b[n:]
		at += int(n)
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
