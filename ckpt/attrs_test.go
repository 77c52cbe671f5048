package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// reports returns the last line of out written under each name ("NAME:
// what").
func reports(path string) map[string]string {
	b, _ := os.ReadFile(path)
	got := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if name, what, ok := strings.Cut(l, ": "); ok {
			got[name] = what
		}
	}
	return got
}

// schedOf reads thread tid's scheduling from outside (sched_getattr).
func schedOf(t *testing.T, tid int) schedAttr {
	t.Helper()
	a, err := getSchedAttr(tid)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestProcessAttributes: fsuid/fsgid, loginuid, oom_score_adj, child
// subreaper, THP disable, the scheduling policy, priority, nice and
// reset-on-fork flag of each of five threads, and the parent-death signal
// of a thread of the root and of each thread of a child, are what they
// were after a restart of the tree (and the root's does not come while
// its parent, the restart, lives): the program reads each of them itself and says so, and the test
// reads them from /proc and sched_getattr.
func TestProcessAttributes(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // searched with fsuid 4321
	os.Chmod(filepath.Dir(dir), 0o755)
	out := filepath.Join(dir, "out.txt")
	// Reopened at restart with the process's filesystem ids (4321).
	os.WriteFile(out, nil, 0o666)
	os.Chmod(out, 0o666)
	cmd := start(t, dir, cprog(t, "attrs", "-pthread"), out)
	names := []string{"process", "main", "idle", "fifo", "rr", "other", "child-main", "child-second"}
	waitFor(t, "every thread ready", func() bool { return len(reports(out)) == len(names) })
	before := reports(out)
	want := map[string]string{
		"process":      "uid=0 euid=0 fsuid=4321 fsgid=1234 loginuid=4242 oom=345 subreaper=1 thp_disable=1",
		"main":         "policy=3 prio=0 nice=7 reset_on_fork=0 pdeath=0",
		"idle":         "policy=5 prio=0 nice=7 reset_on_fork=0 pdeath=0",
		"fifo":         "policy=1 prio=5 nice=0 reset_on_fork=1 pdeath=0",
		"rr":           "policy=2 prio=3 nice=0 reset_on_fork=0 pdeath=0",
		"other":        "policy=0 prio=0 nice=3 reset_on_fork=0 pdeath=12",
		"child-main":   "policy=0 prio=0 nice=0 reset_on_fork=0 pdeath=10",
		"child-second": "policy=0 prio=0 nice=0 reset_on_fork=0 pdeath=12",
	}
	for _, n := range names {
		if before[n] != want[n] {
			t.Fatalf("before the checkpoint %s says %q, want %q", n, before[n], want[n])
		}
	}
	root := cmd.Process.Pid
	wantSched := map[int]schedAttr{}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", root))
	for _, e := range tasks {
		var tid int
		fmt.Sscan(e.Name(), &tid)
		wantSched[tid] = schedOf(t, tid)
	}
	img := filepath.Join(dir, "img")
	checkpointTreeKill(t, cmd, img)
	os.Truncate(out, 0)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every thread reporting after the restart", func() bool { return len(reports(out)) == len(names) })
	after := reports(out)
	for _, n := range names {
		if after[n] != want[n] {
			t.Errorf("after the restart %s says %q, want %q", n, after[n], want[n])
		}
	}
	if got := statusField(t, p.PID, "Uid"); strings.Join(strings.Fields(got), " ") != "0 0 0 4321" {
		t.Errorf("restarted /proc status Uid: %q, want 0 0 0 4321", got)
	}
	if got := statusField(t, p.PID, "Gid"); strings.Join(strings.Fields(got), " ") != "0 0 0 1234" {
		t.Errorf("restarted /proc status Gid: %q, want 0 0 0 1234", got)
	}
	for file, w := range map[string]string{"loginuid": "4242", "oom_score_adj": "345"} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", p.PID, file))
		if got := strings.TrimSpace(string(b)); got != w {
			t.Errorf("restarted /proc/PID/%s: %q, want %q", file, got, w)
		}
	}
	if got := statusField(t, p.PID, "THP_enabled"); got != "0" {
		t.Errorf("restarted /proc status THP_enabled: %q, want 0", got)
	}
	for tid, w := range wantSched {
		if got := schedOf(t, tid); got != w {
			t.Errorf("restarted thread %d: sched_getattr %+v, want %+v", tid, got, w)
		}
	}
	os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
	if ws := waitProc(t, p); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v, want exit 0", ws)
	}
}

