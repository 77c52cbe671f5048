package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"lazarus/ckpt"
	"lazarus/internal/proc"
)

// restoreLauncher restarts the job from a checkpoint image: ckpt.Restart
// rebuilds the whole tree as our child (a namespaced job comes back as the
// init of a fresh PID namespace, with its old pids inside it), then the
// tree is placed. Batch restarts always force (the CONVEX -F): a job never
// fails to restart for want of a control terminal; the descriptors that
// were one (an image taken by hand, qrestart -f) go to the job's output
// file.
//
// With a terminal (qrestart --attach of an interactive job), the new pty's
// slave is first made the supervisor's control terminal: the descriptors
// that were the job's terminal are re-pointed to it instead.
type restoreLauncher struct {
	log    *slog.Logger
	term   *ptyRelay
	runDir string // where a lazy restore's LazyFile goes
}

// LazyFile, in the run directory of a run restarted lazily, says whether
// its pages are all in (LazyState). A checkpoint waits until they are
// (WaitLazy): the engine refuses memory that is still served.
const LazyFile = "lazy.json"

// LazyState is the content of LazyFile.
type LazyState struct {
	Gen        int    `json:"gen"`
	Image      string `json:"image"`
	Supervisor int    `json:"supervisor"` // the pid serving the pages
	Done       bool   `json:"done"`       // every page is in, or the load failed
	Error      string `json:"error,omitempty"`
}

func (l restoreLauncher) Launch(ctx context.Context, spec *Spec, place func(pid int) error) (_ int, retErr error) {
	opts := ckpt.RestartOptions{
		Force: true,
		// The job's image is whole or it is not restored: a lost copy
		// of an unlinked file is a damaged generation, not a file to
		// leave closed.
		CopiesRequired: true,
		Track:          spec.Track,
		Logger:         l.log.With("component", "restart", "image", spec.Restore),
		// Lazy: the supervisor serves the pages; it lives as long as the
		// job, and a keeper kills the job if it dies first (ckpt).
		Lazy: spec.RestoreLazy,
		// A suspended job comes back suspended (its image may predate the
		// suspension): every process stopped before it runs.
		Stopped: spec.Suspended,
		// No SIGCONT (restart's default): an uninterrupted run gets
		// none, and mpirun, for one, reports it in the job's output
		// ("Forwarding signal 18 to job") and passes it to every rank.
		NoSignal: true,
	}
	if l.term != nil {
		if err := l.term.takeTerminal(); err != nil {
			return 0, err
		}
	} else {
		term, err := openOutput(spec)
		if err != nil {
			return 0, err
		}
		defer term.Close()
		opts.Terminal = term
	}
	var err error
	if spec.SetIDs {
		// The restore is for the job's owner: an image that is not
		// authenticated by the host key gets no more than the owner has.
		opts.Owner = &ckpt.Owner{UID: int(spec.UID), GID: int(spec.GID)}
		for _, g := range spec.Groups {
			opts.Owner.Groups = append(opts.Owner.Groups, int(g))
		}
	}
	if spec.KeyFile != "" {
		if opts.Key, err = ReadKey(spec.KeyFile); err != nil {
			return 0, err
		}
	}
	lazyFile := filepath.Join(l.runDir, LazyFile)
	if spec.RestoreLazy {
		// Before the job runs, so before its pid is published: a
		// checkpoint finds it.
		st := LazyState{Gen: spec.Generation, Image: spec.Restore, Supervisor: os.Getpid()}
		if err := writeJSON(lazyFile, &st); err != nil {
			return 0, err
		}
	}
	p, err := ckpt.Restart(ctx, spec.Restore, opts)
	if err != nil {
		os.Remove(lazyFile)
		return 0, err
	}
	if spec.RestoreLazy {
		// Ends with the loader: every page in, or a segment that failed
		// its check (the loader killed the tree: say why).
		go func() {
			<-p.Loaded()
			st := LazyState{Gen: spec.Generation, Image: spec.Restore, Supervisor: os.Getpid(), Done: true}
			if err := p.LoadErr(); err != nil {
				st.Error = err.Error()
				l.log.Error("lazy restore failed: the job was killed", "image", spec.Restore, "error", err)
			} else {
				l.log.Info("lazy restore: every page is in", "image", spec.Restore)
			}
			if err := writeJSON(lazyFile, &st); err != nil {
				l.log.Error("cannot record the end of the lazy restore", "error", err)
			}
		}()
	}
	defer func() {
		if retErr != nil {
			// The tree's root is the init of its PID namespace (or its
			// session leader): killing it and what it has takes it all.
			pids, _ := proc.Descendants(p.PID)
			for _, pid := range append(pids, p.PID) {
				unix.Kill(pid, unix.SIGKILL)
			}
			p.Wait()
		}
	}()
	// The tree runs already: it is placed as soon as it is back (the
	// restore itself needs the restorer's memory, which a job's limit
	// must not count).
	if err := place(p.PID); err != nil {
		return 0, err
	}
	// A member may end meanwhile (a short sleep of a script), and one not
	// placed yet may fork: listed again until a pass finds none new (a
	// placed process's children are born in its cgroups).
	placed := map[int]bool{p.PID: true}
	var pids []int
	for {
		pids, _ = proc.Descendants(p.PID)
		added := 0
		for _, pid := range pids {
			if placed[pid] {
				continue
			}
			placed[pid] = true
			added++
			if err := place(pid); err != nil && !gone(pid) {
				return 0, err
			}
		}
		if added == 0 {
			break
		}
	}
	if spec.Resume {
		// Taken while the job was suspended, which it no longer is: the
		// processes came back stopped, as they were.
		for _, pid := range append(pids, p.PID) {
			unix.Kill(pid, unix.SIGCONT)
		}
		l.log.Info("job resumed after its restore: its image was taken while it was suspended")
	}
	return p.PID, nil
}

