package qcmd

import (
	"fmt"
	"io"
	"os"
	osuser "os/user"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// scontrol is the part of Slurm's scontrol that job scripts use: expand
// $SLURM_JOB_NODELIST, read a job's record, and requeue, hold or
// release a job. Anything else is refused by name, never ignored.

// NewScontrol builds scontrol.
func NewScontrol(stdout, stderr io.Writer) *cli.App {
	app := newApp("scontrol", "show and change batch jobs as Slurm's scontrol does",
		"scontrol [-o] [-d] COMMAND [ARGS...]",
		`scontrol does what job scripts ask of Slurm's scontrol:

   show hostnames [LIST]    one host per line of a Slurm host list (n[1-3],m:
                            n1 n2 n3 m); LIST defaults to $SLURM_JOB_NODELIST
   show hostlist LIST       the reverse: hosts (comma separated) as a list
   show job [ID]            the job's record as Slurm prints it (JobId=N
                            JobName=... JobState=... Restarts=... StdOut=...),
                            of every job without ID; -o: one line each
   requeue ID[,ID...]       a running job is killed and queued again, as
                            qrerun does it (it restarts from its newest
                            checkpoint, or runs its script again, with
                            SLURM_RESTART_COUNT one more); your own jobs,
                            unless they were submitted --no-requeue
   hold ID...               hold pending jobs, as qhold (a running one is
                            checkpointed and held)
   release ID...            release held jobs, as qrls

"jobid" and "hostname" are taken for "job" and "hostnames", as Slurm takes
them; -d (--details) is accepted. An id is N, N_I for task I of array N.
Any other command (update, suspend, show node, ...) is refused by name.
Exit status: 0, or 1 on any error ("scontrol: error: ...").

`+environmentHelp, nil, stdout, stderr)
	app.SkipFlagParsing = true
	app.HideHelp = true
	app.Action = func(c *cli.Context) error {
		err := scontrol(c, c.Args().Slice())
		if err != nil && err != errReported {
			return cli.Exit("error: "+err.Error(), 1)
		}
		return err
	}
	return app
}

func scontrol(c *cli.Context, args []string) error {
	oneLine := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-o", "--oneliner":
			oneLine = true
		case "-d", "-dd", "--details", "-Q", "--quiet":
		case "-h", "--help", "--usage":
			return cli.ShowAppHelp(c)
		default:
			return fmt.Errorf("unrecognized option '%s'", args[0])
		}
		args = args[1:]
	}
	// Flags may also follow the command (scontrol show job -dd ID).
	var rest []string
	for _, a := range args {
		switch a {
		case "-o", "--oneliner":
			oneLine = true
		case "-d", "-dd", "--details":
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return fmt.Errorf("no command given (see scontrol --help)")
	}
	switch cmd := strings.ToLower(rest[0]); cmd {
	case "show":
		if len(rest) < 2 {
			return fmt.Errorf("show: what? (hostnames, hostlist or job)")
		}
		what, more := strings.ToLower(rest[1]), rest[2:]
		switch what {
		case "hostnames", "hostname":
			list := strings.Join(more, ",")
			if list == "" {
				list = os.Getenv("SLURM_JOB_NODELIST")
			}
			if list == "" {
				return fmt.Errorf("show hostnames: no host list given, and SLURM_JOB_NODELIST is not set")
			}
			hosts, err := expandHostlist(list)
			if err != nil {
				return err
			}
			for _, h := range hosts {
				fmt.Fprintln(c.App.Writer, h)
			}
			return nil
		case "hostlist":
			if len(more) == 0 {
				return fmt.Errorf("show hostlist: no hosts given")
			}
			fmt.Fprintln(c.App.Writer, strings.Join(more, ","))
			return nil
		case "job", "jobs", "jobid":
			return scontrolShowJob(c, more, oneLine)
		}
		return fmt.Errorf("show %s: not supported here (only hostnames, hostlist and job)", rest[1])
	case "requeue", "hold", "release", "uhold":
		if len(rest) < 2 {
			return fmt.Errorf("%s: no job id given", cmd)
		}
		return scontrolJobs(c, cmd, rest[1:])
	}
	return fmt.Errorf("%s: not supported here (only show, requeue, hold and release)", rest[0])
}

