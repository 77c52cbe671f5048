package integration

// Helpers of the batch checkpoint tests (batch_ckpt_*_test.go): the test
// programs, compiled once, and the runs they are compared with.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"lazarus/internal/testenv"
)

// ckptConf makes an hour of a checkpoint interval last a second: qsub -c 1
// checkpoints every second.
const ckptConf = "checkpoint_hour = 1s\n"

var (
	progsOnce sync.Once
	progsErr  error
)

// batchProg returns the path of a test program of testdata (nbody, memjob, landlockjob),
// compiled once for all tests.
func batchProg(t testing.TB, name string) string {
	t.Helper()
	progsOnce.Do(func() {
		for _, p := range []struct{ name, src, lib string }{
			{"nbody", "testdata/demo/nbody.c", "-lm"},
			{"memjob", "testdata/batch/memjob.c", "-lpthread"},
			{"landlockjob", "testdata/batch/landlockjob.c", "-Wall"},
		} {
			out, err := exec.Command("cc", "-O2", "-o", filepath.Join(binDir, p.name), p.src, p.lib).CombinedOutput()
			if err != nil {
				progsErr = fmt.Errorf("cc %s: %v\n%s", p.src, err, out)
				return
			}
		}
	})
	if progsErr != nil {
		t.Fatal(progsErr)
	}
	return bin(name)
}

// batchNeedRoot skips a test of checkpoints when not root: jobs are then not
// run in PID namespaces, and the engine needs root anyway.
func batchNeedRoot(t testing.TB) {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "checkpointing batch jobs needs lazarusd to run as root")
	}
}

var (
	refMu   sync.Mutex
	refRuns = map[string]func() (string, error){}
)

// nbodyReference starts (once per size, for all tests) an uninterrupted
// nbody run beside the test's job, and returns a function that waits for
// its output.
func nbodyReference(t testing.TB, steps, bodies int) func() string {
	t.Helper()
	exe := batchProg(t, "nbody")
	key := fmt.Sprint(steps, bodies)
	refMu.Lock()
	get, ok := refRuns[key]
	if !ok {
		get = sync.OnceValues(func() (string, error) {
			dir, err := os.MkdirTemp("", "nbody-ref-")
			if err != nil {
				return "", err
			}
			defer os.RemoveAll(dir)
			path := filepath.Join(dir, "ref.txt")
			if out, err := exec.Command(exe, path, strconv.Itoa(steps), strconv.Itoa(bodies)).CombinedOutput(); err != nil {
				return "", fmt.Errorf("reference run: %v %s", err, out)
			}
			data, err := os.ReadFile(path)
			return string(data), err
		})
		refRuns[key] = get
		go get()
	}
	refMu.Unlock()
	return func() string {
		t.Helper()
		out, err := get()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// nbodyJob submits an nbody simulation writing to name.txt in the work
// directory, with the given qsub options, and returns its id and output
// path. Its script is a shell that runs nbody: a tree of two processes.
func (b *batch) nbodyJob(name string, steps, bodies int, opts ...string) (uint64, string) {
	b.t.Helper()
	out := filepath.Join(b.work, name+".txt")
	script := b.script(name+".sh", fmt.Sprintf("#!/bin/sh\n%s %s %d %d\necho simulated\n", batchProg(b.t, "nbody"), out, steps, bodies))
	return b.qsub(append(opts, script)...), out
}

// nbodyTwoGenerations runs an n-body job with two checkpoints taken by
// qchkpnt, and returns it still running, its output file and the reference
// run's output.
func (b *batch) nbodyTwoGenerations(name string) (uint64, string, func() string) {
	b.t.Helper()
	const steps, bodies = 2400, 600
	want := nbodyReference(b.t, steps, bodies)
	id, out := b.nbodyJob(name, steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 15)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitLines(out, fileLines(out)+10)
	b.mustRun("qchkpnt", jobArg(id))
	if j := b.job(id); len(j.Checkpoints) != 2 || j.Checkpoints[0].N != 2 {
		b.t.Fatalf("generations %+v", j.Checkpoints)
	}
	return id, out, want
}

// fileLines counts the lines of a file.
func fileLines(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}

// jobArg formats one job id as an argument.
func jobArg(id uint64) string { return strconv.FormatUint(id, 10) }

// waitLines waits until the file has at least n lines.
func (b *batch) waitLines(path string, n int) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%d lines in %s", n, path), func() bool { return fileLines(path) >= n })
}

// checkNbodyOutput compares a job's output file with the reference run's.
func checkNbodyOutput(t *testing.T, path string, reference func() string) {
	t.Helper()
	want := reference()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("output of the checkpointed job differs from an uninterrupted run:\n%s\nwant:\n%s", tailOf(string(got)), tailOf(want))
	}
}

func tailOf(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > 3 {
		l = l[len(l)-3:]
	}
	return fmt.Sprintf("(%d bytes) ...%s", len(s), strings.Join(l, "\n"))
}
