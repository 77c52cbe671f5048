package ckpt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// cowRace is a running cowrace (testdata/cowrace.c).
type cowRace struct {
	cmd         *exec.Cmd
	out, status string
	addr        uint64 // of its gen counter
	child       int
	dir         string
}

func startCowRace(t *testing.T, mib int) *cowRace {
	t.Helper()
	dir := t.TempDir()
	c := &cowRace{dir: dir, out: filepath.Join(dir, "out"), status: filepath.Join(dir, "status")}
	c.cmd = start(t, dir, cprog(t, "cowrace"), fmt.Sprint(mib), c.out, c.status)
	waitFor(t, "cowrace ready", func() bool { return lines(c.out) >= 2 })
	b, _ := os.ReadFile(c.out)
	if _, err := fmt.Sscanf(string(b), "addr %v child %d", &c.addr, &c.child); err != nil {
		t.Fatalf("cowrace said %q: %v", b, err)
	}
	waitFor(t, "three sweeps", func() bool { return c.gen() >= 3 })
	return c
}

// gen is the last sweep the program finished (its status file).
func (c *cowRace) gen() uint64 {
	b, _ := os.ReadFile(c.status)
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// report asks pid for its counts and returns them once written.
func (c *cowRace) report(t *testing.T, pid int) (errs, sigchld, reaped, gen uint64) {
	t.Helper()
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var line string
	waitFor(t, "the report", func() bool {
		b, _ := os.ReadFile(c.out)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "errors ") {
				line = l
				return true
			}
		}
		return false
	})
	if _, err := fmt.Sscanf(line, "errors %d sigchld %d reaped %d gen %d", &errs, &sigchld, &reaped, &gen); err != nil {
		t.Fatalf("report %q: %v", line, err)
	}
	return
}

// imageWord reads the 8 bytes saved at addr in an image.
func imageWord(t *testing.T, path string, addr uint64) uint64 {
	t.Helper()
	img, err := ReadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, r := range img.meta.Regions {
		for _, e := range r.Extents {
			if addr >= e.Addr && addr+8 <= e.Addr+e.Len {
				var b [8]byte
				if _, err := f.ReadAt(b[:], int64(img.dataStart+e.Off+addr-e.Addr)); err != nil {
					t.Fatal(err)
				}
				return binary.LittleEndian.Uint64(b[:])
			}
		}
	}
	t.Fatalf("%#x is not saved in %s", addr, path)
	return 0
}

// childrenNow lists the children (zombies included) of pid.
func childrenNow(pid int) []int {
	c := childrenOf(pid)
	slices.Sort(c)
	return c
}

// TestCopyOnWriteCheckpoint checkpoints a program that rewrites its memory
// as fast as it can, private and shared, MADV_WIPEONFORK and
// MADV_DONTFORK regions included. The checkpoint is written from a
// copy-on-write twin while the program runs on: the image must hold the
// memory of the instant of the freeze (the restored program checks every
// page against its sweep), and the twin must never be seen by the program
// (no SIGCHLD, nothing reaped by wait, no child left behind).
func TestCopyOnWriteCheckpoint(t *testing.T) {
	needRoot(t)
	useTwins(t)
	c := startCowRace(t, 128)
	pid := c.cmd.Process.Pid
	img := filepath.Join(c.dir, "cowrace.img")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Logger: log})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if !strings.Contains(logged.String(), "copy-on-write twin") || strings.Contains(logged.String(), "stays stopped") {
		t.Fatalf("the checkpoint did not go through a copy-on-write twin:\n%s", logged.String())
	}
	if got, want := childrenNow(pid), []int{c.child}; !slices.Equal(got, want) {
		t.Fatalf("children of the checkpointed process after the checkpoint: %v, want %v (the twin must be gone)", got, want)
	}
	saved := imageWord(t, img, c.addr)
	t.Logf("frozen %v, paused %v, whole %v; image at sweep %d", res.Frozen, res.Paused, res.Duration, saved)
	waitFor(t, "the program to go on", func() bool { return c.gen() > saved })
	errs, sigchld, reaped, _ := c.report(t, pid)
	if errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("the checkpointed program saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
	c.cmd.Wait()
	// The restored program writes its report where the original did.
	b, _ := os.ReadFile(c.out)
	if err := os.Truncate(c.out, int64(bytes.Index(b, []byte("errors ")))); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	// Two sweeps after the one frozen: every page has been checked.
	waitFor(t, "two sweeps after restart", func() bool { return c.gen() >= saved+2 })
	errs, _, _, gen := c.report(t, p.PID)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v", ws)
	}
	if errs != 0 {
		t.Fatalf("restarted program found %d pages that were not of the instant of the freeze (sweep %d saved, at %d)", errs, saved, gen)
	}
}

