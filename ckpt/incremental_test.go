package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	opts := CheckpointOptions{Dir: dir, File: file, Track: true, Tree: tree}
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
	if opts.Lazy {
		// incr sums pages not in memory as zeros (mincore): all in first.
		select {
		case <-rp.Loaded():
		case <-time.After(2 * time.Minute):
			p.t.Fatal("lazy restore: pages still missing after 2 minutes")
		}
	}
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
			t.Fatalf("generation %d is not incremental", k)
		}
		// 5% of 64 MiB changed, in pages spread out: with the heap and
		// the stack, under a tenth.
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

// bigRegion returns the region of img holding the program's MIB MiB.
func bigRegion(t *testing.T, img *Image, mib int) region {
	t.Helper()
	for _, r := range img.meta.Regions {
		if r.End-r.Start == uint64(mib)<<20 {
			return r
		}
	}
	var have []string
	for _, r := range img.meta.Regions {
		have = append(have, fmt.Sprintf("%#x-%#x %s prot %#x", r.Start, r.End, r.Kind, r.Prot))
	}
	t.Fatalf("%s: no region of %d MiB among %s", img.Path, mib, strings.Join(have, "; "))
	return region{}
}

// TestIncrementalTrackingLost: whatever the program did between two
// checkpoints that may have cost the tracker its knowledge, the
// incremental image restores the memory it had: the regions concerned
// are saved whole (or, pages dropped, cleared).
func TestIncrementalTrackingLost(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		event   string
		inherit bool // the big region still inherits from the parent
		clear   bool // with runs to clear
	}{
		{"closeall", false, false},
		{"remap", false, false},
		{"mremap", false, false},
		{"dontneed", true, true},
		{"fork", true, false},
		{"read", true, false},
	} {
		t.Run(tc.event, func(t *testing.T) {
			dir := t.TempDir()
			p := startIncr(t, dir, 16, tc.event)
			tree := tc.event == "fork"
			p.checkpoint(dir, "g0", "", tree)
			p.ask(p.pid, unix.SIGUSR1, "step ")
			p.ask(p.pid, unix.SIGHUP, "event ")
			want := p.ask(p.pid, unix.SIGUSR2, "sum ")
			p.checkpoint(dir, "g1", "g0", tree)
			img, err := readImageChain(filepath.Join(dir, "g1"), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := bigRegion(t, img, 16)
			if r.FromParent != tc.inherit || (len(r.Clear) > 0) != tc.clear {
				t.Errorf("after %s: region inherits %v with %d runs to clear, want %v, %v", tc.event, r.FromParent, len(r.Clear), tc.inherit, tc.clear)
			}
			if tc.event == "read" {
				// The kernel's writes (read(2)) were seen: 16 pages.
				if n := extLen(r.Extents) / pageSize; n < 16+16 {
					t.Errorf("after read(2) into 16 pages: %d pages saved", n)
				}
			}
			p.kill()
			// The child of "fork" waits for its end in pause(): it is
			// killed before its pid is needed again, and so is the
			// restored one.
			killChildren := func() {
				for _, c := range img.Children() {
					if cimg, err := ReadImage(filepath.Join(dir, c)); err == nil {
						unix.Kill(cimg.PID, unix.SIGKILL)
						waitFor(t, "the child's end", func() bool { return unix.Kill(cimg.PID, 0) != nil })
					}
				}
			}
			killChildren()
			got := p.restoredSum(filepath.Join(dir, "g1"), RestartOptions{})
			killChildren()
			if got != want {
				t.Errorf("restored after %s: %q, want %q", tc.event, got, want)
			}
		})
	}
}

// TestIncrementalRestoredNeverTracked: a restored process has no tracker:
// its first checkpoint against the image it came from is whole, and the
// next one incremental again.
func TestIncrementalRestoredNeverTracked(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 16, "")
	p.checkpoint(dir, "g0", "", false)
	p.kill()
	rp, err := Restart(context.Background(), filepath.Join(dir, "g0"), RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Kill(rp.PID, unix.SIGKILL)
		rp.Wait()
	}()
	p.pid = rp.PID
	p.ask(p.pid, unix.SIGUSR1, "step ")
	if res := p.checkpoint(dir, "g1", "g0", false); res.Incremental {
		t.Error("the first checkpoint of a restored process is incremental")
	}
	p.ask(p.pid, unix.SIGUSR1, "step ")
	want := p.ask(p.pid, unix.SIGUSR2, "sum ")
	if res := p.checkpoint(dir, "g2", "g1", false); !res.Incremental {
		t.Error("the second checkpoint of a restored process is not incremental")
	}
	unix.Kill(rp.PID, unix.SIGKILL)
	rp.Wait()
	if got := p.restoredSum(filepath.Join(dir, "g2"), RestartOptions{}); got != want {
		t.Errorf("restored: %q, want %q", got, want)
	}
}

