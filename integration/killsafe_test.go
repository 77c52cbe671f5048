package integration

// A checkpoint must never harm the job it checkpoints, even when chkpnt
// itself is killed (SIGKILL: no clean-up) at an unlucky moment while the
// tree is frozen and the engine has changed things in it (injected system
// calls, a twin, a scratch page, a blocked signal mask). killsafe_job
// (testdata/ckpt/killsafe_job.c), a parent with a thread and a child that
// compute until SIGUSR1, is checkpointed again and again by chkpnt, which
// is killed after a random delay; after each kill the job must run on
// untraced, unstopped, with its signal masks, actions and mappings as they
// were and no process added to its tree, and end with the answer the test
// recomputes.
//
// Every identifier here starts with killsafe: the other tests share the
// package.

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	killsafeKills  = flag.Int("killsafe.kills", 12, "TestKillsafe: kills of chkpnt per variant")
	killsafeDelay  = flag.Duration("killsafe.delay", 300*time.Millisecond, "TestKillsafe: the kill comes after a random delay up to this")
	killsafeTracer = flag.Bool("killsafe.tracer", false, "TestKillsafe: kill chkpnt's worker (the tracer itself) instead of chkpnt: measures what no guard can prevent, and fails")
)

// killsafeWords mirrors WORDS of killsafe_job.c.
const killsafeWords = 16384

var killsafeBuilt = sync.OnceValues(func() (string, error) {
	src, err := filepath.Abs(filepath.Join("testdata", "ckpt", "killsafe_job.c"))
	if err != nil {
		return "", err
	}
	exe := filepath.Join(binDir, "killsafe_job")
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-o", exe, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", src, err, out)
	}
	return exe, nil
})

// killsafeSum is killsafe_job.c's work: the checksum of its array after
// rounds rounds from seed.
func killsafeSum(seed, rounds uint64) string {
	a := make([]uint64, killsafeWords)
	for j := range a {
		a[j] = seed + uint64(j)
	}
	for r := uint64(0); r < rounds; r++ {
		for j := range a {
			a[j] = a[j]*6364136223846793005 + (r ^ uint64(j))
		}
	}
	var sum uint64
	for _, v := range a {
		sum = (sum ^ v) * 1099511628211
	}
	return fmt.Sprintf("%016x", sum)
}

// killsafeJob is one running killsafe_job.
type killsafeJob struct {
	cmd   *exec.Cmd
	out   string
	pid   int
	child int
	done  chan struct{}
	state map[int]string // per process: what must not change (killsafeState)
}

func killsafeStart(t *testing.T, prog, dir string) *killsafeJob {
	t.Helper()
	j := &killsafeJob{out: filepath.Join(dir, "out"), done: make(chan struct{})}
	j.cmd = exec.Command(prog, j.out)
	j.cmd.Dir = dir
	if err := j.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prog, err)
	}
	j.pid = j.cmd.Process.Pid
	go func() {
		j.cmd.Wait()
		close(j.done)
	}()
	t.Cleanup(func() {
		if j.child > 0 {
			syscall.Kill(j.child, syscall.SIGKILL)
		}
		j.cmd.Process.Kill()
		<-j.done
	})
	// Ready: the child forked, the thread made (every array and stack
	// is mapped by then).
	deadline := time.Now().Add(ckptDeadline)
	for {
		kids := killsafeChildren(j.pid)
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", j.pid))
		if len(kids) == 1 && len(tasks) == 2 {
			j.child = kids[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killsafe_job %d: got children %v and %d threads after %v; want 1 child and 2 threads", j.pid, kids, len(tasks), ckptDeadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	j.state = map[int]string{j.pid: killsafeState(j.pid), j.child: killsafeState(j.child)}
	return j
}

// killsafeChildren lists the processes whose parent is pid, zombies too.
func killsafeChildren(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ckptPPID(n) == pid {
			kids = append(kids, n)
		}
	}
	sort.Ints(kids)
	return kids
}

// killsafeState is what a checkpoint must leave as it found it in process
// pid: its mappings and their permissions, and per thread its signal
// mask, ignored and caught signals.
func killsafeState(pid int) string {
	var b strings.Builder
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	b.Write(maps)
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range tasks {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name()))
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "SigBlk:") || strings.HasPrefix(l, "SigIgn:") || strings.HasPrefix(l, "SigCgt:") {
				fmt.Fprintf(&b, "task %s %s\n", e.Name(), l)
			}
		}
	}
	return b.String()
}

