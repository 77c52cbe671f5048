package integration

// More real runtimes checkpointed in the middle of their work, through the
// same chain (runtimeChain: chkpnt -r -K KILL, restart -W, a second
// checkpoint of the restarted run and a restart from it) and batch life
// (runtimeBatch: qhold, qrls, qchkpnt, a power cut) as runtimes_test.go,
// each ending with the bytes an uninterrupted run writes
// (testdata/runtimes2; .ci/run installs what they need). Chosen for what
// they ask of the engine:
//
//   - Churn.java under ZGC (its heap is one memfd mapped shared at three
//     addresses, the multi-mapped views of its coloured pointers; also
//     with the whole heap pre-touched), Shenandoah, SerialGC with -XX:+AlwaysPreTouch (every heap page
//     present) and -XX:+UseTransparentHugePages (huge-page advice on the
//     heap), and with an application CDS archive (a file mapped at a
//     fixed address) on the C1 tier only (-XX:TieredStopAtLevel=1), and
//     C2 only (-XX:-TieredCompilation);
//   - spin.go: Go, 16 goroutines over GOMAXPROCS=4 on 2 cores, call-free
//     loops preempted by SIGURG for every collection, timers, an os/exec
//     child on pipes (the runtime's pidfd of it, its netpoller);
//   - netio.py: Python threads and asyncio, a TCP server and its clients
//     inside the run with their connections open across the checkpoint;
//   - shm.py: multiprocessing by forkserver (a server process on a unix
//     socket) and spawn, with a shared_memory.SharedMemory block in
//     /dev/shm and its resource tracker; the block's file (mapped, and
//     held open by every process that attached it) is removed before the
//     first restart, as a reboot would;
//   - forks.pl: Perl with forked children on pipes and socketpairs, a
//     SIGCHLD handler and an ITIMER_REAL ticking;
//   - ring.erl: Erlang/OTP with 4 scheduler threads, a ring of processes,
//     ETS, timers and a gen_tcp connection to its own listener
//     (erlang-base);
//   - mat.R: R's matrix products, solve and QR (r-base-core; its BLAS), with forked parallel::mclapply workers each step;
//   - wal.py: SQLite in WAL mode written across the checkpoint: its -wal
//     log and -shm index (a shared mapping of a file), its POSIX locks;
//   - h5.py: HDF5 through h5py, the file kept open across the checkpoint;
//   - omp.c: OpenMP on LLVM's libomp (libomp-dev), 4 threads on 2 cores;
//   - jit.py: numba, kernels compiled by LLVM into executable memory while
//     the run goes on, one parallel over 4 threads (python3-numba);
//   - nbody.py: PyPy, its tracing JIT and moving GC, threads under its GIL
//     (pypy3).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// runtime2Src is the absolute path of testdata/runtimes2/name.
func runtime2Src(t testing.TB, name string) string {
	t.Helper()
	return runtimeSrc(t, filepath.Join("..", "runtimes2", name))
}

// runtime2Cmd is a case whose command line is args followed by out (and
// data, if withData), steps and delay.
func runtime2Cmd(withData bool, args ...string) func(out, data string, steps, delay int) []string {
	return func(out, data string, steps, delay int) []string {
		cmd := append(append([]string{}, args...), out)
		if withData {
			cmd = append(cmd, data)
		}
		return append(cmd, strconv.Itoa(steps), strconv.Itoa(delay))
	}
}

