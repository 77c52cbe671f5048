package qcmd

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewTracejob builds tracejob.
func NewTracejob(stdout, stderr io.Writer) *cli.App {
	app := newApp("tracejob", "print the story of a batch job", "tracejob [-n days] [-a] [-s] job-id",
		`tracejob prints, as PBS's tracejob does, everything recorded of a job in
time order: its accounting records (source A: queued, started, checkpointed,
restarted, rerun, deleted, aborted, ended, with what it used) and the lines of
the daemon's log that name it (source S, when lazarusd logs to a file). It
works for jobs that qstat no longer lists: the accounting log is never purged.

Times are local. -n N looks at the last N days (default 1, today, as PBS's
tracejob; 0: every day). You may trace your own jobs; root and operators
anyone's (everyone anyone's when query_other_jobs is true).

Exit status: 0, or 1 if the job is unknown or not yours.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.IntFlag{Name: "n", Value: 1, Usage: "days to look back (0: all)"},
		&cli.BoolFlag{Name: "a", DisableDefaultText: true, Usage: "leave out the accounting records"},
		&cli.BoolFlag{Name: "s", DisableDefaultText: true, Usage: "leave out the daemon's log"},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("want one job id (see tracejob --help)")
		}
		id, err := jobs.ParseID(c.Args().First())
		if err != nil {
			return err
		}
		if c.Int("n") < 0 {
			return fmt.Errorf("-n %d: want a number of days, 0 for all", c.Int("n"))
		}
		var reply proto.TraceReply
		if err := call(c.Context, proto.OpTrace, proto.TraceRequest{ID: uint64(id), Days: c.Int("n")}, &reply); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "\nJob: %s\n\n", c.Args().First())
		for _, l := range reply.Lines {
			if l.Source == "A" && c.Bool("a") || l.Source == "S" && c.Bool("s") {
				continue
			}
			fmt.Fprintf(c.App.Writer, "%-20s %-5s %s\n", l.Time.Local().Format(jobs.AcctTimeLayout), l.Source, l.Text)
		}
		if reply.LogMissing != "" && !c.Bool("s") {
			fmt.Fprintf(c.App.ErrWriter, "tracejob: the daemon's log is not read: %s\n", reply.LogMissing)
		}
		return nil
	}
	return app
}
