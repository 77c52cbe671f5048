package integration

// Real MPI applications, as Debian ships them (.ci/run installs lammps,
// hpcc and python3-mpi4py), checkpointed midway as a whole tree with chkpnt -r -K
// KILL and restarted: what they write after the restart is what an
// uninterrupted run writes. Beside heat.c (mpi_test.go), which we wrote,
// these are programs we did not: LAMMPS (C++, its own domain decomposition,
// neighbour lists, MPI_Sendrecv/Irecv halo exchanges and Allreduce every
// step, a log file it flushes), HPCC (HPL, FFT, RandomAccess, ...) and
// mpi4py (a Python interpreter in each rank, pickled objects and buffers
// over Open MPI).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/proc"
	"lazarus/internal/testenv"
)

// mpiRealDeadline bounds each wait of these runs: real programs on a
// loaded 2-core machine.
const mpiRealDeadline = 4 * ckptDeadline

// waitUntil polls cond until it holds, failing after mpiRealDeadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(mpiRealDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, mpiRealDeadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mpiNeed fails (CI) or skips the test unless it runs as root and has the
// tools.
func mpiNeed(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root: chkpnt and restart ptrace their targets")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "needs %s (.ci/run installs lammps, python3-mpi4py and openmpi-bin)", tool)
		}
	}
}

// mpiShell is a command line run by sh -c with standard output and error
// into out: the launcher's output is the job's, as a batch job's is.
func mpiShell(cmdline, out string) []string {
	return []string{"/bin/sh", "-c", "exec " + cmdline + " > " + out + " 2>&1 < /dev/null"}
}

// mpiRealRun runs cmd (a shell command line with {OUT} for its output
// file) once to the end as the reference, then again, checkpointed with
// chkpnt -r -K KILL once ready says the run is under way, restarted, and
// waited for until done says it is over. keep selects the lines compared
// (what does not depend on the wall clock). Returns the run's directory.
func mpiRealRun(t *testing.T, cmd string, files []string, ready, done func(dir string) bool, keep func(line string) bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", "mpi", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mpiCleanShm(t)
	refCmd := exec.Command("/bin/sh", "-c", strings.ReplaceAll(cmd, "{OUT}", "ref")+" > ref.out 2>&1 < /dev/null")
	refCmd.Dir, refCmd.Env = dir, mpiEnv(dir)
	if b, err := refCmd.CombinedOutput(); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "ref.out"))
		t.Fatalf("reference run: %v\n%s%s", err, b, tailOf(string(out)))
	}
	p := mpiStart(t, dir, mpiShell(strings.ReplaceAll(cmd, "{OUT}", "run"), filepath.Join(dir, "run.out")))
	waitUntil(t, "the run to be under way", func() bool { return ready(dir) })
	if done(dir) {
		t.Fatal("the run was over before the checkpoint")
	}
	mpiRealRestart(t, dir, p)
	if !done(dir) {
		out, _ := os.ReadFile(filepath.Join(dir, "run.out"))
		t.Fatalf("the restarted run ended before its end:\n%s", tailOf(string(out)))
	}
	for _, name := range []string{"out", "log"} {
		want, err := os.ReadFile(filepath.Join(dir, "ref."+name))
		if err != nil {
			continue // this program writes no log
		}
		got, _ := os.ReadFile(filepath.Join(dir, "run."+name))
		if g, w := keptLines(string(got), keep), keptLines(string(want), keep); g != w {
			t.Errorf("run.%s after the restart differs from an uninterrupted run:\ngot:\n%s\nwant:\n%s", name, g, w)
		}
		if strings.Count(keptLines(string(want), keep), "\n") < 5 {
			t.Errorf("ref.%s has too few lines to compare:\n%s", name, want)
		}
	}
	return dir
}

