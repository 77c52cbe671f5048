package ckpt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ipcRestore is the SysV IPC state being restored (see sysvipc.go).
type ipcRestore struct {
	st     *sysvIPC
	nsPath string         // the namespace the objects are made in; "": ours
	shmids map[int]int    // segment id at checkpoint -> id now
	semids map[int]int    // semaphore set id at checkpoint -> id now
	made   [][2]int       // (kind, id) of objects made, removed if the restart fails
	mq     map[uint64]int // POSIX message queue inode at checkpoint -> our descriptor of it now
	mqMade []string       // queues made, unlinked if the restart fails
	mqTemp []string       // queues made for unlinked ones, unlinked once opened
}

const (
	ipcShm = iota
	ipcSem
	ipcMsg
)

var ipcKinds = [...]struct{ name, sysctl string }{
	ipcShm: {"shmid", "shm_next_id"},
	ipcSem: {"semid", "sem_next_id"},
	ipcMsg: {"msqid", "msg_next_id"},
}

// checkIPC checks, before anything starts, that every segment a process
// attaches is one the checkpoint saved with its bytes, and with an
// enforced Owner that every object belongs to the owner.
func (r *restorer) checkIPC() error {
	st := r.root.meta.IPC
	for _, p := range r.procs {
		for _, rg := range p.meta.Regions {
			if rg.Kind != regionSysV {
				continue
			}
			if st == nil || !slices.ContainsFunc(st.Shm, func(s sysvShm) bool { return s.ID == rg.Shmid }) {
				return r.fail(p, fmt.Errorf("shared memory segment %d at %#x: %w", rg.Shmid, rg.Start, errIPCNotSaved))
			}
		}
	}
	if st == nil {
		return nil
	}
	dir := filepath.Dir(r.root.img.Path)
	var perms []ipcPerm
	for _, s := range st.Shm {
		if s.Data == "" {
			return r.fail(r.root, fmt.Errorf("shared memory segment %d: its bytes were not saved", s.ID))
		}
		if _, err := os.Stat(findMember(dir, s.Data, r.root.meta.Checkpoint)); err != nil {
			return r.fail(r.root, fmt.Errorf("shared memory segment %d: %w", s.ID, err))
		}
		perms = append(perms, s.ipcPerm)
	}
	for _, s := range st.Sem {
		perms = append(perms, s.ipcPerm)
	}
	for _, q := range st.Msg {
		perms = append(perms, q.ipcPerm)
	}
	for _, q := range st.Mqueue {
		perms = append(perms, ipcPerm{ID: -1, UID: q.UID, GID: q.GID, CUID: q.UID, CGID: q.GID})
	}
	if !r.enforced(r.root) {
		return nil
	}
	o := r.opts.Owner
	for _, pm := range perms {
		if pm.UID != o.UID || pm.CUID != o.UID || !ownerGroup(o, pm.GID) || !ownerGroup(o, pm.CGID) {
			return &OwnerError{Path: r.root.img.Path, Comm: r.root.comm(), PID: r.root.meta.PID, UID: o.UID,
				Msg: fmt.Sprintf("IPC object %d belongs to uid %d gid %d (creator %d/%d)", pm.ID, pm.UID, pm.GID, pm.CUID, pm.CGID)}
		}
	}
	return nil
}

func ownerGroup(o *Owner, gid int) bool { return gid == o.GID || slices.Contains(o.Groups, gid) }

