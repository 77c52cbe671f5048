package integration

// Real runtimes checkpointed in the middle of their work, with chkpnt and
// restart and as batch jobs, each ending with the bytes an uninterrupted
// run writes (testdata/runtimes; .ci/run installs what they need):
//
//   - blas.c: OpenBLAS dgemm and dgesv, its pthreads build and its OpenMP
//     build (libopenblas-pthread-dev, libopenblas-openmp-dev);
//   - sci.py: numpy (its BLAS: OpenBLAS) and scipy (sparse CG, FFT, ODE);
//   - pool.py: Python multiprocessing: a fork Pool, a Manager, a Queue to a
//     Process, a Lock and a Value (POSIX semaphores in /dev/shm, pipes, a
//     unix socket to the manager's server);
//   - fomp.f90: gfortran with OpenMP, 4 threads on 2 cores;
//   - fmpi.f90: mpif90 of Open MPI and of MPICH, 4 ranks on 2 cores, with
//     collectives, MPI-IO to a file kept open, and a 2 MiB MPI_Isend in
//     flight (announced, not yet received) while the run is frozen; Open MPI
//     also with its shared-memory BTL named (ob1, vader, CMA single copy);
//   - Churn.java: the JVM with G1 and with ParallelGC, -Xmx2g, 8 and 16
//     pool threads, JIT-compiled hot loops;
//   - workers.js: Node.js worker_threads with a SharedArrayBuffer.
//
// Each is checkpointed twice: once midway (chkpnt -r -K KILL), restarted
// (restart -W), checkpointed again from the restarted run and restarted
// from that second image. Before the first restart of pool.py, of Open MPI
// with vader and of MPICH, the files of /dev/shm they map or hold open
// (semaphores, shared-memory transport segments) are removed, as a reboot
// empties tmpfs (runtimeCase.reboot).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"lazarus/internal/proc"
	"lazarus/internal/testenv"
)

// runtimeCase is one program of a runtime: how to build it (in dir) and
// the command line of a run writing out (and data, for MPI-IO) with
// steps steps delay ms apart.
type runtimeCase struct {
	name  string
	steps int
	env   []string
	build func(t *testing.T, dir string) func(out, data string, steps, delay int) []string
	data  bool // the run also writes data (MPI-IO): compared too
	// reboot: the files of /dev/shm the run maps or holds open are
	// removed before the first restart, as a reboot empties tmpfs.
	reboot bool
}

// runtimeTool returns the path of the first of names found, or makes the
// test unavailable naming the packages that provide it.
func runtimeTool(t testing.TB, pkgs string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	unavailable(t, "needs %s (.ci/run installs %s)", names[0], pkgs)
	return ""
}

// runtimeSrc is the absolute path of testdata/runtimes/name.
func runtimeSrc(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "runtimes", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runtimeCompile runs a compiler and fails t with its output.
func runtimeCompile(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// scipyPython is a python3 that imports numpy and scipy (Debian's
// python3-numpy and python3-scipy are /usr/bin/python3's: another python3
// first in PATH may not have them).
func scipyPython(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import numpy, scipy.sparse.linalg").Run() == nil {
			return py
		}
	}
	unavailable(t, "needs a python3 with numpy and scipy (.ci/run installs python3-numpy and python3-scipy)")
	return ""
}

func openblasCase(variant string) runtimeCase {
	return runtimeCase{
		name:  "openblas-" + variant,
		steps: 60,
		env:   []string{"OPENBLAS_NUM_THREADS=4", "OMP_NUM_THREADS=4"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			lib := "/usr/lib/x86_64-linux-gnu/openblas-" + variant
			if _, err := os.Stat(filepath.Join(lib, "libopenblas.so")); err != nil {
				unavailable(t, "needs %s (.ci/run installs libopenblas-%s-dev)", lib, variant)
			}
			exe := filepath.Join(dir, "blas-"+variant)
			args := []string{"gcc", "-O2", "-I/usr/include/x86_64-linux-gnu/openblas-" + variant, "-o", exe, runtimeSrc(t, "blas.c"),
				"-L" + lib, "-Wl,-rpath," + lib, "-lopenblas"}
			if variant == "openmp" {
				args = append(args, "-fopenmp")
			}
			runtimeCompile(t, args...)
			return func(out, _ string, steps, delay int) []string {
				return []string{exe, out, strconv.Itoa(steps), strconv.Itoa(delay), "600"}
			}
		},
	}
}

