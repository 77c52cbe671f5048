package ckpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// checkpointTreeKill checkpoints the tree rooted at cmd's process with -r
// -K KILL and reaps the root.
func checkpointTreeKill(t *testing.T, cmd *exec.Cmd, image string) *CheckpointResult {
	t.Helper()
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: image, Tree: true, Signal: unix.SIGKILL, SignalAll: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("root after chkpnt -K KILL: %v, want killed by SIGKILL", err)
	}
	// Its children were reparented to init, which reaps them when it gets
	// to it; their pids are needed again.
	for _, img := range res.Images[1:] {
		m, err := ReadImage(img)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("old member %s(%d) to be reaped", m.Comm, m.PID), func() bool {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.PID))
			if err != nil {
				return true
			}
			st, err := parseStat(b)
			return err != nil || st.Comm != m.Comm
		})
	}
	return res
}

// TestTreeFamily: a parent with forked workers sharing anonymous shared
// memory, a zombie child with its exit status, a background child in its
// own process group talking to the parent through a pipe. After a restart
// of the whole tree every relation holds and the result is that of an
// uninterrupted run.
func TestTreeFamily(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	prog := cprog(t, "family")
	ref := filepath.Join(dir, "ref.txt")
	if b, err := exec.Command(prog, ref, "300").CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v %s", err, b)
	}
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, prog, out, "300")
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	img := filepath.Join(dir, "family")
	res := checkpointTreeKill(t, cmd, img)
	if len(res.Images) != 6 {
		t.Fatalf("images %v, want 6 (parent, 3 workers, zombie, background child)", res.Images)
	}
	for _, want := range []string{"family", "family.family."} {
		found := false
		for _, p := range res.Images {
			found = found || strings.HasPrefix(filepath.Base(p), want)
		}
		if !found {
			t.Errorf("no image named %s*: %v", want, res.Images)
		}
	}
	if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("restarted tree: %v", ws)
	}
	sameFiles(t, out, ref)

	// A member's image restores its subtree only: the background child,
	// alone, finds the writing end of its pipe closed (its parent is not
	// there) and stays in a process group of its own.
	bg := res.Images[len(res.Images)-1]
	if m, err := ReadImage(bg); err != nil || m.meta.Zombie != nil {
		t.Fatalf("last image %s: %v (want the background child)", bg, err)
	}
	if ws := restartWait(t, bg, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("restarted subtree: %v", ws)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasSuffix(string(b), "bg got 0 bytes:  pgid-is-self 1\n") {
		t.Errorf("after restarting the background child alone the output ends %q", tail(b))
	}
}

// TestTreePipeline: producer | filter | consumer with data in transit in
// both pipes at checkpoint time; restarted, the pipeline ends with exactly
// the output of an uninterrupted run.
func TestTreePipeline(t *testing.T) {
	needRoot(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for this test")
	}
	dir := t.TempDir()
	consumer := "import sys, time\n" +
		"for i, l in enumerate(sys.stdin):\n" +
		"    if i % 100 == 0: time.sleep(0.01)\n" +
		"    print(int(l) + 1)\n"
	pipeline := func(out string) *exec.Cmd {
		c := exec.Command("bash", "-c", `seq 1 60000 | awk '{ print $1 * 3 }' | `+py+` -c "$CONSUMER" > `+out)
		c.Env = append(os.Environ(), "CONSUMER="+consumer)
		c.Dir = dir
		return c
	}
	ref := filepath.Join(dir, "ref.txt")
	if b, err := pipeline(ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v %s", err, b)
	}
	out := filepath.Join(dir, "out.txt")
	cmd := pipeline(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "the consumer to get going", func() bool {
		fi, err := os.Stat(out)
		return err == nil && fi.Size() > 0
	})
	img := filepath.Join(dir, "pipeline")
	res := checkpointTreeKill(t, cmd, img)
	inTransit := 0
	for _, p := range res.Images {
		m, err := ReadImage(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pd := range m.meta.Pipes {
			if len(pd.Data) > 0 {
				inTransit++
			}
		}
	}
	if inTransit < 2 {
		t.Fatalf("%d pipes held data at checkpoint time, want both", inTransit)
	}
	if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("restarted pipeline: %v", ws)
	}
	sameFiles(t, out, ref)
}

// TestTreePipeOutside: a pipe whose other end is held by a process outside
// the tree is refused, with the CONVEX message.
func TestTreePipeOutside(t *testing.T) {
	needRoot(t)
	cmd := exec.Command("sleep", "60")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	_, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{Tree: true, CheckOnly: true})
	var ue *UncheckpointableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "fd 1: pipe destination is outside of selected processes") {
		t.Fatalf("checkpoint: %v, want the pipe destination error", err)
	}
}

// TestTreeNamespace: a tree started in its own PID namespace restarts into
// a fresh one with the same pids inside, even while the original pids are
// taken: two copies of the same image run side by side.
func TestTreeNamespace(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	prog := cprog(t, "family")
	ref := filepath.Join(dir, "ref.txt")
	if b, err := exec.Command(prog, ref, "300").CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v %s", err, b)
	}
	out := filepath.Join(dir, "out.txt")
	cmd := Namespaced(exec.Command(prog, out, "300"))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	st, err := readStatus(cmd.Process.Pid)
	if err != nil || len(st.NSpid) != 2 || st.NSpid[1] != 1 {
		t.Fatalf("the namespaced program has NSpid %v (%v), want [outer 1]", st.NSpid, err)
	}
	img := filepath.Join(dir, "ns")
	// No -K KILL: the original keeps its pids while the copies run. It is
	// stopped (-K STOP), so that however slow the restarts it cannot run
	// on and write more than the checkpoint holds.
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Signal: unix.SIGSTOP, SignalAll: true}); err != nil {
		t.Fatal(err)
	}
	var copies []*Process
	for i := 0; i < 2; i++ {
		p, err := Restart(context.Background(), img, RestartOptions{})
		if err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		copies = append(copies, p)
		st, err := readStatus(p.PID)
		if err != nil || len(st.NSpid) != 2 || st.NSpid[1] != 1 {
			t.Errorf("copy %d: NSpid %v (%v), want [outer 1]", i, st.NSpid, err)
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/proc/1/comm", p.PID)); err != nil || strings.TrimSpace(string(b)) != "family" {
			t.Errorf("copy %d: its /proc shows %q as pid 1 (%v), want family", i, b, err)
		}
	}
	unix.Kill(cmd.Process.Pid, unix.SIGKILL)
	cmd.Wait()
	for i, p := range copies {
		if ws := waitProc(t, p); ws.ExitStatus() != 0 {
			t.Fatalf("copy %d: %v", i, ws)
		}
	}
	// Both copies wrote the same bytes at the same offsets of the file,
	// and each background child appended its line at the end.
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(ref)
	want = append(want, want[bytes.LastIndexByte(want[:len(want)-1], '\n')+1:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("output of the two copies:\n%s\nwant:\n%s", got, want)
	}
}
