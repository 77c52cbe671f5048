package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// kobjCase is one program of testdata/kobj_NAME.c: it sets up one kernel
// object, says it is ready, waits for SIGUSR1 and checks the object
// exactly (kobj.h).
type kobjCase struct {
	name string
	// prefix of the program's file, testdata/PREFIX NAME.c: "kobj_" when empty.
	prefix string
	flags  []string
	args   []string
	// refuse: the checkpoint must fail naming this; the program, left
	// running, must still find its object as it was.
	refuse string
	// prog: the program, testdata/PROG.c; testdata/kobj_NAME.c when empty.
	prog string
	// beforeRestart runs between the checkpoint and the restart, once the
	// checkpointed program has exited (it changes the machine under the
	// image); restartRefuse: the restart must then fail naming this.
	beforeRestart func(t *testing.T)
	restartRefuse string
}

var kobjCases = []kobjCase{
	{name: "mqueue", flags: []string{"-lrt"}},
	{name: "mqueue", flags: []string{"-lrt"}, args: []string{"ns"}},
	{name: "mqfork", flags: []string{"-lrt"}},
	{name: "mqnotify", flags: []string{"-lrt"}},
	{name: "pollwait", flags: []string{"-pthread"}},
	{name: "unlinkmode"},
	{name: "mqueue", flags: []string{"-lrt"}, args: []string{"busy"}},
	{name: "mqueue", flags: []string{"-lrt"}, args: []string{"full"}, refuse: "is full (5 messages) and has an mq_notify registration"},
	{name: "mqueue", flags: []string{"-lrt", "-pthread"}, args: []string{"thread"}, refuse: "SIGEV_THREAD"},
	{name: "eventfd"},
	{name: "inotify"},
	{name: "inotify", args: []string{"mapped"}, refuse: "no process of the tree has open"},
	{name: "signalfd"},
	{name: "epoll"},
	{name: "timerfd"},
	{name: "itimer"},
	{name: "ptimer", flags: []string{"-pthread", "-lrt"}},
	{name: "sigaction"},
	{name: "sigmask", flags: []string{"-pthread"}},
	{name: "rlimit"},
	{name: "personality"},
	{name: "prctl", flags: []string{"-pthread"}},
	{name: "tsc"},
	{name: "cpuid", flags: []string{"-pthread"}},
	{name: "cwd"},
	{name: "locks"},
	{name: "fileflags"},
	{name: "pipe"},
	{name: "memfd"},
	{name: "maps"},
	{name: "uffd", refuse: "userfaultfd"},
	{name: "iouring", refuse: "io_uring"},
	{name: "iouring", args: []string{"keep"}, refuse: "io_uring"},
	{name: "affinity", flags: []string{"-pthread"}},
	{name: "argv"},
	{name: "tls", flags: []string{"-pthread"}},
	{name: "fpu", flags: []string{"-mavx"}},
	{name: "membarrier"},
	{name: "aio"},
	{name: "aio", args: []string{"inflight"}, refuse: "in flight"},
	{name: "fanotify"},
	{name: "fanotify", args: []string{"inherit"}},
	{name: "fanotify", args: []string{"queued"}, refuse: "events not read yet"},
	{name: "fanotify", args: []string{"perm"}, refuse: "permission events"},
	{name: "semundo", flags: []string{"-pthread"}},
	{name: "semundo", flags: []string{"-pthread"}, args: []string{"shared"}, refuse: "in an IPC namespace shared"},
	{name: "ids"},
	{name: "utsns"},
	{name: "utsns", args: []string{"child"}},
	{name: "timens"},
	{name: "timens", args: []string{"entered"}},
	{name: "timens", args: []string{"open"}},
	{name: "timens", args: []string{"before"}, refuse: "was forked before its parent"},
	{name: "userns"},
	{name: "userns", args: []string{"drop"}},
	{name: "userns", args: []string{"child"}},
	{name: "userns", args: []string{"nomap,child"}},
	{name: "userns", args: []string{"nested"}, refuse: "inside another user namespace"},
	{name: "userns", args: []string{"threads"}, flags: []string{"-pthread"}},
	{name: "userns", args: []string{"drop,threads,child"}, flags: []string{"-pthread"}},
	{name: "userns", args: []string{"tgroups"}, flags: []string{"-pthread"}},
	{name: "userns", args: []string{"ownsmnt"}},
	{name: "userns", args: []string{"ownsuts"}},
	{name: "userns", args: []string{"ownsmnt,ownsuts,child,threads"}, flags: []string{"-pthread"}},
	{name: "userns", args: []string{"ownsnet"}},
	{name: "userns", args: []string{"ownsnet,child,threads"}, flags: []string{"-pthread"}},
	{name: "userns", args: []string{"ownsipc"}, refuse: "owns its ipc namespace"},
	{name: "userns", args: []string{"sharefiles"}, refuse: "in a user namespace of its own"},
	{name: "sockopt"},
	{name: "highfd"},
	{name: "inhandler"},
	{name: "traced", refuse: "trace"},
	{name: "vfork", refuse: "vfork"},
	{name: "clonevm", refuse: "its memory (clone CLONE_VM"},
}

