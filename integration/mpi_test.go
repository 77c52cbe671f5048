package integration

// End-to-end tests of real MPI jobs (Debian's Open MPI 4.1 and MPICH 4.0,
// .ci/run installs them): testdata/mpi/heat.c, a 2-D heat equation over 4
// ranks (halo exchange by MPI_Isend/MPI_Irecv, a ring by MPI_Sendrecv,
// MPI_Allreduce), run by mpirun, checkpointed midway as a whole tree with
// chkpnt -r -K KILL, restarted, and ending with the bytes an uninterrupted
// run writes.
//
// The launchers run as they ship, with what they need here and nothing
// that hides a part of them from the checkpoint:
//   - Open MPI refuses to run as root without --allow-run-as-root, and 4
//     ranks on 2 cores without --oversubscribe. Its ranks then talk over
//     shared memory (the vader BTL, segments in /dev/shm, single copies by
//     CMA), the ranks and mpirun over PMIx's unix sockets, each rank's
//     standard output goes through a pseudo-terminal to mpirun, and progress
//     threads wait in epoll sets with eventfds.
//   - MPICH's mpiexec (hydra) starts a hydra_pmi_proxy connected to it by
//     TCP over loopback; the ranks use UCX (shared memory in deleted
//     /dev/shm files, unix datagram sockets).
//   - TMPDIR is the test's directory: Open MPI's session directory (PMIx
//     rendezvous sockets, its files) and MPICH's go there, so that a run
//     killed by the checkpoint leaves nothing behind in /tmp. No OMPI_MCA_*
//     or MPIR_CVAR_* variable is set.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/proc"
	"lazarus/internal/testenv"
)

const (
	mpiRanks = 4
	mpiSteps = 150 // steps of a run
	mpiDelay = 40  // ms between steps
)

// mpiFlavour is one MPI implementation: its compiler and its launcher.
type mpiFlavour struct {
	name, cc, run string
	runArgs       []string // before the program
}

var mpiFlavours = []mpiFlavour{
	{"openmpi", "mpicc.openmpi", "mpirun.openmpi", []string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(mpiRanks)}},
	{"mpich", "mpicc.mpich", "mpiexec.mpich", []string{"-np", strconv.Itoa(mpiRanks)}},
}

// mpiBuild compiles testdata/mpi/heat.c with f's compiler.
func mpiBuild(t testing.TB, f mpiFlavour) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root: chkpnt and restart ptrace their targets")
	}
	for _, tool := range []string{f.cc, f.run} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "needs %s (.ci/run installs openmpi-bin, libopenmpi-dev, mpich and libmpich-dev)", tool)
		}
	}
	src, err := filepath.Abs(filepath.Join("testdata", "mpi", "heat.c"))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "heat-"+f.name)
	if out, err := exec.Command(f.cc, "-O2", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", f.cc, src, err, out)
	}
	return exe
}

// mpiCommand is the command line of a run of exe writing out.
func (f mpiFlavour) command(exe, out string, steps, delay int, extra ...string) []string {
	args := append([]string{f.run}, f.runArgs...)
	args = append(args, exe, out, strconv.Itoa(steps), strconv.Itoa(delay))
	return append(args, extra...)
}

// mpiEnv is the environment of a run in dir.
func mpiEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env, "TMPDIR="+dir)
}

// mpiReference runs args to the end (no delay) and returns what it wrote.
func mpiReference(t testing.TB, dir string, args []string, out string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, mpiEnv(dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "done ") {
		t.Fatalf("reference run wrote %q, want a last line done HASH", b)
	}
	return string(b)
}

// mpiStart starts args in dir with /dev/null for its standard descriptors
// (a pipe to the test would be outside the tree) and returns the root.
// Whatever is left of the tree (restarted with the same pids) is killed
// when the test ends.
func mpiStart(t *testing.T, dir string, args []string) *ckptProc {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, mpiEnv(dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	p := &ckptProc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		mpiKillTree(p.pid)
		<-p.done
	})
	return p
}

