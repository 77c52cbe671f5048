package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointWorkersExiting checkpoints, again and again, a pool whose
// workers end by exit_group while their threads run: a worker caught with
// its main thread dead and its threads still going is a zombie a moment
// later (checkpointed as one, or gone), never refused as a process whose
// main thread called pthread_exit; and a pool parent stopped by a
// SIGCHLD just as it is seized is frozen all the same (it ran on, the
// checkpoint waiting a minute for its stop).
func TestCheckpointWorkersExiting(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "workerexit", "-pthread")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := start(t, dir, prog, out)
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	for i := 0; i < 60; i++ {
		img := filepath.Join(dir, fmt.Sprintf("img%d", i))
		began := time.Now()
		_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true})
		if took := time.Since(began); took > time.Second {
			t.Logf("checkpoint %d took %v", i, took)
		}
		if err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
		os.Remove(img)
		if tr := tracerOf(cmd.Process.Pid, cmd.Process.Pid); tr != 0 {
			t.Fatalf("after checkpoint %d the pool is still traced by %d", i, tr)
		}
	}
	// Its workers all ended as they should (it exits 1 when one did not).
	if st, err := readStat(cmd.Process.Pid); err != nil || st.State == 'Z' {
		t.Fatalf("the pool ended during the checkpoints: %v %c", err, st.State)
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}