// createIPC makes the tree's SysV objects again, with their ids, before
// any process is rebuilt: in the root's new IPC namespace if the tree had
// one of its own, else in ours.
func (r *restorer) createIPC() error {
	st := r.root.meta.IPC
	if st == nil {
		return nil
	}
	r.ipc = &ipcRestore{st: st, shmids: map[int]int{}, semids: map[int]int{}, mq: map[uint64]int{}}
	if st.OwnNS {
		r.ipc.nsPath = fmt.Sprintf("/proc/%d/ns/ipc", r.root.pid)
	}
	dir := filepath.Dir(r.root.img.Path)
	err := inIPCNS(r.ipc.nsPath, func() error {
		if st.OwnNS {
			r.setIPCLimits(st.Limits) // ipclimits.go
		}
		for _, s := range st.Shm {
			id, err := r.makeIPC(ipcShm, s.ipcPerm, func() (int, error) {
				return unix.SysvShmGet(int(s.Key), int(s.Size), unix.IPC_CREAT|unix.IPC_EXCL|int(s.Mode&0o777))
			})
			if err != nil {
				return err
			}
			r.ipc.shmids[s.ID] = id
			if err := fillSegment(id, findMember(dir, s.Data, r.root.meta.Checkpoint), s); err != nil {
				return fmt.Errorf("shared memory segment %d: %w", s.ID, err)
			}
			var ds unix.SysvShmDesc
			if _, err := unix.SysvShmCtl(id, ipcStat, &ds); err != nil {
				return fmt.Errorf("shared memory segment %d: IPC_STAT: %w", s.ID, err)
			}
			ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = uint32(s.UID), uint32(s.GID), s.Mode&0o777
			if _, err := unix.SysvShmCtl(id, ipcSet, &ds); err != nil {
				return fmt.Errorf("shared memory segment %d: IPC_SET: %w", s.ID, err)
			}
			if s.Mode&shmLocked != 0 {
				if _, err := unix.SysvShmCtl(id, shmLock, nil); err != nil {
					r.warn("%s(%d): shared memory segment %d: SHM_LOCK: %v", r.root.comm(), r.root.meta.PID, s.ID, err)
				}
			}
		}
		for _, s := range st.Sem {
			id, err := r.makeIPC(ipcSem, s.ipcPerm, func() (int, error) {
				n, _, e := unix.Syscall(unix.SYS_SEMGET, uintptr(s.Key), uintptr(len(s.Values)), uintptr(unix.IPC_CREAT|unix.IPC_EXCL|int(s.Mode&0o777)))
				return errnoResult(n, e)
			})
			if err != nil {
				return err
			}
			r.ipc.semids[s.ID] = id
			start, err := r.semStartValues(s)
			if err != nil {
				return err
			}
			if _, err := semctl(id, 0, semSetAll, uintptr(unsafe.Pointer(&start[0]))); err != nil {
				return fmt.Errorf("semaphore set %d: SETALL: %w", s.ID, err)
			}
			if err := setPerm(unix.SYS_SEMCTL, id, semidDsSz, s.ipcPerm, nil); err != nil {
				return fmt.Errorf("semaphore set %d: %w", s.ID, err)
			}
		}
		for _, q := range st.Msg {
			id, err := r.makeIPC(ipcMsg, q.ipcPerm, func() (int, error) {
				n, _, e := unix.Syscall(unix.SYS_MSGGET, uintptr(q.Key), uintptr(unix.IPC_CREAT|unix.IPC_EXCL|int(q.Mode&0o777)), 0)
				return errnoResult(n, e)
			})
			if err != nil {
				return err
			}
			// The queue's size first: the messages must fit in it.
			if err := setPerm(unix.SYS_MSGCTL, id, msqidDsSz, q.ipcPerm, func(ds []byte) {
				binary.LittleEndian.PutUint64(ds[msqQBytes:], q.QBytes)
			}); err != nil {
				return fmt.Errorf("message queue %d: %w", q.ID, err)
			}
			for i, m := range q.Messages {
				buf := make([]byte, 8+len(m.Data))
				binary.LittleEndian.PutUint64(buf, uint64(m.Type))
				copy(buf[8:], m.Data)
				if _, _, e := unix.Syscall6(unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(m.Data)), ipcNowait, 0, 0); e != 0 {
					return fmt.Errorf("message queue %d: message %d of %d bytes: %w", q.ID, i, len(m.Data), e)
				}
			}
		}
		return r.makeMqueues() // mqueue.go
	})
	if err != nil {
		return r.fail(r.root, err)
	}
	return nil
}