// mpiKillTree kills root and its descendants.
func mpiKillTree(root int) {
	pids, _ := proc.Descendants(root)
	for _, pid := range append(pids, root) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// mpiShm lists the files of /dev/shm; mpiCleanShm removes those of MPI a
// run killed by a checkpoint left there (nothing else removes them).
func mpiShm() map[string]bool {
	m := map[string]bool{}
	names, _ := filepath.Glob("/dev/shm/*")
	for _, n := range names {
		m[n] = true
	}
	return m
}

func mpiCleanShm(t *testing.T) {
	before := mpiShm()
	t.Cleanup(func() {
		for n := range mpiShm() {
			base := filepath.Base(n)
			if !before[n] && (strings.HasPrefix(base, "vader_segment.") || strings.HasPrefix(base, "ucx_") || strings.HasPrefix(base, "mpich_")) {
				os.Remove(n)
			}
		}
	})
}

// mpiRanksOf returns the pids of the ranks (processes running exe) under
// root, in pid order.
func mpiRanksOf(_ testing.TB, root int, exe string) []int {
	pids, _ := proc.Descendants(root)
	var ranks []int
	for _, pid := range pids {
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && got == exe {
			ranks = append(ranks, pid)
		}
	}
	return ranks
}

// mpiCheckpoint checkpoints the tree of root into dir with chkpnt -r -K
// KILL and returns the root image.
func mpiCheckpoint(t *testing.T, dir string, root int, extra ...string) string {
	t.Helper()
	args := append([]string{"-r", "-K", "KILL", "-d", dir}, extra...)
	r := ckptRun(t, dir, "chkpnt", append(args, strconv.Itoa(root))...)
	ckptWantCode(t, "chkpnt -r -K KILL", r, 0)
	imgs, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("*.%d", root)))
	if len(imgs) != 1 {
		t.Fatalf("root images in %s: %v, want one", dir, imgs)
	}
	return imgs[0]
}

