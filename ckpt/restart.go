package ckpt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RestartOptions are the options of Restart; the zero value is the default
// of the restart command.
type RestartOptions struct {
	Force    bool           // restore despite errors: new PID if taken, missing files left closed (-F)
	CopyBack bool           // copy files saved with chkpnt -C back to their places first (-C)
	Signal   syscall.Signal // sent when the restore is complete; 0: SIGCONT (-k)
	NoSignal bool           // send no signal (-k 0)
	Stopped  bool           // leave the process stopped (-z)
	Logger   *slog.Logger   // warnings (Warn), -v details (Info), -X (Debug); nil: silent
	// PIDRetry is how long a taken PID is waited for, once a second;
	// 0 means the CONVEX 10 seconds.
	PIDRetry time.Duration
}

// Process is a restarted process. Its parent is the caller of Restart.
type Process struct {
	PID  int
	Comm string
}

// Wait waits for the process to end and returns its wait status.
func (p *Process) Wait() (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(p.PID, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, os.NewSyscallError("wait4", err)
		}
		if ws.Exited() || ws.Signaled() {
			return ws, nil
		}
	}
}

// Restart rebuilds the process saved in the image at path, as a child of
// the caller, with its old PID. It returns once the process runs (or is
// stopped, with Stopped). On error no part of the process is left behind.
func Restart(ctx context.Context, path string, opts RestartOptions) (*Process, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(discardHandler{})
	}
	img, err := ReadImage(path)
	if err != nil {
		return nil, err
	}
	r := &restorer{img: img, meta: img.meta, opts: opts, log: log, comm: img.Comm, pid: img.PID}
	if err := r.check(); err != nil {
		return nil, err
	}
	if opts.CopyBack {
		if err := r.copyBack(); err != nil {
			return nil, err
		}
	}
	t := newTracer()
	defer t.stop()
	var p *Process
	err = t.do(func() error {
		var err error
		p, err = r.run(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

type restorer struct {
	img  *Image
	meta *imageMeta
	opts RestartOptions
	log  *slog.Logger
	comm string
	pid  int // the checkpointed PID

	ttyNull bool // terminal descriptors go to /dev/null (-F without a terminal)
	closed  map[int]bool
	newPID  int
}

func (r *restorer) warn(format string, args ...any) { r.log.Warn(fmt.Sprintf(format, args...)) }
func (r *restorer) info(format string, args ...any) { r.log.Info(fmt.Sprintf(format, args...)) }

func (r *restorer) fail(err error) error {
	return &RestoreError{Comm: r.comm, PID: r.pid, Err: err}
}

// forceable is an error that -F turns into a warning.
func (r *restorer) forceable(err error) error {
	if r.opts.Force {
		r.warn("%v (forced)", err)
		return nil
	}
	return err
}

// check runs the CONVEX restart checks before anything is started.
func (r *restorer) check() error {
	m := r.meta
	fp := localFingerprint(nil)
	have := map[string]bool{}
	for _, f := range fp.CPUFlags {
		have[f] = true
	}
	var missing []string
	for _, f := range m.Fingerprint.CPUFlags {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		err := fmt.Errorf("%s: contains instructions unsupported by this machine's architecture (%v): %w", r.img.Path, missing, ErrIncompatible)
		if e := r.forceable(err); e != nil {
			return e
		}
	}
	if m.Fingerprint.Kernel != fp.Kernel {
		r.info("%s: checkpointed under kernel %s, restarting under %s", r.img.Path, m.Fingerprint.Kernel, fp.Kernel)
	}
	if m.VDSOSum != "" {
		if sum, err := selfVDSOSum(); err == nil && sum != m.VDSOSum {
			err := fmt.Errorf("%s: the vDSO of this kernel differs from the checkpointed one (kernel %s, now %s): %w",
				r.img.Path, m.Fingerprint.Kernel, fp.Kernel, ErrIncompatible)
			if e := r.forceable(err); e != nil {
				return e
			}
		}
	}
	if _, err := os.Stat(m.Exe.Path); err != nil {
		return r.fail(fmt.Errorf("executable: %w", err))
	}
	for _, rg := range m.Regions {
		if rg.File == nil || (rg.Kind != regionFile && rg.Kind != regionShared) {
			continue
		}
		if err := sameFile(rg.File); err != nil {
			if e := r.forceable(r.fail(fmt.Errorf("map file %s: %w", rg.File.Path, err))); e != nil {
				return e
			}
		}
	}
	if fi, err := os.Stat(m.Cwd); err != nil || !fi.IsDir() {
		if err == nil {
			err = syscall.ENOTDIR
		}
		return r.fail(fmt.Errorf("chdir %s: %w", m.Cwd, err))
	}
	r.closed = map[int]bool{}
	for _, f := range m.Files {
		switch f.Kind {
		case fdClosed:
			r.warn("%s(%d) fd %d %s: was not checkpointable (%s), restored closed", r.comm, r.pid, f.FD, f.Path, f.Reason)
			r.closed[f.FD] = true
		case fdTTY:
			if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
				tty.Close()
				continue
			}
			err := r.fail(fmt.Errorf("fd %d: %s is a terminal and restart has no control terminal (use -F to point it to /dev/null)", f.FD, f.Path))
			if e := r.forceable(err); e != nil {
				return e
			}
			r.ttyNull = true
		case fdFile, fdDir, fdDevice:
			if _, err := os.Stat(f.Path); err != nil {
				if e := r.forceable(r.fail(fmt.Errorf("open %s: %w", f.Path, err))); e != nil {
					return e
				}
				r.warn("%s(%d) fd %d %s: missing, restored closed", r.comm, r.pid, f.FD, f.Path)
				r.closed[f.FD] = true
				continue
			}
			if f.Kind == fdFile && f.File != nil {
				if err := sameFile(f.File); err != nil {
					r.warn("%s(%d) fd %d %s: %v", r.comm, r.pid, f.FD, f.Path, err)
				}
			}
		}
	}
	return nil
}

// sameFile tells whether the file at ref.Path still is what was checkpointed.
func sameFile(ref *fileRef) error {
	var st unix.Stat_t
	if err := unix.Stat(ref.Path, &st); err != nil {
		return err
	}
	if st.Size != ref.Size || st.Mtim.Nano() != ref.Mtime {
		return errors.New("changed since the checkpoint")
	}
	return nil
}

func (r *restorer) copyBack() error {
	dir := filepath.Dir(r.img.Path)
	for _, f := range r.meta.Files {
		if f.Copy == "" {
			continue
		}
		src, err := os.Open(filepath.Join(dir, f.Copy))
		if err != nil {
			return r.fail(fmt.Errorf("file copy from %s to %s failed: %w", f.Copy, f.Path, err))
		}
		mode := os.FileMode(0o644)
		if f.File != nil {
			mode = os.FileMode(f.File.Mode & 0o7777)
		}
		err = writeFileAtomic(f.Path, src, mode, true)
		src.Close()
		if err != nil {
			return r.fail(fmt.Errorf("file copy from %s to %s failed: %w", f.Copy, f.Path, err))
		}
		if f.File != nil {
			// The copy is the checkpointed content: record its new
			// identity so the changed-file check does not complain.
			t := time.Unix(0, f.File.Mtime)
			os.Chtimes(f.Path, t, t)
		}
		r.info("%s(%d) fd %d: copied %s back to %s", r.comm, r.pid, f.FD, f.Copy, f.Path)
	}
	return nil
}

// run does the restore on the tracer thread.
func (r *restorer) run(ctx context.Context) (p *Process, retErr error) {
	child, err := r.createProcess(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			// All or nothing: the half-built process goes.
			unix.Kill(child, unix.SIGKILL)
			for {
				if _, err := waitStop(child); err != nil {
					break
				}
			}
		}
	}()
	b := &builder{r: r, pid: child}
	if err := b.build(); err != nil {
		return nil, r.fail(err)
	}
	return &Process{PID: child, Comm: r.comm}, nil
}

// createProcess starts the stub and clones the process to rebuild out of it,
// with the checkpointed PID. The stub execs the original executable (so
// /proc/PID/exe is right) and stops at once; the clone uses CLONE_PARENT so
// its parent is us, the restart process.
func (r *restorer) createProcess(ctx context.Context) (int, error) {
	cmd := exec.Command(r.meta.Exe.Path)
	cmd.Args = []string{r.comm}
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		return 0, r.fail(fmt.Errorf("fork: %w", err))
	}
	stub := cmd.Process.Pid
	defer func() {
		unix.Kill(stub, unix.SIGKILL)
		for {
			if _, err := waitStop(stub); err != nil {
				break
			}
		}
		cmd.Process.Release()
	}()
	if _, err := waitStop(stub); err != nil {
		return 0, r.fail(fmt.Errorf("fork: %w", err))
	}
	if err := ptraceSetOptions(stub, unix.PTRACE_O_TRACECLONE|unix.PTRACE_O_TRACEFORK|unix.PTRACE_O_EXITKILL); err != nil {
		return 0, err
	}
	regs, err := ptraceGetRegs(stub)
	if err != nil {
		return 0, err
	}
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", stub), os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer mem.Close()
	sc, err := vdsoSyscall(stub, mem)
	if err != nil {
		return 0, err
	}
	var child int
	t := &task{pid: stub, orig: regs, sc: sc, onEvent: func(ev int) error {
		if ev == unix.PTRACE_EVENT_CLONE || ev == unix.PTRACE_EVENT_FORK {
			msg, err := ptraceGetEventMsg(stub)
			child = int(msg)
			return err
		}
		return nil
	}}
	scratch, err := t.call("mmap", unix.SYS_MMAP, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return 0, err
	}
	// struct clone_args (CLONE_ARGS_SIZE_VER2), then the set_tid array.
	args := make([]byte, 96)
	le := binary.LittleEndian
	le.PutUint64(args[0:], unix.CLONE_PARENT)
	le.PutUint64(args[64:], scratch+88) // set_tid
	le.PutUint64(args[72:], 1)          // set_tid_size
	le.PutUint32(args[88:], uint32(r.pid))
	retry := r.opts.PIDRetry
	if retry == 0 {
		retry = 10 * time.Second
	}
	deadline := time.Now().Add(retry)
	for {
		if _, err := mem.WriteAt(args, int64(scratch)); err != nil {
			return 0, err
		}
		child = 0
		_, err := t.call("clone3", unix.SYS_CLONE3, scratch, 88)
		if err == nil {
			break
		}
		switch errnoOf(err) {
		case unix.EEXIST:
			if r.opts.Force {
				r.warn("pid %d for %s in use; restarting under a new pid (forced)", r.pid, r.comm)
				le.PutUint64(args[64:], 0)
				le.PutUint64(args[72:], 0)
				continue
			}
			if time.Now().After(deadline) {
				return 0, &PIDInUseError{PID: r.pid, Comm: r.comm}
			}
			r.info("pid %d for %s in use, retrying", r.pid, r.comm)
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		case unix.EPERM:
			if r.opts.Force {
				r.warn("not allowed to choose pid %d for %s; restarting under a new pid (forced)", r.pid, r.comm)
				le.PutUint64(args[64:], 0)
				le.PutUint64(args[72:], 0)
				continue
			}
			return 0, r.fail(fmt.Errorf("setpid: only root may restore a process under its old pid %d (use -F for a new pid): %w", r.pid, err))
		}
		return 0, r.fail(fmt.Errorf("fork: %w", err))
	}
	if child <= 0 {
		return 0, r.fail(errors.New("fork: the new process was not reported"))
	}
	// The clone starts traced by us, with a SIGSTOP queued.
	if _, err := waitStop(child); err != nil {
		return 0, r.fail(fmt.Errorf("fork: %w", err))
	}
	r.newPID = child
	if child != r.pid {
		r.info("%s restarted under pid %d", r.comm, child)
	}
	return child, nil
}

// vdsoSyscall finds a syscall instruction in the vDSO of pid.
func vdsoSyscall(pid int, mem *os.File) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return 0, err
	}
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		b := make([]byte, m.End-m.Start)
		if _, err := mem.ReadAt(b, int64(m.Start)); err != nil {
			return 0, err
		}
		if i := indexSyscall(b); i >= 0 {
			return m.Start + uint64(i), nil
		}
	}
	return 0, fmt.Errorf("pid %d: no syscall instruction in the vdso", pid)
}

func selfVDSOSum() (string, error) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return "", err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return "", err
	}
	for _, m := range maps {
		if m.Path == "[vdso]" {
			f, err := os.Open("/proc/self/mem")
			if err != nil {
				return "", err
			}
			defer f.Close()
			b := make([]byte, m.End-m.Start)
			if _, err := f.ReadAt(b, int64(m.Start)); err != nil && err != io.EOF {
				return "", err
			}
			return vdsoSum(b), nil
		}
	}
	return "", errors.New("no vdso")
}

// sortedRegions returns the regions ordered by address.
func sortedRegions(rs []region) []region {
	out := append([]region(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
