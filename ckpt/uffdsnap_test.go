package ckpt

import (
	"bufio"
	"bytes"
	"context"
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
)

// useTwins makes the checkpoints of the test go through copy-on-write
// twins, not userfaultfd snapshots.
func useTwins(t *testing.T) {
	t.Helper()
	uffdSnapshots = false
	t.Cleanup(func() { uffdSnapshots = true })
}

// fdsOf lists the descriptors of pid.
func fdsOf(pid int) []string {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		out = append(out, e.Name()+" "+l)
	}
	slices.Sort(out)
	return out
}

// uffdRegistered lists the mappings of pid registered with a userfaultfd
// (smaps VmFlags "uw", "um", "ui").
func uffdRegistered(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	var out []string
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			for _, f := range strings.Fields(flags) {
				if f == "uw" || f == "um" || f == "ui" {
					out = append(out, last)
					break
				}
			}
		} else if i := strings.IndexByte(line, '-'); i > 0 && !strings.Contains(line[:i], ":") {
			last = line
		}
	}
	return out
}

// TestUffdSnapshotCheckpoint: cowrace (private memory rewritten as fast as
// it can, shared, MADV_WIPEONFORK and MADV_DONTFORK regions, a child) is
// checkpointed through userfaultfd snapshots while it runs: the image
// holds the memory of the freeze (the restored program checks every page
// against its sweep), and the program is left with no descriptor, no
// registration and no child more than it had.
func TestUffdSnapshotCheckpoint(t *testing.T) {
	needRoot(t)
	c := startCowRace(t, 128)
	pid := c.cmd.Process.Pid
	fds := fdsOf(pid)
	img := filepath.Join(c.dir, "cowrace.img")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Logger: log})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if !strings.Contains(logged.String(), "userfaultfd snapshot") || strings.Contains(logged.String(), "stays stopped") {
		t.Fatalf("the checkpoint did not go through a userfaultfd snapshot:\n%s", logged.String())
	}
	if strings.Contains(logged.String(), " 0 of them protected before the freeze") {
		t.Fatalf("the memory was not write-protected before the freeze:\n%s", logged.String())
	}
	if got := fdsOf(pid); !slices.Equal(got, fds) {
		t.Fatalf("descriptors after the checkpoint: %v, want %v", got, fds)
	}
	if got := uffdRegistered(pid); len(got) != 0 {
		t.Fatalf("mappings still registered with a userfaultfd after the checkpoint: %v", got)
	}
	if got, want := childrenNow(pid), []int{c.child}; !slices.Equal(got, want) {
		t.Fatalf("children after the checkpoint: %v, want %v", got, want)
	}
	saved := imageWord(t, img, c.addr)
	t.Logf("frozen %v, whole %v; image at sweep %d", res.Frozen, res.Duration, saved)
	waitFor(t, "the program to go on", func() bool { return c.gen() > saved+1 })
	errs, sigchld, reaped, _ := c.report(t, pid)
	if errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("the checkpointed program saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
	c.cmd.Wait()
	b, _ := os.ReadFile(c.out)
	if err := os.Truncate(c.out, int64(bytes.Index(b, []byte("errors ")))); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitFor(t, "two sweeps after restart", func() bool { return c.gen() >= saved+2 })
	errs, _, _, gen := c.report(t, p.PID)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v", ws)
	}
	if errs != 0 {
		t.Fatalf("restarted program found %d pages that were not of the instant of the freeze (sweep %d saved, at %d)", errs, saved, gen)
	}
}

// TestUffdSnapshotFails: a checkpoint through userfaultfd snapshots that
// fails while it writes (a full disk) leaves the program as it was: it
// goes on, with no descriptor and no registration more than it had, and
// no file is left.
func TestUffdSnapshotFails(t *testing.T) {
	needRoot(t)
	c := startCowRace(t, 64)
	pid := c.cmd.Process.Pid
	fds := fdsOf(pid)
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	_, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: filepath.Join(small, "img"), Logger: log})
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("checkpoint onto a full disk: %v, want no space left on device", err)
	}
	if !strings.Contains(logged.String(), "userfaultfd snapshot") {
		t.Fatalf("the checkpoint did not go through a userfaultfd snapshot:\n%s", logged.String())
	}
	if ents, _ := os.ReadDir(small); len(ents) != 0 {
		t.Fatalf("files left after a failed checkpoint: %v", ents)
	}
	if got := fdsOf(pid); !slices.Equal(got, fds) {
		t.Fatalf("descriptors after a failed checkpoint: %v, want %v", got, fds)
	}
	if got := uffdRegistered(pid); len(got) != 0 {
		t.Fatalf("mappings still registered with a userfaultfd after a failed checkpoint: %v", got)
	}
	g := c.gen()
	waitFor(t, "the program to go on", func() bool { return c.gen() > g+1 })
	errs, sigchld, reaped, _ := c.report(t, pid)
	if errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("after a failed checkpoint the program saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
}

