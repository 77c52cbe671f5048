package ckpt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRestoreImageRewritten restarts memhog while another writer keeps
// rewriting a page of its image, back and forth between the good bytes
// and others: whatever the interleaving, each restart (eager and lazy)
// either refuses the image as corrupt or computes exactly the sum of an
// uninterrupted run. What is verified is what went into memory, never a
// look at the file before or after the process read it.
func TestRestoreImageRewritten(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sum := func(path string) string {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "sum ") {
				return l
			}
		}
		return ""
	}
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, cprog(t, "memhog"), "64", ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := sum(ref)

	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "64", out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "memhog.img")
	checkpointKill(t, cmd, img)
	e, off := largestSegment(t, img)
	at := off + int64(e.Len/2)&^(pageSize-1)
	good := make([]byte, pageSize)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(good, at); err != nil {
		t.Fatal(err)
	}
	bad := make([]byte, pageSize)
	rand.Read(bad)

	var refused, restored int
	for round := 0; round < 6; round++ {
		lazy := round%2 == 1
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the other writer; ends at stop
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					f.WriteAt(good, at)
					return
				default:
				}
				if i%2 == 0 {
					f.WriteAt(bad, at)
				} else {
					f.WriteAt(good, at)
				}
			}
		}()
		os.WriteFile(out, []byte("ready\n"), 0o644)
		p, err := Restart(context.Background(), img, RestartOptions{Lazy: lazy})
		if err == nil {
			unix.Kill(p.PID, unix.SIGUSR1)
			_, err = p.Wait()
		}
		close(stop)
		wg.Wait()
		switch {
		case errors.Is(err, ErrCorrupt):
			refused++
			if s := sum(out); s != "" {
				t.Errorf("round %d (lazy %v): refused as corrupt, yet the job reported %q", round, lazy, s)
			}
		case err != nil:
			t.Fatalf("round %d (lazy %v): %v", round, lazy, err)
		default:
			restored++
			if got := sum(out); got != want {
				t.Fatalf("round %d (lazy %v): the job ran on bytes that were not checked: %q, want %q", round, lazy, got, want)
			}
		}
	}
	t.Logf("%d restores refused, %d right", refused, restored)
}

// TestRestoreColdImage restarts memhog from an image the page cache holds
// none of (the first restore after a checkpoint: images are written
// O_DIRECT), half of, and all of: the pieces not cached are read O_DIRECT
// into the process (the -X log counts them), the others buffered, and the
// job computes the sum of an uninterrupted run each time. A page of the
// image damaged on the disk, read O_DIRECT, is refused as corrupt.
func TestRestoreColdImage(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, cprog(t, "memhog"), "96", ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := sumLine(ref)

	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "96", out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "memhog.img")
	checkpointKill(t, cmd, img)
	e, off := largestSegment(t, img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evict := func() {
		f.Sync()
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() (direct bool, err error) {
		var log lockedBuffer
		os.WriteFile(out, []byte("ready\n"), 0o644)
		p, err := Restart(context.Background(), img, RestartOptions{
			Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			return false, err
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		if _, err := p.Wait(); err != nil {
			return false, err
		}
		if got := sumLine(out); got != want {
			t.Fatalf("restored job computed %q, want %q", got, want)
		}
		m := regexp.MustCompile(`\((\d+) MiB read O_DIRECT\)`).FindStringSubmatch(log.String())
		if m == nil {
			t.Fatalf("no memory line in the log:\n%s", log.String())
		}
		return m[1] != "0", nil
	}
	for _, c := range []struct {
		name   string
		cached int64 // bytes of the largest segment read into the cache first
		direct bool
	}{
		{"cold", 0, true},
		{"half", int64(e.Len / 2), true},
		{"warm", -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			evict()
			switch {
			case c.cached < 0:
				io.Copy(io.Discard, io.NewSectionReader(f, 0, 1<<40))
			case c.cached > 0:
				io.Copy(io.Discard, io.NewSectionReader(f, off, c.cached))
			}
			before := cachedPages(t, f, off, int64(e.Len))
			direct, err := restore()
			if err != nil {
				t.Fatal(err)
			}
			if direct != c.direct {
				t.Errorf("read O_DIRECT: %v, want %v", direct, c.direct)
			}
			// What the process read buffered left the page cache
			// (fastrestore.go, Page cache).
			if after := cachedPages(t, f, off, int64(e.Len)); c.cached < 0 && after > before/8 {
				t.Errorf("the largest segment has %d pages in the page cache after the restore, %d before: want them dropped", after, before)
			}
		})
	}
	t.Run("damaged", func(t *testing.T) {
		at := off + int64(e.Len/2)&^(pageSize-1)
		good := make([]byte, pageSize)
		if _, err := f.ReadAt(good, at); err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), good...)
		bad[100] ^= 0x40
		if _, err := f.WriteAt(bad, at); err != nil {
			t.Fatal(err)
		}
		evict()
		if _, err := restore(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("restore of a damaged cold image: %v, want %v", err, ErrCorrupt)
		}
		f.WriteAt(good, at)
		evict()
		if _, err := restore(); err != nil {
			t.Errorf("restore of the image mended: %v", err)
		}
	})
}

// cachedPages counts the pages of f's range in the page cache.
func cachedPages(t *testing.T, f *os.File, off, n int64) uint64 {
	t.Helper()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Off: uint64(off), Len: uint64(n)}, &st, 0); err != nil {
		t.Fatalf("cachestat: %v", err)
	}
	return st.Cache
}

func sumLine(path string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "sum ") {
			return l
		}
	}
	return ""
}

// lockedBuffer is a bytes.Buffer a log handler writes to from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