// TestIncrementalParentRefused: an incremental image whose parent is
// missing, replaced by another image, or damaged is refused, never
// restored from what is there.
func TestIncrementalParentRefused(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 16, "")
	p.checkpoint(dir, "g0", "", false)
	p.ask(p.pid, unix.SIGUSR1, "step ")
	p.checkpoint(dir, "g1", "g0", false)
	// Another checkpoint of the same process, to put in g0's place.
	p.ask(p.pid, unix.SIGUSR1, "step ")
	p.checkpoint(dir, "other", "", false)
	p.kill()
	g0, g1 := filepath.Join(dir, "g0"), filepath.Join(dir, "g1")
	good, err := os.ReadFile(g0)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(filepath.Join(dir, "other"))
	for _, tc := range []struct {
		name string
		set  func()
		want error
	}{
		{"missing", func() { os.Remove(g0) }, ErrParent},
		{"replaced", func() { os.WriteFile(g0, other, 0o600) }, ErrParent},
		{"data damaged", func() {
			b := append([]byte(nil), good...)
			b[len(b)-pageSize*3+17] ^= 0x40 // a page of the region's last segment
			os.WriteFile(g0, b, 0o600)
		}, ErrCorrupt},
		{"metadata damaged", func() {
			b := append([]byte(nil), good...)
			b[ehSize+phentSize+40] ^= 1
			os.WriteFile(g0, b, 0o600)
		}, ErrParent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			defer os.WriteFile(g0, good, 0o600)
			rp, err := Restart(context.Background(), g1, RestartOptions{})
			if err == nil {
				unix.Kill(rp.PID, unix.SIGKILL)
				rp.Wait()
				t.Fatal("restart succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("restart: %v, want %v", err, tc.want)
			}
			// One line that names the parent.
			if msg := err.Error(); !strings.Contains(msg, "g0") || strings.Contains(msg, "\n") {
				t.Errorf("restart: %q does not name the parent g0 on one line", msg)
			}
			if _, err := VerifyImage(g1, nil); err == nil {
				t.Error("verify succeeded")
			}
		})
	}
	if got := p.restoredSum(g1, RestartOptions{}); !strings.HasPrefix(got, "sum 1 ") {
		t.Errorf("restored with its parent back: %q", got)
	}
}

// TestIncrementalMerge: a chain merged is self-contained: it restores with
// the images below it gone, and the image made against a merged one still
// takes it as its parent.
func TestIncrementalMerge(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 16, "dontneed")
	p.checkpoint(dir, "g0", "", false)
	var sums []string
	for k := 1; k <= 3; k++ {
		p.ask(p.pid, unix.SIGUSR1, "step ")
		if k == 2 {
			p.ask(p.pid, unix.SIGHUP, "event ")
		}
		sums = append(sums, p.ask(p.pid, unix.SIGUSR2, "sum "))
		p.checkpoint(dir, fmt.Sprintf("g%d", k), fmt.Sprintf("g%d", k-1), false)
	}
	p.kill()
	merged, err := Merge(context.Background(), filepath.Join(dir, "g2"), MergeOptions{})
	if err != nil || len(merged) != 1 {
		t.Fatalf("merge g2: %v %v", merged, err)
	}
	img, err := ReadImage(filepath.Join(dir, "g2"))
	if err != nil || img.Incremental() {
		t.Fatalf("merged g2: %v, incremental %v", err, img != nil && img.Incremental())
	}
	os.Remove(filepath.Join(dir, "g0"))
	os.Remove(filepath.Join(dir, "g1"))
	if got := p.restoredSum(filepath.Join(dir, "g2"), RestartOptions{}); got != sums[1] {
		t.Errorf("merged g2 restored: %q, want %q", got, sums[1])
	}
	if got := p.restoredSum(filepath.Join(dir, "g3"), RestartOptions{}); got != sums[2] {
		t.Errorf("g3 on the merged g2 restored: %q, want %q", got, sums[2])
	}
	if _, err := Merge(context.Background(), filepath.Join(dir, "g3"), MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "g2"))
	if got := p.restoredSum(filepath.Join(dir, "g3"), RestartOptions{}); got != sums[2] {
		t.Errorf("merged g3 restored: %q, want %q", got, sums[2])
	}
	if got := p.restoredSum(filepath.Join(dir, "g3"), RestartOptions{Lazy: true}); got != sums[2] {
		t.Errorf("merged g3 restored lazily: %q, want %q", got, sums[2])
	}
}

// TestIncrementalRacingWriter: incremental checkpoints of a program that
// rewrites its memory as fast as it can restore the memory of one instant;
// a checkpoint that fails after the tracker was renewed leaves none that
// an image records: the next one is whole.
func TestIncrementalRacingWriter(t *testing.T) {
	needRoot(t)
	c := startCowRace(t, 64)
	pid := c.cmd.Process.Pid
	g0, g1, g2 := filepath.Join(c.dir, "g0"), filepath.Join(c.dir, "g1"), filepath.Join(c.dir, "g2")
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g0, Track: true}); err != nil {
		t.Fatal(err)
	}
	g := c.gen()
	waitFor(t, "a sweep", func() bool { return c.gen() > g })
	res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g1, Parent: g0})
	if err != nil || !res.Incremental {
		t.Fatalf("incremental checkpoint: %v (incremental %v)", err, res != nil && res.Incremental)
	}
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: filepath.Join(small, "img"), Parent: g1}); err == nil {
		t.Fatal("checkpoint onto a full disk succeeded")
	}
	if res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g2, Parent: g1}); err != nil || res.Incremental {
		t.Fatalf("checkpoint after a failed one: %v, incremental %v (want whole)", err, res != nil && res.Incremental)
	}
	saved := imageWord(t, g1, c.addr)
	c.cmd.Process.Kill()
	c.cmd.Wait()
	rp, err := Restart(context.Background(), g1, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitFor(t, "two sweeps after restart", func() bool { return c.gen() >= saved+2 })
	errs, _, _, gen := c.report(t, rp.PID)
	if ws := waitProc(t, rp); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: %v", ws)
	}
	if errs != 0 {
		t.Fatalf("restarted program found %d pages not of the instant of the freeze (sweep %d saved, at %d)", errs, saved, gen)
	}
}
