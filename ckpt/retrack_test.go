package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIncrementalRestoredTracked: a process restored with Track is
// checkpointed incrementally against the image it was restored from, its
// first checkpoint after the restore included. A chain of five, with a
// restart (from generation 1, then 3) between, each of 5% of the pages
// written: every incremental generation is small, and each restores to
// the memory it had.
func TestIncrementalRestoredTracked(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := startIncr(t, dir, 64, "")
	sums := []string{p.ask(p.pid, unix.SIGUSR2, "sum ")}
	full := p.checkpoint(dir, "g0", "", false)
	var rp *Process
	stop := func() {
		if rp != nil {
			unix.Kill(rp.PID, unix.SIGKILL)
			rp.Wait()
			rp = nil
		} else {
			p.kill()
		}
	}
	defer func() { stop() }()
	for k := 1; k <= 4; k++ {
		if k == 2 || k == 4 {
			stop()
			var err error
			if rp, err = Restart(context.Background(), filepath.Join(dir, fmt.Sprintf("g%d", k-1)), RestartOptions{Track: true}); err != nil {
				t.Fatal(err)
			}
			p.pid = rp.PID
			if _, err := os.Stat(trackNotePath(filepath.Join(dir, fmt.Sprintf("g%d", k-1)))); err != nil {
				t.Errorf("no note of the restore's tracker: %v", err)
			}
		}
		p.ask(p.pid, unix.SIGUSR1, "step ")
		sums = append(sums, p.ask(p.pid, unix.SIGUSR2, "sum "))
		res := p.checkpoint(dir, fmt.Sprintf("g%d", k), fmt.Sprintf("g%d", k-1), false)
		if !res.Incremental {
			t.Fatalf("generation %d (restored before: %v) is not incremental", k, k == 2 || k == 4)
		}
		if res.Memory*10 > full.Memory {
			t.Errorf("generation %d saved %d bytes, the full one %d", k, res.Memory, full.Memory)
		}
	}
	stop()
	for k, want := range sums {
		if got := p.restoredSum(filepath.Join(dir, fmt.Sprintf("g%d", k)), RestartOptions{}); got != want {
			t.Errorf("generation %d restored: %q, want %q", k, got, want)
		}
	}
	// The note of a restore is of that process only: a process restored
	// without Track from g4 is checkpointed whole against it.
	var err error
	if rp, err = Restart(context.Background(), filepath.Join(dir, "g3"), RestartOptions{}); err != nil {
		t.Fatal(err)
	}
	p.pid = rp.PID
	if res := p.checkpoint(dir, "g5", "g3", false); res.Incremental {
		t.Error("a process restored without Track is checkpointed incrementally")
	}
}
