package ckpt

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// TestPIDNamespaceUnshareTool: util-linux's `unshare -fp --mount-proc`
// as the root of the tree (it unshared, its child is pid 1 of the new
// namespace, with a /proc of its own) running the kernel-object program
// that clones a namespace below that one. Checkpointed, restarted,
// checkpointed again from the restarted tree and restarted again: each
// process sees the pids it saw, /proc shows the namespace, and unshare
// exits with its child's status.
func TestPIDNamespaceUnshareTool(t *testing.T) {
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Unavailable(t, "needs unshare (.ci/run installs util-linux)")
	}
	dir, out, before, p := wrappedRestart(t, unshare, "-fp", "--mount-proc")
	img2 := filepath.Join(dir, "img2")
	res2, err := Checkpoint(context.Background(), p.PID, CheckpointOptions{File: img2, Tree: true})
	if err != nil {
		t.Fatalf("checkpoint of the restarted tree: %v", err)
	}
	unix.Kill(onlyChild(t, p.PID), unix.SIGKILL)
	unix.Kill(p.PID, unix.SIGKILL)
	waitProc(t, p)
	waitReaped(t, res2)

	p2, err := Restart(context.Background(), img2, RestartOptions{})
	if err != nil {
		t.Fatalf("second restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p2.PID, unix.SIGKILL) })
	if got := nsPidsOfTree(t, p2.PID); got != before {
		t.Errorf("after the second restart, the tree's pids per namespace are\n%s\nwant\n%s", got, before)
	}
	kobjSignalTree(t, onlyChild(t, p2.PID), true)
	ws := waitProc(t, p2)
	got, _ := os.ReadFile(out)
	if !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the second restart: unshare %v, the program says %s", ws, got)
	}
}

// wrappedRestart runs the kernel-object program (clone mode) under a
// tool that makes a PID namespace (tool args... prog out clone), as the
// root of the tree, checkpoints the tree, kills it (the namespace's init
// first: its end ends the namespace) and restarts it. It returns the
// test's directory, the program's result file, the tree's pids per
// namespace before the checkpoint (the restarted tree's are the same) and
// the restarted root.
func wrappedRestart(t *testing.T, tool string, args ...string) (dir, out, before string, p *Process) {
	t.Helper()
	prog := cprog(t, "kobj4b_pidnsmade", "-pthread")
	dir = t.TempDir()
	out = filepath.Join(dir, "result")
	cmd := start(t, dir, tool, append(args, prog, out, "clone")...)
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	before = nsPidsOfTree(t, cmd.Process.Pid)
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	unix.Kill(onlyChild(t, cmd.Process.Pid), unix.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	waitReaped(t, res)
	if p, err = Restart(context.Background(), img, RestartOptions{}); err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	if got := nsPidsOfTree(t, p.PID); got != before {
		t.Errorf("after the restart, the tree's pids per namespace are\n%s\nwant\n%s", got, before)
	}
	return dir, out, before, p
}

// onlyChild is the one child of pid.
func onlyChild(t *testing.T, pid int) int {
	t.Helper()
	kids := childrenOf(pid)
	if len(kids) != 1 {
		t.Fatalf("%d has children %v, want one", pid, kids)
	}
	return kids[0]
}

// nsPidsOfTree lists, depth first, the NSpid line of every task of the
// tree at pid without its first field (the pid outside, which a restart
// may change: the root's namespace is the test's).
func nsPidsOfTree(t *testing.T, pid int) string {
	t.Helper()
	var b strings.Builder
	var walk func(pid, depth int)
	walk = func(pid, depth int) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			st, err := readStatus(mustAtoi(t, task.Name()))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s%v\n", strings.Repeat("  ", depth), st.NSpid[1:])
		}
		for _, c := range childrenOf(pid) {
			walk(c, depth+1)
		}
	}
	walk(pid, 0)
	return b.String()
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPIDNamespaceUnsharedNoTwin: a checkpoint without userfaultfd
// snapshots (copy-on-write twins: an injected fork) of a process that
// unshared CLONE_NEWPID and has not forked since. A twin would be the init
// of its new namespace, and its end would leave the namespace without
// one: the program's next fork would fail. Its first child after the
// checkpoint, then after the restart, is pid 1.
func TestPIDNamespaceUnsharedNoTwin(t *testing.T) {
	needRoot(t)
	noTwinIn(t, cprog(t, "kobj4b_pidnsmade", "-pthread"), "unshared")
}

// TestTimeNamespaceOpenNoTwin: a process that made a time namespace no
// process entered yet gets no twin either, which would enter it and
// freeze its offsets (timens.go): it may still write them after the
// checkpoint and after the restart.
func TestTimeNamespaceOpenNoTwin(t *testing.T) {
	needRoot(t)
	noTwinIn(t, cprog(t, "kobj_timens"), "open")
}

