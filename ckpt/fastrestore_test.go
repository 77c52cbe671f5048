package ckpt

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
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
