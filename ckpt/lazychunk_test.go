package ckpt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// lazySum returns slowsum's "sum" line of out, "" if none.
func lazySum(out string) string {
	b, _ := os.ReadFile(out)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "sum ") {
			return l
		}
	}
	return ""
}

// regionRSS returns the resident kB of pid's mapping of size kB.
func regionRSS(t *testing.T, pid int, sizeKB int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	in := false
	for s.Scan() {
		var v int
		if _, err := fmt.Sscanf(s.Text(), "Size: %d kB", &v); err == nil {
			in = v == sizeKB
		} else if _, err := fmt.Sscanf(s.Text(), "Rss: %d kB", &v); err == nil && in {
			return v
		}
	}
	t.Fatalf("pid %d has no mapping of %d kB", pid, sizeKB)
	return 0
}

// TestLazyChunksAndChains restores lazily a chain of three incremental
// generations of slowsum (its memory rewritten one page in 20 between
// them), plain and compressed, with the background load held so that every
// page comes in through a fault. The pages come from all three images
// (the loader reads the chain), a compressed segment is decoded chunk by
// chunk (after the job read its first MiB, about that much of its 192 MiB
// is in: not the 64 MiB segment), and the sum is the uninterrupted run's,
// though the images are removed once the job runs.
func TestLazyChunksAndChains(t *testing.T) {
	needRoot(t)
	const mib = 192
	prog := cprog(t, "slowsum")
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, prog, fmt.Sprint(mib), ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	for k := 1; k <= 2; k++ {
		rc.Process.Signal(unix.SIGUSR2)
		waitFor(t, "step", func() bool { return lines(ref) >= 1+k })
	}
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	want := lazySum(ref)
	if want == "" {
		t.Fatal("reference run printed no sum")
	}
	defer func() { lazyHold = nil }()

	for _, c := range []struct {
		name     string
		compress int
	}{{"plain", 0}, {"zstd", 1}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(dir, c.name)
			os.Mkdir(dir, 0o755)
			out := filepath.Join(dir, "out.txt")
			cmd := start(t, dir, prog, fmt.Sprint(mib), out, "pause")
			waitFor(t, "ready", func() bool { return lines(out) >= 1 })
			for k := 0; k <= 2; k++ {
				if k > 0 {
					cmd.Process.Signal(unix.SIGUSR2)
					waitFor(t, "step", func() bool { return lines(out) >= 1+k })
				}
				opts := CheckpointOptions{Dir: dir, File: fmt.Sprintf("g%d", k), Track: true, Compress: c.compress}
				if k > 0 {
					opts.Parent = filepath.Join(dir, fmt.Sprintf("g%d", k-1))
				}
				if k == 2 {
					opts.Signal = unix.SIGKILL
				}
				res, err := Checkpoint(context.Background(), cmd.Process.Pid, opts)
				if err != nil {
					t.Fatalf("checkpoint g%d: %v", k, err)
				}
				if res.Incremental != (k > 0) {
					t.Fatalf("g%d incremental: %v", k, res.Incremental)
				}
			}
			cmd.Wait()
			hold := make(chan struct{})
			lazyHold = hold
			p, err := Restart(context.Background(), filepath.Join(dir, "g2"), RestartOptions{Lazy: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Kill(p.PID, unix.SIGKILL) })
			if p.lazy == nil {
				t.Fatal("no loader: the memory was not restored lazily")
			}
			p.lazy.mu.Lock()
			images := map[string]bool{}
			for _, s := range p.lazy.srcs {
				images[filepath.Base(s.img.Path)] = true
			}
			p.lazy.mu.Unlock()
			if len(images) != 3 {
				t.Errorf("pages served from %v, want the 3 images of the chain", images)
			}
			// The images are pruned meanwhile (a batch system took a newer
			// generation): the loader holds them open, the pages still
			// come from what was verified in them.
			for k := 0; k <= 2; k++ {
				if err := os.Remove(filepath.Join(dir, fmt.Sprintf("g%d", k))); err != nil {
					t.Fatal(err)
				}
			}
			unix.Kill(p.PID, unix.SIGUSR1)
			waitFor(t, "summing", func() bool { return strings.Contains(readFile(out), "summing") })
			if rss := regionRSS(t, p.PID, mib<<10); c.compress > 0 && rss > 8<<10 {
				t.Errorf("after the first MiB was read, %d kB of the region are in: whole segments were decoded, not chunks", rss)
			} else {
				t.Logf("after the first MiB was read: %d kB of %d in", rss, mib<<10)
			}
			close(hold) // the rest may come in the background now
			unix.Kill(p.PID, unix.SIGUSR2)
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				t.Fatalf("restarted: %v", ws)
			}
			if got := lazySum(out); got != want {
				t.Fatalf("after the lazy restart %q, want %q", got, want)
			}
		})
	}

	// A damaged chunk of a compressed image, found by a fault once the
	// job runs: its bytes changed (the segment's CRC fails), or a forged
	// frame with the checksums made right (its decoding fails). The job is
	// killed with the segment named, never runs on the chunk.
	t.Run("damaged-chunk", func(t *testing.T) {
		dir := filepath.Join(dir, "damaged")
		os.Mkdir(dir, 0o755)
		out := filepath.Join(dir, "out.txt")
		cmd := start(t, dir, prog, fmt.Sprint(mib), out)
		waitFor(t, "ready", func() bool { return lines(out) >= 1 })
		img := filepath.Join(dir, "z.img")
		if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Compress: 1, Signal: unix.SIGKILL}); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		good, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		index, off, stored, _ := compressedChunk(t, img)
		for _, d := range []struct {
			name, want string
			forge      func() []byte
		}{
			{"frame-bytes", "CRC-32C mismatch", func() []byte {
				b := append([]byte(nil), good...)
				for i := int64(16); i < 48; i++ {
					b[off+i] ^= 0x5a
				}
				return b
			}},
			{"frame-shortened-resealed", "chunk", func() []byte {
				return resealChunked(t, append([]byte(nil), good...), func(c []uint32) { c[index] = uint32(stored / 2) })
			}},
		} {
			t.Run(d.name, func(t *testing.T) {
				path := forge(t, dir, d.name+".img", d.forge())
				os.WriteFile(out, []byte("ready\n"), 0o644)
				lazyHold = nil
				p, err := Restart(context.Background(), path, RestartOptions{Lazy: true})
				if err != nil {
					t.Fatalf("lazy restart refused before running (%v): the chunk was checked eagerly", err)
				}
				unix.Kill(p.PID, unix.SIGUSR1)
				ws, err := p.Wait()
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "segment") || !strings.Contains(err.Error(), d.want) || !strings.Contains(err.Error(), path) {
					t.Fatalf("wait: %v, want %v naming the image, the segment and %q", err, ErrCorrupt, d.want)
				}
				t.Logf("wait: %v", err)
				if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
					t.Errorf("job after a bad chunk: %v, want killed", ws)
				}
				if s := lazySum(out); s != "" {
					t.Fatalf("the job reported %q from a damaged image", s)
				}
			})
		}
	})
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
