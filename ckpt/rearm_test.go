package ckpt

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkRestored restarts image (the program it was taken of is gone),
// lets it sweep twice and fails the test unless every page it checked
// was of one instant, the one of the freeze (testdata/cowrace.c). orig is
// what the output file held when the images were taken.
func (c *cowRace) checkRestored(t *testing.T, image string, orig []byte) {
	t.Helper()
	// The restored program writes at the offset it had.
	if err := os.WriteFile(c.out, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	saved := imageWord(t, image, c.addr)
	rp, err := Restart(context.Background(), image, RestartOptions{})
	if err != nil {
		t.Fatalf("restart %s: %v", filepath.Base(image), err)
	}
	waitFor(t, "two sweeps after restart", func() bool { return c.gen() >= saved+2 })
	errs, _, _, gen := c.report(t, rp.PID)
	if ws := waitProc(t, rp); ws.ExitStatus() != 0 {
		t.Fatalf("restarted %s: %v", filepath.Base(image), ws)
	}
	if errs != 0 {
		t.Fatalf("restarted %s found %d pages not of the instant of the freeze (sweep %d saved, at %d)", filepath.Base(image), errs, saved, gen)
	}
}

// TestIncrementalChainRacing: seven generations of a program that
// rewrites all of its memory as fast as it can while each is taken (a
// MAP_SHARED, a MADV_DONTFORK and a MADV_WIPEONFORK region beside, and a
// forked child sharing its pages), each against the one before and all
// but the first incremental, re-armed before the freeze and in it; a
// generation in the middle and the last restore to memory of the instant
// of their freeze. Then the same with the tracker re-armed in the freeze
// only.
func TestIncrementalChainRacing(t *testing.T) {
	needRoot(t)
	for _, pre := range []bool{true, false} {
		t.Run(fmt.Sprintf("before_the_freeze=%v", pre), func(t *testing.T) {
			preRearms = pre
			t.Cleanup(func() { preRearms = true })
			c := startCowRace(t, 64)
			pid := c.cmd.Process.Pid
			img := func(k int) string { return filepath.Join(c.dir, fmt.Sprintf("g%d", k)) }
			if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img(0), Track: true}); err != nil {
				t.Fatal(err)
			}
			const gens = 7
			for k := 1; k < gens; k++ {
				g := c.gen()
				waitFor(t, "a sweep", func() bool { return c.gen() > g })
				var logged strings.Builder
				log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
				res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img(k), Parent: img(k - 1), Logger: log})
				if err != nil || !res.Incremental {
					t.Fatalf("generation %d: %v (incremental %v)", k, err, res != nil && res.Incremental)
				}
				if pre != strings.Contains(logged.String(), "tracker re-armed before the freeze") {
					t.Fatalf("generation %d: re-armed before the freeze %v, want %v:\n%s", k, !pre, pre, logged.String())
				}
				if !strings.Contains(logged.String(), "tracker re-armed in place true") {
					t.Fatalf("generation %d: tracker not re-armed in place:\n%s", k, logged.String())
				}
			}
			orig, _ := os.ReadFile(c.out)
			c.cmd.Process.Kill()
			c.cmd.Wait()
			c.checkRestored(t, img(gens/2), orig)
			c.checkRestored(t, img(gens-1), orig)
		})
	}
}

// TestIncrementalCheckpointerDies: a tracked checkpoint whose checkpointer
// is killed once it has re-armed the tracker before the freeze leaves a tracker no image names: the next checkpoint against the
// same parent is whole, never an image missing the pages the dead one
// took out of the tracker, and restores to the instant of its freeze; the
// one after it is incremental again and restores too.
func TestIncrementalCheckpointerDies(t *testing.T) {
	if pid := os.Getenv("LAZARUS_TRACK_VICTIM"); pid != "" {
		n, _ := strconv.Atoi(pid)
		log := slog.New(blockingHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}), os.Getenv("LAZARUS_TRACK_BLOCK_AT")})
		_, err := Checkpoint(context.Background(), n, CheckpointOptions{File: os.Getenv("LAZARUS_TRACK_IMAGE"), Parent: os.Getenv("LAZARUS_TRACK_PARENT"), Logger: log})
		fmt.Println("checkpoint:", err)
		return
	}
	needRoot(t)
	// Not in the freeze: a checkpointer killed there kills the job
	// (SIGTRAP: its thread is left in the signal-delivery stop of the
	// last injected step), whatever the tracker.
	for _, at := range []string{"tracker re-armed before the freeze"} {
		t.Run(strings.ReplaceAll(at, " ", "_"), func(t *testing.T) {
			c := startCowRace(t, 64)
			pid := c.cmd.Process.Pid
			g0, g1, g2, g3 := filepath.Join(c.dir, "g0"), filepath.Join(c.dir, "g1"), filepath.Join(c.dir, "g2"), filepath.Join(c.dir, "g3")
			if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g0, Track: true}); err != nil {
				t.Fatal(err)
			}
			helper := exec.Command(os.Args[0], "-test.run=^TestIncrementalCheckpointerDies$")
			helper.Env = append(os.Environ(), fmt.Sprintf("LAZARUS_TRACK_VICTIM=%d", pid), "LAZARUS_TRACK_IMAGE="+filepath.Join(c.dir, "dead"),
				"LAZARUS_TRACK_PARENT="+g0, "LAZARUS_TRACK_BLOCK_AT="+at)
			out, err := helper.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "writing\n" {
				t.Fatalf("the checkpointer said %q, want writing", line)
			}
			helper.Process.Kill()
			helper.Wait()
			g := c.gen()
			waitFor(t, "the job to go on", func() bool { return c.gen() > g+1 })
			res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g1, Parent: g0})
			if err != nil || res.Incremental {
				t.Fatalf("checkpoint after a killed one: %v, incremental %v (want whole)", err, res != nil && res.Incremental)
			}
			g = c.gen()
			waitFor(t, "a sweep", func() bool { return c.gen() > g })
			if res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g2, Parent: g1}); err != nil || !res.Incremental {
				t.Fatalf("checkpoint after the whole one: %v, incremental %v", err, res != nil && res.Incremental)
			}
			if res, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: g3, Parent: g2}); err != nil || !res.Incremental {
				t.Fatalf("next checkpoint: %v, incremental %v", err, res != nil && res.Incremental)
			}
			orig, _ := os.ReadFile(c.out)
			c.cmd.Process.Kill()
			c.cmd.Wait()
			c.checkRestored(t, g1, orig)
			c.checkRestored(t, g3, orig)
		})
	}
}
