package qcmd

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewScancel builds scancel.
func NewScancel(stdout, stderr io.Writer) *cli.App {
	app := newApp("scancel", "cancel or signal batch jobs as Slurm's scancel does",
		"scancel [-s signal] [-u user] [--me] [-t states] [-n name] [-p queue] [-Q] [job-id ...]",
		`scancel cancels each job given, as qdel deletes it: a pending job ends
CANCELLED without running (squeue -t all and sacct show it; qdel would remove
it), a running one killed (SIGTERM, then SIGKILL after kill_grace); squeue
shows it CG, then CA. An id is N, or N_I for task I of array N, or N_[1-3,5]
for several tasks; N of an array cancels the whole array.

With -s (--signal), the jobs are not cancelled but sent the signal (a name,
with or without SIG, or a number), to the script and every process of the
job, as qsig sends it; with -b (--batch), to the batch script alone (the
shell that runs it, which a script traps to checkpoint itself without
killing its steps), as Slurm sends it; STOP and CONT suspend and resume the
whole job all the same.

Without ids, -u, --me, -t, -n and -p select the jobs: every pending or
running job that matches all of them (-u alone: all of that user's). With
ids, they narrow the ids given.

You may cancel your own jobs; root and operators anyone's.
Exit status: 0, or 1 if any job could not be cancelled or signalled (each
says why: "scancel: error: Kill job error on job id N: ...").

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Usage: "send this signal instead of cancelling"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "only the jobs of this user"},
		&cli.BoolFlag{Name: "me", DisableDefaultText: true, Usage: "only your jobs"},
		&cli.StringFlag{Name: "state", Aliases: []string{"t"}, Usage: "only jobs in these states (PENDING, RUNNING, SUSPENDED; PD, R, S)"},
		&cli.StringFlag{Name: "name", Aliases: []string{"n", "jobname"}, Usage: "only the jobs of this name"},
		&cli.StringFlag{Name: "partition", Aliases: []string{"p"}, Usage: "only the jobs of this queue"},
		&cli.BoolFlag{Name: "batch", Aliases: []string{"b"}, DisableDefaultText: true, Usage: "with -s: only the batch script gets the signal, not its steps"},
		&cli.BoolFlag{Name: "full", Aliases: []string{"f"}, DisableDefaultText: true, Usage: "accepted: the whole job gets the signal"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"Q"}, DisableDefaultText: true, Usage: "do not report jobs that have already ended"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, DisableDefaultText: true, Usage: "say what is done to each job"},
	}
	app.Action = func(c *cli.Context) error {
		err := scancel(c)
		if err != nil && err != errReported {
			return cli.Exit("error: "+err.Error(), 1)
		}
		return err
	}
	return app
}

func scancel(c *cli.Context) error {
	var ids []jobs.ID
	for _, a := range c.Args().Slice() {
		more, err := parseSlurmIDs(a)
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	}
	filtered := c.IsSet("user") || c.Bool("me") || c.IsSet("state") || c.IsSet("name") || c.IsSet("partition")
	if len(ids) == 0 && !filtered {
		return errNoJobGiven
	}
	keepUser, err := userFilter(c.String("user"), c.Bool("me"))
	if err != nil {
		return err
	}
	var states map[string]bool
	if c.IsSet("state") {
		if states, err = parseSlurmStates(c.String("state")); err != nil {
			return err
		}
	}
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	all, _, err := slurmList(c.Context, client, false)
	if err != nil {
		return err
	}
	keep := func(j slurmJob) bool {
		st := slurmState(j.info)
		return keepUser(j.info) && (states == nil || states[st]) &&
			(!c.IsSet("name") || j.info.Name == c.String("name")) &&
			(!c.IsSet("partition") || j.info.Queue == c.String("partition"))
	}
	failed := false
	report := func(id string, err error) {
		fmt.Fprintf(c.App.ErrWriter, "scancel: error: Kill job error on job id %s: %v\n", id, err)
		failed = true
	}
	type target struct {
		id    jobs.ID // as the daemon names it: N, N[] or N[I]
		slurm string
		ended bool
	}
	var targets []target
	if len(ids) == 0 {
		for _, j := range all {
			st := slurmState(j.info)
			if keep(j) && (st == "PENDING" || st == "RUNNING" || st == "SUSPENDED") {
				targets = append(targets, target{id: j.id, slurm: j.slurmID()})
			}
		}
	}
	for _, id := range ids {
		var match []slurmJob
		for _, j := range all {
			if j.id == id || !id.IsSubjob() && j.array && j.id.Base() == id {
				match = append(match, j)
			}
		}
		name := slurmJob{id: id, array: id.IsSubjob()}.slurmID()
		if len(match) == 0 {
			report(name, errInvalidJobID)
			continue
		}
		match = slices.DeleteFunc(match, func(j slurmJob) bool { return !keep(j) })
		if len(match) == 0 {
			continue // not selected by -u, -t, -n, -p
		}
		ended := !slices.ContainsFunc(match, func(j slurmJob) bool { return !jobs.State(j.info.State).Terminal() })
		target := target{id: id, slurm: name, ended: ended}
		if !id.IsSubjob() && match[0].array {
			target.id = jobs.ArrayForm(id) // the whole array
		}
		targets = append(targets, target)
	}
	for _, t := range targets {
		if t.ended {
			if !c.Bool("quiet") {
				report(t.slurm, errJobEnded)
			}
			continue
		}
		op, body, verb := proto.OpDelete, any(proto.JobRequest{ID: uint64(t.id), Record: true}), "Terminating"
		if c.IsSet("signal") {
			sig := strings.TrimPrefix(strings.ToUpper(c.String("signal")), "SIG")
			op, body, verb = proto.OpSignal, proto.SignalRequest{ID: uint64(t.id), Signal: sig, Script: c.Bool("batch") && !c.Bool("full")}, "Signal "+sig+" to"
		}
		if c.Bool("verbose") {
			fmt.Fprintf(c.App.ErrWriter, "scancel: %s job %s\n", verb, t.slurm)
		}
		if err := client.Call(c.Context, op, body, nil); err != nil {
			report(t.slurm, err)
		}
	}
	if failed {
		return errReported
	}
	return nil
}
