package qcmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewQdel builds qdel.
func NewQdel(stdout, stderr io.Writer) *cli.App {
	app := jobCommand("qdel", "delete batch jobs", proto.OpDelete,
		`qdel deletes each job given. A job that is queued, requeued or held is
removed at once. A running job is killed, its whole process tree: SIGTERM,
then SIGKILL after kill_grace (lazarus.conf, default 10s); qstat shows it
exiting meanwhile, and failed with "deleted by USER" afterwards, with its runs
accounted. A job that has ended cannot be deleted (lazarusd purges it after
keep_finished).

An array job N[] is deleted whole: its subjobs that have not started are
deleted, running ones killed. One subjob N[i], or a range N[1-5], is deleted
alone. A job held for its dependencies is removed like a held one.

-W force (OpenPBS's: delete the job even if its execution host cannot be
reached) and -W suppress_email=N are accepted: a job is deleted as above
either way. Torque's -W DELAY (seconds between SIGTERM and SIGKILL) is
refused: the delay is kill_grace.

You may delete your own jobs; root and operators may delete anyone's.
Exit status: 0, or 1 if any job could not be deleted (each says why).

`+environmentHelp, stdout, stderr)
	app.Flags = append(app.Flags, &cli.StringSliceFlag{Name: "W", Usage: "force, or suppress_email=N: accepted (see above)"})
	action := app.Action
	app.Action = func(c *cli.Context) error {
		for _, w := range c.StringSlice("W") {
			for _, item := range strings.Split(w, ",") {
				name, val, _ := strings.Cut(strings.TrimSpace(item), "=")
				switch {
				case name == "force" && val == "":
				case name == "suppress_email":
					if _, err := strconv.Atoi(val); err != nil {
						return fmt.Errorf("-W suppress_email=%s: want a number", val)
					}
				case val == "" && name != "" && strings.Trim(name, "0123456789") == "":
					return fmt.Errorf("-W %s: a delay between SIGTERM and SIGKILL of its own is not supported: a running job gets SIGKILL kill_grace (lazarus.conf) after SIGTERM", name)
				default:
					return fmt.Errorf("-W %s: not supported (force, suppress_email=N)", item)
				}
			}
		}
		return action(c)
	}
	return app
}

// NewQhold builds qhold.
func NewQhold(stdout, stderr io.Writer) *cli.App {
	return jobCommand("qhold", "hold batch jobs", proto.OpHold,
		`qhold holds each job given: it stays in its queue but does not start until
qrls releases it. A running job is checkpointed, stopped and held, as PBS
does (qchkpnt -k -h): qhold returns once the checkpoint is durable, and qrls
restarts the job from it. A running job whose checkpoint policy is n cannot
be held.

qhold N[] holds an array: its subjobs that have not started wait (those
running go on); qhold N[i] or N[1-5] holds those subjobs alone.

You may hold your own jobs; root and operators may hold anyone's.
Exit status: 0, or 1 if any job could not be held (each says why).

`+environmentHelp, stdout, stderr)
}

// NewQrls builds qrls.
func NewQrls(stdout, stderr io.Writer) *cli.App {
	return jobCommand("qrls", "release held batch jobs", proto.OpRelease,
		`qrls releases each held job given (qsub -h, qhold): it is queued again and
starts when the scheduler's turn comes, from the checkpoint qhold took if it
was held while it ran.

It takes arrays (N[]), subjobs (N[i]) and ranges (N[1-5]) as qhold does. A
job held for its dependencies (Hold_Types s) is released by the system once
they are met, not by qrls.

You may release your own jobs; root and operators may release anyone's.
Exit status: 0, or 1 if any job could not be released (each says why).

`+environmentHelp, stdout, stderr)
}

// jobCommand is the shape of qdel, qhold and qrls: one request per job id.
func jobCommand(name, usage, op, description string, stdout, stderr io.Writer) *cli.App {
	app := newApp(name, usage, name+" job-id ...", description, nil, stdout, stderr)
	app.Action = func(c *cli.Context) error {
		if c.NArg() == 0 {
			return fmt.Errorf("no job id given (see %s --help)", name)
		}
		var ids []jobs.ID
		for _, a := range c.Args().Slice() {
			more, err := jobs.ParseIDs(a) // N[1-5]: each subjob of the range
			if err != nil {
				return err
			}
			ids = append(ids, more...)
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		failed := false
		for _, id := range ids {
			if err := client.Call(c.Context, op, proto.JobRequest{ID: uint64(id)}, nil); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "%s: %v\n", name, err)
				failed = true
			}
		}
		if failed {
			return errReported
		}
		return nil
	}
	return app
}
