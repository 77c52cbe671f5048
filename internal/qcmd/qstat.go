package qcmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
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
current one up to now), the last checkpoint's time, size and duration, the
number of checkpoint generations and when the next periodic checkpoint is
due. States: queued, held, running, exiting, finished, failed,
checkpointing, requeued. Finished and failed jobs stay listed for
keep_finished (lazarus.conf, default a week).

Of another user's job you see only its summary (its line of the table),
unless you are root or an operator or lazarus.conf sets query_other_jobs =
true. A full state directory (or state changes waiting to be recorded) is
reported on standard error.

-f prints every field of each job, with each run (start, end, CPU time,
exit status, the checkpoint it restarted from) and the totals, each
checkpoint generation, the last checkpoint failure and the history of
checkpoints and restarts. -F json prints the same data as JSON, for
scripts. -w waits until every listed job has left the state it is in (or has
ended), then prints them. -Q lists queues instead of jobs.

Exit status: 0, or 1 if a job or queue asked for does not exist (the others
are printed) or lazarusd cannot be reached.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.BoolFlag{Name: "f", DisableDefaultText: true, Usage: "full record of each job"},
		&cli.BoolFlag{Name: "Q", DisableDefaultText: true, Usage: "list queues"},
		&cli.StringFlag{Name: "u", Usage: "only jobs of this user (name or uid)"},
		&cli.StringFlag{Name: "s", Usage: "only jobs in these states (comma separated)"},
		&cli.StringFlag{Name: "F", Usage: "output format: json (default: text)"},
		&cli.BoolFlag{Name: "w", DisableDefaultText: true, Usage: "wait until the listed jobs change state, then print them"},
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
		if c.Bool("w") {
			if err := waitChange(c, client, req); err != nil {
				return err
			}
		}
		out := bufio.NewWriterSize(c.App.Writer, 64<<10)
		var missing []uint64
		var problem string
		switch {
		case format == "json":
			// Passed through as the daemon wrote it.
			var raw json.RawMessage
			if err := client.Call(c.Context, proto.OpStatus, req, &raw); err != nil {
				return err
			}
			out.Write(raw)
			out.WriteByte('\n')
			var m struct {
				Missing  []uint64 `json:"missing"`
				StateDir string   `json:"state_dir_problem"`
			}
			json.Unmarshal(raw, &m)
			missing, problem = m.Missing, m.StateDir
		case req.Full:
			var reply proto.StatusReply
			if err := client.Call(c.Context, proto.OpStatus, req, &reply); err != nil {
				return err
			}
			for i, j := range reply.Jobs {
				if i > 0 {
					fmt.Fprintln(out)
				}
				printFull(out, j, reply.Now)
			}
			missing, problem = reply.Missing, reply.StateDir
		default:
			// Only the table's columns are decoded: a listing of every job
			// is large.
			var reply struct {
				Jobs     []row    `json:"jobs"`
				Missing  []uint64 `json:"missing"`
				StateDir string   `json:"state_dir_problem"`
			}
			if err := client.Call(c.Context, proto.OpStatus, req, &reply); err != nil {
				return err
			}
			if len(reply.Jobs) > 0 {
				printTable(out, reply.Jobs)
			}
			missing, problem = reply.Missing, reply.StateDir
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if problem != "" {
			// On standard error: the listing stays what scripts read.
			fmt.Fprintf(c.App.ErrWriter, "qstat: warning: %s\n", problem)
		}
		for _, id := range missing {
			fmt.Fprintf(c.App.ErrWriter, "qstat: unknown job id %d\n", id)
		}
		if len(missing) > 0 {
			return errReported
		}
		return nil
	}
	return app
}