func errnoResult(n uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// makeIPC makes one object with create under the id pm.ID: the ipc
// sysctl KIND_next_id chooses the id of the next object made in the
// namespace (of the calling thread). The kernel takes the next free index
// when that one is in use: the id got is then checked. The object is made
// by its creator's uid and gid (cuid, cgid), which IPC_SET cannot change.
func (r *restorer) makeIPC(kind int, pm ipcPerm, create func() (int, error)) (int, error) {
	k := ipcKinds[kind]
	comm := r.root.comm()
	root := os.Geteuid() == 0
	if root {
		if err := os.WriteFile("/proc/sys/kernel/"+k.sysctl, []byte(strconv.Itoa(pm.ID)), 0); err != nil {
			return -1, fmt.Errorf("%s %d for %s: choose the id: %w", k.name, pm.ID, comm, err)
		}
		defer os.WriteFile("/proc/sys/kernel/"+k.sysctl, []byte("-1"), 0)
		// On this thread only (raw system calls), which ends with the
		// restore of the IPC objects (inIPCNS).
		unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(pm.CGID), ^uintptr(0))
		unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(pm.CUID), ^uintptr(0))
	}
	id, err := create()
	if root {
		unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0))
		unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), 0, ^uintptr(0))
	}
	if err == unix.EEXIST {
		return -1, &IPCInUseError{Kind: k.name, ID: pm.ID, Comm: comm, Key: true}
	}
	if err != nil {
		return -1, fmt.Errorf("%s %d for %s: create: %w", k.name, pm.ID, comm, err)
	}
	r.ipc.made = append(r.ipc.made, [2]int{kind, id})
	if id != pm.ID {
		if !r.opts.Force {
			return -1, &IPCInUseError{Kind: k.name, ID: pm.ID, Comm: comm}
		}
		r.warn("%s %d for %s in use; restarting with %s %d (forced)", k.name, pm.ID, comm, k.name, id)
	}
	return id, nil
}

// setPerm sets the owner and mode of a semaphore set or message queue
// (IPC_STAT, changed, IPC_SET); edit changes the rest of the buffer.
func setPerm(nr uintptr, id, size int, pm ipcPerm, edit func([]byte)) error {
	ds := make([]byte, size)
	ctl := func(cmd int) unix.Errno {
		buf := uintptr(unsafe.Pointer(&ds[0]))
		if nr == unix.SYS_SEMCTL {
			// semctl(id, semnum, cmd, arg); msgctl(id, cmd, buf)
			_, _, e := unix.Syscall6(nr, uintptr(id), 0, uintptr(cmd), buf, 0, 0)
			return e
		}
		_, _, e := unix.Syscall(nr, uintptr(id), uintptr(cmd), buf)
		return e
	}
	if e := ctl(ipcStat); e != 0 {
		return fmt.Errorf("IPC_STAT: %w", e)
	}
	le := binary.LittleEndian
	le.PutUint32(ds[4:], uint32(pm.UID))
	le.PutUint32(ds[8:], uint32(pm.GID))
	le.PutUint32(ds[20:], pm.Mode&0o777)
	if edit != nil {
		edit(ds)
	}
	if e := ctl(ipcSet); e != 0 {
		return fmt.Errorf("IPC_SET: %w", e)
	}
	return nil
}

// fillSegment puts the saved bytes into segment id, verifying their
// SHA-256 (holes of the sparse file are zeros, left untouched).
func fillSegment(id int, path string, s sysvShm) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || uint64(fi.Size()) != s.Size {
		return fmt.Errorf("%s: not of the segment's %d bytes", path, s.Size)
	}
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat: %w", err)
	}
	defer unix.SysvShmDetach(mem)
	h := sha256.New()
	end := int64(s.Size)
	var zeros [64 << 10]byte
	hashZeros := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	for pos := int64(0); pos < end; {
		d, err := unix.Seek(int(f.Fd()), pos, unix.SEEK_DATA)
		if err == unix.ENXIO {
			d = end
		} else if err != nil {
			return err
		}
		hashZeros(d - pos)
		if d >= end {
			break
		}
		hole, err := unix.Seek(int(f.Fd()), d, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, end)
		if _, err := f.ReadAt(mem[d:hole], d); err != nil && err != io.EOF {
			return err
		}
		h.Write(mem[d:hole])
		pos = hole
	}
	if hex.EncodeToString(h.Sum(nil)) != s.Sum {
		return fmt.Errorf("%w: %s: checksum of the segment's bytes", ErrCorrupt, path)
	}
	return nil
}

