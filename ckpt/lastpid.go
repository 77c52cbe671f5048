package ckpt

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Thread ids inside a user namespace (userns.go). A thread is cloned by its
// process, and a process in a user namespace made in the tree may not
// choose the tid (clone3 set_tid needs CAP_CHECKPOINT_RESTORE in the user
// namespace the PID namespace belongs to, outside). So the tid is chosen
// the older way: the PID namespace's last pid (/proc/sys/kernel/ns_last_pid)
// is set to the one before it, by a process of that namespace that may
// (root outside), and the next clone there takes the tid wanted.
//
// In our own PID namespace we are that process. In another one (the root's
// fresh namespace, a batch job's) it is a helper: a copy of this program
// cloned into the namespace, stopped, traced, at its exec before it runs
// an instruction, into which the writes are injected; it is killed when
// the restore ends. Only restored processes run in such a namespace, all
// of them stopped, so nothing takes the tid between the write and the
// clone. In ours any process of the machine may fork meanwhile: the clone
// is checked, and a thread that got another tid is made to exit and the
// clone tried again.

// lastPIDTries bounds the clones of one thread whose tid another fork
// took.
const lastPIDTries = 50

// pidSetter writes the last pid of one PID namespace.
type pidSetter struct {
	b   *builder  // the helper's; nil: the namespace is ours
	cmd *exec.Cmd // the helper
	fd  uint64    // its descriptor of ns_last_pid
}

// setLastPID sets the last pid of p's PID namespace to last.
func (r *restorer) setLastPID(p *rproc, last int) error {
	ns, err := nsInode(p.pid, "pid")
	if err != nil {
		return err
	}
	s, err := r.pidSetter(p, ns)
	if err != nil {
		return fmt.Errorf("set the next pid of its PID namespace: %w", err)
	}
	val := strconv.Itoa(last)
	if s.b == nil {
		return os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(val), 0)
	}
	addr, err := s.b.putString(scratchData, val)
	if err != nil {
		return err
	}
	if _, err := s.b.call("write", unix.SYS_WRITE, s.fd, addr, uint64(len(val))); err != nil {
		return fmt.Errorf("write ns_last_pid: %w", err)
	}
	return nil
}

// pidSetter returns the setter of namespace ns (p's), starting its helper
// the first time. It runs on the restorer's thread: the helper's tracer.
func (r *restorer) pidSetter(p *rproc, ns uint64) (*pidSetter, error) {
	if s := r.setters[ns]; s != nil {
		return s, nil
	}
	if r.setters == nil {
		r.setters = map[uint64]*pidSetter{}
	}
	ours, err := selfNSInode("pid")
	if err != nil {
		return nil, err
	}
	if ns == ours {
		s := &pidSetter{}
		r.setters[ns] = s
		return s, nil
	}
	s, err := r.startSetter(p, ns)
	if err != nil {
		return nil, err
	}
	// The helper took a pid of the namespace: one the tree may still
	// need (a thread cloned later, a process cloned after its parent's
	// memory). Then it moves the namespace's next pid past every id the
	// tree has and a second one takes its place.
	st, err := readStatus(s.cmd.Process.Pid)
	if err != nil || len(st.NSpid) == 0 {
		return nil, fmt.Errorf("the helper's pid: %v", err)
	}
	ids, top := r.treeIDs()
	if !ids[st.NSpid[len(st.NSpid)-1]] {
		return s, nil
	}
	val := strconv.Itoa(top)
	addr, err := s.b.putString(scratchData, val)
	if err == nil {
		_, err = s.b.call("write", unix.SYS_WRITE, s.fd, addr, uint64(len(val)))
	}
	if err != nil {
		return nil, fmt.Errorf("the helper: write ns_last_pid: %w", err)
	}
	first := s
	delete(r.setters, ns)
	s, err = r.startSetter(p, ns)
	first.close()
	return s, err
}

// treeIDs is every pid and tid the tree's images name, at any level, and
// the largest.
func (r *restorer) treeIDs() (map[int]bool, int) {
	ids, top := map[int]bool{}, 0
	add := func(id int) {
		ids[id] = true
		top = max(top, id)
	}
	for _, p := range r.procs {
		m := p.meta
		add(m.PID)
		add(m.NSPID)
		for _, id := range m.NSPids {
			add(id)
		}
		for _, th := range m.Threads {
			add(th.TID)
			add(th.NSTID)
			for _, id := range th.NSTIDs {
				add(id)
			}
		}
	}
	return ids, top
}

// startSetter starts a helper in namespace ns (p's) and opens its
// ns_last_pid.
func (r *restorer) startSetter(p *rproc, ns uint64) (*pidSetter, error) {
	// Our children are cloned into ns until we go back to our own.
	back, _, err := enterPIDNS(p.pid)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"lazarus-pid-setter"}
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	err = cmd.Start()
	if e := back(); e != nil && err == nil {
		err = e
	}
	if cmd.Process == nil {
		return nil, fmt.Errorf("start the helper: %w", err)
	}
	s := &pidSetter{cmd: cmd}
	r.setters[ns] = s // killed by closeAll, whatever follows
	if err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	if _, err := waitStop(pid); err != nil {
		return nil, fmt.Errorf("the helper's exec: %w", err)
	}
	if err := ptraceSetOptions(pid, restoreTraceOptions); err != nil {
		return nil, err
	}
	b, err := newBuilder(r, &rproc{meta: &imageMeta{Comm: "lazarus-pid-setter"}}, pid, 0)
	if err != nil {
		return nil, fmt.Errorf("the helper: %w", err)
	}
	path, err := b.putString(scratchData, "/proc/sys/kernel/ns_last_pid")
	if err != nil {
		return nil, err
	}
	if s.fd, err = b.call("openat", unix.SYS_OPENAT, ^uint64(99) /* AT_FDCWD */, path, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("the helper: open ns_last_pid: %w", err)
	}
	s.b = b
	r.log.Debug(fmt.Sprintf("PID namespace pid:[%d]: its last pid is set by helper %d (thread ids in a user namespace)", ns, pid))
	return s, nil
}

// lastPIDShared tells whether other processes than the restored ones may
// fork in p's PID namespace (it is ours): a tid another took may be taken
// by a race, not only by a process that has it.
func (r *restorer) lastPIDShared(p *rproc) bool {
	ns, err := nsInode(p.pid, "pid")
	s := r.setters[ns]
	return err == nil && s != nil && s.b == nil
}

// pidExists tells whether a task of our PID namespace has pid.
func pidExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// close kills s's helper.
func (s *pidSetter) close() {
	if s.b != nil {
		s.b.mem.Close()
	}
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// closeSetters kills the helpers: before the tree runs (a helper is seen
// in the namespace), and by closeAll on every way out.
func (r *restorer) closeSetters() {
	for ns, s := range r.setters {
		s.close()
		delete(r.setters, ns)
	}
}

// dropThread makes thread tid, just cloned and stopped, exit: it got
// another tid than it must have. It runs exit(0) from the syscall
// instruction at sc.
func dropThread(tid int, regs unix.PtraceRegs, sc uint64) error {
	regs.Rax, regs.Orig_rax, regs.Rdi, regs.Rip = unix.SYS_EXIT, ^uint64(0), 0, sc
	if err := ptraceSetRegs(tid, &regs); err != nil {
		return err
	}
	if err := ptraceCont(tid, 0); err != nil {
		return err
	}
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil {
			return os.NewSyscallError("wait4", err)
		}
		if ws.Exited() || ws.Signaled() {
			return nil
		}
		if err := ptraceCont(tid, 0); err != nil {
			return err
		}
	}
}
