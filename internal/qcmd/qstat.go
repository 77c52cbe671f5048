package qcmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
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
		`qstat [-a|-f] [-n] [-s] [-x|-H] [-i] [-r] [-t] [-w] [-u user,...] [-F json] [job id ...]
   qstat -Q | -q | -B [-F json] [queue ...]
   qstat -c [-f] [-F json] [-u user] [--state state,...] [--wait] [job id ...]   (Lazarus's checkpoint view)`,
		`qstat shows jobs as PBS does (OpenPBS qstat.1B), so that scripts that read
PBS's qstat read this one. Job ids are N.SERVER (qsub prints them so; N alone
is accepted too). SERVER is the server_name setting of lazarus.conf, or this
host's short name.

The default table is PBS's: Job id, Name, User, Time Use (CPU time of all
runs), S (state), Queue, with PBS's widths; longer values are cut and end in
'*'. States: Q queued (also a job requeued after a run), W waiting for its
qsub -a time, H held, R running (also while it is being checkpointed: qstat -f
says checkpoint_state = in progress, substate 43), E exiting (being killed),
F finished (ended in any way: Exit_status says how). Finished jobs are listed
only with -x (with the others) or -H (only them), as in PBS; they stay for
keep_finished (lazarus.conf, default a week). After that, -x and -H still
show them from the accounting log: by id from any day, listed from the last
14 days (what the job's E record says; tracejob tells its whole story).

-a, -n, -s, -u, -i and -r print PBS's other table (Job ID, Username, Queue,
Jobname, SessID, NDS, TSK, Req'd Memory, Req'd Time, S, Elap Time); -n adds
the host each running job runs on, -s the job's comment. -i lists only
queued, waiting and held jobs, -r only running ones. An array job is listed
as N[].SERVER (state Q, B once a subjob began, H, F); -t lists each array's
subjobs after it, N[i].SERVER (X once ended), and -J only arrays. -w prints
wider columns (and -f does not wrap lines).

-f prints every attribute of each job, as PBS does: Job Id: N.SERVER, then
"    name = value" lines (Job_Name, Job_Owner, resources_used.*, job_state,
queue, server, Checkpoint, ctime, Error_Path, exec_host, Hold_Types,
Join_Path, Keep_Files, mtime, Output_Path, Priority, qtime, Rerunable,
Resource_List.*, stime, session_id, substate, Variable_List, comment,
run_count, Exit_status, Account_Name, project...), then Lazarus's own:
lazarus_state, checkpoint_policy, checkpoint_every, checkpoint_keep,
checkpoint_generations, checkpoint_next, checkpoint.N (each generation),
checkpoint_failure, run.N (each run) and history.N. -F json prints the same
attributes in PBS's JSON shape ({"Jobs": {"N.SERVER": {...}}}).

Exit_status is PBS's: the script's exit status, 256+N for a script killed by
signal N (271: SIGTERM, as after qdel; 265: SIGKILL), -29 for a job killed at
its walltime, -28 at its cput, -27 at its mem, -7 when a restart from a
checkpoint failed, -1 when the job could not start, -4 when its run was lost
(machine or daemon gone), -11 for a run stopped to be requeued, -12 for one
stopped after a checkpoint.

Of another user's job you see only the attributes of the tables (no paths,
variables, comment or history), unless you are root or an operator or
lazarus.conf sets query_other_jobs = true.

-Q lists queues as PBS does, -q in PBS's other queue table, -B the server.

-c shows Lazarus's own view instead, which tells the checkpoint story: the
table with id, name, user, state (queued, held, running, exiting, finished,
failed, checkpointing, requeued), queue, elapsed time, the last
checkpoint's time, size and duration, the number of generations and the next
periodic checkpoint, of every job, finished ones too; -c -f every field with
each run, each generation and the history; -c -F json the same as JSON;
-c -Q Lazarus's queue table. --state selects jobs by state and --wait waits
until every listed job has left the state it is in (or has ended), then
prints them (both with or without -c).

Exit status: 0, or 1 if a job or queue asked for does not exist or has
finished (without -x) (the others are printed) or lazarusd cannot be reached.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.BoolFlag{Name: "f", DisableDefaultText: true, Usage: "every attribute of each job"},
		&cli.BoolFlag{Name: "a", DisableDefaultText: true, Usage: "PBS's other table"},
		&cli.BoolFlag{Name: "n", DisableDefaultText: true, Usage: "with the host of each running job (other table)"},
		&cli.BoolFlag{Name: "s", DisableDefaultText: true, Usage: "with each job's comment (other table)"},
		&cli.BoolFlag{Name: "1", DisableDefaultText: true, Usage: "with -n or -s: the host or comment on the job's line (qstat -an1)"},
		&cli.BoolFlag{Name: "x", DisableDefaultText: true, Usage: "finished jobs too"},
		&cli.BoolFlag{Name: "H", DisableDefaultText: true, Usage: "finished jobs only"},
		&cli.BoolFlag{Name: "i", DisableDefaultText: true, Usage: "queued, waiting and held jobs only (other table)"},
		&cli.BoolFlag{Name: "r", DisableDefaultText: true, Usage: "running jobs only (other table)"},
		&cli.BoolFlag{Name: "t", DisableDefaultText: true, Usage: "each array job's subjobs too, after it"},
		&cli.BoolFlag{Name: "J", DisableDefaultText: true, Usage: "array jobs only (with -t, and their subjobs)"},
		&cli.BoolFlag{Name: "w", DisableDefaultText: true, Usage: "wide columns; -f does not wrap"},
		&cli.StringFlag{Name: "u", Usage: "only jobs of these users (names or uids, comma separated)"},
		&cli.StringFlag{Name: "F", Usage: "output format: json (default: text)"},
		&cli.BoolFlag{Name: "Q", DisableDefaultText: true, Usage: "list queues"},
		&cli.BoolFlag{Name: "q", DisableDefaultText: true, Usage: "list queues in PBS's other table"},
		&cli.BoolFlag{Name: "B", DisableDefaultText: true, Usage: "show the server"},
		&cli.BoolFlag{Name: "c", DisableDefaultText: true, Usage: "Lazarus's checkpoint view (table, -f, -F json, -Q)"},
		&cli.StringFlag{Name: "state", Usage: "only jobs in these Lazarus states (comma separated)"},
		&cli.BoolFlag{Name: "wait", DisableDefaultText: true, Usage: "wait until the listed jobs change state, then print them"},
	}
	app.Action = func(c *cli.Context) error {
		format := c.String("F")
		if format != "" && format != "json" {
			return fmt.Errorf("-F %q: the only format is json", format)
		}
		switch {
		case c.Bool("Q") && c.Bool("c"):
			return qstatQueues(c, format == "json")
		case c.Bool("Q"), c.Bool("q"), c.Bool("B"):
			return pbsQueues(c, format == "json")
		}
		req := proto.StatusRequest{Full: c.Bool("f"), Subjobs: c.Bool("t"), History: c.Bool("x") || c.Bool("H")}
		users := splitList(c.String("u"))
		if len(users) == 1 {
			req.User = users[0]
		}
		if s := c.String("state"); s != "" {
			for _, st := range strings.Split(s, ",") {
				if _, err := jobs.ParseState(st); err != nil {
					return err
				}
				req.States = append(req.States, st)
			}
		}
		for _, a := range c.Args().Slice() {
			ids, err := jobs.ParseIDs(a)
			if err != nil {
				return fmt.Errorf("%v", err)
			}
			for _, id := range ids {
				req.IDs = append(req.IDs, uint64(id))
			}
		}
		if c.Bool("wait") && len(req.IDs) == 0 {
			return fmt.Errorf("--wait needs the ids of the jobs to wait for")
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		if c.Bool("wait") {
			if err := waitChange(c, client, req); err != nil {
				return err
			}
		}
		if !c.Bool("c") {
			return pbsJobs(c, client, req, users, format == "json")
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
			fmt.Fprintf(c.App.ErrWriter, "qstat: unknown job id %s\n", jobs.ID(id))
		}
		if len(missing) > 0 {
			return errReported
		}
		return nil
	}
	return app
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// pbsJobs is qstat without -c: PBS's tables, -f and -F json.
func pbsJobs(c *cli.Context, client *proto.Client, req proto.StatusRequest, users []string, asJSON bool) error {
	var reply proto.StatusReply
	if err := client.Call(c.Context, proto.OpStatus, req, &reply); err != nil {
		return err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = reply.Server
	}
	o := pbsOpts{wide: c.Bool("w"), nodes: c.Bool("n"), notes: c.Bool("s"), oneLine: c.Bool("1"), server: reply.Server, host: host, now: reply.Now}
	byID := len(req.IDs) > 0
	var list []proto.JobInfo
	failed := false
	for _, j := range reply.Jobs {
		id := jobs.ID(j.ID)
		// A subjob that ended is shown (X), as PBS's qstat -t shows it.
		terminal := jobs.State(j.State).Terminal() && !id.IsSubjob()
		switch {
		case c.Bool("J") && !id.IsArrayForm() && !id.IsSubjob():
			continue
		case len(users) > 1 && !slices.Contains(users, j.User) && !slices.Contains(users, strconv.FormatUint(uint64(j.UID), 10)):
			continue
		case c.Bool("H") && !terminal, !c.Bool("x") && !c.Bool("H") && terminal && !byID:
			continue
		case !c.Bool("x") && !c.Bool("H") && terminal:
			fmt.Fprintf(c.App.ErrWriter, "qstat: %s Job has finished, use -x or -H to obtain historical job information\n", o.id(j.ID))
			failed = true
			continue
		case c.Bool("i") && !(jobs.State(j.State).Pending() || jobs.State(j.State) == jobs.Held):
			continue
		case c.Bool("r") && !jobs.State(j.State).Active():
			continue
		}
		list = append(list, j)
	}
	out := bufio.NewWriterSize(c.App.Writer, 64<<10)
	alt := c.Bool("a") || c.Bool("n") || c.Bool("s") || c.Bool("i") || c.Bool("r") || c.String("u") != ""
	switch {
	case asJSON:
		b, err := pbsJSON(list, o)
		if err != nil {
			return err
		}
		out.Write(b)
		out.WriteByte('\n')
	case req.Full:
		for _, j := range list {
			printPBSFull(out, j, o)
		}
	case len(list) == 0:
	case alt:
		printPBSAlt(out, list, o)
	default:
		printPBSTable(out, list, o)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if reply.StateDir != "" {
		fmt.Fprintf(c.App.ErrWriter, "qstat: warning: %s\n", reply.StateDir)
	}
	for _, id := range reply.Missing {
		fmt.Fprintf(c.App.ErrWriter, "qstat: Unknown Job Id %s\n", o.id(id))
	}
	if failed || len(reply.Missing) > 0 {
		return errReported
	}
	return nil
}

// pbsQueues is qstat -Q, -q and -B as PBS prints them.
func pbsQueues(c *cli.Context, asJSON bool) error {
	var reply proto.QueuesReply
	if err := call(c.Context, proto.OpQueueList, proto.QueueRequest{}, &reply); err != nil {
		return err
	}
	var st proto.PingReply
	if err := call(c.Context, proto.OpPing, nil, &st); err != nil {
		return err
	}
	qs := reply.Queues
	failed := false
	if names := c.Args().Slice(); len(names) > 0 && !c.Bool("B") {
		qs = nil
		for _, n := range names {
			i := slices.IndexFunc(reply.Queues, func(q proto.QueueInfo) bool { return q.Name == n })
			if i < 0 {
				fmt.Fprintf(c.App.ErrWriter, "qstat: unknown queue %q\n", n)
				failed = true
				continue
			}
			qs = append(qs, reply.Queues[i])
		}
	}
	switch {
	case asJSON:
		if err := json.NewEncoder(c.App.Writer).Encode(proto.QueuesReply{Queues: qs}); err != nil {
			return err
		}
	case c.Bool("B"):
		printPBSServer(c.App.Writer, st.Server, qs)
	case c.Bool("q"):
		printPBSQueuesAlt(c.App.Writer, qs, st.Server)
	case len(qs) > 0:
		printPBSQueues(c.App.Writer, qs)
	}
	if failed {
		return errReported
	}
	return nil
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
		cells = append(cells, []string{jobs.ID(j.ID).String(), j.Name, j.User, j.State, j.Queue,
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
	fmt.Fprintf(w, "Job %s\n", jobs.ID(j.ID))
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
		line += genKind(g)
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

// genKind says whether a generation is self-contained or incremental.
func genKind(g proto.GenerationInfo) string {
	if g.Parent > 0 {
		return fmt.Sprintf(", incremental on generation %d", g.Parent)
	}
	return ", full"
}