// TestUffdSnapshotIncremental: a checkpoint through a userfaultfd snapshot
// between tracked ones drops the tracker (the next generation against the
// one before is whole) and leaves nothing registered: the tracker armed
// after it makes the generation after that incremental again, and every
// image restores to the memory it had.
func TestUffdSnapshotIncremental(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 64, "")
	var sums []string
	step := func() {
		p.ask(p.pid, unix.SIGUSR1, "step ")
		sums = append(sums, p.ask(p.pid, unix.SIGUSR2, "sum "))
	}
	sums = append(sums, p.ask(p.pid, unix.SIGUSR2, "sum "))
	full := p.checkpoint(dir, "g0", "", false)
	step()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if _, err := Checkpoint(context.Background(), p.pid, CheckpointOptions{Dir: dir, File: "u1", Logger: log}); err != nil {
		t.Fatalf("checkpoint u1: %v", err)
	}
	if !strings.Contains(logged.String(), "userfaultfd snapshot") {
		t.Fatalf("u1 did not go through a userfaultfd snapshot:\n%s", logged.String())
	}
	if got := uffdRegistered(p.pid); len(got) != 0 {
		t.Fatalf("mappings still registered with a userfaultfd after u1: %v", got)
	}
	step()
	if res := p.checkpoint(dir, "g2", "g0", false); res.Incremental {
		t.Fatal("g2 is incremental against g0, whose tracker u1 dropped")
	}
	step()
	res := p.checkpoint(dir, "g3", "g2", false)
	if !res.Incremental || res.Memory*10 > full.Memory {
		t.Fatalf("g3 against g2: incremental %v, %d bytes saved (the full one %d)", res.Incremental, res.Memory, full.Memory)
	}
	p.kill()
	for k, name := range []string{"g0", "u1", "g2", "g3"} {
		if got := p.restoredSum(filepath.Join(dir, name), RestartOptions{}); got != sums[k] {
			t.Errorf("%s restored: %q, want %q", name, got, sums[k])
		}
	}
}

// TestUffdSnapshotThreads: a process whose threads write their memory and
// read a file into theirs (writes the kernel makes) while the image is
// written is checkpointed running; the restored process finds every page
// of the instant of the freeze, and the running one never saw a read
// fail. With a thread that unmaps memory as well, the snapshot may lose
// pages: the checkpoint is then taken again with twins, and is as right.
func TestUffdSnapshotThreads(t *testing.T) {
	needRoot(t)
	t.Run("writers", func(t *testing.T) { testUffdThreads(t, false) })
	t.Run("unmapping", func(t *testing.T) { testUffdThreads(t, true) })
}

func testUffdThreads(t *testing.T, churn bool) {
	dir := t.TempDir()
	out, status := filepath.Join(dir, "out"), filepath.Join(dir, "status")
	args := []string{"4", "256", out, status}
	if churn {
		args = append(args, "churn")
	}
	cmd := start(t, dir, cprog(t, "uffdthreads", "-pthread"), args...)
	pid := cmd.Process.Pid
	gen := func() uint64 {
		b, _ := os.ReadFile(status)
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	report := func(pid int) (errs, g uint64) {
		t.Helper()
		if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		var line string
		waitFor(t, "the report", func() bool {
			b, _ := os.ReadFile(out)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "errors ") {
					line = l
					return true
				}
			}
			return false
		})
		if _, err := fmt.Sscanf(line, "errors %d gen %d", &errs, &g); err != nil {
			t.Fatalf("report %q: %v", line, err)
		}
		return errs, g
	}
	waitFor(t, "uffdthreads ready", func() bool { return lines(out) >= 1 && gen() >= 2 })
	img := filepath.Join(dir, "threads.img")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Logger: log})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if !strings.Contains(logged.String(), "userfaultfd snapshot") {
		t.Fatalf("the checkpoint did not go through a userfaultfd snapshot:\n%s", logged.String())
	}
	if !churn && strings.Contains(logged.String(), " 0 of them protected before the freeze") {
		t.Fatalf("the memory was not write-protected before the freeze:\n%s", logged.String())
	}
	again := strings.Contains(logged.String(), "checkpointing again")
	t.Logf("frozen %v, whole %v; taken again with twins: %v", res.Frozen, res.Duration, again)
	if again && !churn {
		t.Fatalf("the checkpoint was taken again though nothing was unmapped:\n%s", logged.String())
	}
	saved := gen()
	waitFor(t, "the program to go on", func() bool { return gen() > saved+1 })
	if errs, _ := report(pid); errs != 0 {
		t.Fatalf("the checkpointed program counted %d errors", errs)
	}
	cmd.Wait()
	// The restored program writes its report where the original did.
	b, _ := os.ReadFile(out)
	if err := os.Truncate(out, int64(bytes.Index(b, []byte("errors ")))); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	at := gen()
	waitFor(t, "two sweeps after restart", func() bool { return gen() >= at+2 })
	errs, g := report(p.PID)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v", ws)
	}
	if errs != 0 {
		t.Fatalf("restarted program counted %d errors (pages not of the freeze, or reads that failed; at sweep %d)", errs, g)
	}
}

