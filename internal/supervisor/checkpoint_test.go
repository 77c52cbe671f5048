package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
	"lazarus/internal/testenv"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "jobs in PID namespaces, checkpoints and restarts need root")
	}
}

// counter is a job whose output depends on nothing but its steps: a shell
// loop with a child (sleep) at most times, so that a checkpoint catches a
// tree of two processes.
const counter = `#!/bin/sh
i=0
while [ $i -lt %d ]; do
	i=$((i + 1))
	echo "step $i $((i * i %% 9973))"
	[ $i -eq 5 ] && touch ready
	sleep 0.02
done
echo done
`

// jobInfo waits for the supervisor to record the job's pid.
func jobInfo(t *testing.T, runDir string) proc.Identity {
	t.Helper()
	var id proc.Identity
	waitFor(t, "the job's pid", func() bool {
		st, err := Probe(runDir)
		if err == nil && st.Info != nil && st.Info.Job.PID > 0 {
			id = st.Info.Job
		}
		return id.PID > 0
	})
	return id
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNamespacedJobHoldsNothingOfTheSupervisor(t *testing.T) {
	needRoot(t)
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\necho $$\nexec sleep 300\n")
	rec := f.run(t, spec, func(sup int) {
		job := jobInfo(t, f.runDir)
		waitFor(t, "the script to exec sleep", func() bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", job.PID))
			return strings.TrimSpace(string(b)) == "sleep"
		})
		if !isNamespaceInit(job.PID) {
			t.Errorf("job %d is not the init of a PID namespace: NSpid %v", job.PID, statusField(job.PID, "NSpid:"))
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", job.PID))
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", job.PID, fd.Name()))
			want := map[string]string{"0": "/dev/null", "1": spec.Stdout, "2": spec.Stderr}[fd.Name()]
			// The shell may keep its own descriptors of files (dash: fd 10).
			if (want != "" && l != want) || !strings.HasPrefix(l, "/") {
				t.Errorf("the job's fd %s is %s", fd.Name(), l)
			}
		}
		unix.Kill(sup, unix.SIGTERM)
	})
	if rec.Reason != "killed" {
		t.Errorf("record %+v", rec)
	}
	if got := readFile(t, spec.Stdout); got != "1\n" {
		t.Errorf("the script's $$ = %q, want 1", got)
	}
}

// A checkpoint, a power cut (supervisor and job killed), a restart from
// the image under a new supervisor: the job ends with the output of an
// uninterrupted run.
func TestCheckpointRestart(t *testing.T) {
	needRoot(t)
	f := newFixture(t)
	const steps = 60
	spec := f.spec(t, fmt.Sprintf(counter, steps))
	ref := f.spec(t, fmt.Sprintf(counter, steps))
	ref.Stdout = filepath.Join(f.dir, "ref")
	refRun := fixture{dir: f.dir, runDir: filepath.Join(f.dir, "refrun")}
	refRun.run(t, ref, nil)
	os.Remove(filepath.Join(f.dir, "ready"))

	exe, _ := os.Executable()
	sup, err := Start(exe, f.runDir, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(sup, unix.SIGKILL) })
	job := jobInfo(t, f.runDir)
	waitFor(t, "the job to be under way", func() bool {
		_, err := os.Stat(filepath.Join(f.dir, "ready"))
		return err == nil
	})
	gen := filepath.Join(f.dir, "spool", "1.ckpt", "1")
	res := Checkpoint(context.Background(), quiet(), CheckpointRequest{JobID: 1, RunDir: f.runDir, Job: job, Gen: 1, Dir: gen})
	if !res.OK || res.Processes < 1 || res.Size <= 0 {
		t.Fatalf("checkpoint: %+v", res)
	}
	if got, ok := ReadGeneration(gen, 1); !ok || got.Size != res.Size {
		t.Errorf("ReadGeneration = %+v, %v", got, ok)
	}
	if r, running, err := ReadCheckpointResult(f.runDir); err != nil || running || r == nil || !r.OK {
		t.Errorf("recorded result %+v, running %v, %v", r, running, err)
	}
	// The power cut.
	kids, _ := proc.Descendants(sup)
	for _, p := range append(kids, sup) {
		unix.Kill(p, unix.SIGKILL)
	}
	var ws unix.WaitStatus
	unix.Wait4(sup, &ws, 0, nil)
	waitFor(t, "the job to be gone", func() bool { return !job.Alive() })

	spec.Restore, spec.Generation, spec.Segment = filepath.Join(gen, RootImage), 1, 1
	rec := fixture{dir: f.dir, runDir: filepath.Join(f.dir, "run2")}.run(t, spec, nil)
	if rec.ExitCode != 0 || rec.RestoreFailed {
		log, _ := os.ReadFile(filepath.Join(f.dir, "run2", LogFile))
		t.Fatalf("restarted run: %+v; log:\n%s", rec, log)
	}
	if got, want := readFile(t, spec.Stdout), readFile(t, ref.Stdout); got != want {
		t.Errorf("output after the restart:\n%s\nwant:\n%s", got, want)
	}
}

