package ckpt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckpointMappingChurn: a program that maps, marks MADV_DONTFORK
// and unmaps memory without a pause is checkpointed while it runs,
// tracked (copy-on-write twins) and not, ten times each. A checkpoint
// that meets a mapping changed as it began takes itself again
// (racedError) rather than fail; every image restores to a program whose
// memory is whole.
func TestCheckpointMappingChurn(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	cmd := start(t, dir, cprog(t, "mapchurn", "-pthread"), ready)
	waitFor(t, "ready", func() bool { _, err := os.Stat(ready); return err == nil })
	var logged syncBuffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var last string
	for k := 0; k < 20; k++ {
		img := filepath.Join(dir, fmt.Sprintf("g%d", k))
		opts := CheckpointOptions{File: img, Track: k%2 == 0, Logger: log}
		if _, err := Checkpoint(context.Background(), cmd.Process.Pid, opts); err != nil {
			t.Fatalf("checkpoint %d (tracked %v): %v", k, opts.Track, err)
		}
		last = img
	}
	t.Logf("%d checkpoints taken again after a change of the mappings", strings.Count(logged.String(), "(attempt "))
	cmd.Process.Kill()
	cmd.Wait()
	os.Remove(ready + ".out")
	p, err := Restart(context.Background(), last, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		b, _ := os.ReadFile(ready + ".out")
		t.Fatalf("restarted program: status %#x: %s", ws, b)
	}
	if b, _ := os.ReadFile(ready + ".out"); !strings.HasPrefix(string(b), "count ") {
		t.Errorf("restarted program wrote %q", b)
	}
}

// TestCheckpointRacedGivesUp: the retries are bounded; the last error is
// the change itself.
func TestCheckpointRacedGivesUp(t *testing.T) {
	err := raced("%w: x(1): memory at %#x changed its flags as the checkpoint began; checkpoint again", ErrUnsupported, 0x1000)
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, new(*racedError)) {
		t.Fatalf("%v: not ErrUnsupported and raced", err)
	}
	if checkpointRetries < 2 || checkpointRetries > 16 {
		t.Errorf("checkpointRetries %d", checkpointRetries)
	}
}

// syncBuffer is a buffer the checkpoint's threads may log to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