// restartReports runs a program that reports "NAME: what" lines (once
// ready, then again after "go" appears, until "stop"), checks the first
// reports against want, checkpoints it (with its tree) and kills it,
// restarts it and returns the restarted process and its reports after
// the restart, checked against want too.
func restartReports(t *testing.T, dir, prog string, args []string, want map[string]string) *Process {
	t.Helper()
	out := args[0]
	cmd := start(t, dir, prog, args...)
	waitFor(t, "every report", func() bool { return len(reports(out)) >= len(want) })
	before := reports(out)
	for n, w := range want {
		if before[n] != w {
			t.Fatalf("before the checkpoint %s says %q, want %q", n, before[n], w)
		}
	}
	img := filepath.Join(dir, "img")
	checkpointTreeKill(t, cmd, img)
	os.Truncate(out, 0)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every report after the restart", func() bool { return len(reports(out)) >= len(want) })
	after := reports(out)
	for n, w := range want {
		if after[n] != w {
			t.Errorf("after the restart %s says %q, want %q", n, after[n], w)
		}
	}
	return p
}

// stopReports ends a program of restartReports and checks it exits 0.
func stopReports(t *testing.T, dir string, p *Process) {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
	if ws := waitProc(t, p); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v, want exit 0", ws)
	}
}

// TestMadviseFlags: regions with MADV_DONTFORK, MADV_WIPEONFORK,
// MADV_DONTDUMP, MADV_NOHUGEPAGE, MADV_HUGEPAGE (16 MiB), none (16 MiB:
// a restore does not give it huge pages), mlock and (where the kernel has it)
// MAP_DROPPABLE, and a private mapping of a file opened read-only then
// made writable with mprotect and written to, come back with the same
// VmFlags and content; the program's own fork after the restart sees the
// dontfork region gone and the wipeonfork region zero.
func TestMadviseFlags(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	data := filepath.Join(dir, "data")
	os.WriteFile(data, []byte(strings.Repeat("d", 4096)), 0o444)
	want := map[string]string{
		"dontfork":   "dc,wr, d",
		"wipeonfork": "wf,wr, w",
		"dontdump":   "dd,wr, d",
		"nohugepage": "nh,wr, n",
		"large":      "wr, l",
		"hugepage":   "hg,wr, h",
		"locked":     "lo,wr, l",
		"file":       "wr, X",
		"fork":       "dontfork-gone=1 wipeonfork=0",
	}
	args := []string{out, data}
	var u unix.Utsname
	unix.Uname(&u)
	if m, _ := unix.Mmap(-1, 0, pageSize, unix.PROT_READ, unix.MAP_ANONYMOUS|0x08); m != nil {
		unix.Munmap(m)
		want["droppable"] = "wf,dd,dp,wr, d" // droppable memory is never forked nor dumped
		args = append(args, "droppable")
	}
	p := restartReports(t, dir, cprog(t, "madv"), args, want)
	if b, _ := os.ReadFile(data); string(b) != strings.Repeat("d", 4096) {
		t.Errorf("the read-only file was changed")
	}
	stopReports(t, dir, p)
}

// TestKernelState: a program whose SIGTRAP is ignored, whose two threads
// have glibc's rseq registration, which is registered for the private
// expedited membarrier commands, and which holds a timerfd with five
// expirations unread: after a checkpoint that leaves it running, and
// after a restart, SIGTRAP is still ignored, each thread's rseq area is
// still registered (registering it again is EBUSY), every membarrier
// command still succeeds (not EPERM), and the timerfd still has five
// expirations and is armed with its interval.
func TestKernelState(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	want := map[string]string{
		"trap":        "ign",
		"rseq-main":   "EBUSY",
		"rseq-second": "EBUSY",
		"timerfd":     "ticks=5 armed=1 interval=3600s",
	}
	prog := cprog(t, "kstate", "-pthread")
	probe := start(t, dir, prog, filepath.Join(dir, "probe.txt"))
	waitFor(t, "probe", func() bool { return reports(filepath.Join(dir, "probe.txt"))["membarrier"] != "" })
	want["membarrier"] = reports(filepath.Join(dir, "probe.txt"))["membarrier"]
	probe.Process.Kill()
	if !strings.Contains(want["membarrier"], "8=0") {
		t.Fatalf("membarrier private expedited not available: %q", want["membarrier"])
	}
	cmd := start(t, dir, prog, out)
	waitFor(t, "every report", func() bool { return len(reports(out)) >= len(want) })
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "live")}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	os.Truncate(out, 0)
	waitFor(t, "reports after the checkpoint", func() bool { return len(reports(out)) >= len(want) })
	for n, w := range want {
		if got := reports(out)[n]; got != w {
			t.Errorf("after a checkpoint, still running, %s says %q, want %q", n, got, w)
		}
	}
	os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
	cmd.Wait()
	os.Remove(filepath.Join(dir, "stop"))
	os.Remove(filepath.Join(dir, "go"))
	os.Truncate(out, 0)
	p := restartReports(t, dir, prog, []string{out}, want)
	stopReports(t, dir, p)
}