func TestRestoreFailureRecorded(t *testing.T) {
	needRoot(t)
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\ntrue\n")
	bad := filepath.Join(f.dir, "bad")
	os.WriteFile(bad, []byte("not an image"), 0o600)
	spec.Restore, spec.Generation = bad, 3
	rec := f.run(t, spec, nil)
	if !rec.RestoreFailed || !strings.HasPrefix(rec.Reason, "cannot restart from checkpoint 3: ") {
		t.Errorf("record %+v", rec)
	}
}

// A full file system: the space check refuses before anything is written,
// and a write that fails with ENOSPC leaves no generation behind; the job
// runs on either way.
func TestCheckpointDiskFull(t *testing.T) {
	needRoot(t)
	f := newFixture(t)
	spool := filepath.Join(f.dir, "spool")
	os.Mkdir(spool, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", spool).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { unix.Unmount(spool, unix.MNT_DETACH) })
	// 9 MB of data that is not zero (zero pages are not saved), held by
	// the script.
	spec := f.spec(t, `#!/bin/sh
x=$(head -c 3000000 /dev/urandom | od -An -tx1 -v)
touch ready
sleep 300
echo ${#x}
`)
	exe, _ := os.Executable()
	sup, err := Start(exe, f.runDir, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kids, _ := proc.Descendants(sup)
		for _, p := range append(kids, sup) {
			unix.Kill(p, unix.SIGKILL)
		}
	})
	job := jobInfo(t, f.runDir)
	waitFor(t, "the job to fill its memory", func() bool {
		_, err := os.Stat(filepath.Join(f.dir, "ready"))
		return err == nil
	})
	for _, skip := range []bool{false, true} {
		t.Run("skip space check "+strconv.FormatBool(skip), func(t *testing.T) {
			dir := filepath.Join(spool, "1.ckpt", strconv.FormatBool(skip))
			res := Checkpoint(context.Background(), quiet(), CheckpointRequest{JobID: 1, RunDir: f.runDir, Job: job,
				Gen: 1, Dir: dir, skipSpaceCheck: skip})
			if res.OK || !res.NoSpace {
				t.Errorf("checkpoint on a full disk: %+v", res)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed generation is still there: %v", err)
			}
			if !job.Alive() {
				t.Fatal("the job died")
			}
		})
	}
	var st syscall.Statfs_t
	syscall.Statfs(spool, &st)
	if st.Blocks != st.Bfree {
		t.Errorf("the tmpfs holds %d blocks after the failures", st.Blocks-st.Bfree)
	}
}

// TestWaitLazy: a checkpoint of a run restarted lazily waits while its
// supervisor says pages are still coming in, and goes on once it says
// every one is in, or once that supervisor is gone; a run not restarted
// lazily is not waited for.
func TestWaitLazy(t *testing.T) {
	dir := t.TempDir()
	if WaitLazy(context.Background(), dir) {
		t.Error("waited for a run not restarted lazily")
	}
	path := filepath.Join(dir, LazyFile)
	if err := writeJSON(path, &LazyState{Gen: 3, Supervisor: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- WaitLazy(context.Background(), dir) }()
	select {
	case <-done:
		t.Fatal("did not wait while the pages were coming in")
	case <-time.After(300 * time.Millisecond):
	}
	if err := writeJSON(path, &LazyState{Gen: 3, Supervisor: os.Getpid(), Done: true}); err != nil {
		t.Fatal(err)
	}
	if waited := <-done; !waited {
		t.Error("WaitLazy says it did not wait")
	}
	// A supervisor that is gone (its keeper kills the job): no wait.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(path, &LazyState{Gen: 3, Supervisor: gone.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	if WaitLazy(context.Background(), dir) {
		t.Error("waited for a supervisor that is gone")
	}
}