// TestCopyOnWriteCheckpointFails: a checkpoint that fails while it writes
// from the twin (a full disk) leaves the program as it was: the twin is
// gone, no child left, no SIGCHLD, nothing for wait, no file written.
func TestCopyOnWriteCheckpointFails(t *testing.T) {
	needRoot(t)
	useTwins(t)
	c := startCowRace(t, 64)
	pid := c.cmd.Process.Pid
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	_, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: filepath.Join(small, "img")})
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("checkpoint onto a full disk: %v, want no space left on device", err)
	}
	if ents, _ := os.ReadDir(small); len(ents) != 0 {
		t.Fatalf("files left after a failed checkpoint: %v", ents)
	}
	if got, want := childrenNow(pid), []int{c.child}; !slices.Equal(got, want) {
		t.Fatalf("children after a failed checkpoint: %v, want %v", got, want)
	}
	g := c.gen()
	waitFor(t, "the program to go on", func() bool { return c.gen() > g+1 })
	errs, sigchld, reaped, _ := c.report(t, pid)
	if errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("after a failed checkpoint the program saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
}

// TestCopyOnWriteThrottled: a job whose memory cgroup has little room left
// for the copies its writes make while the twin is written is stopped
// again until its image is written, instead of being pushed into its
// limit; the image is still the memory of the freeze.
func TestCopyOnWriteThrottled(t *testing.T) {
	needRoot(t)
	useTwins(t)
	cg := testMemCgroup(t, 1<<40)
	dir := t.TempDir()
	c := &cowRace{dir: dir, out: filepath.Join(dir, "out"), status: filepath.Join(dir, "status")}
	// Started in the cgroup, so that its memory is charged there.
	c.cmd = start(t, dir, "/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" 64 "$3" "$4"`, "sh", cg, cprog(t, "cowrace"), c.out, c.status)
	waitFor(t, "cowrace ready", func() bool { return lines(c.out) >= 2 })
	b, _ := os.ReadFile(c.out)
	if _, err := fmt.Sscanf(string(b), "addr %v child %d", &c.addr, &c.child); err != nil {
		t.Fatalf("cowrace said %q: %v", b, err)
	}
	waitFor(t, "three sweeps", func() bool { return c.gen() >= 3 })
	// Room for 80 of the 64+3 MiB it could copy: enough to be let go,
	// not enough to be left running.
	room, _ := cgroupRoom(cg)
	setMemLimit(t, cg, (1<<40)-room+80<<20)
	pid := c.cmd.Process.Pid
	img := filepath.Join(dir, "cowrace.img")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Logger: log}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if !strings.Contains(logged.String(), "stopped again") {
		t.Fatalf("the job was not stopped again:\n%s", logged.String())
	}
	saved := imageWord(t, img, c.addr)
	waitFor(t, "the program to go on", func() bool { return c.gen() >= saved })
	if errs, sigchld, reaped, _ := c.report(t, pid); errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("the checkpointed program saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
	c.cmd.Wait()
	b, _ = os.ReadFile(c.out)
	if err := os.Truncate(c.out, int64(bytes.Index(b, []byte("errors ")))); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitFor(t, "two sweeps after restart", func() bool { return c.gen() >= saved+2 })
	errs, _, _, _ := c.report(t, p.PID)
	waitProc(t, p)
	if errs != 0 {
		t.Fatalf("restarted program found %d pages that were not of the instant of the freeze", errs)
	}
}

func setMemLimit(t *testing.T, cg string, limit uint64) {
	t.Helper()
	file := "memory.max"
	if _, err := os.Stat(filepath.Join(cg, file)); err != nil {
		file = "memory.limit_in_bytes"
	}
	if err := os.WriteFile(filepath.Join(cg, file), []byte(fmt.Sprint(limit)), 0); err != nil {
		t.Fatal(err)
	}
}

// testMemCgroup makes a memory cgroup limited to limit bytes (v2, or the
// v1 memory hierarchy) and returns its directory.
func testMemCgroup(t *testing.T, limit int) string {
	t.Helper()
	name := fmt.Sprintf("ckpt-test-%d", os.Getpid())
	var dir, file string
	if ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
		dir, file = filepath.Join("/sys/fs/cgroup", name), "memory.max"
	} else if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		dir, file = filepath.Join("/sys/fs/cgroup/memory", name), "memory.limit_in_bytes"
	} else {
		testenv.Unavailable(t, "no memory cgroup controller")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Its processes are gone (start's cleanup ran first): then it
		// can be removed; wait for the kernel to let it go.
		waitFor(t, "the cgroup to empty", func() bool { return os.Remove(dir) == nil || os.IsNotExist(os.Remove(dir)) })
	})
	if err := os.WriteFile(filepath.Join(dir, file), []byte(fmt.Sprint(limit)), 0); err != nil {
		t.Fatal(err)
	}
	return dir
}
