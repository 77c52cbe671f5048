package ckpt

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRestartSignalIntoPause: a process checkpointed in a pause loop gets
// SIGUSR1 the moment restart returns, 30 times from the same image. Each
// must end: restart lets a thread go only once it is back in its call
// (build.go reenter). Let go before the call, the thread would take the
// signal first and then pause for good.
func TestRestartSignalIntoPause(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "pauseloop")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := start(t, dir, prog, out)
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	time.Sleep(50 * time.Millisecond) // into pause
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	for i := 0; i < 30; i++ {
		p, err := Restart(context.Background(), img, RestartOptions{PIDRetry: 30 * time.Second})
		if err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		unix.Kill(p.PID, unix.SIGUSR1)
		done := make(chan unix.WaitStatus, 1)
		go func() { ws, _ := p.Wait(); done <- ws }()
		select {
		case ws := <-done:
			if !ws.Exited() || ws.ExitStatus() != 0 {
				t.Fatalf("restart %d: %v", i, ws)
			}
		case <-time.After(5 * time.Second):
			unix.Kill(p.PID, unix.SIGKILL)
			<-done
			t.Fatalf("restart %d: SIGUSR1 sent as restart returned was lost: the process still pauses 5 s later", i)
		}
	}
}