// finishIPC removes the segments that had been removed (IPC_RMID) while
// still attached: they go once their last process detaches, as before.
func (r *restorer) finishIPC() error {
	if r.ipc == nil {
		return nil
	}
	return inIPCNS(r.ipc.nsPath, func() error {
		if err := r.finishMqueues(); err != nil {
			return err
		}
		for _, s := range r.ipc.st.Shm {
			if s.Mode&shmDest == 0 {
				continue
			}
			if _, err := unix.SysvShmCtl(r.ipc.shmids[s.ID], ipcRMID, nil); err != nil {
				return fmt.Errorf("shared memory segment %d: IPC_RMID: %w", s.ID, err)
			}
		}
		return nil
	})
}

// undoIPC removes the objects a failed restart made (in a namespace of
// the tree's own they go with it).
func (r *restorer) undoIPC() {
	if r.ipc == nil {
		return
	}
	for _, fd := range r.ipc.mq {
		unix.Close(fd)
	}
	if r.ipc.nsPath != "" {
		return
	}
	inIPCNS("", func() error {
		for _, name := range r.ipc.mqMade {
			mqUnlink(name)
		}
		for _, m := range r.ipc.made {
			switch m[0] {
			case ipcShm:
				unix.SysvShmCtl(m[1], ipcRMID, nil)
			case ipcSem:
				semctl(m[1], 0, ipcRMID, 0)
			case ipcMsg:
				unix.Syscall(unix.SYS_MSGCTL, uintptr(m[1]), ipcRMID, 0)
			}
		}
		return nil
	})
}

// attachSysV attaches, in the process, the segment of region rg and of
// the regions after it that were one attachment (contiguous, the segment's
// offsets following on), at their address: one shmat when they are the
// whole segment, else the segment attached anywhere and the part they had
// moved into place (mremap keeps the pages' offsets in the segment, so
// shmdt of the first address still finds it). Each region then gets its
// protection back. done holds the regions already attached.
func (b *builder) attachSysV(rg region, regions []region, done map[uint64]bool) error {
	if done[rg.Start] {
		return nil
	}
	r := b.r
	id, ok := r.ipc.shmids[rg.Shmid]
	if !ok {
		return fmt.Errorf("shared memory segment %d: %w", rg.Shmid, errIPCNotSaved)
	}
	var seg sysvShm
	for _, s := range r.ipc.st.Shm {
		if s.ID == rg.Shmid {
			seg = s
		}
	}
	size := alignPage(seg.Size)
	group := []region{rg}
	for _, n := range regions {
		last := group[len(group)-1]
		if n.Start == last.End && n.Kind == regionSysV && n.Shmid == rg.Shmid && n.Offset == last.Offset+(last.End-last.Start) {
			group = append(group, n)
		}
	}
	start, end := rg.Start, group[len(group)-1].End
	flags := uint64(shmRdonly)
	prot := uint64(unix.PROT_READ)
	for _, g := range group {
		if g.Prot&unix.PROT_WRITE != 0 {
			flags &^= shmRdonly
			prot |= unix.PROT_WRITE
		}
		if g.Prot&unix.PROT_EXEC != 0 {
			flags |= shmExec
			prot |= unix.PROT_EXEC
		}
	}
	if rg.Offset == 0 && end-start == size {
		if _, err := b.call("shmat", unix.SYS_SHMAT, uint64(id), start, flags); err != nil {
			return fmt.Errorf("shmat segment %d at %#x: %w", id, start, err)
		}
	} else {
		at, err := b.call("shmat", unix.SYS_SHMAT, uint64(id), 0, flags)
		if err != nil {
			return fmt.Errorf("shmat segment %d: %w", id, err)
		}
		if _, err := b.call("mremap", unix.SYS_MREMAP, at+rg.Offset, end-start, end-start, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, start); err != nil {
			return fmt.Errorf("mremap segment %d to %#x: %w", id, start, err)
		}
		if _, err := b.call("munmap", unix.SYS_MUNMAP, at, size); err != nil {
			return fmt.Errorf("munmap: %w", err)
		}
	}
	for _, g := range group {
		done[g.Start] = true
		if uint64(g.Prot) != prot {
			if _, err := b.call("mprotect", unix.SYS_MPROTECT, g.Start, g.End-g.Start, uint64(g.Prot)); err != nil {
				return fmt.Errorf("mprotect %#x: %w", g.Start, err)
			}
		}
	}
	return nil
}