// TestFileSignals: a pipe owned by a thread (F_SETOWN_EX F_OWNER_TID)
// with F_SETSIG SIGRTMIN+1 and O_ASYNC, a socket owned by the process
// (F_SETOWN) and a file with a read lease keep them after a restart:
// the program reads owner, signal and lease back, its write to the pipe
// signals the owning thread with SIGRTMIN+1 for the pipe's descriptor, and
// /proc/locks shows the restarted process's lease.
func TestFileSignals(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	lease := filepath.Join(dir, "lease")
	os.WriteFile(lease, []byte("leased\n"), 0o644)
	want := map[string]string{
		"pipe":  "type=0 second=1 sig=1",
		"sock":  "owner-is-me=1",
		"lease": "0",
		"sigio": "second=1 fd-is-pipe=1",
	}
	p := restartReports(t, dir, cprog(t, "fdsig", "-pthread"), []string{out, lease}, want)
	b, _ := os.ReadFile("/proc/locks")
	found := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[1] == "LEASE" && f[4] == fmt.Sprint(p.PID) {
			found = true
		}
	}
	if !found {
		t.Errorf("no lease of the restarted process %d in /proc/locks:\n%s", p.PID, b)
	}
	stopReports(t, dir, p)
}

// TestChroot: a process chrooted to a directory has the same root after a
// restart: it sees the files of its root and nothing above it, and
// /proc/PID/root is that directory.
func TestChroot(t *testing.T) {
	needRoot(t)
	jail := t.TempDir()
	os.WriteFile(filepath.Join(jail, "marker"), nil, 0o644)
	out := filepath.Join(jail, "out.txt")
	p := restartReports(t, jail, cprog(t, "chroot"), []string{out}, map[string]string{"root": "marker=1 parent-escape=0"})
	if got, err := os.Readlink(fmt.Sprintf("/proc/%d/root", p.PID)); err != nil || got != jail {
		t.Errorf("restarted /proc/PID/root: %q (%v), want %q", got, err, jail)
	}
	stopReports(t, jail, p)
}

// TestPidfds: a pidfd of a child (a member of the tree) names that child
// again after a restart (signal 0 succeeds, fdinfo shows its pid), and a
// pidfd of a child that had exited and been reaped still says it is gone
// (ESRCH, readable, pid -1).
func TestPidfds(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	p := restartReports(t, dir, cprog(t, "pidfds"), []string{out}, map[string]string{
		"member": "signal0=0 pid=same",
		"dead":   "signal0=ESRCH poll=readable pid=-1",
	})
	stopReports(t, dir, p)
}

// TestAIOContext: a process with an io_setup context and no request in
// flight is checkpointed (aio.go; TestKobj/aio restores one), and goes on
// running.
func TestAIOContext(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "aioctx"), out)
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img")}); err != nil {
		t.Fatalf("checkpoint of a process with an AIO context: %v", err)
	}
	stillRunning(t, cmd, out)
}

