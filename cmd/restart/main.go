// Command restart brings a process back from an image written by chkpnt;
// see newApp for its options, and README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"lazarus/ckpt"
)

func main() {
	app := newApp(os.Stdout, os.Stderr)
	err := app.Run(os.Args)
	if err != nil {
		writeStatus(err, 0)
	}
	if err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "restart:", msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "restart:", err)
		os.Exit(1)
	}
}

// passThrough are the signals restart hands on to the restarted process
// (CONVEX "Passing Signals Through").
var passThrough = []os.Signal{unix.SIGINT, unix.SIGQUIT, unix.SIGTSTP, unix.SIGHUP, unix.SIGTERM,
	unix.SIGWINCH, unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "restart",
		Usage:     "restart a process from a checkpoint image",
		UsageText: "restart [-CFqvwWXz] [-k signo|-K signo] [--lazy] checkpoint_file",
		Description: "Rebuilds the process saved in CHECKPOINT_FILE (written by chkpnt) with its old pid,\n" +
			"memory, registers, open files and signal state, as a child of restart, and by default\n" +
			"waits for it and exits with its exit status (128+N if it was killed by signal N).\n" +
			"SIGINT, SIGQUIT, SIGTSTP, SIGHUP, SIGTERM, SIGWINCH, SIGUSR1 and SIGUSR2 sent to\n" +
			"restart are passed through to the process. The same image can be restarted as often\n" +
			"as wanted.",
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Writer:                 stdout,
		ErrWriter:              stderr,
		// main prints errors, with the command's name, and exits.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "C", Usage: "copy files saved by chkpnt -C back to their original paths first (overwrites them)"},
			&cli.BoolFlag{Name: "F", Usage: "force: new pid if the old one is taken; missing files and terminals restored closed or to /dev/null; restore despite CPU or kernel differences"},
			&cli.BoolFlag{Name: "q", Usage: "quiet: no warnings"},
			&cli.BoolFlag{Name: "v", Usage: "verbose: list descriptors; report pid retries"},
			&cli.BoolFlag{Name: "w", Usage: "wait for the process to end (the default)"},
			&cli.BoolFlag{Name: "W", Usage: "do not wait: print the pid and exit; the process keeps running"},
			&cli.BoolFlag{Name: "X", Usage: "print debugging output"},
			&cli.BoolFlag{Name: "z", Usage: "leave the process stopped (same as -k STOP; not with -k/-K)"},
			&cli.StringFlag{Name: "k", Usage: "send signal `signo` instead of SIGCONT when the restore is complete; 0: none"},
			&cli.StringFlag{Name: "K", Usage: "like -k, for every process of the tree"},
			&cli.BoolFlag{Name: "lazy", Usage: "run at once and load memory from the image as the process touches it, each segment verified first; restart (also with -W) stays until every page is in: the image must stay until then"},
			statusFlag,
		},
		Action: run,
	}
}

func run(c *cli.Context) error {
	openStatus(c)
	if c.NArg() != 1 {
		return cli.Exit("one checkpoint_file expected (restart --help)", 2)
	}
	if c.Bool("w") && c.Bool("W") {
		return cli.Exit("-w and -W cannot be combined", 2)
	}
	if c.Bool("z") && (c.IsSet("k") || c.IsSet("K")) {
		return cli.Exit("-z cannot be combined with -k or -K", 2)
	}
	if c.IsSet("k") && c.IsSet("K") {
		return cli.Exit("-k and -K cannot be combined", 2)
	}
	opts := ckpt.RestartOptions{
		Force:    c.Bool("F"),
		CopyBack: c.Bool("C"),
		Stopped:  c.Bool("z"),
		Lazy:     c.Bool("lazy"),
	}
	for _, k := range []string{"k", "K"} {
		if c.IsSet(k) {
			sig, err := ckpt.ParseSignal(c.String(k))
			if err != nil {
				return cli.Exit("-"+k+": "+err.Error(), 2)
			}
			opts.Signal, opts.NoSignal = sig, sig == 0
			opts.SignalAll = k == "K"
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
	opts.Logger = slog.New(ckpt.NewMessageHandler(c.App.ErrWriter, "restart: ", level))

	// Catch the pass-through signals before the process exists, so none is
	// lost in between; they are handed on once it runs.
	sigs := make(chan os.Signal, 16)
	if !c.Bool("W") {
		signal.Notify(sigs, passThrough...)
		defer signal.Stop(sigs)
	}
	p, err := ckpt.Restart(context.Background(), c.Args().First(), opts)
	if err != nil {
		engineErr = err
		return cli.Exit(err.Error(), 1)
	}
	writeStatus(nil, p.PID)
	if c.Bool("W") {
		fmt.Fprintln(c.App.Writer, p.PID)
		// A lazy restore serves the process's pages from here: leave
		// only once they are all in.
		<-p.Loaded()
		if err := p.LoadErr(); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		return nil
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig := s.(syscall.Signal)
				unix.Kill(p.PID, sig)
				if sig == unix.SIGTSTP {
					// Stop ourselves too, so the shell gets the terminal
					// back; SIGCONT is passed on when we are continued.
					unix.Kill(os.Getpid(), unix.SIGSTOP)
				}
			case <-done:
				return
			}
		}
	}()
	ws, err := p.Wait()
	close(done)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if ws.Signaled() {
		return cli.Exit("", 128+int(ws.Signal()))
	}
	return cli.Exit("", ws.ExitStatus())
}