// waitChange returns when every job of req has left the state it is in now.
func waitChange(c *cli.Context, client *proto.Client, req proto.StatusRequest) error {
	var now struct {
		Jobs []row `json:"jobs"`
	}
	if err := client.Call(c.Context, proto.OpStatus, proto.StatusRequest{IDs: req.IDs}, &now); err != nil {
		return err
	}
	wait := proto.WaitRequest{}
	for _, j := range now.Jobs {
		wait.Jobs = append(wait.Jobs, proto.WaitJob{ID: j.ID, State: j.State})
	}
	for {
		var w proto.WaitReply
		if err := client.Call(c.Context, proto.OpWait, wait, &w); err != nil {
			return err
		}
		if w.Done {
			return nil
		}
	}
}

// row is what the table shows of a job (the first fields of JobInfo).
type row struct {
	ID                     uint64    `json:"id"`
	Name                   string    `json:"name"`
	User                   string    `json:"user"`
	State                  string    `json:"state"`
	Queue                  string    `json:"queue"`
	ElapsedSec             float64   `json:"elapsed_s"`
	LastCheckpoint         time.Time `json:"last_checkpoint"`
	LastCheckpointSize     int64     `json:"last_checkpoint_size"`
	LastCheckpointDuration float64   `json:"last_checkpoint_s"`
	Generations            int       `json:"generations"`
	NextCheckpoint         time.Time `json:"next_checkpoint"`
}

func printTable(w io.Writer, list []row) {
	cells := make([][]string, 0, len(list)+2)
	cells = append(cells,
		[]string{"Job id", "Name", "User", "State", "Queue", "Elapsed", "Last checkpoint", "Size", "Took", "Gens", "Next checkpoint"},
		[]string{"------", "----", "----", "-----", "-----", "-------", "---------------", "----", "----", "----", "---------------"})
	for _, j := range list {
		ckpt, size, took, gens, next := "", "", "", "", ""
		if !j.LastCheckpoint.IsZero() {
			ckpt = j.LastCheckpoint.Local().Format(shortTime)
			size = formatBytes(j.LastCheckpointSize)
			took = seconds(j.LastCheckpointDuration).Round(10 * time.Millisecond).String()
		}
		if j.Generations > 0 {
			gens = strconv.Itoa(j.Generations)
		}
		if !j.NextCheckpoint.IsZero() {
			next = j.NextCheckpoint.Local().Format(shortTime)
		}
		cells = append(cells, []string{strconv.FormatUint(j.ID, 10), j.Name, j.User, j.State, j.Queue,
			jobs.FormatDuration(seconds(j.ElapsedSec)), ckpt, size, took, gens, next})
	}
	writeTable(w, cells)
}

// shortTime is the table's: a checkpoint is recent, its year goes without
// saying.
const shortTime = "01-02 15:04:05"

