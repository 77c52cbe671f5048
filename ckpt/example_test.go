package ckpt_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"

	"lazarus/ckpt"
)

// Checkpoint a running program, kill it, and bring it back from its image.
// (Needs root, like the chkpnt and restart commands.)
func Example() {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	// Save it, and kill it once the image is on disk (chkpnt -k KILL).
	res, err := ckpt.Checkpoint(context.Background(), cmd.Process.Pid, ckpt.CheckpointOptions{
		Dir:    dir,
		Signal: 9,
		Logger: slog.New(ckpt.NewMessageHandler(os.Stderr, "example: ", slog.LevelWarn)),
	})
	if err != nil {
		log.Fatal(err)
	}
	cmd.Wait()

	// Bring it back: same pid, same memory, still sleeping.
	p, err := ckpt.Restart(context.Background(), res.Images[0], ckpt.RestartOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restarted", p.Comm, "as pid", p.PID)
	p.Wait()
}