// blockingHandler is a log handler that, at the message saying the image
// is being written from a userfaultfd snapshot, says so on stdout and
// blocks for good: the checkpointer is stuck, the job running, its memory
// protected.
type blockingHandler struct {
	slog.Handler
	at string // the message at which it blocks
}

func (h blockingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.at) {
		fmt.Println("writing")
		select {}
	}
	return nil
}

// TestUffdSnapshotCheckpointerDies: a checkpointer killed (SIGKILL) while
// it writes an image from a userfaultfd snapshot, or before the freeze
// once the job's memory is write-protected (uffdpre_linux_amd64.go),
// leaves the job running, with nothing registered and no descriptor more:
// the kernel releases the userfaultfd with the checkpointer's descriptors
// and wakes any thread that waited on a fault.
func TestUffdSnapshotCheckpointerDies(t *testing.T) {
	if pid := os.Getenv("LAZARUS_UFFD_VICTIM"); pid != "" {
		n, _ := strconv.Atoi(pid)
		log := slog.New(blockingHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}), os.Getenv("LAZARUS_UFFD_BLOCK_AT")})
		_, err := Checkpoint(context.Background(), n, CheckpointOptions{File: os.Getenv("LAZARUS_UFFD_IMAGE"), Logger: log})
		fmt.Println("checkpoint:", err)
		return
	}
	needRoot(t)
	for _, at := range []string{"written from the userfaultfd snapshot", "write-protected before the freeze"} {
		t.Run(strings.ReplaceAll(at, " ", "_"), func(t *testing.T) { testCheckpointerDies(t, at) })
	}
}

func testCheckpointerDies(t *testing.T, at string) {
	c := startCowRace(t, 256)
	pid := c.cmd.Process.Pid
	fds := fdsOf(pid)
	helper := exec.Command(os.Args[0], "-test.run=^TestUffdSnapshotCheckpointerDies$")
	helper.Env = append(os.Environ(), fmt.Sprintf("LAZARUS_UFFD_VICTIM=%d", pid), "LAZARUS_UFFD_IMAGE="+filepath.Join(c.dir, "img"), "LAZARUS_UFFD_BLOCK_AT="+at)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "writing\n" {
		t.Fatalf("the checkpointer said %q, want writing", line)
	}
	if got := uffdRegistered(pid); len(got) == 0 {
		t.Fatal("the job's memory is not registered while its image is written")
	}
	helper.Process.Kill()
	helper.Wait()
	g := c.gen()
	waitFor(t, "the job to go on", func() bool { return c.gen() > g+2 })
	if got := uffdRegistered(pid); len(got) != 0 {
		t.Fatalf("mappings still registered with a userfaultfd after the checkpointer died: %v", got)
	}
	if got := fdsOf(pid); !slices.Equal(got, fds) {
		t.Fatalf("descriptors after the checkpointer died: %v, want %v", got, fds)
	}
	if errs, sigchld, reaped, _ := c.report(t, pid); errs != 0 || sigchld != 0 || reaped != 0 {
		t.Fatalf("after the checkpointer died the job saw errors %d, SIGCHLD %d, children reaped %d; want 0 0 0", errs, sigchld, reaped)
	}
}

// TestUffdSnapshotExecBeforeFreeze: a process that execs between the
// write-protection made before the freeze and the freeze (another mm: the
// protection is of the old one) is snapshotted from its new memory: the
// restored process is the program after its exec, every page of it right.
func TestUffdSnapshotExecBeforeFreeze(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := start(t, dir, cprog(t, "preexec"), out)
	pid := cmd.Process.Pid
	has := func(s string) bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), s)
	}
	waitFor(t, "preexec ready", func() bool { return has("ready before") })
	preFreezeHook = func() {
		unix.Kill(pid, unix.SIGUSR1)
		waitFor(t, "the exec", func() bool { return has("ready after") })
	}
	t.Cleanup(func() { preFreezeHook = nil })
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, Logger: log}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	preFreezeHook = nil
	if !strings.Contains(logged.String(), "write-protected before the freeze") {
		t.Fatalf("no write-protection before the freeze:\n%s", logged.String())
	}
	if !strings.Contains(logged.String(), "the process exec'd") {
		t.Fatalf("the exec was not seen:\n%s", logged.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	unix.Kill(p.PID, unix.SIGUSR2)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v", ws)
	}
	if b, _ := os.ReadFile(out); string(b) != "ok after\n" {
		t.Fatalf("the restored program said %q, want \"ok after\\n\"", b)
	}
}