// writeTable aligns columns two spaces apart. It does what text/tabwriter
// does, without its cost per cell, which shows on a listing of every job.
func writeTable(w io.Writer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	var line []byte
	for _, r := range rows {
		line = line[:0]
		for i, c := range r {
			line = append(line, c...)
			if i < len(r)-1 {
				for range width[i] - len(c) + 2 {
					line = append(line, ' ')
				}
			}
		}
		for len(line) > 0 && line[len(line)-1] == ' ' {
			line = line[:len(line)-1]
		}
		w.Write(append(line, '\n'))
	}
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
	if j.SummaryOnly {
		printSummary(kv, j)
		return
	}
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
				how = fmt.Sprintf(", killed by signal %d (%s)", s.Signal, syscall.Signal(s.Signal))
			default:
				how = ", exit status " + strconv.Itoa(s.ExitCode)
			}
		}
		wall := s.End.Sub(s.Start)
		if s.End.IsZero() {
			wall = now.Sub(s.Start)
		}
		if s.Restart {
			how += fmt.Sprintf(" (restarted from checkpoint %d)", s.Generation)
		}
		cpu := "cpu counted when it ends"
		if !s.End.IsZero() {
			cpu = fmt.Sprintf("cpu %s (user %s, system %s)", cpuTime(s.UserCPUSec+s.SysCPUSec),
				cpuTime(s.UserCPUSec), cpuTime(s.SysCPUSec))
		}
		kv(fmt.Sprintf("run %d", i+1), fmt.Sprintf("%s to %s, wall %s, %s%s",
			stamp(s.Start), end, jobs.FormatDuration(wall), cpu, how))
	}
	runs := "runs"
	if len(j.Segments) == 1 {
		runs = "run"
	}
	kv("total", fmt.Sprintf("%d %s, wall %s, cpu %s", len(j.Segments), runs,
		jobs.FormatDuration(seconds(j.ElapsedSec)), cpuTime(j.CPUSec)))
	if j.CheckpointEvery > 0 {
		kv("checkpoint every", seconds(j.CheckpointEvery).String())
	}
	if !j.NextCheckpoint.IsZero() {
		kv("next checkpoint", stamp(j.NextCheckpoint))
	}
	gens := fmt.Sprintf("%d (keeps %d)", len(j.Checkpoints), j.Keep)
	if len(j.Checkpoints) == 0 {
		gens = fmt.Sprintf("none (keeps %d)", j.Keep)
	}
	kv("checkpoints", gens)
	for _, g := range j.Checkpoints {
		line := fmt.Sprintf("%s, %s, took %.2fs, job stopped %.3fs, %d processes, %s",
			stamp(g.Time), formatBytes(g.Size), g.Seconds, g.Frozen, g.Processes, g.Image)
		if g.Bad != "" {
			line += " (not usable: " + g.Bad + ")"
		}
		kv(fmt.Sprintf("checkpoint %d", g.N), line)
	}
	if j.RestartFrom > 0 {
		kv("restarts from", fmt.Sprintf("checkpoint %d", j.RestartFrom))
	}
	if j.CheckpointError != "" {
		kv("last checkpoint failure", stamp(j.CheckpointErrorTime)+": "+j.CheckpointError)
	}
	for _, e := range j.Events {
		kv("history", stamp(e.Time)+" "+e.Text)
	}
}

// printSummary prints what the daemon shows of another user's job: the
// fields of the table's line.
func printSummary(kv func(k, v string), j proto.JobInfo) {
	kv("owner", j.User)
	kv("state", j.State)
	kv("queue", j.Queue)
	kv("elapsed", jobs.FormatDuration(seconds(j.ElapsedSec)))
	if !j.LastCheckpoint.IsZero() {
		kv("last checkpoint", fmt.Sprintf("%s, %s, took %.2fs", stamp(j.LastCheckpoint),
			formatBytes(j.LastCheckpointSize), j.LastCheckpointDuration))
	}
	if j.Generations > 0 {
		kv("checkpoints", strconv.Itoa(j.Generations))
	}
	if !j.NextCheckpoint.IsZero() {
		kv("next checkpoint", stamp(j.NextCheckpoint))
	}
	kv("details", "shown to the job's owner, root and operators only (query_other_jobs is false)")
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
		rows := [][]string{
			{"Queue", "Priority", "Enabled", "Started", "Queued", "Held", "Running", "Ended", "Max running", "Max per user"},
			{"-----", "--------", "-------", "-------", "------", "----", "-------", "-----", "-----------", "------------"},
		}
		for _, q := range all {
			name := q.Name
			if q.Default {
				name += " (default)"
			}
			n := q.Counts
			rows = append(rows, []string{name, strconv.Itoa(q.Priority), yesNo(q.Enabled), yesNo(q.Started),
				strconv.Itoa(n["queued"] + n["requeued"]), strconv.Itoa(n["held"]),
				strconv.Itoa(n["running"] + n["exiting"] + n["checkpointing"]),
				strconv.Itoa(n["finished"] + n["failed"]), limit(q.MaxRunning), limit(q.MaxUserRunning)})
		}
		writeTable(c.App.Writer, rows)
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
