package ckpt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lazyServeEnv runs TestLazyServeHelper as the server of a lazy restore
// of the image it names.
const lazyServeEnv = "CKPT_TEST_LAZY_SERVE"

// TestLazyServeHelper is the restart process of TestLazyServerKilled (a
// test process of its own, so that it can be SIGKILLed): it restarts the
// image lazily with the background load held (pages come in only as they
// are touched, so many are still missing when it is killed), prints the
// job's and the keeper's pids, and serves until killed.
func TestLazyServeHelper(t *testing.T) {
	img := os.Getenv(lazyServeEnv)
	if img == "" {
		return
	}
	lazyHold = make(chan struct{}) // never let go: the server is killed
	p, err := Restart(context.Background(), img, RestartOptions{Lazy: true})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("pid %d keeper %d\n", p.PID, p.lazy.keep.cmd.Process.Pid)
	select {}
}

// TestLazyServerKilled kills (SIGKILL) the process serving a lazy restore
// while the job is summing its memory and most of it is still in the
// image: the job must not go on with the missing pages reading as zeros
// (a wrong sum); the keeper kills it and says why.
func TestLazyServerKilled(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sum := func(path string) string {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "sum ") {
				return l
			}
		}
		return ""
	}
	prog := cprog(t, "slowsum")
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, prog, "256", ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := sum(ref)
	if want == "" {
		t.Fatal("reference run printed no sum")
	}
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, prog, "256", out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "slowsum.img")
	checkpointKill(t, cmd, img)

	// The job and the keeper, orphaned when the server dies, become ours
	// to wait for.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	errPath := filepath.Join(dir, "stderr.txt")
	errFile, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	srv := exec.Command(os.Args[0], "-test.run", "^TestLazyServeHelper$")
	srv.Env = append(os.Environ(), lazyServeEnv+"="+img)
	srv.Stderr = errFile
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	var pid, keeper int
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if _, err := fmt.Sscanf(line, "pid %d keeper %d", &pid, &keeper); err != nil {
		t.Fatalf("server: %q", line)
	}
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	unix.Kill(pid, unix.SIGUSR1)
	waitFor(t, "the job summing", func() bool { return lines(out) >= 2 })
	srv.Process.Signal(unix.SIGKILL)
	srv.Wait()

	ws := waitChild(t, pid)
	kws := waitChild(t, keeper)
	if got := sum(out); got != "" && got != want {
		t.Fatalf("the job went on without its server and reported %q, want %q (or killed)", got, want)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Fatalf("job after its server was killed: %v, want killed by SIGKILL (pages were still missing)", ws)
	}
	msg, _ := os.ReadFile(errPath)
	if kws.ExitStatus() != 1 || !strings.Contains(string(msg), "ended before every page was in: killed the job") || !strings.Contains(string(msg), img) {
		t.Fatalf("keeper: %v, said %q; want exit 1 and why it killed the job", kws, msg)
	}
	t.Logf("keeper: %s", msg)
}

// waitChild waits for a child (here an orphan given to us as subreaper),
// killing it and failing after a generous deadline.
func waitChild(t *testing.T, pid int) unix.WaitStatus {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait for %d: %v", pid, err)
		}
		if got == pid {
			return ws
		}
		if time.Now().After(deadline) {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("pid %d still running after 2 minutes", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLazyCheckpointWaitsForPages: a checkpoint of a tree whose lazy
// restore still has pages to bring in is refused, naming the memory (its
// missing pages would be saved as holes); once every page is in, the
// checkpoint is whole (an eager restart of it computes the sum an
// uninterrupted run does) and arms a tracker, so the next one is
// incremental.
func TestLazyCheckpointWaitsForPages(t *testing.T) {
	needRoot(t)
	const mib = 64
	prog := cprog(t, "slowsum")
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, prog, fmt.Sprint(mib), ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR2)
	waitFor(t, "step", func() bool { return lines(ref) >= 2 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := lazySum(ref)
	if want == "" {
		t.Fatal("reference run printed no sum")
	}
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, prog, fmt.Sprint(mib), out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{Dir: dir, File: "g0", Signal: unix.SIGKILL}); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	hold := make(chan struct{})
	lazyHold = hold
	defer func() { lazyHold = nil }()
	p, err := Restart(context.Background(), filepath.Join(dir, "g0"), RestartOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	_, err = Checkpoint(context.Background(), p.PID, CheckpointOptions{Dir: dir, File: "g1", Track: true})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "restored lazily") {
		t.Fatalf("checkpoint while pages are missing: %v, want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "g1")); err == nil {
		t.Fatal("the refused checkpoint left an image")
	}
	close(hold)
	select {
	case <-p.Loaded():
	case <-time.After(5 * time.Minute):
		t.Fatal("the lazy load never ended")
	}
	if err := p.LoadErr(); err != nil {
		t.Fatal(err)
	}
	res, err := Checkpoint(context.Background(), p.PID, CheckpointOptions{Dir: dir, File: "g1", Track: true})
	if err != nil {
		t.Fatalf("checkpoint once every page is in: %v", err)
	}
	if res.Incremental || res.Memory < mib<<20 {
		t.Fatalf("checkpoint after the lazy restore: incremental %v, %d bytes of memory, want it whole", res.Incremental, res.Memory)
	}
	unix.Kill(p.PID, unix.SIGUSR2) // one page in 20 changes
	waitFor(t, "step", func() bool { return lines(out) >= 2 })
	res, err = Checkpoint(context.Background(), p.PID, CheckpointOptions{Dir: dir, File: "g2", Track: true, Parent: filepath.Join(dir, "g1"), Signal: unix.SIGKILL})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Incremental || res.Memory > mib<<20/4 {
		t.Errorf("the next checkpoint: incremental %v, %d bytes of memory, want about 5%% of %d MiB", res.Incremental, res.Memory, mib)
	}
	waitProc(t, p)
	q, err := Restart(context.Background(), filepath.Join(dir, "g2"), RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unix.Kill(q.PID, unix.SIGUSR1)
	if ws := waitProc(t, q); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	if got := lazySum(out); got != want {
		t.Fatalf("after the lazy restart and two checkpoints %q, want %q", got, want)
	}
}