func pythonCase(name, script string) runtimeCase {
	return runtimeCase{
		name:  name,
		steps: 50,
		env:   []string{"OPENBLAS_NUM_THREADS=2"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			py := scipyPython(t)
			src := runtimeSrc(t, script)
			return func(out, _ string, steps, delay int) []string {
				return []string{py, src, out, strconv.Itoa(steps), strconv.Itoa(delay)}
			}
		},
	}
}

func fortranMPICase(f mpiFlavour, name string, mca ...string) runtimeCase {
	return runtimeCase{
		name:  name,
		steps: 60,
		data:  true,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			fc := strings.Replace(f.cc, "mpicc", "mpif90", 1)
			runtimeTool(t, "openmpi-bin, libopenmpi-dev, mpich and libmpich-dev", fc)
			runtimeTool(t, "openmpi-bin and mpich", f.run)
			exe := filepath.Join(dir, "fmpi-"+f.name)
			runtimeCompile(t, fc, "-O2", "-o", exe, runtimeSrc(t, "fmpi.f90"))
			return func(out, data string, steps, delay int) []string {
				args := append([]string{f.run}, f.runArgs...)
				args = append(args, mca...)
				return append(args, exe, out, data, strconv.Itoa(steps), strconv.Itoa(delay))
			}
		},
	}
}

func javaCase(name string, threads int, jvm ...string) runtimeCase {
	return runtimeCase{
		name:  name,
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			java := runtimeTool(t, "default-jdk-headless", "java")
			runtimeCompile(t, runtimeTool(t, "default-jdk-headless", "javac"), "-d", dir, runtimeSrc(t, "Churn.java"))
			return func(out, _ string, steps, delay int) []string {
				args := append([]string{java}, jvm...)
				return append(args, "-cp", dir, "Churn", out, strconv.Itoa(steps), strconv.Itoa(threads), strconv.Itoa(delay))
			}
		},
	}
}

var runtimeCases = []runtimeCase{
	openblasCase("pthread"),
	openblasCase("openmp"),
	pythonCase("numpy-scipy", "sci.py"),
	withReboot(pythonCase("multiprocessing", "pool.py")),
	{
		name:  "gfortran-openmp",
		steps: 60,
		env:   []string{"OMP_NUM_THREADS=4"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			fc := runtimeTool(t, "gfortran", "gfortran")
			exe := filepath.Join(dir, "fomp")
			runtimeCompile(t, fc, "-O2", "-fopenmp", "-o", exe, runtimeSrc(t, "fomp.f90"))
			return func(out, _ string, steps, delay int) []string {
				return []string{exe, out, strconv.Itoa(steps), strconv.Itoa(delay)}
			}
		},
	},
	fortranMPICase(mpiFlavours[0], "mpif90-openmpi"),
	withReboot(fortranMPICase(mpiFlavours[0], "mpif90-openmpi-vader", "--mca", "pml", "ob1", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "cma")),
	withReboot(fortranMPICase(mpiFlavours[1], "mpif90-mpich")),
	javaCase("jvm-g1", 8, "-XX:+UseG1GC", "-Xmx2g"),
	javaCase("jvm-parallel", 16, "-XX:+UseParallelGC", "-Xmx2g", "-Xms1g"),
	{
		name:  "node-workers",
		steps: 60,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			node := runtimeTool(t, "nodejs", "node", "nodejs")
			src := runtimeSrc(t, "workers.js")
			return func(out, _ string, steps, delay int) []string {
				return []string{node, src, out, strconv.Itoa(steps), strconv.Itoa(delay)}
			}
		},
	},
}

// runtimeDelay is the pause of a checkpointed run between steps (ms).
const runtimeDelay = 60

// unavailable makes the test unavailable (a skip, a failure under CI).
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Unavailable(t, format, args...)
}

