// Command chkpnt checkpoints a running process into an image file; see
// newApp for its options, and README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"lazarus/ckpt"
	"lazarus/internal/ckptui"
)

func main() {
	if err := ckptui.RefuseSetID("chkpnt"); err != nil {
		fmt.Fprintln(os.Stderr, "chkpnt:", err)
		os.Exit(1)
	}
	app := newApp(os.Stdin, os.Stdout, os.Stderr)
	err := app.Run(os.Args)
	writeStatus(err)
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "chkpnt:", msg)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Reader: stdin,
		Name:   "chkpnt",
		Usage:  "checkpoint a running process into an image file",
		UsageText: "chkpnt [-CFinqTvXz] [--compress-level N] [-r|-j|-p] [-b parent] [-d dir] [-f file] [-I logfile] [-L logfile] [-k signo|-K signo] pid\n" +
			"chkpnt -S signo [-CFqvXz] [-d dir] [-f file] [-k signo|-K signo] -- command [args ...]\n" +
			"chkpnt --merge image",
		Description: "Saves the state of process PID (registers, memory, open files, signals, limits,\n" +
			"credentials) into an ELF core file named COMM.PID in the current directory, which\n" +
			"`restart FILE` brings back to life and `gdb PROGRAM FILE` opens like a core dump.\n" +
			"The process keeps running unless -k/-K sends it a signal. Exit status 0 only when\n" +
			"the image is complete and on disk. -i asks, process by process and descriptor by\n" +
			"descriptor, what to save (the guide's interactive mode; '?' lists the commands).",
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Writer:                 stdout,
		ErrWriter:              stderr,
		// main prints errors, with the command's name, and exits.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   ckptui.OnUsageError("chkpnt"),
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "C", Usage: "copy every open regular file beside the image as COMM.PID.FILE.FD"},
			&cli.BoolFlag{Name: "F", Usage: "force: overwrite an existing image; save despite uncheckpointable descriptors (restored closed)"},
			&cli.BoolFlag{Name: "n", Usage: "run every checkpointability test, write no file"},
			&cli.BoolFlag{Name: "i", Usage: "interactive: choose which processes are saved, and which descriptors are saved, copied or ignored"},
			&cli.StringFlag{Name: "L", Usage: "interactive (-i), recording the session in `logfile` (relative: in the image's directory)"},
			&cli.StringFlag{Name: "I", Usage: "replay the session recorded in `logfile` by -L, printing its actions; no input is read"},
			&cli.BoolFlag{Name: "q", Usage: "quiet: no warnings (errors are still printed)"},
			&cli.BoolFlag{Name: "v", Usage: "verbose: list descriptors and memory regions"},
			&cli.BoolFlag{Name: "X", Usage: "print debugging output"},
			&cli.BoolFlag{Name: "z", Aliases: []string{"compress"}, Usage: "compress the memory in the image (zstd, chunk by chunk; restart reads it as it is)"},
			&cli.IntFlag{Name: "compress-level", Usage: "compression level `N`, 1 (fastest, the default of -z) to 4 (smallest); implies -z"},
			&cli.BoolFlag{Name: "r", Usage: "checkpoint the whole process tree rooted at pid: one image per process, ROOT, ROOT.CHILD.PID, ..."},
			&cli.BoolFlag{Name: "j", Usage: "same as -r"},
			&cli.BoolFlag{Name: "p", Usage: "checkpoint only pid (the default)"},
			&cli.StringFlag{Name: "d", Usage: "directory for the image (must exist); default: current directory"},
			&cli.StringFlag{Name: "f", Usage: "image file name or path; default COMM.PID"},
			&cli.StringFlag{Name: "k", Usage: "send signal `signo` (name or number) to the process once the image is durable"},
			&cli.StringFlag{Name: "K", Usage: "like -k, for every process of the tree (-k signals the root only)"},
			&cli.BoolFlag{Name: "T", Aliases: []string{"track"}, Usage: "leave a dirty-page tracker in every process (a userfaultfd at fd 1000 or above), so that a later chkpnt -b against this image saves only what changed"},
			&cli.StringFlag{Name: "b", Aliases: []string{"parent"}, Usage: "incremental: save only the pages written since the checkpoint whose root image is `image` (taken with -T or -b; the new image names it and needs it to restart); implies -T"},
			&cli.StringFlag{Name: "merge", Usage: "make the images of the tree whose root is `image` self-contained (merged with the images they were made against), in place, durably; no pid"},
			&cli.StringFlag{Name: "S", Usage: "supervise: run the command given instead of a pid (after --) and checkpoint its whole tree into the image, replaced each time, whenever chkpnt receives signal `signo` (DragonFly's SIGCKPT)"},
		}, statusFlags...),
		Action: run,
	}
}

