package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lazarus/internal/testenv"

	"golang.org/x/sys/unix"
)

// TestUserNamespaceUnshareTool: an ordinary user's `unshare -r --fork
// PROG` (uid 65534 is root inside): unshare made the namespace, PROG
// inherited it. Restarted by root and as the owner (the batch system's
// way), each comes back in a namespace of the same owner and maps, with
// the same ids and capabilities inside. An image forged to map root, or to
// be owned by root, is refused to that owner.
func TestUserNamespaceUnshareTool(t *testing.T) {
	needRoot(t)
	img := unshareToolRestarts(t, []string{"-r", "--fork"}, "tool")
	t.Run("mount", func(t *testing.T) {
		// unshare -r -m: the mount namespace belongs to the user namespace.
		unshareToolRestarts(t, []string{"-r", "-m", "--fork"}, "tool,ownsmnt")
	})
	t.Run("net", func(t *testing.T) {
		// unshare -r -n: the network namespace belongs to the user
		// namespace (usernsnet.go).
		unshareToolRestarts(t, []string{"-r", "-n", "--fork"}, "tool,ownsnet")
	})
	b, err := os.ReadFile(img)
	dir := filepath.Dir(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		edit       func(m *imageMeta)
	}{
		{"maps-root", "uid_map of its user namespace maps", func(m *imageMeta) { m.UserNS.UIDMap = []idMapRun{{0, 0, 1}} }},
		{"maps-range", "gid_map of its user namespace maps", func(m *imageMeta) { m.UserNS.GIDMap = []idMapRun{{0, 65534, 2}} }},
		{"owned-by-root", "belongs to uid 0", func(m *imageMeta) { m.UserNS.Owner = 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			forged := forge(t, dir, "forged-"+c.name, parseRaw(t, b).editMeta(t, c.edit).bytes(true, false, nil))
			p, err := Restart(context.Background(), forged, RestartOptions{Owner: &Owner{UID: 65534, GID: 65534}})
			if err == nil {
				unix.Kill(p.PID, unix.SIGKILL)
				waitProc(t, p)
				t.Fatalf("restart of a forged image succeeded")
			}
			var oe *OwnerError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restart: %v, want an owner error naming %q", err, c.want)
			}
		})
	}
}

// unshareToolRestarts runs kobj_userns in MODE as uid 65534 under
// `unshare ARGS`, checkpoints it, and restarts it twice (by root, and as
// its owner), each time checking the ids outside and the namespaces; it
// returns the image.
func unshareToolRestarts(t *testing.T, args []string, mode string) string {
	t.Helper()
	unshare, err1 := exec.LookPath("unshare")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		testenv.Unavailable(t, "needs unshare and setpriv (.ci/run installs util-linux)")
	}
	prog := cprog(t, "kobj_userns")
	dir := t.TempDir()
	// The user makes its result files there.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, setpriv, append(append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", unshare}, args...), prog, out, mode)...)
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	first := onlyChild(t, cmd.Process.Pid)
	t.Cleanup(func() { unix.Kill(first, unix.SIGKILL) }) // unshare's kill leaves it
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	unix.Kill(first, unix.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	waitReaped(t, res)
	for _, owner := range []*Owner{nil, {UID: 65534, GID: 65534}} {
		os.Remove(out)
		p, err := Restart(context.Background(), img, RestartOptions{Owner: owner})
		if err != nil {
			t.Fatalf("restart (owner %v): %v", owner, err)
		}
		kid := onlyChild(t, p.PID)
		for _, pid := range []int{p.PID, kid} {
			if st, err := readStatus(pid); err != nil || st.UID != [4]int{65534, 65534, 65534, 65534} {
				t.Errorf("owner %v: pid %d after the restart: uids %v (%v), want 65534 outside", owner, pid, st.UID, err)
			}
			if a, b := userNSOf(t, pid), userNSOf(t, os.Getpid()); a == b {
				t.Errorf("owner %v: pid %d is in our user namespace %s", owner, pid, a)
			}
		}
		if userNSOf(t, p.PID) != userNSOf(t, kid) {
			t.Errorf("owner %v: unshare and its child in different user namespaces", owner)
		}
		// unshare --fork waits for PROG and exits as it did.
		unix.Kill(kid, unix.SIGUSR1)
		ws := waitProc(t, p)
		if got, _ := os.ReadFile(out); !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
			t.Errorf("owner %v: after the restart: %v: %s", owner, ws, got)
		}
	}
	return img
}