// javaCDSCase is Churn.java started from an application class-data
// archive dumped by a short run of its own (-XX:ArchiveClassesAtExit):
// the archive is mapped from its file at the address it was dumped for.
func javaCDSCase(name string, threads int, jvm ...string) runtimeCase {
	return runtimeCase{
		name:  name,
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			java := runtimeTool(t, "default-jdk-headless", "java")
			classes := filepath.Join(dir, "classes")
			runtimeCompile(t, runtimeTool(t, "default-jdk-headless", "javac"), "-d", classes, runtimeSrc(t, "Churn.java"))
			// An archive takes its classes from jars (or empty directories).
			jar, jsa := filepath.Join(dir, "churn.jar"), filepath.Join(dir, "churn.jsa")
			runtimeCompile(t, runtimeTool(t, "default-jdk-headless", "jar"), "cf", jar, "-C", classes, ".")
			runtimeCompile(t, java, "-XX:ArchiveClassesAtExit="+jsa, "-cp", jar, "Churn", filepath.Join(dir, "dump.txt"), "2", "2", "0")
			if _, err := os.Stat(jsa); err != nil {
				t.Fatalf("the JVM dumped no CDS archive: %v", err)
			}
			return func(out, _ string, steps, delay int) []string {
				args := append([]string{java, "-Xshare:on", "-XX:SharedArchiveFile=" + jsa}, jvm...)
				return append(args, "-cp", jar, "Churn", out, strconv.Itoa(steps), strconv.Itoa(threads), strconv.Itoa(delay))
			}
		},
	}
}

// python2Case runs testdata/runtimes2/script under a python3 with numpy
// (Debian's, as the packages of .ci/run are /usr/bin/python3's).
func python2Case(name, script string, withData bool, imports string) runtimeCase {
	return runtimeCase{
		name:  name,
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			py := scipyPython(t)
			if imports != "" {
				if exec.Command(py, "-c", "import "+imports).Run() != nil {
					unavailable(t, "needs python3 module %s (.ci/run installs python3-%s)", imports, imports)
				}
			}
			return runtime2Cmd(withData, py, runtime2Src(t, script))
		},
	}
}

// withReboot is c with its files of /dev/shm removed before the first
// restart (runtimeCase.reboot).
func withReboot(c runtimeCase) runtimeCase {
	c.reboot = true
	return c
}

// withEnv is c with env added to its environment.
func withEnv(c runtimeCase, env ...string) runtimeCase {
	c.env = append(append([]string{}, c.env...), env...)
	return c
}

// inPIDNamespace is c run by `unshare -fp --mount-proc sh -c ...`: a
// shell is pid 1 of a PID namespace the tree made itself, with a /proc of
// its own (ckpt/pidns.go), and runs the program (a program that is pid 1
// gets no signal it has no handler for: Python's multiprocessing does not
// end there); as a batch job, one level below the job's.
func inPIDNamespace(c runtimeCase) runtimeCase {
	build := c.build
	c.name += "-pidns" // short: the unix socket paths under TMPDIR
	c.build = func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
		unshare := runtimeTool(t, "util-linux", "unshare")
		cmdline := build(t, dir)
		return func(out, data string, steps, delay int) []string {
			sh := []string{unshare, "-fp", "--mount-proc", "/bin/sh", "-c", `"$@"; exit $?`, "sh"}
			return append(sh, cmdline(out, data, steps, delay)...)
		}
	}
	return c
}

// inUserNamespace is c run by `unshare -r --fork sh -c ...`: unshare made
// a user namespace (root inside is the test's uid outside), the shell and
// the program are in it (ckpt/userns.go); their threads get their tids
// back through ns_last_pid.
func inUserNamespace(c runtimeCase) runtimeCase {
	build := c.build
	c.name += "-userns"
	c.build = func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
		unshare := runtimeTool(t, "util-linux", "unshare")
		cmdline := build(t, dir)
		return func(out, data string, steps, delay int) []string {
			sh := []string{unshare, "-r", "--fork", "/bin/sh", "-c", `"$@"; exit $?`, "sh"}
			return append(sh, cmdline(out, data, steps, delay)...)
		}
	}
	return c
}