func run(c *cli.Context) error {
	openStatus(c)
	if c.IsSet("merge") {
		return runMerge(c)
	}
	if c.IsSet("S") {
		return runSupervised(c)
	}
	if c.NArg() == 0 {
		return cli.Exit("missing process id specification", 2)
	}
	if c.NArg() > 1 {
		for _, a := range c.Args().Tail() {
			if strings.HasPrefix(a, "-") {
				return cli.Exit(fmt.Sprintf("one pid expected, got %q: options go before the pid", c.Args().Slice()), 2)
			}
		}
		return cli.Exit(fmt.Sprintf("one pid expected, got %q", c.Args().Slice()), 2)
	}
	pid, err := strconv.Atoi(c.Args().First())
	if err != nil || pid <= 0 {
		return cli.Exit(fmt.Sprintf("bad process id %q", c.Args().First()), 2)
	}
	tree := c.Bool("r") || c.Bool("j")
	if tree && c.Bool("p") {
		return cli.Exit("-p cannot be combined with -r or -j", 2)
	}
	if c.IsSet("k") && c.IsSet("K") {
		return cli.Exit("-k and -K cannot be combined", 2)
	}
	opts, err := options(c, tree)
	if err != nil {
		return err
	}
	if guarded() {
		choices, err := interactive(c, pid, &opts)
		if err != nil {
			return err
		}
		return runWorker(c, choices) // guard.go
	}
	if opts.Choices, err = workerChoices(); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	ctx, stop, guard := workerContext()
	defer stop()
	opts.Guard = guard
	res, err := ckpt.Checkpoint(ctx, pid, opts)
	if err != nil {
		engineErr = err
		return cli.Exit(err.Error(), 1)
	}
	if c.Bool("v") && !opts.CheckOnly {
		kind := ""
		if res.Incremental {
			kind = " (incremental)"
		}
		fmt.Fprintf(c.App.ErrWriter, "chkpnt: %s%s: %d KiB of memory, %d KiB on disk, process stopped %.3fs, total %.3fs\n",
			strings.Join(res.Images, " "), kind, res.Memory/1024, res.Disk/1024, res.Frozen.Seconds(), res.Duration.Seconds())
	}
	return nil
}

// runMerge is chkpnt --merge.
func runMerge(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("--merge takes no pid, got %q", c.Args().Slice()), 2)
	}
	for _, f := range []string{"S", "b", "T", "i", "L", "I", "n", "r", "j", "p", "k", "K", "C", "d", "f"} {
		if c.IsSet(f) {
			return cli.Exit("--merge cannot be combined with -"+f, 2)
		}
	}
	level := slog.LevelWarn
	if c.Bool("v") {
		level = slog.LevelInfo
	}
	merged, err := ckpt.Merge(context.Background(), c.String("merge"), ckpt.MergeOptions{Logger: slog.New(ckpt.NewMessageHandler(c.App.ErrWriter, "chkpnt: ", level))})
	if err != nil {
		engineErr = err
		return cli.Exit(err.Error(), 1)
	}
	if c.Bool("v") {
		fmt.Fprintf(c.App.ErrWriter, "chkpnt: %d images merged\n", len(merged))
	}
	return nil
}

// runSupervised is chkpnt -S (see supervise).
func runSupervised(c *cli.Context) error {
	for _, f := range []string{"i", "L", "I", "n", "r", "j", "p", "self-channel"} {
		if c.IsSet(f) {
			return cli.Exit("-S cannot be combined with -"+f+" (it checkpoints the whole tree of the command it runs)", 2)
		}
	}
	sig, err := ckpt.ParseSignal(c.String("S"))
	if err != nil || sig == 0 {
		return cli.Exit(fmt.Sprintf("-S %s: a signal to checkpoint on is expected", c.String("S")), 2)
	}
	switch sig {
	case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT:
		return cli.Exit(fmt.Sprintf("-S %s: this signal cannot be the checkpoint signal", c.String("S")), 2)
	}
	if c.IsSet("k") && c.IsSet("K") {
		return cli.Exit("-k and -K cannot be combined", 2)
	}
	opts, err := options(c, true)
	if err != nil {
		return err
	}
	return supervise(c, sig, opts)
}

// options are the CheckpointOptions the command line asks for.
func options(c *cli.Context, tree bool) (ckpt.CheckpointOptions, error) {
	opts := ckpt.CheckpointOptions{
		Dir:         c.String("d"),
		File:        c.String("f"),
		Force:       c.Bool("F"),
		CheckOnly:   c.Bool("n"),
		CopyFiles:   c.Bool("C"),
		Tree:        tree,
		SignalAll:   c.IsSet("K"),
		SelfChannel: c.Int("self-channel"),
		Track:       c.Bool("T"),
		Parent:      c.String("b"),
	}
	if c.Bool("z") || c.IsSet("compress-level") {
		opts.Compress = 1
		if c.IsSet("compress-level") {
			opts.Compress = c.Int("compress-level")
			if opts.Compress < 1 || opts.Compress > ckpt.MaxCompress {
				return opts, cli.Exit(fmt.Sprintf("--compress-level %d: from 1 to %d", opts.Compress, ckpt.MaxCompress), 2)
			}
		}
	}
	for _, k := range []string{"k", "K"} {
		if c.IsSet(k) {
			sig, err := ckpt.ParseSignal(c.String(k))
			if err != nil {
				return opts, cli.Exit("-"+k+": "+err.Error(), 2)
			}
			opts.Signal = sig
		}
	}
	level := slog.LevelWarn
	switch {
	case c.Bool("X"):
		level = slog.LevelDebug
	case c.Bool("v"):
		level = slog.LevelInfo
	case c.Bool("q"):
		level = slog.LevelError
	}
	opts.Logger = slog.New(ckpt.NewMessageHandler(c.App.ErrWriter, "chkpnt: ", level))
	return opts, nil
}