// userNSOf is /proc/PID/ns/user's target, user:[INODE].
func userNSOf(t *testing.T, pid int) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestUserNamespaceThreadsPIDNamespaceInit: the process that made the user
// namespace, with a thread, is the init of a PID namespace (a batch job's
// shape: `unshare -fp`, the tree checkpointed from its pid 1). The restart
// makes a new PID namespace, where the thread's tid is set through a
// helper's ns_last_pid; the helper is gone before the tree runs.
func TestUserNamespaceThreadsPIDNamespaceInit(t *testing.T) {
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Unavailable(t, "needs unshare (.ci/run installs util-linux)")
	}
	prog := cprog(t, "kobj_userns", "-pthread")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, unshare, "-fp", "--kill-child", prog, out, "threads,child")
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	init := onlyChild(t, cmd.Process.Pid)
	before := nsPidsOfTree(t, init)
	img := filepath.Join(dir, "img")
	res, err := Checkpoint(context.Background(), init, CheckpointOptions{File: img, Tree: true})
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
	if got := nsPidsOfTree(t, p.PID); got != before {
		t.Errorf("after the restart, the tree's pids per namespace are\n%s\nwant\n%s", got, before)
	}
	// Every process of the new namespace is the tree's: no helper left.
	ns, err := nsInode(p.PID, "pid")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if in, err := nsInode(pid, "pid"); err != nil || in != ns {
			continue
		}
		a := pid
		for a > 1 && a != p.PID {
			st, err := readStat(a)
			if err != nil {
				break
			}
			a = st.PPID
		}
		if a != p.PID {
			t.Errorf("process %d in the tree's PID namespace is not of the tree", pid)
		}
	}
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	if got, _ := os.ReadFile(out); !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, got)
	}
}

// TestUserNamespaceThreadTidBrieflyTaken: a thread inside a user namespace
// gets its tid through ns_last_pid (lastpid.go), in restart's own PID
// namespace, which other processes fork in too. A process that holds the
// tid for a moment (a shell's short child) is waited out, as a pid in use
// is, instead of failing the restart with "pid N in use".
func TestUserNamespaceThreadTidBrieflyTaken(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "kobj_userns", "-pthread")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, out, "threads")
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	tid := 0
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", cmd.Process.Pid))
	for _, e := range ents {
		if n, _ := strconv.Atoi(e.Name()); n != cmd.Process.Pid {
			tid = n
		}
	}
	if tid == 0 {
		t.Fatalf("the program has no second thread")
	}
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	// A holder of the thread's tid for 0.5 s: ns_last_pid set just
	// below it, then a fork (another fork may come first: try again).
	var holder *exec.Cmd
	for try := 0; try < 50 && holder == nil; try++ {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(tid-1)), 0); err != nil {
			t.Fatal(err)
		}
		h := exec.Command("sleep", "0.5")
		if err := h.Start(); err != nil {
			t.Fatal(err)
		}
		if h.Process.Pid == tid {
			holder = h
			break
		}
		h.Process.Kill()
		h.Wait()
	}
	if holder == nil {
		t.Fatalf("no process could be given pid %d to hold", tid)
	}
	reaped := make(chan error, 1)
	go func() { reaped <- holder.Wait() }() // its zombie would hold the pid
	defer func() { <-reaped }()
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart while pid %d is held for 0.5 s: %v", tid, err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", p.PID, tid)); err != nil {
		t.Errorf("the restarted thread is not tid %d: %v", tid, err)
	}
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	if got, _ := os.ReadFile(out); !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, got)
	}
}
