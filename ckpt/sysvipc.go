package ckpt

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SysV IPC: shared memory segments, semaphore sets and message queues come
// back as the same objects, with the same ids, keys, modes, owners and
// contents; a process that had a segment attached has it attached again at
// the same address by shmat, so shmdt and shmctl work on it.
//
// Which objects are the job's. The objects live in an IPC namespace, not in
// a process. When the tree has an IPC namespace of its own (a batch job,
// see Namespaced, or a program that unshared CLONE_NEWIPC) every object of
// that namespace is the job's, and the restart makes a fresh namespace with
// them in it: their ids can never be taken. When the tree shares the
// checkpointer's namespace, an object is the job's if a member has a
// segment attached, created it (shm cpid), or was the last to operate on it
// (a semaphore's sempid, a queue's lspid or lrpid); the others belong to
// someone else and are not saved. Their ids are then chosen again with
// /proc/sys/kernel/{shm,sem,msg}_next_id (root only): an id taken by
// another object fails the restart (IPCInUseError), -F gives a new id.
//
// The images: the root's image lists the objects (sysvIPC); the bytes of
// each segment are in a sparse file beside it (IMAGE.shm.ID) whose
// SHA-256 the metadata carries, so the file is covered by the image's
// checksums and HMAC. Messages and semaphore values are in the metadata.
//
// Semaphore undo lists (SEM_UNDO adjustments) are measured and restored in
// a namespace of the tree's own (semundo.go).

// sysvIPC is the SysV IPC state of a tree, in its root's image.
type sysvIPC struct {
	// OwnNS: the tree had an IPC namespace of its own; the restart makes
	// a new one.
	OwnNS bool      `json:"own_ns,omitempty"`
	Shm   []sysvShm `json:"shm,omitempty"`
	Sem   []sysvSem `json:"sem,omitempty"`
	Msg   []sysvMsg `json:"msg,omitempty"`
	// Limits: the ipc sysctls of a namespace of the tree's own
	// (ipclimits.go).
	Limits map[string]string `json:"limits,omitempty"`
	// Mqueue: the POSIX message queues members have open (mqueue.go).
	Mqueue []posixMq `json:"mqueue,omitempty"`
}

// ipcPerm is what struct ipc_perm holds of an object.
type ipcPerm struct {
	Key  int32  `json:"key"`
	ID   int    `json:"id"`
	Mode uint32 `json:"mode"` // permission bits, with SHM_DEST and SHM_LOCKED for segments
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	CUID int    `json:"cuid"`
	CGID int    `json:"cgid"`
}

type sysvShm struct {
	ipcPerm
	Size uint64 `json:"size"`
	Data string `json:"data,omitempty"` // the file beside the image with its bytes
	Sum  string `json:"sum,omitempty"`  // SHA-256 of the Size bytes
}

type sysvSem struct {
	ipcPerm
	Values []uint16 `json:"values"`
}

type sysvMsg struct {
	ipcPerm
	QBytes   uint64        `json:"qbytes"`
	Messages []sysvMessage `json:"messages,omitempty"` // in queue order
}

type sysvMessage struct {
	Type int64  `json:"type"`
	Data []byte `json:"data"`
}

// Bounds of the IPC state an image may describe (IPCMNI, SEMMSL, a queue
// of at most msgmnb bytes of messages of at least one byte).
const (
	maxIPCObjects  = 1 << 15
	maxSemaphores  = 32000
	maxQueueLength = 1 << 20
)

const (
	ipcRMID   = 0
	ipcSet    = 1
	ipcStat   = 2
	semGetPID = 11
	semGetAll = 13
	semSetAll = 17
	shmLock   = 11
	shmDest   = 0o1000
	shmLocked = 0o2000
	shmRdonly = 0o10000
	shmExec   = 0o100000
	msgCopy   = 0o40000
	msgNoErr  = 0o10000
	ipcNowait = 0o4000
	ipcPermSz = 48  // struct ipc64_perm
	msqidDsSz = 120 // struct msqid64_ds
	semidDsSz = 104 // struct semid64_ds
	msqQBytes = 88  // offset of msg_qbytes
)

// inIPCNS runs f on an OS thread of its own that has joined the IPC
// namespace nsPath ("" stays in ours): /proc/sysvipc/* and the ipc sysctls
// show the namespace of the thread that opens them. The thread is never
// given back to the Go runtime (it exits with its goroutine), so neither
// its namespace nor an identity f gives it leaks to other goroutines.
func inIPCNS(nsPath string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with us
		if nsPath != "" {
			fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				done <- err
				return
			}
			err = unix.Setns(fd, unix.CLONE_NEWIPC)
			unix.Close(fd)
			if err != nil {
				done <- fmt.Errorf("setns ipc %s: %w", nsPath, err)
				return
			}
		}
		done <- f()
	}()
	return <-done
}

