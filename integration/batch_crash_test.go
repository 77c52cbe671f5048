package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"lazarus/internal/proc"
	"lazarus/internal/supervisor"
)

// waitGo is a job that waits for the file named by its first line's
// variable, then exits with the given status.
func waitGo(name string, status int) string {
	return fmt.Sprintf("#!/bin/sh\necho $$ > %s.pid\nwhile [ ! -e %s.go ]; do sleep 0.05; done\necho %s done\nexit %d\n", name, name, name, status)
}

// pidOf waits for the job that runs waitGo(name) to write its pid, and
// returns the pid of the job's script as seen from here: a job run by a
// root daemon is the init of a PID namespace of its own, where $$ is 1.
func (b *batch) pidOf(id uint64, name string) int {
	b.t.Helper()
	nspid := 0
	b.waitFor(name+".pid", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, name+".pid"))
		nspid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return nspid > 0
	})
	return b.hostPID(id, nspid)
}

// jobPID returns the pid of a running job's first process, as its
// supervisor recorded it.
func (b *batch) jobPID(id uint64) int {
	b.t.Helper()
	var info supervisor.Info
	b.waitFor(fmt.Sprintf("job %d's pid", id), func() bool {
		data, err := os.ReadFile(filepath.Join(b.home, "run", strconv.FormatUint(id, 10), supervisor.InfoFile))
		return err == nil && json.Unmarshal(data, &info) == nil && info.Job.PID > 0
	})
	return info.Job.PID
}

// hostPID returns the pid, as seen from here, of the process of job id
// whose pid is nspid in the job's PID namespace (the same pid when the job
// has no namespace of its own).
func (b *batch) hostPID(id uint64, nspid int) int {
	b.t.Helper()
	root := b.jobPID(id)
	kids, _ := proc.Descendants(root)
	for _, p := range append([]int{root}, kids...) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 && f[len(f)-1] == strconv.Itoa(nspid) {
					return p
				}
			}
		}
	}
	b.t.Fatalf("job %d has no process %d in its namespace", id, nspid)
	return 0
}

func (b *batch) release(name string) {
	os.WriteFile(filepath.Join(b.work, name+".go"), nil, 0o644)
}

func alive(pid int) bool {
	st, err := proc.ReadStat(pid)
	return err == nil && st.State != 'Z'
}

func TestBatchJobsOutliveKill9OfTheDaemon(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 4\n")
	a := b.qsub(b.script("a.sh", waitGo("a", 7)))
	c := b.qsub(b.script("c.sh", waitGo("c", 0)))
	d := b.qsub(b.script("d.sh", waitGo("d", 0)))
	for _, id := range []uint64{a, c, d} {
		b.waitState(id, "running")
	}
	pa, pc := b.pidOf(a, "a"), b.pidOf(c, "c")

	b.kill9() // the daemon and its whole process group
	if !alive(pa) || !alive(pc) {
		t.Fatal("killing lazarusd killed its jobs")
	}
	// Job a ends while no daemon runs: its supervisor records the end.
	b.release("a")
	b.waitFor("job a's exit record", func() bool {
		_, err := os.Stat(filepath.Join(b.home, "run", strconv.FormatUint(a, 10), "exit.json"))
		return err == nil
	})

	b.start()
	ja := b.waitState(a, "failed")
	if len(ja.Segments) != 1 || ja.Segments[0].ExitCode != 7 || ja.Reason != "exit status 7" {
		t.Errorf("job that ended while the daemon was down: %+v", ja)
	}
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("a.sh.o%d", a))); got != "a done\n" {
		t.Errorf("its output = %q", got)
	}
	// Job c is re-adopted: still running, and collected when it ends.
	if j := b.job(c); j.State != "running" {
		t.Errorf("job c after restart: %+v", j)
	}
	b.release("c")
	if j := b.waitState(c, "finished", "failed"); j.State != "finished" || len(j.Segments) != 1 {
		t.Errorf("re-adopted job c: %+v", j)
	}
	// Job d is re-adopted and can be deleted.
	pd := b.pidOf(d, "d")
	b.mustRun("qdel", strconv.FormatUint(d, 10))
	if j := b.waitState(d, "failed"); !strings.HasPrefix(j.Reason, "deleted by") {
		t.Errorf("deleted re-adopted job: %+v", j)
	}
	if alive(pd) {
		t.Error("job d's process outlived qdel")
	}
}

func TestBatchSIGTERMLeavesJobsRunning(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub(b.script("s.sh", waitGo("s", 0)))
	b.waitState(id, "running")
	pid := b.pidOf(id, "s")
	b.stop()
	if !alive(pid) {
		t.Fatal("SIGTERM of lazarusd stopped a job")
	}
	b.start()
	b.release("s")
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("job after the daemon's restart: %+v", j)
	}
}