// openOutput opens the job's output file (its error file with -j eo) as
// the job's user, for appending, positioned at its end: restored terminal
// descriptors write after what the job wrote, and read end of file.
func openOutput(spec *Spec) (*os.File, error) {
	path := spec.Stdout
	if spec.Join == "eo" {
		path = spec.Stderr
	}
	mode := os.FileMode(spec.outputMode())
	open := func(flags int) (*os.File, error) {
		if spec.SetIDs {
			return OpenAsUser(path, flags, mode, spec.UID, spec.GID, spec.Groups)
		}
		return os.OpenFile(path, flags, mode)
	}
	// Created here, it gets the job's mode exactly (the supervisor's umask
	// is not the job's); one that exists keeps its own.
	f, err := open(os.O_RDWR | os.O_APPEND | os.O_CREATE | os.O_EXCL)
	if err == nil {
		err = f.Chmod(mode)
	} else if errors.Is(err, os.ErrExist) {
		f, err = open(os.O_RDWR | os.O_APPEND)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("cannot open output file %s: %v", path, unwrapPath(err))
	}
	if _, err := f.Seek(0, 2); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenAsUser opens path with the file system identity of a user: on an OS
// thread of its own, whose fsuid, fsgid and groups are the user's (these
// are per thread in the kernel, when set by raw system calls), so that the
// permissions checked are the user's and a symbolic link planted by the
// user cannot make root open a file the user may not. The thread is never
// given back to the Go scheduler: it ends with its goroutine.
func OpenAsUser(path string, flags int, perm os.FileMode, uid, gid uint32, groups []uint32) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // and never unlocked: see above
		var gp unsafe.Pointer
		if len(groups) > 0 {
			gp = unsafe.Pointer(&groups[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
			ch <- result{err: os.NewSyscallError("setgroups", e)}
			return
		}
		unix.RawSyscall(unix.SYS_SETFSGID, uintptr(gid), 0, 0)
		unix.RawSyscall(unix.SYS_SETFSUID, uintptr(uid), 0, 0)
		// setfs[ug]id report the previous value, not errors: check.
		cur, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0)
		curg, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, ^uintptr(0), 0, 0)
		if uint32(cur) != uid || uint32(curg) != gid {
			ch <- result{err: fmt.Errorf("cannot take the file system identity of uid %d, gid %d", uid, gid)}
			return
		}
		f, err := os.OpenFile(path, flags, perm)
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

// WaitLazy waits, for a checkpoint of the run in runDir, until its lazy
// restore has every page in (the engine refuses memory still served: its
// missing pages would be holes). It returns at once for a run not
// restarted lazily, when the supervisor serving the pages is gone (its
// keeper kills the job), or when ctx ends; waited tells whether it had
// to wait.
func WaitLazy(ctx context.Context, runDir string) (waited bool) {
	for {
		var st LazyState
		if err := readJSON(filepath.Join(runDir, LazyFile), &st); err != nil || st.Done || st.Supervisor <= 0 {
			return waited
		}
		if err := unix.Kill(st.Supervisor, 0); errors.Is(err, unix.ESRCH) {
			return waited
		}
		waited = true
		select {
		case <-ctx.Done():
			return waited
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// gone reports whether pid has ended (exited, reaped or not): what a
// failure to place it then means is only that there is nothing to place.
func gone(pid int) bool {
	st, err := proc.ReadStat(pid)
	return err != nil || st.State == 'Z' || st.State == 'X'
}
