package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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
	// Keep the lock (fd 3) for our whole life, but out of the job's reach,
	// with anything else we may have inherited: a job that holds a pipe or
	// a socket of ours could not be checkpointed.
	unix.CloseOnExec(lockFD)
	unix.CloseRange(lockFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	var spec Spec
	if err := readJSON(filepath.Join(runDir, SpecFile), &spec); err != nil {
		return err
	}
	log = log.With("job_id", spec.JobID)
	os.Remove(filepath.Join(runDir, InitSignalFile)) // of an earlier run's script
	if spec.PrivateNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
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
	meter := newUsageMeter(spec.JobID, cg)
	place := func(pid int) error {
		// Recorded before the job can run anything: a run directory
		// without it is one whose job never ran. A job that could not
		// be recorded does not run.
		id, err := proc.IdentityOf(pid)
		if err != nil {
			return fmt.Errorf("record the job's pid: %w", err)
		}
		if info.Launched.PID == 0 { // a restored tree is placed process by process
			info.Launched = id
			if err := writeJSON(filepath.Join(runDir, InfoFile), &info); err != nil {
				return fmt.Errorf("record the job's pid: %w", err)
			}
		}
		if err := meter.add(pid); err != nil {
			return fmt.Errorf("put the job into its accounting cgroup: %w", err)
		}
		if cg == nil {
			return nil
		}
		if err := cg.add(pid); err != nil {
			return fmt.Errorf("put the job into its memory cgroup: %w", err)
		}
		return nil
	}
	if !prologue(ctx, log, &spec, &rec) {
		log.Error("job not started", "reason", rec.Reason)
		return finish(ctx, log, runDir, &rec, cg, meter, nil)
	}
	var term *ptyRelay // the job's terminal, for an interactive run
	if spec.Terminal {
		if term, err = openTerminal(log, runDir, &spec); err != nil {
			rec.Reason = "cannot start: " + err.Error()
			return finish(ctx, log, runDir, &rec, cg, meter, nil)
		}
		defer term.close(&rec) // after finish: the record is durable first
	}
	pid, err := launcherFor(exe, runDir, &spec, log, term).Launch(ctx, &spec, place)
	if err != nil && spec.Restore != "" {
		log.Error("job did not restart", "image", spec.Restore, "error", err)
		rec.Reason = fmt.Sprintf("cannot restart from checkpoint %d: %v", spec.Generation, err)
		rec.RestoreFailed = true
		return finish(ctx, log, runDir, &rec, cg, meter, nil)
	}
	if err != nil {
		log.Error("job did not start", "error", err)
		rec.Reason = "cannot start: " + err.Error()
		return finish(ctx, log, runDir, &rec, cg, meter, nil)
	}
	rec.Session = pid
	term.started()
	if spec.Restore != "" {
		log.Info("job restarted", "pid", pid, "image", spec.Restore)
	} else {
		log.Info("job started", "pid", pid)
	}
	// The init of a PID namespace gets from us only the signals it
	// catches, SIGKILL and SIGSTOP; see killTree.
	nsInit := isNamespaceInit(pid)
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
		warn       <-chan time.Time // sbatch --signal, WarnBefore the walltime
		initLast   <-chan time.Time // polls for the rest of the tree to be gone
		initTermed bool             // the script is killed in place of our SIGTERM
		cput       <-chan time.Time // polls the tree's CPU time (qsub -l cput)
		hungUp     <-chan time.Time // the job's terminal hung up (interactive.go)
		fence      <-chan time.Time // polls the node's fence (cluster mode)
	)
	usage := time.NewTicker(usagePoll)
	defer usage.Stop()
	meter.sample()
	// The walltime counts from now, less the time the job is suspended
	// (suspend.go): when it is up, what is left is looked at again.
	wallStart := time.Now()
	var wallTimer *time.Timer
	if spec.Walltime > 0 {
		wallTimer = time.NewTimer(spec.Walltime)
		defer wallTimer.Stop()
		walltime = wallTimer.C
	}
	warnAt := spec.Walltime - spec.WarnBefore
	var warnTimer *time.Timer
	if spec.WarnSignal != 0 && spec.Walltime > 0 {
		warnTimer = time.NewTimer(max(warnAt, 0))
		defer warnTimer.Stop()
		warn = warnTimer.C
	}
	if spec.CPUTime > 0 {
		t := time.NewTicker(cputPoll)
		defer t.Stop()
		cput = t.C
	}
	if spec.Fence != "" {
		t := time.NewTicker(FencePoll)
		defer t.Stop()
		fence = t.C
	}
	killTree := func(why string) {
		if mainStatus == nil && rec.Reason == "" {
			rec.Reason = why
		}
		if killing {
			return
		}
		killing = true
		if nsInit && mainStatus == nil && !catches(pid, unix.SIGTERM) &&
			!inMask(pid, "SigIgn:", unix.SIGTERM) && !inMask(pid, "SigBlk:", unix.SIGTERM) {
			// A script that is the init of its namespace would not get our
			// SIGTERM, which it neither traps nor ignores nor blocks (one
			// that does runs on until the SIGKILL after the grace, as
			// anywhere): stop it where it is, so that it runs nothing more
			// while the rest of the tree ends, then kill it. Stopped
			// first: a child that dies of the SIGTERM would otherwise let
			// it run on to its next command before the stop arrives.
			unix.Kill(pid, unix.SIGSTOP)
			initLast = time.After(20 * time.Millisecond)
			initTermed = true
		}
		signalTree(cg, unix.SIGTERM)
		// A suspended (stopped) process gets the SIGTERM only once it
		// continues: it is resumed to take it, as PBS resumes a job it
		// deletes (the init stopped above stays stopped).
		signalTreeBut(cg, unix.SIGCONT, stoppedInit(pid, initLast != nil))
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
				if s := initSignalled(runDir, ws); !killing {
					ws = s // qsig's signal, which SignalInit gave it
				} else if initTermed && ws.Signaled() && ws.Signal() == unix.SIGKILL {
					// Killed in place of the SIGTERM it could not take:
					// it ended of that SIGTERM (Exit_status 271 for qdel,
					// as under PBS).
					ws = unix.WaitStatus(unix.SIGTERM)
				}
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
		case why := <-term.goneC():
			// As a terminal that hangs up: SIGHUP to the session, which
			// a shell takes to end (saving its history); what is left
			// is killed after hangupGrace.
			log.Info("the job's terminal session ended: hanging up, then killing the job")
			if rec.Reason == "" {
				rec.Reason = why
			}
			term.hangup()
			hungUp = time.After(hangupGrace)
		case <-hungUp:
			killTree(rec.Reason)
		case <-term.noAttachC():
			log.Info("no terminal attached, killing the job")
			killTree(fmt.Sprintf(reasonNoAttach, jobs.FormatDuration(attachWait)))
		case <-walltime:
			now := time.Now()
			if used := now.Sub(wallStart) - suspendedSince(runDir, wallStart, spec.Suspended, now); used < spec.Walltime {
				// Suspended for part of it: not yet (and while it is
				// suspended, looked at again at least every second).
				wallTimer.Reset(max(spec.Walltime-used, time.Second))
				continue
			}
			log.Info("walltime exceeded, killing the job")
			killTree(fmt.Sprintf("walltime exceeded (limit %s)", jobs.FormatDuration(spec.Walltime)))
		case <-warn:
			now := time.Now()
			if used := now.Sub(wallStart) - suspendedSince(runDir, wallStart, spec.Suspended, now); used < warnAt {
				warnTimer.Reset(max(warnAt-used, time.Second))
				continue
			}
			warn = nil
			if killing {
				continue
			}
			sig := unix.Signal(spec.WarnSignal)
			log.Info("the walltime is nearly up: signalling the job", "signal", sig.String(), "batch", spec.WarnBatch)
			if spec.WarnBatch {
				// Slurm's B: the batch shell alone, with the signal's
				// default action if it does not trap it (initsignal.go).
				if err := SignalInit(runDir, pid, sig); err != nil {
					log.Warn("signal the job script", "signal", sig.String(), "error", err)
				}
			} else {
				// The job's steps: every process but the script.
				signalTreeBut(cg, sig, pid)
			}
		case <-cput:
			if used := treeCPU(); used > spec.CPUTime && !killing {
				log.Info("cput exceeded, killing the job", "used", used)
				killTree(fmt.Sprintf("cput exceeded (limit %s)", jobs.FormatDuration(spec.CPUTime)))
			}
		case <-fence:
			if gone, err := fenced(spec.Fence); gone && !killing {
				// No grace: the server may restart the job elsewhere
				// once the lease expires, a Margin from now.
				log.Error("the node lost its cluster lease: killing the job", "error", err)
				killTree(FenceReason)
				signalTree(cg, unix.SIGKILL)
				if nsInit && mainStatus == nil {
					unix.Kill(pid, unix.SIGKILL)
				}
				grace = time.After(200 * time.Millisecond)
			}
		case <-usage.C:
			meter.sample()
		case <-grace:
			signalTree(cg, unix.SIGKILL)
			grace = time.After(500 * time.Millisecond) // until nothing is left
		case <-initLast:
			if onlyZombiesUnder(pid) {
				unix.Kill(pid, unix.SIGKILL)
				initLast = nil
			} else {
				initLast = time.After(20 * time.Millisecond)
			}
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
	return finish(ctx, log, runDir, &rec, cg, meter, &spec)
}

