package ckpt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reference processes of the landlock probe (landlockProbe in
// secstate.go). A thread confined by landlock may ptrace-read only
// processes inside its own domain, so a kcmp it is made to call on a
// process confined by nothing tells: EPERM if it is confined. The probe
// needs a process the thread could read but for landlock, in its PID
// namespace (kcmp takes pids as the thread sees them). The checkpointer
// itself is one only when it runs with the thread's ids in the thread's
// namespace. When it does not (root checkpointing a user's job, the
// batch system checkpointing a job in the job's own PID namespace), and
// it is root, it makes one: a copy of this program started with the
// thread's real uid and gid, no groups and no capabilities (setuid drops
// them), dumpable (the kernel's ptrace check asks that of the target),
// cloned into the thread's PID namespace, and stopped, traced, at its
// exec before it runs a single instruction. One serves every thread of
// one namespace and ids for the whole checkpoint; each is killed and
// reaped before the tree is let go (dumpTree.release).
//
// A reference cloned into the job's namespace takes a pid there, and the
// kernel's cursor for the namespace's next pid moves past it: the job's
// next fork would get another pid than it would have. So the cursor is put
// back: a shell run as root in the namespace writes its
// /proc/sys/kernel/ns_last_pid (which is the writer's own namespace's) to
// the pid before the first reference's. The job is frozen meanwhile, and
// the references are reaped before it runs, so its next fork gets the pid
// it would have got.

// refKey names a reference: the PID namespace (its inode), the user
// namespace when it is not ours (0 when it is), and real ids.
type refKey struct {
	ns, userNS uint64
	uid, gid   int
}

// landlockRef is one reference process.
type landlockRef struct {
	nsPID int   // its pid in its namespace, for the probe's kcmp
	moved bool  // cloned into another namespace than ours
	err   error // why there is none
	stop  chan struct{}
	done  chan struct{}
}

// landlockRefs holds a checkpoint's references.
type landlockRefs struct {
	mu   sync.Mutex
	refs map[refKey]*landlockRef
	// first: per namespace (inode) other than ours, the pid there of its
	// first reference.
	first map[uint64]int
}

// get returns the pid, in member's PID namespace, of a reference with real
// ids uid and gid, starting one the first time it is asked.
func (s *landlockRefs) get(member, uid, gid int, log *slog.Logger) (int, error) {
	ns, err := nsInode(member, "pid")
	if err != nil {
		return 0, err
	}
	userNS, err := nsInode(member, "user")
	if err != nil {
		return 0, err
	}
	if self, err := selfNSInode("user"); err != nil || self == userNS {
		userNS = 0
	}
	k := refKey{ns, userNS, uid, gid}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.refs[k]
	if r == nil {
		if s.refs == nil {
			s.refs = map[refKey]*landlockRef{}
			s.first = map[uint64]int{}
		}
		r = startLandlockRef(member, uid, gid, userNS != 0, s.first[ns], log)
		s.refs[k] = r
		if r.err == nil && r.moved && s.first[ns] == 0 {
			s.first[ns] = r.nsPID
		}
	}
	return r.nsPID, r.err
}

// prepare starts, before the freeze (an exec stops no one then), the
// references the probe of pids will likely ask for: when we are root, for
// each process in another PID namespace or with other ids than root's.
// What it misses, get starts in the freeze.
func (s *landlockRefs) prepare(pids []int, log *slog.Logger) {
	if os.Geteuid() != 0 {
		return
	}
	self, _ := selfNSInode("user")
	for _, pid := range pids {
		st, err := readStatus(pid)
		if err != nil {
			continue
		}
		u, err := nsInode(pid, "user")
		if err != nil {
			continue
		}
		root := true
		for i := 0; i < 3; i++ {
			root = root && st.UID[i] == 0 && st.GID[i] == 0
		}
		if len(st.NSpid) > 1 || !root || u != self {
			s.get(pid, st.UID[0], st.GID[0], log)
		}
	}
}

// close kills every reference and waits for it.
func (s *landlockRefs) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.refs {
		if r.err == nil {
			close(r.stop)
			<-r.done
		}
		delete(s.refs, k)
	}
}

// startLandlockRef starts a reference on a locked thread of its own,
// which stays for its life: it is the reference's tracer and parent
// (PTRACE_O_EXITKILL: the reference dies with the thread, so with us; not
// Pdeathsig, with which Go's child kills itself at once when its parent is
// outside its PID namespace, getppid 0), and its pid namespace for
// children may have been changed.
func startLandlockRef(member, uid, gid int, userNS bool, first int, log *slog.Logger) *landlockRef {
	r := &landlockRef{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		defer close(r.done)
		var p *os.Process
		p, r.nsPID, r.moved, r.err = runLandlockRef(member, uid, gid, userNS, first, log)
		close(ready)
		if p == nil {
			return
		}
		if r.err == nil {
			<-r.stop
		}
		p.Kill()
		p.Wait()
	}()
	<-ready
	return r
}

