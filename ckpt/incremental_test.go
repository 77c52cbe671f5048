package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// incrProg is a running testdata/incr.c: it answers signals with lines
// appended to its output file.
type incrProg struct {
	t   *testing.T
	pid int
	out string
	cmd *exec.Cmd
}

func startIncr(t *testing.T, dir string, mib int, event string) *incrProg {
	t.Helper()
	out := filepath.Join(dir, "out")
	args := []string{fmt.Sprint(mib), out}
	if event != "" {
		args = append(args, event)
	}
	cmd := start(t, dir, cprog(t, "incr"), args...)
	p := &incrProg{t: t, pid: cmd.Process.Pid, out: out, cmd: cmd}
	p.await("ready")
	return p
}

// ask sends sig to the process (pid) and returns the first new line that
// starts with prefix.
func (p *incrProg) ask(pid int, sig syscall.Signal, prefix string) string {
	p.t.Helper()
	n := lines(p.out)
	if err := unix.Kill(pid, sig); err != nil {
		p.t.Fatal(err)
	}
	return p.awaitAfter(n, prefix)
}

func (p *incrProg) await(prefix string) string { p.t.Helper(); return p.awaitAfter(0, prefix) }

func (p *incrProg) awaitAfter(n int, prefix string) string {
	p.t.Helper()
	var got string
	waitFor(p.t, prefix, func() bool {
		b, _ := os.ReadFile(p.out)
		ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		for _, l := range ls[min(n, len(ls)):] {
			if strings.HasPrefix(l, prefix) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

func (p *incrProg) checkpoint(dir, file, parent string, tree bool) *CheckpointResult {
	p.t.Helper()
	opts := CheckpointOptions{Dir: dir, File: file, Track: true, Tree: tree, Logger: testLogger(p.t)}
	if parent != "" {
		opts.Parent = filepath.Join(dir, parent)
	}
	res, err := Checkpoint(context.Background(), p.pid, opts)
	if err != nil {
		p.t.Fatalf("checkpoint %s: %v", file, err)
	}
	return res
}

func (p *incrProg) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// restoredSum restarts image and returns what it says its memory sums to;
// the restored process is killed after.
func (p *incrProg) restoredSum(image string, opts RestartOptions) string {
	p.t.Helper()
	rp, err := Restart(context.Background(), image, opts)
	if err != nil {
		p.t.Fatalf("restart %s: %v", filepath.Base(image), err)
	}
	defer func() {
		unix.Kill(rp.PID, unix.SIGKILL)
		rp.Wait()
	}()
	return p.ask(rp.PID, unix.SIGUSR2, "sum ")
}

// TestIncrementalChain: five incremental generations of a program that
// rewrites one page in 20 between them; each holds about what changed,
// and each restores (fast and lazily) to the memory it had.
func TestIncrementalChain(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 64, "")
	sums := []string{p.ask(p.pid, unix.SIGUSR2, "sum ")}
	full := p.checkpoint(dir, "g0", "", false)
	if full.Incremental {
		t.Fatal("first checkpoint is incremental")
	}
	for k := 1; k <= 5; k++ {
		p.ask(p.pid, unix.SIGUSR1, "step ")
		sums = append(sums, p.ask(p.pid, unix.SIGUSR2, "sum "))
		res := p.checkpoint(dir, fmt.Sprintf("g%d", k), fmt.Sprintf("g%d", k-1), false)
		if !res.Incremental {
			os.Rename(dir, "/tmp/incrsmoke/keep")
			t.Fatalf("generation %d is not incremental", k)
		}
		// 5% of 64 MiB changed, in pages spread out (with the gaps
		// heap and stack, under a tenth).
		if res.Memory*10 > full.Memory {
			t.Errorf("generation %d saved %d bytes, the full one %d", k, res.Memory, full.Memory)
		}
		img, err := ReadImage(filepath.Join(dir, fmt.Sprintf("g%d", k)))
		if err != nil {
			t.Fatal(err)
		}
		if img.Parent() != fmt.Sprintf("g%d", k-1) {
			t.Errorf("generation %d names parent %q", k, img.Parent())
		}
	}
	p.kill()
	for k, want := range sums {
		if got := p.restoredSum(filepath.Join(dir, fmt.Sprintf("g%d", k)), RestartOptions{}); got != want {
			t.Errorf("generation %d restored: %q, want %q", k, got, want)
		}
	}
	if got := p.restoredSum(filepath.Join(dir, "g5"), RestartOptions{Lazy: true}); got != sums[5] {
		t.Errorf("generation 5 restored lazily: %q, want %q", got, sums[5])
	}
	if _, err := VerifyImage(filepath.Join(dir, "g5"), nil); err != nil {
		t.Errorf("verify: %v", err)
	}
}

var _ = errors.Is

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(strings.TrimSpace(string(b))); return len(b), nil }

func TestIncrDebugDump(t *testing.T) {
	img, err := ReadImage(os.Getenv("IMG"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("track %+v parent %+v", img.meta.Track, img.meta.Parent)
	for _, r := range img.meta.Regions {
		t.Logf("%#x-%#x %s %s tracked=%v inherit=%v ext=%d clear=%d", r.Start, r.End, r.Kind, r.Name, r.Tracked, r.Inherit, len(r.Extents), len(r.Clear))
	}
}