// TestKobj runs every kobj program through a checkpoint that leaves it
// running (it must then find its object untouched), and a restart from
// that image (it must find it again, exactly).
func TestKobj(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "", kobjCases)
}

// runKobjCases runs each case through runKobj as a subtest named by the
// program and its arguments; prefix (when not empty) is the cases'
// kobjCase.prefix: the round of the suite they belong to.
func runKobjCases(t *testing.T, prefix string, cases []kobjCase) {
	for _, c := range cases {
		if prefix != "" {
			c.prefix = prefix
		}
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}

func runKobj(t *testing.T, c kobjCase) {
	src := c.prog
	if src == "" {
		prefix := c.prefix
		if prefix == "" {
			prefix = "kobj_"
		}
		src = prefix + c.name
	}
	prog := cprog(t, src, c.flags...)
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, append([]string{out}, c.args...)...)
	// Names the programs give their objects in /dev/shm end with their
	// pid (the restored one's too): none is left behind.
	t.Cleanup(func() {
		left, _ := filepath.Glob(fmt.Sprintf("/dev/shm/kobj*-%d", cmd.Process.Pid))
		for _, f := range left {
			os.Remove(f)
		}
	})
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	img := filepath.Join(dir, "img")
	res0, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
	switch {
	case c.refuse != "":
		var ue *UncheckpointableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.refuse) {
			t.Errorf("checkpoint: %v, want it refused naming %s", err, c.refuse)
		}
	case err != nil:
		t.Errorf("checkpoint: %v", err)
	}
	if tr := tracerOf(cmd.Process.Pid, cmd.Process.Pid); tr != 0 {
		t.Errorf("after the checkpoint returned, the program is still traced by %d", tr)
	}
	// The checkpoint changed nothing of the running program.
	kobjSignal(t, cmd.Process.Pid)
	werr := cmd.Wait()
	res, _ := os.ReadFile(out)
	if werr != nil || string(res) != "ok" {
		t.Fatalf("after the checkpoint, still running: %v: %s", werr, res)
	}
	if c.refuse != "" || err != nil {
		return
	}
	os.Remove(out)
	waitReaped(t, res0)
	if c.beforeRestart != nil {
		c.beforeRestart(t)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if c.restartRefuse != "" {
		if err == nil {
			unix.Kill(p.PID, unix.SIGKILL)
			waitProc(t, p)
			t.Fatalf("restart succeeded, want it refused naming %s", c.restartRefuse)
		}
		if !strings.Contains(err.Error(), c.restartRefuse) {
			t.Fatalf("restart: %v, want it refused naming %s", err, c.restartRefuse)
		}
		return
	}
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	kobjSignal(t, p.PID)
	ws := waitProc(t, p)
	res, _ = os.ReadFile(out)
	if !ws.Exited() || ws.ExitStatus() != 0 || string(res) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, res)
	}
}

// kobjSignal sends SIGUSR1 to pid and its descendants (blocked until they
// wait in sigsuspend: a signal sent early is pending, never lost). A
// descendant gone in between (a zombie its parent reaped once signalled)
// needs none.
func kobjSignal(t *testing.T, pid int) {
	t.Helper()
	kobjSignalTree(t, pid, true)
}

// kobjSignalTree: a descendant may be gone (reaped by a parent signalled
// first, a zombie of the program's), the root may not.
func kobjSignalTree(t *testing.T, pid int, root bool) {
	t.Helper()
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil && (root || err != unix.ESRCH) {
		t.Fatalf("SIGUSR1 to %d: %v", pid, err)
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, c := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(c); err == nil {
				kobjSignalTree(t, child, false)
			}
		}
	}
}
