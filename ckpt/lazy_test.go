package ckpt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLazyRestore restarts lazily: the process runs before its memory is
// in, and what it computes is what an uninterrupted run computes (memhog's
// sum of 256 MiB); lazyfork forks, drops and moves memory right after the
// restart, while pages are still coming in, and checks each word; a
// segment damaged in the image kills the job that was already running,
// with an error naming the segment, and it never reports a result.
func TestLazyRestore(t *testing.T) {
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
	rc := start(t, dir, cprog(t, "memhog"), "256", ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := sum(ref)
	if want == "" {
		t.Fatal("reference run printed no sum")
	}

	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "256", out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "memhog.img")
	checkpointKill(t, cmd, img)

	t.Run("sum", func(t *testing.T) {
		began := time.Now()
		p, err := Restart(context.Background(), img, RestartOptions{Lazy: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("lazy restart of 256 MiB running after %v", time.Since(began))
		if p.lazy == nil {
			t.Fatal("no loader: the memory was not restored lazily")
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		if ws := waitProc(t, p); ws.ExitStatus() != 0 {
			t.Fatalf("restarted: %v", ws)
		}
		select {
		case <-p.Loaded():
		case <-time.After(time.Minute):
			t.Fatal("Loaded never closed")
		}
		if err := p.LoadErr(); err != nil {
			t.Fatal(err)
		}
		if got := sum(out); got != want {
			t.Fatalf("after the lazy restart %q, want %q", got, want)
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		good, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		e, off := largestSegment(t, img)
		bad := append([]byte(nil), good...)
		junk := make([]byte, 4096)
		rand.Read(junk)
		at := off + int64(e.Len/2)&^(pageSize-1)
		if bytes.Equal(bad[at:at+4096], junk) {
			t.Fatal("the data written is what was there")
		}
		copy(bad[at:], junk)
		path := forge(t, dir, "bad.img", bad)
		os.WriteFile(out, []byte("ready\n"), 0o644) // as at the checkpoint
		p, err := Restart(context.Background(), path, RestartOptions{Lazy: true})
		if err != nil {
			t.Fatalf("lazy restart refused before running (%v): the segment was checked eagerly", err)
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		ws, err := p.Wait()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "segment") || !strings.Contains(err.Error(), path) {
			t.Fatalf("wait: %v, want %v naming the image and the segment", err, ErrCorrupt)
		}
		if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
			t.Errorf("job after a bad segment: %v, want killed", ws)
		}
		if s := sum(out); s != "" {
			t.Fatalf("the job reported %q from a damaged image", s)
		}
	})

	t.Run("fork-remap-dontneed", func(t *testing.T) {
		out := filepath.Join(dir, "lf.txt")
		cmd := start(t, dir, cprog(t, "lazyfork"), "512", out)
		waitFor(t, "ready", func() bool { return lines(out) >= 1 })
		img := filepath.Join(dir, "lazyfork.img")
		checkpointKill(t, cmd, img)
		p, err := Restart(context.Background(), img, RestartOptions{Lazy: true})
		if err != nil {
			t.Fatal(err)
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		if ws := waitProc(t, p); ws.ExitStatus() != 0 {
			t.Fatalf("restarted: %v", ws)
		}
		b, _ := os.ReadFile(out)
		if got := string(b); !strings.Contains(got, "child 1 dontneed 1 remap 1 rest 1") {
			t.Fatalf("lazyfork after a lazy restart: %q", got)
		}
	})
}
