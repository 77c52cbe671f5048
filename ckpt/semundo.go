package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SEM_UNDO adjustments. The kernel keeps, per process (shared by its
// threads, CLONE_SYSVSEM), the adjustment each semaphore gets when the
// process exits; no interface reads it. It is measured: a process that
// unshares CLONE_SYSVSEM has its undo list applied as at exit, so the
// change of every value is its adjustment; the process then makes the
// same adjustment again with semop(-adj, SEM_UNDO), which also puts the
// value back. The measure is taken only where no one can see the values
// move: the whole tree is frozen, in an IPC namespace of its own, and no
// task waits on any semaphore (a waiter's operation would be done by the
// kernel on its behalf). A process with several threads shares its list
// with them, so unsharing in one would not apply it: its adjustments are
// asked about instead (semprobe.go). Any member with a list (kcmp
// KCMP_SYSVSEM tells) while a task waits on a semaphore is refused. The exit applies an adjustment clamped to
// 0..SEMVMX: a clamped one is measured as what it did.
//
// At restart each set is made with its value plus the adjustments of
// every process, and each process, before it has threads, makes its own
// adjustments (semop SEM_UNDO), which brings every value back.

// semUndo is the adjustment of one process to one semaphore set.
type semUndo struct {
	Semid int     `json:"semid"`
	Adj   []int16 `json:"adj"` // per semaphore
}

const semUndoFlag = 0x1000 // SEM_UNDO

// measureUndo measures the SEM_UNDO adjustments of every single-threaded
// member (see above) and records them in its image.
func (t *dumpTree) measureUndo(st *sysvIPC, nsPath string) error {
	if t.opts.CheckOnly {
		return nil
	}
	if !st.OwnNS {
		// Applying a list moves values processes outside the tree can
		// see and change meanwhile: the adjustments cannot be measured.
		// A member that used a semaphore set of the tree and has a list
		// (empty perhaps: one made by a thread's creation is) is refused.
		if len(st.Sem) == 0 {
			return nil
		}
		var pids []int
		for _, d := range t.procs {
			if !d.zombie {
				pids = append(pids, d.pid)
			}
		}
		has, err := undoLists(pids)
		if err != nil {
			return err
		}
		for _, d := range t.procs {
			if has[d.pid] {
				if err := d.uncheckpointable(-1, ": SEM_UNDO adjustments (it has a list of them) in an IPC namespace shared with processes outside the tree cannot be measured (run it in an IPC namespace of its own, as a batch job is)"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if len(st.Sem) == 0 {
		return nil
	}
	values := func() ([][]uint16, error) {
		out := make([][]uint16, len(st.Sem))
		err := inIPCNS(nsPath, func() error {
			for i, s := range st.Sem {
				out[i] = make([]uint16, len(s.Values))
				if _, err := semctl(s.ID, 0, semGetAll, uintptr(unsafe.Pointer(&out[i][0]))); err != nil {
					return fmt.Errorf("semaphore set %d: GETALL: %w", s.ID, err)
				}
			}
			return nil
		})
		return out, err
	}
	waiting := false
	err := inIPCNS(nsPath, func() error {
		for _, s := range st.Sem {
			for i := range s.Values {
				for _, cmd := range []int{14, 15} { // GETNCNT, GETZCNT
					if n, err := semctl(s.ID, i, cmd, 0); err != nil || n > 0 {
						waiting = true
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if waiting {
		// The adjustments cannot be measured; a member that has any is
		// refused (restored without them, it would be a look-alike).
		for _, d := range t.procs {
			if d.zombie {
				continue
			}
			if has, err := hasUndoList(d.pid); err != nil || has {
				if err := d.uncheckpointable(-1, ": SEM_UNDO adjustments cannot be measured while a task waits on a semaphore of the tree"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, d := range t.procs {
		if d.zombie {
			continue
		}
		if d.noSuspend {
			continue // its seccomp filter applies to injected calls
		}
		if len(d.tids) > 1 {
			has, err := hasUndoList(d.pid)
			if err == nil && !has {
				continue // no list: nothing to measure
			}
			// Its threads share the list: asked about, not applied
			// (semprobe.go).
			now, err := values()
			if err != nil {
				return err
			}
			for i, s := range st.Sem {
				s.Values = now[i]
				u, err := d.probeUndo(s)
				if err != nil {
					return err
				}
				if slices.ContainsFunc(u.Adj, func(a int16) bool { return a != 0 }) {
					d.meta.SemUndo = append(d.meta.SemUndo, u)
					d.log.Info(fmt.Sprintf("%s(%d) semaphore set %d: SEM_UNDO adjustments %v (of its %d threads)", d.comm, d.pid, s.ID, u.Adj, len(d.tids)))
				}
			}
			after, err := values()
			if err != nil {
				return err
			}
			for i := range now {
				if !slices.Equal(now[i], after[i]) {
					return fmt.Errorf("%s(%d): semaphore set %d: values %v after measuring its SEM_UNDO adjustments, were %v", d.comm, d.pid, st.Sem[i].ID, after[i], now[i])
				}
			}
			continue
		}
		before, err := values()
		if err != nil {
			return err
		}
		if err := d.applyUndo(); err != nil {
			return err
		}
		after, err := values()
		if err != nil {
			return err
		}
		for i, s := range st.Sem {
			u := semUndo{Semid: s.ID, Adj: make([]int16, len(s.Values))}
			any := false
			for j := range s.Values {
				u.Adj[j] = int16(int(after[i][j]) - int(before[i][j]))
				any = any || u.Adj[j] != 0
			}
			if !any {
				continue
			}
			// Its adjustment again, and the values as they were.
			if err := d.injectSemop(u); err != nil {
				return err
			}
			d.meta.SemUndo = append(d.meta.SemUndo, u)
			d.log.Info(fmt.Sprintf("%s(%d) semaphore set %d: SEM_UNDO adjustments %v", d.comm, d.pid, s.ID, u.Adj))
		}
	}
	return nil
}

// undoLists tells which of pids have a SEM_UNDO list. kcmp KCMP_SYSVSEM
// compares the lists of two tasks, so each is compared with the list of a
// process known to have none: a child of ours stopped at its exec, before
// it runs an instruction (a fork gets no list, and a thread created with
// CLONE_SYSVSEM, as the Go runtime and glibc create theirs, makes its
// process one: the engine has one). No kcmp (CONFIG_KCMP): an error.
func undoLists(pids []int) (map[int]bool, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	out := map[int]bool{}
	err = onLockedThread(func() error {
		p, err := os.StartProcess(exe, []string{"lazarus-undo-reference"}, &os.ProcAttr{
			Env: []string{}, Sys: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}})
		if err != nil {
			return fmt.Errorf("SEM_UNDO lists: reference process: %w", err)
		}
		defer func() {
			p.Kill()
			p.Wait()
		}()
		const kcmpSysvsem = 6 // KCMP_SYSVSEM
		for _, pid := range pids {
			r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(p.Pid), kcmpSysvsem, 0, 0, 0)
			if e != 0 {
				return os.NewSyscallError("kcmp", e)
			}
			out[pid] = r != 0
		}
		return nil
	})
	return out, err
}

// onLockedThread runs f on an OS thread of its own (a child started
// traced has that thread as its tracer); the thread ends with f.
func onLockedThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with us
		done <- f()
	}()
	return <-done
}

// hasUndoList reports whether task tid has a SEM_UNDO list (undoLists).
func hasUndoList(tid int) (bool, error) {
	m, err := undoLists([]int{tid})
	return m[tid], err
}

// applyUndo makes d apply its undo list, as at exit (unshare CLONE_SYSVSEM).
func (d *dumper) applyUndo() error {
	return d.withInjection(func(t *task, _ uint64) error {
		if _, err := t.call("unshare", unix.SYS_UNSHARE, unix.CLONE_SYSVSEM); err != nil {
			return fmt.Errorf("%s(%d): unshare CLONE_SYSVSEM: %w", d.comm, d.pid, err)
		}
		return nil
	})
}

// semopBuf is the struct sembuf array making the adjustments u with
// SEM_UNDO: semop(-adj) leaves adj in the undo list.
func semopBuf(u semUndo) []byte {
	var buf []byte
	for i, a := range u.Adj {
		if a == 0 {
			continue
		}
		b := make([]byte, 6)
		binary.LittleEndian.PutUint16(b, uint16(i))
		binary.LittleEndian.PutUint16(b[2:], uint16(-a))
		binary.LittleEndian.PutUint16(b[4:], semUndoFlag|ipcNowait)
		buf = append(buf, b...)
	}
	return buf
}

// injectSemop makes d take the adjustments u again.
func (d *dumper) injectSemop(u semUndo) error {
	buf := semopBuf(u)
	if len(buf) > pageSize {
		return fmt.Errorf("%s(%d): semaphore set %d: %d adjustments", d.comm, d.pid, u.Semid, len(buf)/6)
	}
	return d.withInjection(func(t *task, scratch uint64) error {
		if _, err := d.mem.WriteAt(buf, int64(scratch)); err != nil {
			return err
		}
		if _, err := t.call("semop", unix.SYS_SEMOP, uint64(u.Semid), scratch, uint64(len(buf)/6)); err != nil {
			return fmt.Errorf("%s(%d): semaphore set %d: semop SEM_UNDO: %w", d.comm, d.pid, u.Semid, err)
		}
		return nil
	})
}

// restoreSemUndo gives the process its SEM_UNDO adjustments back (before
// its threads exist, which then share them).
func (b *builder) restoreSemUndo() error {
	for _, u := range b.p.meta.SemUndo {
		id, ok := 0, false
		if b.r.ipc != nil {
			id, ok = b.r.ipc.semids[u.Semid]
		}
		if !ok {
			return fmt.Errorf("SEM_UNDO adjustments of semaphore set %d: %w", u.Semid, errIPCNotSaved)
		}
		buf := semopBuf(u)
		if len(buf) == 0 {
			continue
		}
		addr, err := b.put(scratchData, buf)
		if err != nil {
			return err
		}
		if _, err := b.call("semop", unix.SYS_SEMOP, uint64(id), addr, uint64(len(buf)/6)); err != nil {
			return fmt.Errorf("semaphore set %d: semop SEM_UNDO: %w", id, err)
		}
	}
	return nil
}

// semStartValues returns the values set s is made with at restart: its
// values plus every restored process's adjustments, which their semops
// then take away.
func (r *restorer) semStartValues(s sysvSem) ([]uint16, error) {
	v := make([]int, len(s.Values))
	for i, x := range s.Values {
		v[i] = int(x)
	}
	for _, p := range r.procs {
		for _, u := range p.meta.SemUndo {
			if u.Semid != s.ID {
				continue
			}
			if len(u.Adj) != len(v) {
				return nil, fmt.Errorf("%w: %s: %d adjustments to set %d of %d", ErrCorrupt, p.img.Path, len(u.Adj), s.ID, len(v))
			}
			for i, a := range u.Adj {
				v[i] += int(a)
			}
		}
	}
	out := make([]uint16, len(v))
	for i, x := range v {
		if x < 0 || x > 32767 { // SEMVMX
			return nil, fmt.Errorf("semaphore set %d: semaphore %d would start at %d to give back the SEM_UNDO adjustments", s.ID, i, x)
		}
		out[i] = uint16(x)
	}
	return out, nil
}