// TestTimeNamespaceUnshareTool: the root of the tree is run by unshare
// --time with offsets, which enters the namespace by its execve: after the
// restart the program's clocks, and a new child's, are still ahead.
func TestTimeNamespaceUnshareTool(t *testing.T) {
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Unavailable(t, "needs unshare (.ci/run installs util-linux)")
	}
	prog := cprog(t, "kobj_timens")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	var mono, boot unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	cmd := start(t, dir, unshare, "--time", "--monotonic", "7000", "--boottime", "300", prog, out, "tool", "7000", "300", strconv.FormatInt(mono.Sec, 10), strconv.FormatInt(boot.Sec, 10))
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitReaped(t, res)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	if got, _ := os.ReadFile(out); !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, got)
	}
}

// noTwinIn checkpoints prog in mode (with 64 MiB more memory, "big")
// without a userfaultfd snapshot, so that the checkpoint would fork a twin
// of it, then checks it after the checkpoint and after a restart.
func noTwinIn(t *testing.T, prog, mode string) {
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, out, mode, "big")
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, noSnap: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	kobjSignal(t, cmd.Process.Pid)
	werr := cmd.Wait()
	if got, _ := os.ReadFile(out); werr != nil || string(got) != "ok" {
		t.Fatalf("after the checkpoint, still running: %v: %s", werr, got)
	}
	os.Remove(out)
	waitReaped(t, res)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	if got, _ := os.ReadFile(out); !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, got)
	}
}

// TestPIDNamespaceForced: restarted with Force while the checkpointed
// tree still runs (every pid of the root's namespace taken): the tree
// comes back under new pids with the same shape, each namespace made in
// it again with its init as pid 1, each process of a namespace in the
// process group it was in, the leader's thread with it.
func TestPIDNamespaceForced(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "kobj4b_pidnsmade", "-pthread")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, out, "clone")
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatalf("restart -F: %v", err)
	}
	defer waitProc(t, p)
	defer unix.Kill(p.PID, unix.SIGKILL)
	shape := func(root int) string {
		var b strings.Builder
		var walk func(pid, depth int, groups map[int]string)
		walk = func(pid, depth int, groups map[int]string) {
			st, err := readStatus(pid)
			if err != nil {
				t.Fatal(err)
			}
			stat, err := readStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("d%d.%d", depth, len(groups))
			groups[pid] = name
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			fmt.Fprintf(&b, "%s levels=%d inner1=%v group=%s threads=%d\n", strings.Repeat("  ", depth),
				len(st.NSpid), st.NSpid[len(st.NSpid)-1] == 1, groups[stat.PGID], len(tasks))
			for _, c := range childrenOf(pid) {
				walk(c, depth+1, groups)
			}
		}
		walk(root, 0, map[int]string{})
		return b.String()
	}
	want, got := shape(cmd.Process.Pid), shape(p.PID)
	if got != want {
		t.Errorf("restarted with -F, the tree is\n%s\nwant\n%s", got, want)
	}
	// The inits, the checkpointed one's too: a namespace ends with its
	// init, which outlives the root.
	for _, root := range []int{p.PID, cmd.Process.Pid} {
		for _, c := range childrenOf(root) {
			unix.Kill(c, unix.SIGKILL)
		}
	}
}

// TestPIDNamespaceBubblewrap: bubblewrap's sandbox (bwrap --unshare-pid
// --proc /proc), the root of the tree: bwrap unshared, its child is the
// namespace's init with a /proc of its own in a mount namespace bwrap
// made, and runs the kernel-object program, which clones a namespace below
// that one. Checkpointed, the sandbox killed, restarted: the program's
// checks pass and bwrap ends with its status.
func TestPIDNamespaceBubblewrap(t *testing.T) {
	needRoot(t)
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		testenv.Unavailable(t, "needs bwrap (.ci/run installs bubblewrap)")
	}
	_, out, _, p := wrappedRestart(t, bwrap, "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--")
	// bwrap's init runs the program as its child.
	kobjSignalTree(t, onlyChild(t, onlyChild(t, p.PID)), true)
	ws := waitProc(t, p)
	got, _ := os.ReadFile(out)
	if !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: bwrap %v, the program says %s", ws, got)
	}
}

// TestKillAfterCheckpointPIDNamespaceEnds: a tree with a PID namespace of
// its own, checkpointed and killed (-k KILL, what the batch system's
// qhold and requeue do), ends as the checkpoint returns. The landlock
// probe's reference process in the namespace (landlockref.go) once lived
// until the release: the namespace's init could not end before it was
// reaped, and the kill waited out its 10 s for every stop of a batch job.
func TestKillAfterCheckpointPIDNamespaceEnds(t *testing.T) {
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Unavailable(t, "needs unshare (.ci/run installs util-linux)")
	}
	dir := t.TempDir()
	cmd := start(t, dir, unshare, "-fp", "--mount-proc", "sleep", "600")
	waitFor(t, "the namespace's init", func() bool { return len(childrenOf(cmd.Process.Pid)) == 1 })
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img"), Tree: true,
		Signal: unix.SIGKILL, SignalAll: true, Logger: log}); err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, logged.String())
	}
	if strings.Contains(logged.String(), "have not ended") {
		t.Errorf("the killed tree did not end with the checkpoint:\n%s", logged.String())
	}
	if err := cmd.Wait(); err == nil {
		t.Errorf("unshare exited 0, want killed")
	}
}