// mpiWaitGone waits until none of pids exists, not even as a zombie (init
// reaps the killed tree when it gets to it; restart needs the pids again).
func mpiWaitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(ckptDeadline)
	for _, pid := range pids {
		for pidExists(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still exists %v after the kill", pid, ckptDeadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestMPICheckpointRestart: mpirun -np 4 of the heat equation under each
// MPI, checkpointed midway with chkpnt -r -K KILL and restarted: the ranks
// are back under their pids with their threads, restart says nothing, and
// the output is that of an uninterrupted run.
func TestMPICheckpointRestart(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, f := range mpiFlavours {
		t.Run(f.name, func(t *testing.T) {
			exe := mpiBuild(t, f)
			dir := t.TempDir()
			mpiCleanShm(t)
			ref := filepath.Join(dir, "ref.txt")
			want := mpiReference(t, dir, f.command(exe, ref, mpiSteps, 0), ref)
			out := filepath.Join(dir, "out.txt")
			p := mpiStart(t, dir, f.command(exe, out, mpiSteps, mpiDelay))
			waitLinesOf(t, out, 10)
			ranks := mpiRanksOf(t, p.pid, exe)
			if len(ranks) != mpiRanks {
				t.Fatalf("ranks under %s(%d): %v, want %d", f.run, p.pid, ranks, mpiRanks)
			}
			threads := map[int]int{}
			for _, r := range ranks {
				threads[r] = taskCount(r)
			}
			img := mpiCheckpoint(t, dir, p.pid)
			p.waitKilledBy(t, syscall.SIGKILL)
			mpiWaitGone(t, ranks)
			if lines := fileLines(out); lines >= mpiSteps {
				t.Fatalf("the run was over (%d lines) before the checkpoint", lines)
			}
			rs := ckptBackground(t, dir, "restart", "-W", img)
			r := rs.wait(t)
			ckptWantCode(t, "restart -W", r, 0)
			mpiQuiet(t, r)
			t.Cleanup(func() { mpiKillTree(p.pid) })
			got := mpiRanksOf(t, p.pid, exe)
			if fmt.Sprint(got) != fmt.Sprint(ranks) {
				t.Errorf("restarted ranks %v, want the old pids %v", got, ranks)
			}
			for _, rk := range got {
				if n := taskCount(rk); n != threads[rk] {
					t.Errorf("rank pid %d has %d threads after the restart, want %d", rk, n, threads[rk])
				}
			}
			mpiWaitOutput(t, out, want)
		})
	}
}

// TestMPICheckpointChain: the same run checkpointed twice, the second time
// after its first restart, and restarted from the second image.
func TestMPICheckpointChain(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, f := range mpiFlavours {
		t.Run(f.name, func(t *testing.T) {
			exe := mpiBuild(t, f)
			dir := t.TempDir()
			mpiCleanShm(t)
			ref := filepath.Join(dir, "ref.txt")
			want := mpiReference(t, dir, f.command(exe, ref, mpiSteps, 0), ref)
			out := filepath.Join(dir, "out.txt")
			p := mpiStart(t, dir, f.command(exe, out, mpiSteps, mpiDelay))
			waitLinesOf(t, out, 10)
			ranks := mpiRanksOf(t, p.pid, exe)
			first := filepath.Join(dir, "first")
			os.Mkdir(first, 0o755)
			img := mpiCheckpoint(t, first, p.pid)
			p.waitKilledBy(t, syscall.SIGKILL)
			mpiWaitGone(t, ranks)
			r := ckptRun(t, dir, "restart", "-W", img)
			ckptWantCode(t, "first restart -W", r, 0)
			t.Cleanup(func() { mpiKillTree(p.pid) })
			at := fileLines(out)
			waitLinesOf(t, out, at+20)
			second := filepath.Join(dir, "second")
			os.Mkdir(second, 0o755)
			img2 := mpiCheckpoint(t, second, p.pid)
			// restart -W made the restored mpirun our child (it took
			// restart's place): its end is ours to collect.
			ckptWaitChild(t, p.pid)
			mpiWaitGone(t, append(ranks, p.pid))
			if lines := fileLines(out); lines >= mpiSteps {
				t.Fatalf("the run was over (%d lines) before the second checkpoint", lines)
			}
			r = ckptRun(t, dir, "restart", img2)
			ckptWantCode(t, "second restart", r, 0)
			mpiQuiet(t, r)
			mpiWaitOutput(t, out, want)
		})
	}
}

// TestMPISingleton: a program linked with Open MPI run without mpirun
// (MPI_Init starts an orted for it, connected over TCP on loopback, and
// keeps a listener beside the connection it accepted) checkpoints
// without -F, and its restart ends as an uninterrupted run.
func TestMPISingleton(t *testing.T) {
	t.Parallel()
	heavy(t)
	f := mpiFlavours[0]
	exe := mpiBuild(t, f)
	dir := t.TempDir()
	mpiCleanShm(t)
	ref := filepath.Join(dir, "ref.txt")
	want := mpiReference(t, dir, []string{exe, ref, strconv.Itoa(mpiSteps), "0"}, ref)
	out := filepath.Join(dir, "out.txt")
	p := mpiStart(t, dir, []string{exe, out, strconv.Itoa(mpiSteps), strconv.Itoa(mpiDelay)})
	waitLinesOf(t, out, 10)
	tree, _ := proc.Descendants(p.pid)
	if len(tree) == 0 {
		t.Fatalf("the singleton %d has no orted child", p.pid)
	}
	// Nothing to refuse: the check alone passes without -F.
	ckptWantCode(t, "chkpnt -r -n", ckptRun(t, dir, "chkpnt", "-r", "-n", strconv.Itoa(p.pid)), 0)
	img := mpiCheckpoint(t, dir, p.pid)
	p.waitKilledBy(t, syscall.SIGKILL)
	mpiWaitGone(t, tree)
	r := ckptRun(t, dir, "restart", img)
	ckptWantCode(t, "restart", r, 0)
	mpiQuiet(t, r)
	mpiWaitOutput(t, out, want)
}

// waitLinesOf waits until path has n lines.
func waitLinesOf(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * ckptDeadline)
	for fileLines(path) < n {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s: %d lines after %v, want %d; it has %q", path, fileLines(path), 2*ckptDeadline, n, tailOf(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mpiWaitOutput waits for the run to write its last line and compares
// the whole output with an uninterrupted run's.
func mpiWaitOutput(t *testing.T, out, want string) {
	t.Helper()
	waitLinesOf(t, out, strings.Count(want, "\n"))
	time.Sleep(50 * time.Millisecond) // the last line is written whole: fflush of one line
	b, _ := os.ReadFile(out)
	if string(b) != want {
		t.Fatalf("output after restart differs from an uninterrupted run:\ngot  %q\nwant %q", tailOf(string(b)), tailOf(want))
	}
}

// taskCount is the number of threads of pid.
func taskCount(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(ents)
}

// pidExists reports whether pid is taken, by a process or a zombie.
func pidExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// mpiQuiet fails the test if restart warned of anything but the new names
// of the pseudo-terminals Open MPI forwards each rank's output through
// (the CONVEX ttyname caution: nothing in the tree kept the old names).
func mpiQuiet(t *testing.T, r ckptResult) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if l != "" && !ptyRenamed.MatchString(l) {
			t.Errorf("restart said %q, want nothing but new pty names", l)
		}
	}
}

var ptyRenamed = regexp.MustCompile(`^restart: warning: \S+\(\d+\) fd \d+: pseudo terminal /dev/pts/\d+ is now /dev/pts/\d+ `)

// newMPICmd is a run of args in dir with /dev/null for its standard
// descriptors.
func newMPICmd(dir string, args []string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, mpiEnv(dir)
	return cmd
}

// exec1 runs a command to its end and returns its standard error; it
// fails t unless the command exits 0.
func exec1(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}
