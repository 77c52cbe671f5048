// Package integration holds end-to-end tests that drive the built binaries
// (chkpnt, restart, lazarusd, q*) on real processes.
//
// Rules for a new test here (CI runs the whole suite on 2 cores, under a
// hard time limit; most of a test's time is spent waiting for daemons,
// jobs and restarts, so tests run side by side):
//
//   - Call t.Parallel() first, unless the test touches something shared by
//     every test of the machine: t.Setenv or os.Setenv (t.Setenv panics in
//     a parallel test), os.Chdir, a fixed path or port, a file of binDir
//     written after TestMain (build it once with a sync.Once, as batchProg
//     and ckstepBuilt do). Say why in a comment when a test is not
//     parallel. Such a test runs alone, before the parallel ones. (Jobs
//     with memory limits may run side by side: each run's cgroup is
//     lazarus/job-ID-PID, PID its supervisor's.)
//   - A test that keeps the CPUs busy for long (MPI ranks, real runtimes,
//     an nbody job of more than a few seconds, many jobs at once) also
//     calls heavy(t) right after t.Parallel(): heavy tests run one at a
//     time, beside the others.
//   - Use the helpers: newBatch/newBatchAs/newBatchIn (a lazarusd on a state
//     directory of the test's own, stopped with its jobs by the cleanup),
//     newCluster (etcd on free ports), ckptProg (ckstep, compiled once),
//     batchProg (nbody, memjob, compiled once), nbodyReference (one
//     uninterrupted run per size for all tests), clibProg, t.TempDir for
//     everything else. Never a fixed port or a path outside t.TempDir().
//   - Wait with b.waitFor, b.waitState, b.readFile or waitFor-style polls
//     (50 ms), never a fixed time.Sleep for something to happen; no timed
//     assertion (the machine is loaded: deadlines are only for failing a
//     hung test).
//   - Compile a C program once per package (sync.Once or sync.OnceValues
//     in a helper), not once per test; a test needing its own copy links
//     the built file into its t.TempDir() (ckptProg): writing a copy risks
//     ETXTBSY while parallel tests fork.
//   - Do not run the same heavy scenario twice: extend the test that
//     already sets it up.
//
// TestMain runs up to integrationParallel tests at once unless -parallel
// is given (go test's default, GOMAXPROCS, is 2 on CI's machine).
package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// binDir holds every command of ./cmd, built once by TestMain.
var binDir string

// integrationParallel is how many tests run at once without -parallel:
// they mostly wait, so more than the cores.
const integrationParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", strconv.Itoa(integrationParallel))
	}
	dir, err := os.MkdirTemp("", "lazarus-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "lazarus/cmd/...")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build commands:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	binDir = dir
	// Descriptors this test binary inherited (from a shell, a CI runner)
	// would be inherited by the test programs and make them
	// uncheckpointable; none of them is ours to pass on.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// heavySlot lets one CPU-heavy test run at a time (heavy).
var heavySlot = make(chan struct{}, 1)

// heavy marks a parallel test that keeps the CPUs busy for long (MPI
// ranks that spin, real runtimes, long simulations): such tests run one at
// a time, beside the tests that mostly wait, so that none of them starves
// the others past their deadlines. Call it right after t.Parallel().
func heavy(t *testing.T) {
	t.Helper()
	heavySlot <- struct{}{}
	t.Cleanup(func() { <-heavySlot })
}

// bin returns the path of a built command.
func bin(name string) string { return filepath.Join(binDir, name) }