func keptLines(s string, keep func(string) bool) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if keep(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// lammpsThermo is a line of LAMMPS's thermo table (step and quantities);
// the rest of what it writes is timings, or said once before the run.
var lammpsThermo = regexp.MustCompile(`^\s+\d+\s+-?\d[-+.\deE]*(\s+-?\d[-+.\deE]*)+\s*$`)

// TestMPIRealLAMMPS: Debian's LAMMPS (lmp, Open MPI) runs the
// Lennard-Jones melt of its bench directory on 2 ranks; checkpointed after
// its first thermo lines, restarted, its thermo table (screen and log) is
// that of an uninterrupted run, to the last digit.
func TestMPIRealLAMMPS(t *testing.T) {
	t.Parallel()
	heavy(t)
	mpiNeed(t, "lmp", "mpirun.openmpi")
	thermoLines := func(path string) int {
		b, _ := os.ReadFile(path)
		return strings.Count(keptLines(string(b), lammpsThermo.MatchString), "\n")
	}
	cmd := "mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 lmp -in in.lj -log {OUT}.log"
	mpiRealRun(t, cmd, []string{"in.lj"},
		func(dir string) bool { return thermoLines(filepath.Join(dir, "run.log")) >= 3 },
		func(dir string) bool {
			b, _ := os.ReadFile(filepath.Join(dir, "run.log"))
			return strings.Contains(string(b), "Total wall time")
		},
		lammpsThermo.MatchString)
}

// TestMPIRealMPI4Py: Debian's python3 with mpi4py on 2 ranks: point to
// point pickled objects around a ring, buffer Allreduce and Bcast, a
// Barrier, every step; checkpointed midway, restarted, rank 0's lines are
// those of an uninterrupted run.
func TestMPIRealMPI4Py(t *testing.T) {
	t.Parallel()
	heavy(t)
	mpiNeed(t, "/usr/bin/python3", "mpirun.openmpi")
	if err := exec.Command("/usr/bin/python3", "-c", "import mpi4py").Run(); err != nil {
		testenv.Unavailable(t, "needs mpi4py for /usr/bin/python3 (.ci/run installs python3-mpi4py)")
	}
	lines := func(dir string) int { return fileLines(filepath.Join(dir, "run.out")) }
	cmd := "mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 /usr/bin/python3 ring.py"
	mpiRealRun(t, cmd, []string{"ring.py"},
		func(dir string) bool { return lines(dir) >= 10 },
		func(dir string) bool {
			b, _ := os.ReadFile(filepath.Join(dir, "run.out"))
			return strings.Contains(string(b), "ring done ")
		},
		func(l string) bool { return strings.HasPrefix(l, "ring ") })
}

// TestBatchMPIRealLAMMPS: LAMMPS from a PBS script as users write it (no
// -l net=private, nothing set for us), checkpointed by qchkpnt, then a
// power cut: the daemon restarts it from the checkpoint and its log's
// thermo table is that of an uninterrupted run.
func TestBatchMPIRealLAMMPS(t *testing.T) {
	t.Parallel()
	heavy(t)
	mpiNeed(t, "lmp", "mpirun.openmpi")
	mpiCleanShm(t)
	b := newBatch(t, "")
	in, err := os.ReadFile(filepath.Join("testdata", "mpi", "in.lj"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.work, "in.lj"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := exec.Command("/bin/sh", "-c", "mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 lmp -in in.lj -log ref.log > ref.out 2>&1 < /dev/null")
	ref.Dir, ref.Env = b.work, mpiEnv(b.work)
	if out, err := ref.CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	script := b.script("lj.pbs", `#!/bin/bash
#PBS -N lj
#PBS -l select=1:ncpus=2:mpiprocs=2
#PBS -l walltime=00:30:00
#PBS -j oe
cd $PBS_O_WORKDIR
mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 lmp -in in.lj -log run.log
echo "lammps exit $?"
`)
	id := b.qsub(script)
	b.waitState(id, "running")
	log := filepath.Join(b.work, "run.log")
	thermo := func() int {
		return strings.Count(keptLines(b.readFile(log), lammpsThermo.MatchString), "\n")
	}
	b.waitFor("3 thermo lines", func() bool { return thermo() >= 3 })
	b.mustRun("qchkpnt", jobArg(id))
	b.crash()
	if strings.Contains(b.readFile(log), "Total wall time") {
		t.Fatal("the run was over before the power cut")
	}
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after qchkpnt and a power cut: %+v", j)
	}
	if got, want := keptLines(b.readFile(log), lammpsThermo.MatchString), keptLines(b.readFile(filepath.Join(b.work, "ref.log")), lammpsThermo.MatchString); got != want {
		t.Errorf("run.log after the restart:\n%s\nwant:\n%s", got, want)
	}
	if got := b.readFile(filepath.Join(b.work, "lj.o"+jobArg(id))); !strings.Contains(got, "lammps exit 0\n") || strings.Contains(got, "Forwarding signal") {
		t.Errorf("the job's output:\n%s", got)
	}
}

// TestBatchMPIHostNet: the heat equation under MPICH (hydra's proxy talks
// to mpiexec over TCP on loopback) as a plain PBS script, in the host's
// network namespace (no -l net=private): checkpointed by qchkpnt, then a
// power cut; the daemon restarts it and it ends as an uninterrupted run.
// (Open MPI's listener is the one that met its port held by the dead
// connections: TestBatchMPIRealLAMMPS.)
func TestBatchMPIHostNet(t *testing.T) {
	t.Parallel()
	heavy(t)
	f := mpiFlavours[1]
	exe := mpiBuild(t, f)
	mpiCleanShm(t)
	b := newBatch(t, "")
	const steps = 300
	ref := filepath.Join(b.work, "ref.txt")
	want := mpiReference(t, b.work, f.command(exe, ref, steps, 0), ref)
	out := filepath.Join(b.work, "heat.txt")
	script := b.script("heat.pbs", "#!/bin/sh\n#PBS -l select=1:ncpus=2:mpiprocs=4\ncd $PBS_O_WORKDIR\n"+strings.Join(f.command(exe, out, steps, mpiDelay), " ")+"\necho mpi over\n")
	id := b.qsub(script)
	b.waitState(id, "running")
	b.waitLines(out, 10)
	b.mustRun("qchkpnt", jobArg(id))
	b.crash()
	if fileLines(out) >= steps {
		t.Fatal("the run was over before the power cut")
	}
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after qchkpnt and a power cut: %+v", j)
	}
	mpiWaitOutput(t, out, want)
}

// mpiRealRestart checkpoints the tree of p with chkpnt -r -K KILL,
// restarts it with restart -W -k 0 and waits for the restored launcher
// (restart -W puts it in its place: it is ours to reap) to end with 0.
func mpiRealRestart(t *testing.T, dir string, p *ckptProc) {
	t.Helper()
	ranks, _ := proc.Descendants(p.pid)
	img := mpiCheckpoint(t, dir, p.pid)
	p.waitKilledBy(t, syscall.SIGKILL)
	mpiWaitGone(t, ranks)
	r := ckptBackground(t, dir, "restart", "-W", "-k", "0", img).wait(t)
	ckptWantCode(t, "restart -W -k 0", r, 0)
	mpiQuiet(t, r)
	t.Cleanup(func() { mpiKillTree(p.pid) })
	var ws syscall.WaitStatus
	waitUntil(t, "the restarted run to end", func() bool {
		pid, err := syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		return pid == p.pid || (err != nil && !pidExists(p.pid))
	})
	if !ws.Exited() || ws.ExitStatus() != 0 {
		out, _ := os.ReadFile(filepath.Join(dir, "run.out"))
		t.Errorf("the restarted launcher ended with %v, want exit 0; its output:\n%s", ws, tailOf(string(out)))
	}
}

// TestMPIRealHPCC: Debian's HPC Challenge (hpcc, Open MPI) with its
// example input on 4 ranks: HPL, DGEMM, STREAM, PTRANS, RandomAccess,
// FFT and the latency/bandwidth rings, each with its own pattern of
// collectives and point to point traffic. Checkpointed early in the run
// and restarted, every section ends and every residual check passes (its
// figures are timings: only the checks are looked at).
func TestMPIRealHPCC(t *testing.T) {
	t.Parallel()
	heavy(t)
	mpiNeed(t, "hpcc", "mpirun.openmpi")
	dir := t.TempDir()
	in, err := os.ReadFile(filepath.Join("testdata", "mpi", "hpccinf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hpccinf.txt"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	mpiCleanShm(t)
	report := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "hpccoutf.txt"))
		return string(b)
	}
	hpcc, _ := exec.LookPath("hpcc")
	hpcc, _ = filepath.EvalSymlinks(hpcc)
	p := mpiStart(t, dir, mpiShell("mpirun.openmpi --allow-run-as-root --oversubscribe -np 4 hpcc", filepath.Join(dir, "run.out")))
	// Rank 0 opens its report as it begins; the ranks then compute.
	waitUntil(t, "4 ranks and their report", func() bool {
		_, err := os.Stat(filepath.Join(dir, "hpccoutf.txt"))
		return err == nil && len(mpiRanksOf(t, p.pid, hpcc)) == 4
	})
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(report(), "End of HPC Challenge tests") {
		t.Fatal("the run was over before the checkpoint")
	}
	mpiRealRestart(t, dir, p)
	got := report()
	for _, want := range []string{"End of HPL section", "End of PTRANS section", "End of MPIFFT section",
		"End of MPIRandomAccess section", "End of StarSTREAM section", "End of LatencyBandwidth section", "End of HPC Challenge tests"} {
		if !strings.Contains(got, want) {
			t.Errorf("hpccoutf.txt after the restart lacks %q", want)
		}
	}
	if strings.Contains(got, "FAILED") || !strings.Contains(got, "0 tests completed and failed residual checks") {
		t.Errorf("hpccoutf.txt after the restart: a residual check failed:\n%s", tailOf(got))
	}
}