// killsafeTracing tells what of pid's threads is traced or stopped, "" if
// none.
func killsafeTracing(pid int) string {
	var bad []string
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range tasks {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name()))
		for _, l := range strings.Split(string(st), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) >= 2 && f[0] == "TracerPid:" && f[1] != "0":
				bad = append(bad, fmt.Sprintf("tid %s traced by %s", e.Name(), f[1]))
			case len(f) >= 2 && f[0] == "State:" && (f[1] == "T" || f[1] == "t"):
				bad = append(bad, fmt.Sprintf("tid %s %s", e.Name(), strings.Join(f[1:], " ")))
			}
		}
	}
	return strings.Join(bad, ", ")
}

// killsafeMarked lists the processes whose environment holds mark: the
// chkpnt started with it, and any helper it started.
func killsafeMarked(mark string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", n))
		if err == nil && bytes.Contains(env, []byte(mark)) && ckptAlive(n) {
			pids = append(pids, n)
		}
	}
	return pids
}

// killsafeWorker returns the worker chkpnt (pid) started, the tracer of
// the checkpoint: its child with mark in its environment; pid itself if
// none appears in a few seconds.
func killsafeWorker(pid int, mark string) int {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		for _, p := range killsafeMarked(mark) {
			if ckptPPID(p) == pid {
				return p
			}
		}
		if !ckptAlive(pid) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return pid
}

// check returns what the checkpoint killed midway did to the job, "" if
// nothing.
func (j *killsafeJob) check() string {
	var harm []string
	for _, pid := range []int{j.pid, j.child} {
		if !ckptAlive(pid) {
			harm = append(harm, fmt.Sprintf("pid %d ended (state %q)", pid, ckptState(pid)))
			continue
		}
		if s := killsafeTracing(pid); s != "" {
			harm = append(harm, fmt.Sprintf("pid %d: %s", pid, s))
		}
		if s := killsafeState(pid); s != j.state[pid] {
			harm = append(harm, fmt.Sprintf("pid %d changed:\n%s\nwas:\n%s", pid, s, j.state[pid]))
		}
	}
	if kids := killsafeChildren(j.pid); ckptAlive(j.pid) && (len(kids) != 1 || kids[0] != j.child) {
		harm = append(harm, fmt.Sprintf("pid %d has children %v, want [%d]", j.pid, kids, j.child))
	}
	if kids := killsafeChildren(j.child); len(kids) != 0 {
		harm = append(harm, fmt.Sprintf("child %d has children %v, want none", j.child, kids))
	}
	return strings.Join(harm, "; ")
}

// finish ends the job (SIGUSR1) and returns what is wrong with its
// answer, "" if nothing.
func (j *killsafeJob) finish() string {
	syscall.Kill(j.child, syscall.SIGUSR1)
	syscall.Kill(j.pid, syscall.SIGUSR1)
	select {
	case <-j.done:
	case <-time.After(ckptDeadline):
		return fmt.Sprintf("killsafe_job %d: still running %v after SIGUSR1 (%s)", j.pid, ckptDeadline, killsafeTracing(j.pid))
	}
	if ws := j.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Sprintf("killsafe_job %d: %s", j.pid, ckptWaitString(ws))
	}
	f, err := os.Open(j.out)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	seeds := map[string]uint64{"main": 1000, "thread": 2000, "child": 3000}
	var bad []string
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var name, sum string
		var rounds uint64
		var maskok, actok int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %s %d %d", &name, &rounds, &sum, &maskok, &actok); err != nil {
			bad = append(bad, fmt.Sprintf("line %q: %v", sc.Text(), err))
			continue
		}
		if want := killsafeSum(seeds[name], rounds); sum != want {
			bad = append(bad, fmt.Sprintf("%s: got checksum %s after %d rounds, want %s", name, sum, rounds, want))
		}
		if maskok != 1 || actok != 1 {
			bad = append(bad, fmt.Sprintf("%s: saw its signal mask (ok %d) or SIGUSR1 action (ok %d) changed", name, maskok, actok))
		}
	}
	if n != 3 {
		bad = append(bad, fmt.Sprintf("got %d result lines, want 3", n))
	}
	return strings.Join(bad, "; ")
}

