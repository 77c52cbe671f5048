package ckpt

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPrefaulterOrder drives a prefaulter over a data run with reads of
// every size (short ones too), its writes slowed down and recorded: no
// write may still be going on over a range when a read of it starts, and
// every byte written is inside the run and read afterwards.
func TestPrefaulterOrder(t *testing.T) {
	const mib = 1 << 20
	runStart, runEnd := uint64(0x10000000+4096), uint64(0x10000000+4096+37*mib+12288)
	// A logical clock: a write is stamped when it ends, a read when it
	// starts. A write over a read's range must have ended before it.
	var clock atomic.Int64
	type w struct {
		start, end uint64
		at         int64
	}
	var mu sync.Mutex
	var written []w
	var pf prefaulter
	pf.on = true
	pf.write = func(addr, n uint64) error {
		time.Sleep(time.Millisecond)
		mu.Lock()
		written = append(written, w{addr, addr + n, clock.Add(1)})
		mu.Unlock()
		return nil
	}
	pf.startRun(runStart, runEnd)
	var read []w
	sizes := []uint64{8 * mib, 3 * mib, 8 * mib, 5000, 8 * mib, 32 * mib}
	for at, k := runStart, 0; at < runEnd; k++ {
		n := min(sizes[k%len(sizes)], runEnd-at)
		pf.before(at, n)
		got := n
		if k%3 == 1 {
			got = n / 2 // a short read: the rest is read next
		}
		read = append(read, w{at, at + n, clock.Add(1)})
		at += got
	}
	pf.wait(^uint64(0))
	mu.Lock()
	defer mu.Unlock()
	if len(written) < 5 {
		t.Errorf("%d prefaults over a run of 37 MiB", len(written))
	}
	for _, x := range written {
		if x.start < runStart || x.end > runEnd {
			t.Errorf("prefault %#x-%#x outside the run %#x-%#x", x.start, x.end, runStart, runEnd)
		}
		readAfter := false
		for _, r := range read {
			if r.start < x.end && x.start < r.end {
				if x.at > r.at {
					t.Errorf("prefault %#x-%#x ended after the read %#x-%#x over it began", x.start, x.end, r.start, r.end)
				}
				readAfter = true
			}
		}
		if !readAfter {
			t.Errorf("prefault %#x-%#x never read", x.start, x.end)
		}
	}
	// Off (a shared or file region): nothing is written.
	written = nil
	mu.Unlock()
	pf.on = false
	pf.startRun(runStart, runEnd)
	pf.before(runStart, 8*mib)
	pf.wait(^uint64(0))
	mu.Lock()
	if len(written) != 0 {
		t.Errorf("prefaults in a region that is not private anonymous memory: %v", written)
	}
}

// TestRestorePrefaulted restarts memhog with runs of data of several read
// pieces each between runs of zeros (holes of the image), from the page
// cache and from the disk: the restored job computes the sum of an
// uninterrupted run, so no zero a prefault wrote is left over data.
func TestRestorePrefaulted(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, cprog(t, "memhog"), "100", ref, "runs")
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := sumLine(ref)
	if want == "" {
		t.Fatal("memhog wrote no sum")
	}
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "100", out, "runs")
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "memhog.img")
	checkpointKill(t, cmd, img)
	for _, warm := range []bool{true, false, true} {
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		if warm {
			io.Copy(io.Discard, f)
		} else {
			unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		os.WriteFile(out, []byte("ready\n"), 0o644)
		p, err := Restart(context.Background(), img, RestartOptions{})
		if err != nil {
			t.Fatalf("restart (image in the page cache: %v): %v", warm, err)
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if got := sumLine(out); got != want {
			t.Fatalf("restored job (image in the page cache: %v) computed %q, want %q", warm, got, want)
		}
	}
}