func TestBatchSecondDaemonRefused(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	r := b.runWith(cmdOpts{}, "lazarusd")
	want := fmt.Sprintf("lazarusd: %s is locked by pid %d: is another lazarusd using this state dir?\n", b.home, b.cmd.Process.Pid)
	if r.code != 1 || r.stderr != want {
		t.Errorf("second lazarusd: %v, want stderr %q", r, want)
	}
	// The lock file can be unlinked; the lock, on the directory itself,
	// cannot (a lock on the file alone went with it).
	if err := os.Remove(filepath.Join(b.home, "lazarusd.lock")); err != nil {
		t.Fatal(err)
	}
	r = b.runWith(cmdOpts{}, "lazarusd")
	want = fmt.Sprintf("lazarusd: %s is locked: is another lazarusd using this state dir?\n", b.home)
	if r.code != 1 || r.stderr != want {
		t.Errorf("second lazarusd after rm lazarusd.lock: %v, want stderr %q", r, want)
	}
	if !b.running() {
		t.Error("the first daemon stopped")
	}
}

// crash kills the daemon, every supervisor and every process of every job
// of the state directory at once, as a power cut would. Everything is
// stopped first, scanning again until no new process appears (a stopped
// process cannot fork), then killed.
func (b *batch) crash() {
	b.t.Helper()
	stopped := map[int]bool{}
	// The checkpoint helpers first (each in a session of its own): one
	// left running would see the job's processes stop (SIGSTOP, which no
	// power cut sends) and could record them stopped in a checkpoint that
	// it then completes.
	for _, h := range b.checkpointHelpers() {
		syscall.Kill(h, syscall.SIGSTOP)
		stopped[h] = true
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGSTOP)
	for {
		found := false
		for _, h := range b.checkpointHelpers() {
			if !stopped[h] {
				syscall.Kill(h, syscall.SIGSTOP)
				stopped[h], found = true, true
			}
		}
		for _, s := range b.supervisors() {
			kids, _ := proc.Descendants(s)
			for _, p := range append(kids, s) {
				if !stopped[p] {
					syscall.Kill(p, syscall.SIGSTOP)
					stopped[p], found = true, true
				}
			}
		}
		if !found {
			break
		}
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	for p := range stopped {
		syscall.Kill(p, syscall.SIGKILL)
	}
	b.waitExit()
	b.waitFor("the jobs' processes to be gone", func() bool {
		for p := range stopped {
			if alive(p) {
				return false
			}
		}
		return true
	})
}

func TestBatchRunLostInACrash(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 4\n")
	// The rerunnable job waits forever on its first run, and ends on its second.
	rerun := b.qsub(b.script("r.sh", "#!/bin/sh\nif [ -e r.ran ]; then exit 0; fi\ntouch r.ran\nsleep 300\n"))
	once := b.qsub("-r", "n", b.script("n.sh", "#!/bin/sh\ntouch n.ran\nsleep 300\n"))
	// Both scripts have run (recorded as running is not enough: a job cut
	// off before its script ran is started again, rerunnable or not).
	b.readFile(filepath.Join(b.work, "r.ran"))
	b.readFile(filepath.Join(b.work, "n.ran"))
	b.crash()
	b.start()
	j := b.waitState(rerun, "finished")
	if len(j.Segments) != 2 || !strings.Contains(j.Segments[0].Reason, "gone without an exit status") {
		t.Errorf("rerunnable job after the crash: %+v", j)
	}
	n := b.waitState(once, "failed")
	if !strings.Contains(n.Reason, "not rerunnable") || len(n.Segments) != 1 {
		t.Errorf("job with -r n after the crash: %+v", n)
	}
}

func TestBatchSupervisorKilled(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub(b.script("k.sh", "#!/bin/sh\nif [ -e k.ran ]; then exit 0; fi\necho $$ > k.pid\ntouch k.ran\nsleep 300\n"))
	b.waitState(id, "running")
	b.readFile(filepath.Join(b.work, "k.ran"))
	first := b.pidOf(id, "k")
	sups := b.supervisors()
	if len(sups) != 1 {
		t.Fatalf("%d supervisors", len(sups))
	}
	syscall.Kill(sups[0], syscall.SIGKILL)
	j := b.waitState(id, "finished")
	if len(j.Segments) != 2 || !strings.Contains(j.Segments[0].Reason, "supervisor died") {
		t.Errorf("job whose supervisor was killed: %+v", j)
	}
	b.waitFor("the orphaned job process to be killed", func() bool { return !alive(first) })
}

func TestBatchPowerCutDuringSubmissions(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 2\n")
	script := b.script("quick.sh", "#!/bin/sh\nsleep 0.1\n")
	var (
		mu    sync.Mutex
		acked []uint64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := b.run("qsub", script)
				if r.code != 0 {
					continue // the daemon is down: not acknowledged
				}
				id, err := parseJobID(r.stdout)
				if err != nil {
					t.Errorf("qsub printed %q", r.stdout)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	b.waitFor("submissions to pile up", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 60
	})
	b.crash()
	close(stop)
	wg.Wait()

	b.start()
	all := map[uint64]string{}
	for _, j := range b.jobs() {
		all[j.ID] = j.State
	}
	for _, id := range acked {
		if _, ok := all[id]; !ok {
			t.Errorf("acknowledged job %d is gone after the power cut", id)
		}
	}
	if t.Failed() {
		return
	}
	// Every job, including those cut off while running, runs to its end.
	b.waitFor("every job to finish", func() bool {
		for _, j := range b.jobs() {
			if j.State != "finished" {
				if j.State == "failed" {
					t.Fatalf("job %d failed: %s", j.ID, j.Reason)
				}
				return false
			}
		}
		return true
	})
	t.Logf("%d acknowledged submissions, %d jobs after the cut", len(acked), len(all))
}