// runtimeStart starts args in dir (TMPDIR=dir, env added) with /dev/null
// for its standard descriptors; what is left of its tree is killed when
// the test ends.
func runtimeStart(t *testing.T, dir string, env, args []string) *ckptProc {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, append(mpiEnv(dir), env...)
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

// runtimeReference runs args to the end and returns what it wrote to out
// (and to data, if it writes there).
func runtimeReference(t *testing.T, dir string, env, args []string, out, data string) (string, string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, append(mpiEnv(dir), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "done") {
		t.Fatalf("reference run wrote %q, want a last line done", tailOf(string(b)))
	}
	d, _ := os.ReadFile(data)
	return string(b), string(d)
}

// tree is root and its descendants.
func tree(root int) []int {
	pids, _ := proc.Descendants(root)
	return append(pids, root)
}

// runtimeShmFiles lists the files of /dev/shm that processes pids map or
// hold open.
func runtimeShmFiles(pids []int) []string {
	seen := map[string]bool{}
	for _, pid := range pids {
		maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		for _, l := range strings.Split(string(maps), "\n") {
			if i := strings.Index(l, " /dev/shm/"); i >= 0 {
				seen[strings.TrimSuffix(l[i+1:], " (deleted)")] = true
			}
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasPrefix(l, "/dev/shm/") {
				seen[strings.TrimSuffix(l, " (deleted)")] = true
			}
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	return out
}

// TestRuntimeCheckpointChain: each runtime checkpointed midway with
// chkpnt -r -K KILL, restarted with restart -W, checkpointed again from
// the restarted run, restarted from that second image, and ending with
// the output (and MPI-IO file) of an uninterrupted run.
func TestRuntimeCheckpointChain(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, c := range runtimeCases {
		t.Run(c.name, func(t *testing.T) { runtimeChain(t, c) })
	}
}

// runtimeChain is one case of TestRuntimeCheckpointChain (runtimes2_test.go
// runs its own cases through it).
func runtimeChain(t *testing.T, c runtimeCase) {
	batchNeedRoot(t)
	dir := t.TempDir()
	mpiCleanShm(t)
	cmdline := c.build(t, dir)
	ref, refData := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "ref.data")
	want, wantData := runtimeReference(t, dir, c.env, cmdline(ref, refData, c.steps, 0), ref, refData)
	out, data := filepath.Join(dir, "out.txt"), filepath.Join(dir, "out.data")
	p := runtimeStart(t, dir, c.env, cmdline(out, data, c.steps, runtimeDelay))
	waitLinesOf(t, out, 10)
	first := filepath.Join(dir, "first")
	os.Mkdir(first, 0o755)
	pids := tree(p.pid)
	var shm []string
	if c.reboot {
		if shm = runtimeShmFiles(pids); len(shm) == 0 {
			t.Fatalf("the run (%v) uses no file of /dev/shm", pids)
		}
	}
	img := mpiCheckpoint(t, first, p.pid)
	p.waitKilledBy(t, syscall.SIGKILL)
	mpiWaitGone(t, pids)
	for _, f := range shm {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(f) })
	}
	at := fileLines(out)
	if at >= c.steps {
		t.Fatalf("the run was over (%d lines) before the checkpoint", at)
	}
	r := ckptRun(t, dir, "restart", "-W", img)
	ckptWantCode(t, "first restart -W", r, 0)
	mpiQuiet(t, r)
	t.Cleanup(func() { mpiKillTree(p.pid) })
	waitLinesOf(t, out, at+10)
	second := filepath.Join(dir, "second")
	os.Mkdir(second, 0o755)
	pids = tree(p.pid)
	img2 := mpiCheckpoint(t, second, p.pid)
	ckptWaitChild(t, p.pid) // restart -W made it our child
	mpiWaitGone(t, pids)
	if lines := fileLines(out); lines >= c.steps {
		t.Fatalf("the run was over (%d lines) before the second checkpoint", lines)
	}
	r = ckptRun(t, dir, "restart", img2)
	ckptWantCode(t, "second restart", r, 0)
	mpiQuiet(t, r)
	mpiWaitOutput(t, out, want)
	if c.data {
		if got, _ := os.ReadFile(data); string(got) != wantData {
			t.Errorf("the MPI-IO file after the restarts (%d bytes) differs from an uninterrupted run's (%d bytes)", len(got), len(wantData))
		}
	}
}