// scontrolJobs requeues, holds or releases each job given.
func scontrolJobs(c *cli.Context, cmd string, args []string) error {
	var ids []jobs.ID
	for _, a := range args {
		// scontrol takes jobid=N too.
		a = strings.TrimPrefix(strings.TrimPrefix(a, "jobid="), "JobId=")
		more, err := parseSlurmIDs(a)
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
		var op string
		var body any = proto.JobRequest{ID: uint64(id)}
		switch cmd {
		case "requeue":
			op, body = proto.OpRerun, proto.RerunRequest{ID: uint64(id), Owner: true}
		case "hold", "uhold":
			op = proto.OpHold
		case "release":
			op = proto.OpRelease
		}
		if err := client.Call(c.Context, op, body, nil); err != nil {
			name := slurmJob{id: id, array: id.IsSubjob()}.slurmID()
			fmt.Fprintf(c.App.ErrWriter, "scontrol: error: %s job %s: %v\n", cmd, name, err)
			failed = true
		}
	}
	if failed {
		return errReported
	}
	return nil
}

// scontrolShowJob prints jobs as scontrol show job does: one record of
// "Key=Value" words per job, on several indented lines (one with -o).
func scontrolShowJob(c *cli.Context, args []string, oneLine bool) error {
	var ids []jobs.ID
	for _, a := range args {
		more, err := parseSlurmIDs(a)
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
	all, now, err := slurmList(c.Context, client, true)
	if err != nil {
		return err
	}
	var shown []slurmJob
	for _, j := range all {
		if len(ids) == 0 {
			shown = append(shown, j)
			continue
		}
		for _, id := range ids {
			if j.id == id || !id.IsSubjob() && j.array && j.id.Base() == id {
				shown = append(shown, j)
				break
			}
		}
	}
	if len(shown) == 0 {
		if len(ids) == 0 {
			fmt.Fprintln(c.App.Writer, "No jobs in the system")
			return nil
		}
		return errInvalidJobID
	}
	for i, j := range shown {
		if i > 0 && !oneLine {
			fmt.Fprintln(c.App.Writer)
		}
		lines := jobRecord(j, now)
		if oneLine {
			fmt.Fprintln(c.App.Writer, strings.Join(lines, " "))
			continue
		}
		fmt.Fprintln(c.App.Writer, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintln(c.App.Writer, "   "+l)
		}
	}
	return nil
}

// jobRecord is scontrol show job's record of a job, line by line.
func jobRecord(j slurmJob, now time.Time) []string {
	in := j.info
	res := jobs.Resources{NCPUs: 1}
	if in.Resources != "" {
		for _, l := range strings.Split(in.Resources, ",") {
			// mpiprocs and ompthreads are a chunk's, shown alone for a
			// job of one chunk (--ntasks): not a resource of their own.
			k, v, _ := strings.Cut(l, "=")
			if n, err := strconv.Atoi(v); err == nil && (k == "mpiprocs" || k == "ompthreads") {
				if k == "mpiprocs" {
					res.MPIProcs = n
				} else {
					res.OMPThreads = n
				}
				continue
			}
			if r, err := jobs.ParseResources(res, l); err == nil {
				res = r
			}
		}
	}
	ntasks, perTask := 1, max(in.NCPUs, 1)
	if res.MPIProcs > 0 {
		ntasks, perTask = res.MPIProcs, res.Threads()
	}
	first := "JobId=" + strconv.FormatUint(uint64(j.id), 10)
	if j.array {
		// Slurm's task of an array has an id of its own; here the
		// task is N_I, and JobId is its N_I form's number part.
		first = "JobId=" + j.slurmID() + " ArrayJobId=" + j.arrayJob() + " ArrayTaskId=" + j.taskID()
	}
	first += " JobName=" + orNull(in.Name)
	user, group := orNull(in.User), orNull(in.Group)
	if in.Group == "" {
		if g, err := osuser.LookupGroupId(strconv.FormatUint(uint64(in.GID), 10)); err == nil {
			group = g.Name
		}
	}
	depend := "(null)"
	if in.Depend != "" {
		depend = in.Depend
	}
	state := slurmState(in)
	reason := slurmReason(in, now)
	if st := jobs.State(in.State); st.Terminal() && state != "COMPLETED" {
		reason = "None"
	}
	requeue := "1"
	if in.Rerunnable != nil && !*in.Rerunnable {
		requeue = "0"
	}
	restarts := max(len(in.Segments)-1, 0)
	run := time.Duration(in.ElapsedSec * float64(time.Second))
	start, end := startEnd(in)
	limit := "UNLIMITED"
	if in.WalltimeSec > 0 {
		limit = scontrolDuration(seconds(in.WalltimeSec))
		if !start.IsZero() && end.IsZero() {
			end = start.Add(seconds(in.WalltimeSec)) // the expected end of a run
		}
	}
	mem := "0"
	if in.MemBytes > 0 {
		mem = strconv.FormatInt(in.MemBytes>>20, 10) + "M"
	}
	node := nodeList(in)
	stdout, stderr := in.Stdout, in.Stderr
	if in.Join == "oe" || stderr == "" {
		stderr = stdout
	}
	if in.Join == "eo" {
		stdout = stderr
	}
	return []string{
		first,
		fmt.Sprintf("UserId=%s(%d) GroupId=%s(%d) MCS_label=N/A", user, in.UID, group, in.GID),
		fmt.Sprintf("Priority=%d Nice=0 Account=%s QOS=normal", in.Priority, orNull(in.Account)),
		fmt.Sprintf("JobState=%s Reason=%s Dependency=%s", state, reason, depend),
		fmt.Sprintf("Requeue=%s Restarts=%d BatchFlag=1 Reboot=0 ExitCode=%s", requeue, restarts, exitCode(in)),
		fmt.Sprintf("RunTime=%s TimeLimit=%s TimeMin=N/A", scontrolDuration(run), limit),
		fmt.Sprintf("SubmitTime=%s EligibleTime=%s", slurmStamp(in.Submitted, "Unknown"), slurmStamp(in.Submitted, "Unknown")),
		fmt.Sprintf("StartTime=%s EndTime=%s Deadline=N/A", slurmStamp(start, "Unknown"), slurmStamp(end, "Unknown")),
		fmt.Sprintf("Partition=%s AllocNode:Sid=%s:%d", in.Queue, thisNode(), in.Session),
		fmt.Sprintf("NodeList=%s BatchHost=%s", orNull(node), orNull(node)),
		fmt.Sprintf("NumNodes=%s NumCPUs=%s NumTasks=%d CPUs/Task=%d", nodes(in), cpus(in), ntasks, perTask),
		fmt.Sprintf("TRES=cpu=%s,mem=%s,node=%s", cpus(in), mem, nodes(in)),
		fmt.Sprintf("MinMemoryNode=%s", mem),
		"Command=" + orNull(in.Script),
		"WorkDir=" + orNull(in.Workdir),
		"StdErr=" + orNull(stderr),
		"StdIn=/dev/null",
		"StdOut=" + orNull(stdout),
	}
}

func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}

// scontrolDuration is scontrol's [D-]HH:MM:SS.
func scontrolDuration(d time.Duration) string {
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	if days > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

// expandHostlist expands a Slurm host list: names separated by commas,
// each with at most one bracketed range list (n[01-03,7] is n01 n02 n03
// n7, the width of each bound kept).
func expandHostlist(list string) ([]string, error) {
	var out []string
	for _, item := range splitIDList(list) {
		open := strings.IndexByte(item, '[')
		if open < 0 {
			out = append(out, item)
			continue
		}
		closeAt := strings.IndexByte(item, ']')
		if closeAt < open {
			return nil, fmt.Errorf("invalid host list %q", list)
		}
		prefix, ranges, suffix := item[:open], item[open+1:closeAt], item[closeAt+1:]
		if strings.ContainsAny(suffix, "[]") {
			return nil, fmt.Errorf("invalid host list %q: one bracketed range per name only", list)
		}
		for _, r := range strings.Split(ranges, ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("invalid host list %q: range %q", list, r)
			}
			for n := a; n <= b; n++ {
				out = append(out, fmt.Sprintf("%s%0*d%s", prefix, len(lo), n, suffix))
			}
		}
	}
	return out, nil
}