// sysvTable reads /proc/sysvipc/NAME: one map per object, by column name.
func sysvTable(name string) ([]map[string]string, error) {
	f, err := os.Open("/proc/sysvipc/" + name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cols []string
	var out []map[string]string
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if cols == nil {
			cols = fs
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			if i < len(fs) {
				row[c] = fs[i]
			}
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

func atoiField(row map[string]string, k string) int {
	n, _ := strconv.ParseInt(row[k], 10, 64)
	return int(n)
}

func permOf(row map[string]string, idCol string) ipcPerm {
	mode, _ := strconv.ParseUint(row["perms"], 8, 32)
	return ipcPerm{Key: int32(atoiField(row, "key")), ID: atoiField(row, idCol), Mode: uint32(mode),
		UID: atoiField(row, "uid"), GID: atoiField(row, "gid"), CUID: atoiField(row, "cuid"), CGID: atoiField(row, "cgid")}
}

// ipcNS returns the IPC namespace of pid ("ipc:[N]").
func ipcNS(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", pid))
}

// collectIPC records the SysV objects of the tree in the root's image (see
// the comment at the top for which are the tree's) and writes the bytes of
// each segment beside it. Every member must be in the root's namespace.
func (t *dumpTree) collectIPC() error {
	root := t.procs[0]
	rootNS, err := ipcNS(root.pid)
	if err != nil {
		return fmt.Errorf("%s(%d): ipc namespace: %w", root.comm, root.pid, err)
	}
	for _, d := range t.procs[1:] {
		if d.zombie {
			continue
		}
		if ns, err := ipcNS(d.pid); err == nil && ns != rootNS {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
				Msg: fmt.Sprintf("IPC namespace %s is not its root's %s: cannot be checkpointed", ns, rootNS)}
		}
	}
	ours, err := os.Readlink("/proc/thread-self/ns/ipc")
	if err != nil {
		return err
	}
	st := &sysvIPC{OwnNS: rootNS != ours}
	members := map[int]bool{}
	attached := map[int]bool{}
	for _, d := range t.procs {
		members[d.pid] = true
		for _, rg := range d.meta.Regions {
			if rg.Kind == regionSysV {
				attached[rg.Shmid] = true
			}
		}
	}
	nsPath := ""
	if st.OwnNS {
		nsPath = fmt.Sprintf("/proc/%d/ns/ipc", root.pid)
	}
	dir, base := filepath.Dir(t.rootPath), filepath.Base(t.rootPath)
	err = inIPCNS(nsPath, func() error {
		if st.OwnNS {
			st.Limits = readIPCLimits() // ipclimits.go
		}
		shms, err := sysvTable("shm")
		if err != nil {
			return err
		}
		for _, row := range shms {
			s := sysvShm{ipcPerm: permOf(row, "shmid"), Size: uint64(atoiField(row, "size"))}
			if !st.OwnNS && !attached[s.ID] && !members[atoiField(row, "cpid")] {
				continue
			}
			if !t.opts.CheckOnly {
				// Under a name of this checkpoint, IMAGE.shm.ID once the
				// root is published, as the copies of files (copies.go).
				name := fmt.Sprintf("%s.shm.%d", base, s.ID)
				if !t.overwrite() && !isAbsent(filepath.Join(dir, name)) {
					return fmt.Errorf("%s: %w", filepath.Join(dir, name), ErrExists)
				}
				hidden := memberPath(filepath.Join(dir, name), t.id)
				sum, err := saveSegment(s.ID, hidden, false)
				if err != nil {
					return fmt.Errorf("%s(%d): shared memory segment %d: %w", root.comm, root.pid, s.ID, err)
				}
				t.ipcFiles = append(t.ipcFiles, hidden)
				t.copies = append(t.copies, copyRef{Name: name, Gen: filepath.Base(hidden)})
				s.Data, s.Sum = name, sum
			}
			st.Shm = append(st.Shm, s)
		}
		for id := range attached {
			if !slices.ContainsFunc(st.Shm, func(s sysvShm) bool { return s.ID == id }) {
				return fmt.Errorf("%s(%d): shared memory segment %d attached but not in /proc/sysvipc/shm", root.comm, root.pid, id)
			}
		}
		sems, err := sysvTable("sem")
		if err != nil {
			return err
		}
		for _, row := range sems {
			s := sysvSem{ipcPerm: permOf(row, "semid")}
			n := atoiField(row, "nsems")
			if n <= 0 || n > maxSemaphores {
				return fmt.Errorf("semaphore set %d: %d semaphores", s.ID, n)
			}
			ours := st.OwnNS
			for i := 0; i < n && !ours; i++ {
				pid, err := semctl(s.ID, i, semGetPID, 0)
				ours = err == nil && members[pid]
			}
			if !ours {
				continue
			}
			s.Values = make([]uint16, n)
			if _, err := semctl(s.ID, 0, semGetAll, uintptr(unsafe.Pointer(&s.Values[0]))); err != nil {
				return fmt.Errorf("semaphore set %d: GETALL: %w", s.ID, err)
			}
			st.Sem = append(st.Sem, s)
		}
		msgs, err := sysvTable("msg")
		if err != nil {
			return err
		}
		for _, row := range msgs {
			q := sysvMsg{ipcPerm: permOf(row, "msqid")}
			if !st.OwnNS && !members[atoiField(row, "lspid")] && !members[atoiField(row, "lrpid")] {
				continue
			}
			if err := readQueue(&q, atoiField(row, "qnum")); err != nil {
				return fmt.Errorf("message queue %d: %w", q.ID, err)
			}
			st.Msg = append(st.Msg, q)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := t.measureUndo(st, nsPath); err != nil {
		return err
	}
	if err := t.collectMqueues(st, nsPath); err != nil {
		return err
	}
	if st.OwnNS || len(st.Shm)+len(st.Sem)+len(st.Msg)+len(st.Mqueue) > 0 {
		root.meta.IPC = st
	}
	for _, s := range st.Shm {
		t.log.Info(fmt.Sprintf("%s(%d) shared memory segment %d key %#x size %d", root.comm, root.pid, s.ID, uint32(s.Key), s.Size))
	}
	return nil
}

// removeIPCFiles removes the segment files of a checkpoint that failed.
func (t *dumpTree) removeIPCFiles() {
	for _, p := range t.ipcFiles {
		os.Remove(p)
	}
}

// saveSegment writes the bytes of segment id to path (sparse: all-zero
// pages are holes) and returns their SHA-256. It attaches the segment
// read-only in the checkpointer: the tree is frozen, its bytes are stable.
func saveSegment(id int, path string, overwrite bool) (string, error) {
	mem, err := unix.SysvShmAttach(id, 0, shmRdonly)
	if err != nil {
		return "", fmt.Errorf("shmat: %w", err)
	}
	defer unix.SysvShmDetach(mem)
	h := sha256.New()
	h.Write(mem)
	sum := hex.EncodeToString(h.Sum(nil))
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	// The segment's size need not be a multiple of the page.
	full := len(mem) &^ (pageSize - 1)
	err = writeNonZeroFile(tmp, mem[:full], 0)
	if err == nil && full < len(mem) {
		_, err = tmp.WriteAt(mem[full:], int64(full))
	}
	if err == nil {
		err = tmp.Truncate(int64(len(mem)))
	}
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return sum, publish(tmp.Name(), path, overwrite)
}

// readQueue copies the messages of queue q.ID without taking them
// (msgrcv MSG_COPY reads the message at an index of the queue).
func readQueue(q *sysvMsg, qnum int) error {
	ds := make([]byte, msqidDsSz)
	if _, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(q.ID), ipcStat, uintptr(unsafe.Pointer(&ds[0]))); e != 0 {
		return fmt.Errorf("IPC_STAT: %w", e)
	}
	q.QBytes = binary.LittleEndian.Uint64(ds[msqQBytes:])
	if qnum > maxQueueLength {
		return fmt.Errorf("%d messages", qnum)
	}
	buf := make([]byte, 8+max(q.QBytes, 65536))
	for i := 0; i < qnum; i++ {
		n, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(q.ID), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-8), uintptr(i), ipcNowait|msgCopy, 0)
		if e != 0 {
			return fmt.Errorf("msgrcv MSG_COPY %d: %w", i, e)
		}
		q.Messages = append(q.Messages, sysvMessage{Type: int64(binary.LittleEndian.Uint64(buf)), Data: append([]byte{}, buf[8:8+n]...)})
	}
	return nil
}

func semctl(id, num, cmd int, arg uintptr) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), arg, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// checkIPC checks the IPC state of an image against the bounds.
func checkIPC(st *sysvIPC) error {
	if st == nil {
		return nil
	}
	if n := len(st.Shm) + len(st.Sem) + len(st.Msg) + len(st.Mqueue); n > maxIPCObjects {
		return fmt.Errorf("%w: %d IPC objects, at most %d", ErrCorrupt, n, maxIPCObjects)
	}
	for _, s := range st.Shm {
		if s.ID < 0 || s.Data != "" && checkChildName(s.Data) != nil || s.Size == 0 || s.Size > taskSize {
			return fmt.Errorf("%w: shared memory segment %d: size %d, data %q", ErrCorrupt, s.ID, s.Size, s.Data)
		}
	}
	for _, s := range st.Sem {
		if s.ID < 0 || len(s.Values) == 0 || len(s.Values) > maxSemaphores {
			return fmt.Errorf("%w: semaphore set %d of %d", ErrCorrupt, s.ID, len(s.Values))
		}
	}
	if err := checkIPCLimits(st.Limits); err != nil {
		return err
	}
	if err := checkMqueues(st); err != nil {
		return err
	}
	for _, q := range st.Msg {
		if q.ID < 0 || len(q.Messages) > maxQueueLength {
			return fmt.Errorf("%w: message queue %d of %d messages", ErrCorrupt, q.ID, len(q.Messages))
		}
		for _, m := range q.Messages {
			if m.Type <= 0 {
				return fmt.Errorf("%w: message queue %d: message type %d", ErrCorrupt, q.ID, m.Type)
			}
		}
	}
	return nil
}

// errIPCNotSaved: a region attaches a segment the checkpoint did not save.
var errIPCNotSaved = errors.New("not in the checkpoint (restart the tree from its root)")