var runtime2Cases = []runtimeCase{
	inUserNamespace(javaCase("jvm-g1", 8, "-XX:+UseG1GC", "-Xmx512m")),
	inPIDNamespace(withReboot(pythonCase("multiprocessing", "pool.py"))),
	inPIDNamespace(fortranMPICase(mpiFlavours[1], "mpif90-mpich")),
	javaCase("jvm-zgc", 8, "-XX:+UseZGC", "-Xmx1g"),
	javaCase("jvm-zgc-pretouch", 4, "-XX:+UseZGC", "-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch"),
	javaCase("jvm-shenandoah", 8, "-XX:+UseShenandoahGC", "-Xmx1g"),
	javaCase("jvm-serial-pretouch-thp", 4, "-XX:+UseSerialGC", "-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch", "-XX:+UseTransparentHugePages"),
	javaCDSCase("jvm-cds-c1", 4, "-XX:TieredStopAtLevel=1"),
	javaCDSCase("jvm-cds-c2", 4, "-XX:-TieredCompilation", "-XX:+UseParallelGC"),
	{
		name:  "go-goroutines",
		steps: 50,
		env:   []string{"GOMAXPROCS=4"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			goTool := runtimeTool(t, "golang (.ci/install-go)", "go")
			exe := filepath.Join(dir, "spin")
			runtimeCompile(t, goTool, "build", "-o", exe, runtime2Src(t, "spin.go"))
			return runtime2Cmd(false, exe)
		},
	},
	python2Case("python-threads-asyncio-tcp", "netio.py", false, ""),
	withReboot(python2Case("python-forkserver-spawn-shm", "shm.py", false, "")),
	{
		name:  "perl-forks",
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			return runtime2Cmd(false, runtimeTool(t, "perl", "perl"), runtime2Src(t, "forks.pl"))
		},
	},
	{
		name:  "erlang-otp",
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			erl := runtimeTool(t, "erlang-base", "erl")
			runtimeCompile(t, runtimeTool(t, "erlang-base", "erlc"), "-o", dir, runtime2Src(t, "ring.erl"))
			return runtime2Cmd(false, erl, "+S", "4:4", "-noshell", "-pa", dir, "-run", "ring", "main")
		},
	},
	{
		name:  "r-matrix",
		steps: 50,
		env:   []string{"OPENBLAS_NUM_THREADS=2"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			return runtime2Cmd(false, runtimeTool(t, "r-base-core", "Rscript"), runtime2Src(t, "mat.R"))
		},
	},
	python2Case("sqlite-wal", "wal.py", true, ""),
	python2Case("hdf5-h5py", "h5.py", true, "h5py"),
	withEnv(python2Case("numba-jit", "jit.py", false, "numba"), "NUMBA_NUM_THREADS=4"),
	{
		name:  "pypy-jit",
		steps: 50,
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			return runtime2Cmd(false, runtimeTool(t, "pypy3", "pypy3"), runtime2Src(t, "nbody.py"))
		},
	},
	{
		name:  "openmp-libomp",
		steps: 60,
		env:   []string{"OMP_NUM_THREADS=4"},
		build: func(t *testing.T, dir string) func(out, data string, steps, delay int) []string {
			libs, _ := filepath.Glob("/usr/lib/llvm-*/lib/libomp.so")
			if len(libs) == 0 {
				unavailable(t, "needs LLVM's libomp.so (.ci/run installs libomp-dev)")
			}
			lib := filepath.Dir(libs[len(libs)-1])
			exe, obj := filepath.Join(dir, "omp"), filepath.Join(dir, "omp.o")
			// gcc -fopenmp compiles, the link names libomp instead of libgomp.
			runtimeCompile(t, "gcc", "-O2", "-fopenmp", "-c", "-o", obj, runtime2Src(t, "omp.c"))
			runtimeCompile(t, "gcc", "-o", exe, obj, "-L"+lib, "-Wl,-rpath,"+lib, "-lomp")
			return runtime2Cmd(false, exe)
		},
	},
}

// TestRuntimes2CheckpointChain: each runtime2Cases case through
// runtimeChain (checkpointed twice, restarted twice, the output of an
// uninterrupted run).
func TestRuntimes2CheckpointChain(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, c := range runtime2Cases {
		t.Run(c.name, func(t *testing.T) { runtimeChain(t, c) })
	}
}

// TestRuntimes2Batch: each runtime2Cases case through runtimeBatch (held,
// released, checkpointed, a power cut, the output of an uninterrupted job).
func TestRuntimes2Batch(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, c := range runtime2Cases {
		t.Run(c.name, func(t *testing.T) { runtimeBatch(t, c) })
	}
}