// TestInotifyQueuedRefused: an inotify instance holding an event the
// program has not read yet is refused at checkpoint time (the event
// cannot be saved without taking it from the program), and the program
// then reads its events as if nothing had happened.
func TestInotifyQueuedRefused(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	watched, file, other := filepath.Join(dir, "watched"), filepath.Join(dir, "file"), filepath.Join(dir, "other")
	os.Mkdir(watched, 0o755)
	os.WriteFile(file, nil, 0o644)
	os.WriteFile(other, nil, 0o644)
	cmd := start(t, dir, cprog(t, "inotify"), out, gofile, watched, file, other)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	os.WriteFile(filepath.Join(watched, "new"), nil, 0o644)
	_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img")})
	if err == nil || !strings.Contains(err.Error(), "events not read yet") {
		t.Fatalf("checkpoint with an inotify event queued: %v, want it refused", err)
	}
	os.WriteFile(gofile, nil, 0o644)
	os.WriteFile(file, []byte("x"), 0o644)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("program after the refused checkpoint: %v", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "ready 1 3\nevent wd 1\nevent wd 3\n" {
		t.Errorf("program's output %q: its events were disturbed", got)
	}
}

// TestInterruptedSleeps: threads checkpointed in clock_nanosleep (with a
// remainder pointer), nanosleep (without) and poll with no timeout go on
// sleeping after the restart, as the kernel's restart_syscall would have
// them: each sleep returns 0 having lasted at least what was asked, not
// EINTR, and poll returns when its pipe has data.
func TestInterruptedSleeps(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "sleeper", "-pthread"), out)
	waitFor(t, "started", func() bool { return reports(out)["main"] == "started" })
	// Every thread in its call: /proc/TID/syscall names it.
	want := map[string]bool{fmt.Sprint(unix.SYS_CLOCK_NANOSLEEP): true, fmt.Sprint(unix.SYS_NANOSLEEP): true, fmt.Sprint(unix.SYS_POLL): true}
	waitFor(t, "threads asleep", func() bool {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", cmd.Process.Pid))
		n := 0
		for _, e := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", cmd.Process.Pid, e.Name()))
			if f := strings.Fields(string(b)); len(f) > 0 && want[f[0]] {
				n++
			}
		}
		return n == 4 // the main thread naps in nanosleep too
	})
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	os.Truncate(out, 0)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	if ws := waitProc(t, p); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got := reports(out)
	for n, w := range map[string]string{"nanosleep": "0 enough=1", "usleep": "0 enough=1", "poll": "1"} {
		if got[n] != w {
			t.Errorf("after the restart %s says %q, want %q", n, got[n], w)
		}
	}
}

// TestPidfdOutsideRefused: a pidfd of a process outside the tree is
// refused at checkpoint time, naming that pid, and the tree runs on.
func TestPidfdOutsideRefused(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "pidfds"), out, "parent")
	waitFor(t, "ready", func() bool { return reports(out)["dead"] != "" })
	_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img"), Tree: true})
	if want := fmt.Sprintf("pidfd of pid %d, outside the checkpointed tree", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("checkpoint: %v, want it refused with %q", err, want)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	os.Truncate(out, 0)
	waitFor(t, "reports after the refused checkpoint", func() bool { return reports(out)["member"] == "signal0=0 pid=same" })
	os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("program after the refused checkpoint: %v", err)
	}
}

// TestTrapPending: a program whose SIGTRAP is blocked and pending keeps
// its SIGTRAP handler through a checkpoint and a restart (the engine's
// calls are then injected between syscall stops: a forced single-step
// SIGTRAP while SIGTRAP is blocked would reset the handler to SIG_DFL),
// and the pending SIGTRAP runs it once unblocked.
func TestTrapPending(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	want := map[string]string{"trap": "handler=1 pending=1"}
	cmd := start(t, dir, cprog(t, "trappending"), out)
	waitFor(t, "ready", func() bool { return reports(out)["trap"] != "" })
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "live")}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("program after a checkpoint: %v", err)
	}
	if got := reports(out); got["trap"] != want["trap"] || got["ran"] != "1" {
		t.Errorf("after a checkpoint, running on, the program says %v, want trap %q and ran 1", got, want["trap"])
	}
	os.Remove(filepath.Join(dir, "go"))
	os.Truncate(out, 0)
	cmd = start(t, dir, cprog(t, "trappending"), out)
	waitFor(t, "ready", func() bool { return reports(out)["trap"] != "" })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	os.Truncate(out, 0)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	if ws := waitProc(t, p); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	if got := reports(out); got["trap"] != want["trap"] || got["ran"] != "1" {
		t.Errorf("after the restart the program says %v, want trap %q and ran 1", got, want["trap"])
	}
}