// runLandlockRef makes the reference on the calling (locked) thread and
// puts the namespace's next pid back (first: the pid of the namespace's
// first reference, 0 for this one).
func runLandlockRef(member, uid, gid int, userNS bool, first int, log *slog.Logger) (p *os.Process, nsPID int, moved bool, err error) {
	back, moved, err := enterPIDNS(member)
	if err != nil {
		return nil, 0, moved, err
	}
	defer back()
	if userNS {
		p, nsPID, err = startRefUserNS(member, uid, gid)
	} else {
		p, nsPID, err = startRef(uid, gid)
	}
	if err == nil && moved {
		if first == 0 {
			first = nsPID
		}
		if err := setNSLastPID(first - 1); err != nil {
			log.Debug(fmt.Sprintf("the PID namespace of pid %d: put back its last pid %d: %v", member, first-1, err))
		}
	}
	return p, nsPID, moved, err
}

// enterPIDNS makes the calling (locked) thread clone its children into
// the PID namespace of pid member, when it is not ours (moved); back
// makes it clone them into ours again.
func enterPIDNS(member int) (back func() error, moved bool, err error) {
	back = func() error { return nil }
	theirs, err := nsInode(member, "pid")
	if err != nil {
		return back, false, err
	}
	ours, err := selfNSInode("pid")
	if err != nil || theirs == ours {
		return back, false, err
	}
	own, err := os.Open("/proc/thread-self/ns/pid")
	if err != nil {
		return back, true, err
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", member))
	if err != nil {
		own.Close()
		return back, true, err
	}
	err = unix.Setns(int(f.Fd()), unix.CLONE_NEWPID)
	f.Close()
	if err != nil {
		own.Close()
		return back, true, fmt.Errorf("enter the PID namespace of pid %d: %w", member, os.NewSyscallError("setns", err))
	}
	return func() error {
		defer own.Close()
		return os.NewSyscallError("setns back", unix.Setns(int(own.Fd()), unix.CLONE_NEWPID))
	}, true, nil
}

// setNSLastPID sets the last pid of the namespace the calling thread's
// children are cloned into (runLandlockRef). Where it cannot (no shell,
// a read-only /proc/sys) the job's next pid is another than it would have
// been: that is said in the debugging output only, pids being no promise.
func setNSLastPID(last int) error {
	cmd := exec.Command("/bin/sh", "-c", "echo "+strconv.Itoa(last)+" > /proc/sys/kernel/ns_last_pid")
	cmd.Env = []string{}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// startRef starts the reference process itself.
func startRef(uid, gid int) (*os.Process, int, error) {
	p, err := os.StartProcess("/proc/self/exe", []string{"lazarus-landlock-reference"}, &os.ProcAttr{
		Dir: "/", Env: []string{},
		Sys: &syscall.SysProcAttr{Ptrace: true,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}})
	if err != nil {
		return nil, 0, fmt.Errorf("start it as uid %d: %w", uid, err)
	}
	if _, err := waitStop(p.Pid); err != nil {
		return p, 0, fmt.Errorf("its exec: %w", err)
	}
	if err := unix.PtraceSetOptions(p.Pid, unix.PTRACE_O_EXITKILL); err != nil {
		return p, 0, wrapPtrace("setoptions", p.Pid, err)
	}
	// /proc/PID belongs to root when the process is not dumpable (its
	// executable is not readable by uid): the probe would then be
	// refused whatever the thread.
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d", p.Pid), &st); err != nil {
		return p, 0, err
	}
	if int(st.Uid) != uid {
		return p, 0, fmt.Errorf("it is not dumpable (our executable is not readable by uid %d)", uid)
	}
	ps, err := readStatus(p.Pid)
	if err != nil || len(ps.NSpid) == 0 {
		return p, 0, fmt.Errorf("its pid in its namespace: %v", err)
	}
	return p, ps.NSpid[len(ps.NSpid)-1], nil
}

// startRefUserNS starts the reference for a thread in member's user
// namespace U, not ours. There the kernel lets a thread ptrace-read a
// process with its ids only if that process is in U too and its
// permitted capabilities are within the thread's (cap_ptrace_access_check
// compares sets of one namespace only): so the reference enters U and
// drops every capability. Go cannot enter a user namespace in a child
// it starts, so the reference is started as root, stopped at its exec,
// and made so by calls injected into it, with U's descriptor at its fd 3:
// no groups; then, when the thread's uid owns U, its ids outside and the
// setns (the owner has every capability in U, whatever its own), else the
// setns (as root) and its ids inside, through U's maps; then no
// capabilities, and dumpable again (every change of ids or namespace
// above made it undumpable).
func startRefUserNS(member, uid, gid int) (*os.Process, int, error) {
	nsf, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", member))
	if err != nil {
		return nil, 0, err
	}
	defer nsf.Close()
	var owner uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, nsf.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&owner))); e != 0 {
		return nil, 0, fmt.Errorf("the owner of its user namespace: %w", e)
	}
	var maps [2][]idMapRun
	for i, file := range []string{"uid_map", "gid_map"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", member, file))
		if err == nil {
			maps[i], err = parseIDMap(data)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("its user namespace's %s: %w", file, err)
		}
	}
	inUID, okU := inside(maps[0], uid)
	inGID, okG := inside(maps[1], gid)
	ownerFirst := uid == int(owner)
	if !ownerFirst && !(okU && okG) {
		return nil, 0, fmt.Errorf("uid %d and gid %d are not both mapped in its user namespace, and uid %d is not its owner", uid, gid, uid)
	}
	p, err := os.StartProcess("/proc/self/exe", []string{"lazarus-landlock-reference"}, &os.ProcAttr{
		Dir: "/", Env: []string{}, Files: []*os.File{nil, nil, nil, nsf},
		Sys: &syscall.SysProcAttr{Ptrace: true}})
	if err != nil {
		return nil, 0, fmt.Errorf("start it: %w", err)
	}
	if _, err := waitStop(p.Pid); err != nil {
		return p, 0, fmt.Errorf("its exec: %w", err)
	}
	if err := unix.PtraceSetOptions(p.Pid, unix.PTRACE_O_EXITKILL); err != nil {
		return p, 0, wrapPtrace("setoptions", p.Pid, err)
	}
	b, err := newBuilder(&restorer{}, &rproc{meta: &imageMeta{Comm: "lazarus-landlock-reference"}}, p.Pid, 0)
	if err != nil {
		return p, 0, err
	}
	defer b.mem.Close()
	ids := func(u, g int) error {
		if _, err := b.call("setresgid", unix.SYS_SETRESGID, uint64(g), uint64(g), uint64(g)); err != nil {
			return fmt.Errorf("setresgid(%d): %w", g, err)
		}
		if _, err := b.call("setresuid", unix.SYS_SETRESUID, uint64(u), uint64(u), uint64(u)); err != nil {
			return fmt.Errorf("setresuid(%d): %w", u, err)
		}
		return nil
	}
	enter := func() error {
		if _, err := b.call("setns", unix.SYS_SETNS, 3, unix.CLONE_NEWUSER); err != nil {
			return fmt.Errorf("enter its user namespace: %w", err)
		}
		return nil
	}
	steps := []func() error{func() error { return b.setGroups(nil) }, enter, func() error { return ids(inUID, inGID) }}
	if ownerFirst {
		steps = []func() error{func() error { return b.setGroups(nil) }, func() error { return ids(uid, gid) }, enter}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return p, 0, err
		}
	}
	b.call("close", unix.SYS_CLOSE, 3)
	hdr := make([]byte, 8+24) // __user_cap_header_struct (v3), two empty __user_cap_data_struct
	binary.LittleEndian.PutUint32(hdr, unix.LINUX_CAPABILITY_VERSION_3)
	at, err := b.put(scratchData, hdr)
	if err != nil {
		return p, 0, err
	}
	if _, err := b.call("capset", unix.SYS_CAPSET, at, at+8); err != nil {
		return p, 0, fmt.Errorf("drop its capabilities: %w", err)
	}
	if _, err := b.call("prctl", unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1); err != nil {
		return p, 0, fmt.Errorf("make it dumpable: %w", err)
	}
	st, err := readStatus(p.Pid)
	if err != nil || len(st.NSpid) == 0 {
		return p, 0, fmt.Errorf("its pid in its namespace: %v", err)
	}
	for i := 0; i < 3; i++ {
		if st.UID[i] != uid || st.GID[i] != gid {
			return p, 0, fmt.Errorf("its ids are uids %v gids %v, not %d %d", st.UID, st.GID, uid, gid)
		}
	}
	if ns, err := nsInode(p.Pid, "user"); err != nil || ns != nsInodeOf(nsf) {
		return p, 0, fmt.Errorf("it is not in the user namespace of pid %d (%v)", member, err)
	}
	return p, st.NSpid[len(st.NSpid)-1], nil
}

// nsInodeOf is the inode of the namespace file f.
func nsInodeOf(f *os.File) uint64 {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return 0
	}
	return st.Ino
}
