package qcmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewQstat builds qstat.
func NewQstat(stdout, stderr io.Writer) *cli.App {
	app := newApp("qstat", "show batch jobs and queues",
		"qstat [-f] [-u user] [-s state,...] [-F json] [-w] [job id ...]\n   qstat -Q [-F json] [queue ...]",
		`qstat lists jobs: all of them, those given by id, or those of a user (-u).
The table shows id, name, user, state, queue, elapsed time (all runs, the
current one up to now) and the time of the last checkpoint (empty until jobs
are checkpointed). States: queued, held, running, exiting, finished, failed,
checkpointing, requeued. Finished and failed jobs stay listed for
keep_finished (lazarus.conf, default a week).

-f prints every field of each job, with each run (start, end, CPU time,
exit status) and the totals. -F json prints the same data as JSON, for
scripts. -w waits until every listed job has left the state it is in (or has
ended), then prints them. -Q lists queues instead of jobs.

Exit status: 0, or 1 if a job or queue asked for does not exist (the others
are printed) or lazarusd cannot be reached.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.BoolFlag{Name: "f", Usage: "full record of each job"},
		&cli.BoolFlag{Name: "Q", Usage: "list queues"},
		&cli.StringFlag{Name: "u", Usage: "only jobs of this user (name or uid)"},
		&cli.StringFlag{Name: "s", Usage: "only jobs in these states (comma separated)"},
		&cli.StringFlag{Name: "F", Usage: "output format: json (default: text)"},
		&cli.BoolFlag{Name: "w", Usage: "wait until the listed jobs change state, then print them"},
	}
	app.Action = func(c *cli.Context) error {
		format := c.String("F")
		if format != "" && format != "json" {
			return fmt.Errorf("-F %q: the only format is json", format)
		}
		if c.Bool("Q") {
			return qstatQueues(c, format == "json")
		}
		req := proto.StatusRequest{User: c.String("u"), Full: c.Bool("f")}
		if s := c.String("s"); s != "" {
			for _, st := range strings.Split(s, ",") {
				if _, err := jobs.ParseState(st); err != nil {
					return err
				}
				req.States = append(req.States, st)
			}
		}
		for _, a := range c.Args().Slice() {
			id, err := jobs.ParseID(a)
			if err != nil {
				return fmt.Errorf("%v", err)
			}
			req.IDs = append(req.IDs, uint64(id))
		}
		if c.Bool("w") && len(req.IDs) == 0 {
			return fmt.Errorf("-w needs the ids of the jobs to wait for")
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		var reply proto.StatusReply
		if err := client.Call(c.Context, proto.OpStatus, req, &reply); err != nil {
			return err
		}
		if c.Bool("w") {
			wait := proto.WaitRequest{}
			for _, j := range reply.Jobs {
				wait.Jobs = append(wait.Jobs, proto.WaitJob{ID: j.ID, State: j.State})
			}
			for {
				var w proto.WaitReply
				if err := client.Call(c.Context, proto.OpWait, wait, &w); err != nil {
					return err
				}
				if w.Done {
					break
				}
			}
			reply = proto.StatusReply{}
			if err := client.Call(c.Context, proto.OpStatus, req, &reply); err != nil {
				return err
			}
		}
		out := bufio.NewWriterSize(c.App.Writer, 64<<10)
		switch {
		case format == "json":
			enc := json.NewEncoder(out)
			if err := enc.Encode(reply); err != nil {
				return err
			}
		case req.Full:
			for i, j := range reply.Jobs {
				if i > 0 {
					fmt.Fprintln(out)
				}
				printFull(out, j, reply.Now)
			}
		case len(reply.Jobs) > 0:
			printTable(out, reply.Jobs)
		}
		if err := out.Flush(); err != nil {
			return err
		}
		for _, id := range reply.Missing {
			fmt.Fprintf(c.App.ErrWriter, "qstat: unknown job id %d\n", id)
		}
		if len(reply.Missing) > 0 {
			return errReported
		}
		return nil
	}
	return app
}

func printTable(w io.Writer, list []proto.JobInfo) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Job id\tName\tUser\tState\tQueue\tElapsed\tLast checkpoint")
	fmt.Fprintln(tw, "------\t----\t----\t-----\t-----\t-------\t---------------")
	for _, j := range list {
		ckpt := ""
		if !j.LastCheckpoint.IsZero() {
			ckpt = j.LastCheckpoint.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Name, j.User, j.State, j.Queue,
			jobs.FormatDuration(seconds(j.ElapsedSec)), ckpt)
	}
	tw.Flush()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

const timeFormat = "2006-01-02 15:04:05"

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeFormat)
}

func cpuTime(s float64) string {
	d := seconds(s)
	return fmt.Sprintf("%s.%02d", jobs.FormatDuration(d), d%time.Second/(10*time.Millisecond))
}

func printFull(w io.Writer, j proto.JobInfo, now time.Time) {
	kv := func(k, v string) { fmt.Fprintf(w, "    %s = %s\n", k, v) }
	fmt.Fprintf(w, "Job %d\n", j.ID)
	kv("name", j.Name)
	kv("owner", fmt.Sprintf("%s (uid %d, gid %d)", j.User, j.UID, j.GID))
	kv("state", j.State)
	if j.Reason != "" {
		kv("reason", j.Reason)
	}
	kv("queue", j.Queue)
	kv("submitted", stamp(j.Submitted))
	kv("state since", stamp(j.Changed))
	if !j.After.IsZero() {
		kv("not before", stamp(j.After))
	}
	kv("working directory", j.Workdir)
	kv("script", j.Script)
	switch j.Join {
	case "oe":
		kv("output", j.Stdout+" (with standard error)")
	case "eo":
		kv("output", j.Stderr+" (with standard output)")
	default:
		kv("output", j.Stdout)
		kv("error", j.Stderr)
	}
	kv("resources", j.Resources)
	rerun := "y"
	if j.Rerunnable != nil && !*j.Rerunnable {
		rerun = "n"
	}
	kv("rerunnable", rerun)
	kv("checkpoint policy", j.Checkpoint)
	if len(j.Vars) > 0 {
		kv("variables", strings.Join(j.Vars, ","))
	}
	if j.ExportEnv {
		kv("exports environment", "yes (-V)")
	}
	for i, s := range j.Segments {
		end, how := "running", ""
		if !s.End.IsZero() {
			end = stamp(s.End)
			switch {
			case s.Reason != "":
				how = ", " + s.Reason
			case s.Signal != 0:
				how = fmt.Sprintf(", killed by signal %d", s.Signal)
			default:
				how = ", exit status " + strconv.Itoa(s.ExitCode)
			}
		}
		wall := s.End.Sub(s.Start)
		if s.End.IsZero() {
			wall = now.Sub(s.Start)
		}
		kind := "run"
		if s.Restart {
			kind = "restart"
		}
		kv(fmt.Sprintf("run %d", i+1), fmt.Sprintf("%s %s to %s, wall %s, cpu %s (user %s, system %s)%s",
			kind, stamp(s.Start), end, jobs.FormatDuration(wall), cpuTime(s.UserCPUSec+s.SysCPUSec),
			cpuTime(s.UserCPUSec), cpuTime(s.SysCPUSec), how))
	}
	runs := "runs"
	if len(j.Segments) == 1 {
		runs = "run"
	}
	kv("total", fmt.Sprintf("%d %s, wall %s, cpu %s", len(j.Segments), runs,
		jobs.FormatDuration(seconds(j.ElapsedSec)), cpuTime(j.CPUSec)))
	if len(j.Checkpoints) == 0 {
		kv("checkpoints", "none")
	}
	for _, g := range j.Checkpoints {
		kv(fmt.Sprintf("checkpoint %d", g.N), fmt.Sprintf("%s, %s", stamp(g.Time), g.Dir))
	}
}

func qstatQueues(c *cli.Context, asJSON bool) error {
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	var all []proto.QueueInfo
	names := c.Args().Slice()
	failed := false
	if len(names) == 0 {
		var reply proto.QueuesReply
		if err := client.Call(c.Context, proto.OpQueueList, proto.QueueRequest{}, &reply); err != nil {
			return err
		}
		all = reply.Queues
	}
	for _, n := range names {
		var reply proto.QueuesReply
		if err := client.Call(c.Context, proto.OpQueueList, proto.QueueRequest{Name: n}, &reply); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "qstat: %v\n", err)
			failed = true
			continue
		}
		all = append(all, reply.Queues...)
	}
	if asJSON {
		if err := json.NewEncoder(c.App.Writer).Encode(proto.QueuesReply{Queues: all}); err != nil {
			return err
		}
	} else if len(all) > 0 {
		tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "Queue\tPriority\tEnabled\tStarted\tQueued\tHeld\tRunning\tEnded\tMax running\tMax per user")
		fmt.Fprintln(tw, "-----\t--------\t-------\t-------\t------\t----\t-------\t-----\t-----------\t------------")
		for _, q := range all {
			name := q.Name
			if q.Default {
				name += " (default)"
			}
			n := q.Counts
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", name, q.Priority, yesNo(q.Enabled), yesNo(q.Started),
				n["queued"]+n["requeued"], n["held"], n["running"]+n["exiting"]+n["checkpointing"],
				n["finished"]+n["failed"], limit(q.MaxRunning), limit(q.MaxUserRunning))
		}
		tw.Flush()
	}
	if failed {
		return errReported
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func limit(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}
