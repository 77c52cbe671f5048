package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"lazarus/ckpt"
)

// supervise is chkpnt -S SIGNAL -- COMMAND: DragonFly's SIGCKPT for an
// unmodified program. chkpnt starts COMMAND as its child and, each time it
// receives SIGNAL itself, checkpoints COMMAND's whole tree into the image
// (replacing the previous one atomically: the image is always the newest
// complete checkpoint) and lets it run on (or sends -k/-K's signal). When
// COMMAND ends, chkpnt exits with its status (128+N if signal N killed it).
//
// SIGTERM and SIGHUP sent to chkpnt are passed on to COMMAND. SIGINT and
// SIGQUIT are ignored by chkpnt: from a terminal they reach COMMAND, which
// is in the same process group, by themselves.
func supervise(c *cli.Context, ckptSig syscall.Signal, opts ckpt.CheckpointOptions) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return cli.Exit("-S: a command to run is expected after the options (chkpnt -S SIGNAL [options] -- command [args])", 2)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", args[0], err), 127)
	}
	signal.Ignore(unix.SIGINT, unix.SIGQUIT)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, ckptSig, unix.SIGTERM, unix.SIGHUP, unix.SIGCHLD)
	defer signal.Stop(sigs)
	proc, err := os.StartProcess(path, args, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", args[0], err), 126)
	}
	pid := proc.Pid
	opts.Tree, opts.Replace = true, true
	quiet := c.Bool("q")
	// Exits are collected here only, between checkpoints: during one, the
	// engine's own waits see the tree's stops (a wait of ours would take
	// them). The ticker is a safety net for a lost SIGCHLD.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	n := 0
	for {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && got == pid && (ws.Exited() || ws.Signaled()) {
			if ws.Signaled() {
				return cli.Exit("", 128+int(ws.Signal()))
			}
			return cli.Exit("", ws.ExitStatus())
		} else if err != nil && err != unix.EINTR {
			return cli.Exit(fmt.Sprintf("wait for %s(%d): %v", args[0], pid, err), 1)
		}
		var s os.Signal
		select {
		case s = <-sigs:
		case <-tick.C:
			continue
		}
		switch s {
		case unix.SIGCHLD:
			continue
		case ckptSig:
			n++
			res, err := ckpt.Checkpoint(context.Background(), pid, opts)
			if err != nil {
				// The command runs on: a failed checkpoint leaves it as
				// it was, and the previous image in place.
				fmt.Fprintf(c.App.ErrWriter, "chkpnt: checkpoint %d of %s(%d) failed: %v\n", n, args[0], pid, err)
				continue
			}
			if !quiet {
				fmt.Fprintf(c.App.ErrWriter, "chkpnt: checkpoint %d of %s(%d) written: %s (stopped %.3fs)\n", n, args[0], pid, res.Images[0], res.Frozen.Seconds())
			}
		default:
			unix.Kill(pid, s.(syscall.Signal))
		}
	}
}
