package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
	"lazarus/jobs"
)

// lockFD is where Start hands the run directory's lock to the supervisor.
const lockFD = 3

// reaped is one child the supervisor waited for; pid -1: no child is left.
type reaped struct {
	pid    int
	status unix.WaitStatus
}

// Supervise is "lazarusd supervise RUNDIR": it runs the job described in
// runDir to its end and records the end in exit.json. exe is the lazarusd
// binary, which provides the exec-job helper. It returns when the job's
// whole process tree is gone.
func Supervise(ctx context.Context, log *slog.Logger, exe, runDir string) error {
	// Keep the lock (fd 3) for our whole life, but out of the job's reach.
	unix.CloseOnExec(lockFD)
	var spec Spec
	if err := readJSON(filepath.Join(runDir, SpecFile), &spec); err != nil {
		return err
	}
	log = log.With("job_id", spec.JobID)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_CHILD_SUBREAPER", err)
	}
	self, err := proc.IdentityOf(os.Getpid())
	if err != nil {
		return err
	}
	info := Info{Supervisor: self}
	if err := writeJSON(filepath.Join(runDir, InfoFile), &info); err != nil {
		return err
	}
	// Handled, not ignored: an ignored signal would stay ignored in the job.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)

	rec := Record{JobID: spec.JobID, Segment: spec.Segment, ExitCode: -1}
	var cg *memCgroup
	if spec.Mem > 0 {
		cg, err = newMemCgroup(spec.JobID, spec.Mem)
		if err != nil {
			log.Warn("memory limit not enforced", "error", err)
			cg = nil
		}
	}
	place := func(pid int) error {
		if cg == nil {
			return nil
		}
		if err := cg.add(pid); err != nil {
			return fmt.Errorf("put the job into its memory cgroup: %w", err)
		}
		return nil
	}
	pid, err := launcherFor(exe, &spec).Launch(ctx, &spec, place)
	if err != nil {
		log.Error("job did not start", "error", err)
		rec.Reason = "cannot start: " + err.Error()
		return finish(log, runDir, &rec, cg)
	}
	log.Info("job started", "pid", pid)
	if id, err := proc.IdentityOf(pid); err == nil {
		info.Job = id
		if err := writeJSON(filepath.Join(runDir, InfoFile), &info); err != nil {
			log.Warn("record job pid", "error", err)
		}
	}

	children := make(chan reaped, 16)
	go reap(children) // ends when no child is left

	var (
		mainStatus *unix.WaitStatus
		killing    bool
		grace      <-chan time.Time
		walltime   <-chan time.Time
	)
	if spec.Walltime > 0 {
		t := time.NewTimer(spec.Walltime)
		defer t.Stop()
		walltime = t.C
	}
	killTree := func(why string) {
		if mainStatus == nil && rec.Reason == "" {
			rec.Reason = why
		}
		if killing {
			return
		}
		killing = true
		signalTree(cg, unix.SIGTERM)
		grace = time.After(spec.KillGrace)
	}
	for done := false; !done; {
		select {
		case c := <-children:
			switch {
			case c.pid < 0:
				done = true
			case c.pid == pid:
				ws := c.status
				mainStatus = &ws
				log.Info("job script ended", "status", describe(ws))
				// What the script left behind ends with it.
				killTree("")
			}
		case s := <-sigs:
			if s == unix.SIGTERM {
				log.Info("killing the job, as asked")
				killTree("killed")
			}
		case <-walltime:
			log.Info("walltime exceeded, killing the job")
			killTree(fmt.Sprintf("walltime exceeded (limit %s)", jobs.FormatDuration(spec.Walltime)))
		case <-grace:
			signalTree(cg, unix.SIGKILL)
			grace = time.After(500 * time.Millisecond) // until nothing is left
		}
	}
	if mainStatus != nil {
		switch {
		case mainStatus.Exited():
			rec.ExitCode = mainStatus.ExitStatus()
		case mainStatus.Signaled():
			rec.Signal = int(mainStatus.Signal())
		}
	}
	if cg != nil && rec.Reason == "" && rec.ExitCode != 0 && cg.oomKills() > 0 {
		rec.Reason = "memory limit exceeded (mem=" + jobs.FormatSize(spec.Mem) + ")"
	}
	return finish(log, runDir, &rec, cg)
}

// finish records the end of the run, with the CPU time of every process
// the tree had (all of them were waited for), and removes the cgroup.
func finish(log *slog.Logger, runDir string, rec *Record, cg *memCgroup) error {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err == nil {
		rec.UserCPUNS = ru.Utime.Nano()
		rec.SysCPUNS = ru.Stime.Nano()
	}
	rec.End = time.Now().Round(0)
	if err := writeJSON(filepath.Join(runDir, ExitFile), rec); err != nil {
		return fmt.Errorf("record the end of job %d: %w", rec.JobID, err)
	}
	log.Info("run recorded", "exit_code", rec.ExitCode, "signal", rec.Signal, "reason", rec.Reason,
		"user_cpu", time.Duration(rec.UserCPUNS), "sys_cpu", time.Duration(rec.SysCPUNS))
	if cg != nil {
		if err := cg.remove(); err != nil {
			log.Warn("remove memory cgroup", "error", err)
		}
	}
	return nil
}

// reap waits for every child (the job, and its orphans, which come to us as
// the subreaper) until none is left.
func reap(out chan<- reaped) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			out <- reaped{pid: -1}
			return
		}
		out <- reaped{pid: pid, status: ws}
	}
}

// signalTree sends sig to every process of the job: our descendants (all of
// the job, thanks to the subreaper) and whatever is in its cgroup.
func signalTree(cg *memCgroup, sig unix.Signal) {
	pids, _ := proc.Descendants(os.Getpid())
	if cg != nil {
		pids = append(pids, cg.procs()...)
	}
	for _, p := range pids {
		unix.Kill(p, sig)
	}
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("status %#x", int(ws))
}