// TestBatchRuntimes: each runtime as a batch job (with -l net=private, so
// that a restart after the power cut finds its listeners' ports free):
// held while it runs (qhold: checkpointed and stopped), released (qrls:
// restarted from that checkpoint), checkpointed again while it runs
// (qchkpnt), then a power cut; the daemon's next start restarts it from
// that newest checkpoint and it ends as an uninterrupted run.
func TestBatchRuntimes(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, c := range runtimeCases {
		t.Run(c.name, func(t *testing.T) { runtimeBatch(t, c) })
	}
}

// runtimeBatch is one case of TestBatchRuntimes (runtimes2_test.go runs
// its own cases through it).
func runtimeBatch(t *testing.T, c runtimeCase) {
	batchNeedRoot(t)
	mpiCleanShm(t)
	b := newBatch(t, "")
	cmdline := c.build(t, b.work)
	script := func(out, data string, delay int) string {
		return fmt.Sprintf("#!/bin/sh\nexport TMPDIR=%s %s\n%s\necho runtime over\n", b.work, strings.Join(c.env, " "),
			shellWords(cmdline(out, data, c.steps, delay)))
	}
	// The reference is an uninterrupted job: a job's CPU set and
	// limits can change a threaded library's split of the work
	// (OpenBLAS's OpenMP build), and with it the rounding.
	ref, refData := filepath.Join(b.work, "ref.txt"), filepath.Join(b.work, "ref.data")
	refID := b.qsub("-l", "net=private", b.script("ref.sh", script(ref, refData, 0)))
	if j := b.waitState(refID, "finished", "failed"); j.State != "finished" {
		t.Fatalf("the reference job: %+v", j)
	}
	wantBytes, _ := os.ReadFile(ref)
	wantDataBytes, _ := os.ReadFile(refData)
	want, wantData := string(wantBytes), string(wantDataBytes)
	if !strings.Contains(want, "done") {
		t.Fatalf("the reference job wrote %q, want a last line done", tailOf(want))
	}
	out, data := filepath.Join(b.work, "out.txt"), filepath.Join(b.work, "out.data")
	id := b.qsub("-l", "net=private", b.script(c.name+".sh", script(out, data, runtimeDelay)))
	b.waitState(id, "running")
	b.waitLines(out, 10)
	if r := b.run("qhold", jobArg(id)); r.code != 0 {
		t.Fatalf("qhold: %v", r)
	}
	b.waitState(id, "held")
	held := fileLines(out)
	if held >= c.steps {
		t.Fatalf("the job was over (%d lines) before qhold", held)
	}
	b.mustRun("qrls", jobArg(id))
	b.waitState(id, "running")
	b.waitLines(out, held+10)
	// A checkpoint of a running job is refused, the job running on,
	// when the program changes a mapping's fork behaviour as it
	// begins (V8 does, in Node's workers): the message says to
	// checkpoint again, and so does the test, a few times.
	for try := 1; ; try++ {
		r := b.run("qchkpnt", jobArg(id))
		if r.code == 0 {
			break
		}
		if try == 5 || !strings.Contains(r.stderr, "checkpoint again") {
			t.Fatalf("qchkpnt (try %d): %v", try, r)
		}
	}
	b.crash()
	if fileLines(out) >= c.steps {
		t.Fatalf("the job was over before the power cut")
	}
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 3 || !j.Segments[1].Restart || !j.Segments[2].Restart || j.Segments[2].Generation < 2 {
		t.Fatalf("job after qhold, qrls, qchkpnt and a power cut: %+v", j)
	}
	mpiWaitOutput(t, out, want)
	if c.data {
		if got, _ := os.ReadFile(data); string(got) != wantData {
			t.Errorf("the MPI-IO file after the restarts (%d bytes) differs from an uninterrupted run's (%d bytes)", len(got), len(wantData))
		}
	}
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("%s.sh.o%d", c.name, id))); !strings.HasSuffix(got, "runtime over\n") {
		t.Errorf("the script's output: %q", got)
	}
}

// shellWords is args as one line of sh: each word quoted that needs it.
func shellWords(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = a
		if a == "" || strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.,:=+-") != "" {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}
