package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"lazarus/config"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
)

// NewApp builds the lazarusd command.
func NewApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "lazarusd",
		Usage:     "run the Lazarus batch daemon",
		UsageText: "lazarusd [--state-dir DIR] [--log-level LEVEL] [--log-format text|json]",
		Description: `lazarusd runs in the foreground, one per machine, normally as root. It keeps the
job queues in its state directory, starts each job under a supervisor process
of its own, and serves qsub, qstat, qdel, qhold, qrls and qmgr through the
socket lazarusd.sock in the state directory (and qchkpnt, qrestart).

The state directory is --state-dir, else $LAZARUS_HOME, else /var/lib/lazarus;
the client commands find the daemon through $LAZARUS_HOME the same way. A
second daemon on the same state directory refuses to start.

Configuration: lazarus.conf in the state directory (optional; see qmgr
"list server" for every setting, its value and its default).
Signals: SIGHUP rereads lazarus.conf; SIGTERM or SIGINT stops the daemon
cleanly. Stopping the daemon, or killing it, never stops a running job: the
next lazarusd on the state directory adopts the jobs that still run and
records the end of those that ended meanwhile.

Log messages go to standard error.`,
		Writer:                stdout,
		ErrWriter:             stderr,
		HideHelpCommand:       true,
		CustomAppHelpTemplate: strings.ReplaceAll(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS:"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state-dir", Usage: "state directory (default: $LAZARUS_HOME, else " + config.DefaultStateDir + ")"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (default: log_level of lazarus.conf, info)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q", c.Args().First())
			}
			level := new(slog.LevelVar)
			fixed := c.String("log-level") != ""
			if fixed {
				if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
					return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
				}
			}
			var h slog.Handler
			switch c.String("log-format") {
			case "text":
				h = slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})
			case "json":
				h = slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})
			default:
				return fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return Run(ctx, Options{
				StateDir: config.StateDir(c.String("state-dir")),
				Logger:   slog.New(h), Level: level, LevelFixed: fixed,
			})
		},
		Commands: []*cli.Command{
			etcdCommand(),
			{
				// Started by the daemon for each job; see package supervisor.
				Name:   "supervise",
				Hidden: true,
				Action: func(c *cli.Context) error {
					log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
					return supervisor.Supervise(context.Background(), log, "/proc/self/exe", c.Args().First())
				},
			},
			{
				// Started by the daemon for each checkpoint; see package
				// supervisor. Its argument is a CheckpointRequest; it prints
				// a CheckpointResult.
				Name:   "checkpoint-job",
				Hidden: true,
				Action: func(c *cli.Context) error {
					var req supervisor.CheckpointRequest
					if err := json.Unmarshal([]byte(c.Args().First()), &req); err != nil {
						return fmt.Errorf("checkpoint-job: bad request: %w", err)
					}
					log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil)).With("job_id", jobs.ID(req.JobID), "gen", req.Gen)
					res := supervisor.Checkpoint(context.Background(), log, req)
					json.NewEncoder(c.App.Writer).Encode(res)
					if !res.OK {
						return cli.Exit("", 1)
					}
					return nil
				},
			},
			{
				// Started by a supervisor as the job's user; execs the script.
				Name:   "exec-job",
				Hidden: true,
				Action: func(*cli.Context) error {
					return cli.Exit("", supervisor.ExecJob())
				},
			},
		},
	}
}

// Main runs the lazarusd command and returns its exit status; errors are
// printed on one line.
func Main(args []string, stdout, stderr io.Writer) int {
	app := NewApp(stdout, stderr)
	app.ExitErrHandler = func(*cli.Context, error) {} // exit codes are decided here
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return fmt.Errorf("%w (see lazarusd --help)", err)
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, "lazarusd:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "lazarusd:", err)
	return 1
}