func TestKillsafe(t *testing.T) {
	ckptNeedRoot(t)
	prog, err := killsafeBuilt()
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name string
		// args: chkpnt's arguments for the job at pid, images in dir;
		// prep runs before the freeze that is killed.
		args []string
		prep []string
		log  bool // write a log of choices for -I log (every process saved)
	}{
		{name: "full", args: []string{"-r", "-F", "-f", "img"}},
		// -K: no twins; SIGCONT, which the job does not notice.
		{name: "signal", args: []string{"-r", "-F", "-K", "CONT", "-f", "img"}},
		{name: "track", args: []string{"-r", "-F", "-T", "-f", "img"}},
		{name: "incremental", prep: []string{"-r", "-F", "-T", "-f", "base"}, args: []string{"-r", "-F", "-b", "base", "-f", "img"}},
		// The guide's interactive mode, its log replayed: the choices
		// are made in chkpnt, the checkpoint in its guarded worker.
		{name: "replay", log: true, args: []string{"-r", "-F", "-I", "log", "-f", "img"}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			harmed, midway := 0, 0
			for i := 0; i < *killsafeKills; i++ {
				dir := t.TempDir()
				j := killsafeStart(t, prog, dir)
				pid := strconv.Itoa(j.pid)
				if v.log {
					log := fmt.Sprintf("%d killsafe_job checkpoint\n%d killsafe_job checkpoint\n", j.pid, j.child)
					if err := os.WriteFile(filepath.Join(dir, "log"), []byte(log), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if v.prep != nil {
					if r := ckptRun(t, dir, "chkpnt", append(v.prep, pid)...); r.code != 0 {
						t.Fatalf("chkpnt %v: %s", v.prep, r)
					}
					j.state = map[int]string{j.pid: killsafeState(j.pid), j.child: killsafeState(j.child)}
				}
				mark := fmt.Sprintf("LAZARUS_KILLSAFE=%d.%d", os.Getpid(), rand.Int64())
				cmd := exec.Command(bin("chkpnt"), append(v.args, pid)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), mark)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				victim := cmd.Process.Pid
				if *killsafeTracer {
					victim = killsafeWorker(cmd.Process.Pid, mark)
				}
				delay := time.Duration(rand.Int64N(int64(*killsafeDelay)))
				time.Sleep(delay)
				syscall.Kill(victim, syscall.SIGKILL)
				cmd.Wait()
				ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !cmd.ProcessState.Success() {
					midway++
				}
				// Whatever chkpnt started may still be at work.
				deadline := time.Now().Add(2 * ckptDeadline)
				for len(killsafeMarked(mark)) > 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if left := killsafeMarked(mark); len(left) > 0 {
					for _, p := range left {
						syscall.Kill(p, syscall.SIGKILL)
					}
					t.Errorf("kill %d after %v: processes of chkpnt %v still running after %v", i, delay, left, 2*ckptDeadline)
				}
				harm := j.check()
				if h := j.finish(); h != "" {
					harm = strings.TrimPrefix(harm+"; "+h, "; ")
				}
				if harm != "" {
					harmed++
					t.Errorf("kill %d after %v (chkpnt %s): %s", i, delay, ckptWaitString(ws), harm)
				}
			}
			t.Logf("%s: %d of %d kills of chkpnt (%d before it ended) harmed the job", v.name, harmed, *killsafeKills, midway)
		})
	}
}