// finish records the end of the run, with the CPU time and peak memory of
// every process the tree had (usageMeter), and removes the cgroups; with
// the spec of a run that ran, after the epilogue.
func finish(ctx context.Context, log *slog.Logger, runDir string, rec *Record, cg *memCgroup, meter *usageMeter, ran *Spec) error {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	user, sys, rss, vsz := meter.finish(&ru)
	rec.UserCPUNS, rec.SysCPUNS = user.Nanoseconds(), sys.Nanoseconds()
	rec.Mem, rec.VMem = rss, vsz
	rec.End = time.Now().Round(0)
	if ran != nil {
		// A context of its own: the epilogue runs even when the
		// supervisor was asked to stop (it bounds itself).
		epilogue(context.WithoutCancel(ctx), log, runDir, ran, rec)
	}
	if err := writeJSON(filepath.Join(runDir, ExitFile), rec); err != nil {
		return fmt.Errorf("record the end of job %d: %w", rec.JobID, err)
	}
	if ran != nil && ran.EndCopy != "" {
		// Durable before the daemon can learn of the end: if the daemon
		// is dead, the server finds the end here when the node is lost.
		if err := writeJSON(ran.EndCopy, rec); err != nil {
			log.Warn("cannot copy the end record to the shared directory", "error", err)
		}
	}
	log.Info("run recorded", "exit_code", rec.ExitCode, "signal", rec.Signal, "reason", rec.Reason,
		"user_cpu", time.Duration(rec.UserCPUNS), "sys_cpu", time.Duration(rec.SysCPUNS), "mem", rec.Mem, "vmem", rec.VMem)
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

// signalTreeBut is signalTree sparing one process (0: none).
func signalTreeBut(cg *memCgroup, sig unix.Signal, spare int) {
	pids, _ := proc.Descendants(os.Getpid())
	if cg != nil {
		pids = append(pids, cg.procs()...)
	}
	for _, p := range pids {
		if p != spare {
			unix.Kill(p, sig)
		}
	}
}

func stoppedInit(pid int, stopped bool) int {
	if stopped {
		return pid
	}
	return 0
}

// isNamespaceInit reports whether pid is the init (pid 1) of a PID
// namespace below ours.
func isNamespaceInit(pid int) bool {
	ids := statusField(pid, "NSpid:")
	return len(ids) > 1 && ids[len(ids)-1] == "1"
}

// catches reports whether pid has a handler for sig (SigCgt in
// /proc/PID/status).
func catches(pid int, sig unix.Signal) bool { return inMask(pid, "SigCgt:", sig) }

func statusField(pid int, name string) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// onlyZombiesUnder reports whether every descendant of pid has exited.
func onlyZombiesUnder(pid int) bool {
	kids, _ := proc.Descendants(pid)
	for _, k := range kids {
		if st, err := proc.ReadStat(k); err == nil && st.State != 'Z' && st.State != 'X' {
			return false
		}
	}
	return true
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
