// Command restart brings a process back from an image written by chkpnt;
// see newApp for its options, and README.md.
package main

import (
	"bufio"
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
	"lazarus/internal/ckptui"
)

func main() {
	if err := ckptui.RefuseSetID("restart"); err != nil {
		fmt.Fprintln(os.Stderr, "restart:", err)
		os.Exit(1)
	}
	app := newApp(os.Stdin, os.Stdout, os.Stderr)
	err := app.Run(os.Args)
	if err != nil {
		writeStatus(err, 0, 0)
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

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Reader:    stdin,
		Name:      "restart",
		Usage:     "restart a process from a checkpoint image",
		UsageText: "restart [-CFiqtTvwWXz] [-k signo|-K signo] [--lazy] checkpoint_file",
		Description: "Rebuilds the process saved in CHECKPOINT_FILE (written by chkpnt) with its old pid,\n" +
			"memory, registers, open files and signal state, as a child of restart, and by default\n" +
			"waits for it and exits with its exit status (128+N if it was killed by signal N).\n" +
			"SIGINT, SIGQUIT, SIGTSTP, SIGHUP, SIGTERM, SIGWINCH, SIGUSR1 and SIGUSR2 sent to\n" +
			"restart are passed through to the process. The same image can be restarted as often\n" +
			"as wanted. With -W restart does not stay: the restored process takes its place as\n" +
			"the child of restart's parent, which can wait for it (restart prints its pid).",
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Writer:                 stdout,
		ErrWriter:              stderr,
		// main prints errors, with the command's name, and exits.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   ckptui.OnUsageError("restart"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "C", Usage: "copy files saved by chkpnt -C back to their original paths first (overwrites them)"},
			&cli.BoolFlag{Name: "F", Usage: "force: new pid if the old one is taken; missing files and terminals restored closed or to /dev/null; restore despite CPU or kernel differences"},
			&cli.BoolFlag{Name: "i", Usage: "interactive: choose which processes of the tree are restarted, and which descriptors are used, ignored or opened on another path"},
			&cli.BoolFlag{Name: "q", Usage: "quiet: no warnings"},
			&cli.BoolFlag{Name: "v", Usage: "verbose: list descriptors; report pid retries"},
			&cli.BoolFlag{Name: "w", Usage: "wait for the process to end (the default)"},
			&cli.BoolFlag{Name: "W", Usage: "do not wait: the process becomes the child of restart's parent in restart's place; print its pid and exit"},
			&cli.BoolFlag{Name: "t", Usage: "traced state, for debuggers (with -W): the root is left stopped, ready for gdb -p PID"},
			&cli.BoolFlag{Name: "T", Aliases: []string{"track"}, Usage: "leave a dirty-page tracker in every restored process (a userfaultfd at fd 1000 or above, noted in .IMAGE.track beside each image), so that a chkpnt -b against checkpoint_file saves only what changed since; not with --lazy"},
			&cli.BoolFlag{Name: "X", Usage: "print debugging output"},
			&cli.BoolFlag{Name: "z", Usage: "leave the process stopped (same as -k STOP; not with -k/-K)"},
			&cli.StringFlag{Name: "k", Usage: "send signal `signo` instead of SIGCONT when the restore is complete; 0: none"},
			&cli.StringFlag{Name: "K", Usage: "like -k, for every process of the tree"},
			&cli.BoolFlag{Name: "lazy", Usage: "run at once and load memory from the image as the process touches it, each segment verified first; restart (also with -W) stays until every page is in: the image must stay until then; if restart is killed before, a keeper process kills the job rather than let missing pages read as zeros"},
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
	if c.Bool("t") && !c.Bool("W") {
		// CONVEX: without -W restart would be the parent of a traced
		// child it does not trace.
		return cli.Exit("invalid option combination: -t option specified without -W", 2)
	}
	if c.Bool("t") && (c.Bool("z") || c.IsSet("k") || c.IsSet("K")) {
		return cli.Exit("-t cannot be combined with -z, -k or -K", 2)
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
		Detach:   c.Bool("W"),
		Lazy:     c.Bool("lazy"),
		Track:    c.Bool("T"),
	}
	if c.Bool("T") && c.Bool("lazy") {
		return cli.Exit("-T cannot be combined with --lazy", 2)
	}
	if c.Bool("t") {
		// The root only: a debugger attaches to it and continues it.
		opts.Signal = unix.SIGSTOP
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

	if c.Bool("i") {
		procs, err := ckpt.SurveyImage(c.Args().First())
		if err != nil {
			engineErr = err
			return cli.Exit(err.Error(), 1)
		}
		s := &ckptui.Session{Mode: ckptui.Restart, In: bufio.NewReader(c.App.Reader), Out: c.App.Writer, Procs: procs}
		ch, err := s.Run()
		if errors.Is(err, ckptui.ErrQuit) {
			return cli.Exit("quit: nothing restarted", 1)
		}
		if err != nil {
			return err
		}
		opts.Choices = ch
	}
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
	writeStatus(nil, p.PID, p.Stub)
	if c.Bool("W") {
		fmt.Fprintln(c.App.Writer, p.PID)
		if c.Bool("t") {
			opts.Logger.Warn(fmt.Sprintf("%s(%d) is stopped for a debugger: gdb -p %d (then continue it, or kill -CONT %d)", p.Comm, p.PID, p.PID, p.PID))
		}
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
