package qcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// qstat as PBS prints it (OpenPBS qstat.1B): the default table, the
// alternative table of -a, -n, -s and -u, and the attributes of -f. The
// widths, truncations and header lines are PBS's.

// pbsState is PBS's one-letter job state. A job being checkpointed runs
// on (or is frozen for a moment): it is R, and qstat -f says
// checkpoint_state = in progress; qstat -c shows "checkpointing".
func pbsState(state string, after time.Time, now time.Time) string {
	switch jobs.State(state) {
	case jobs.Queued, jobs.Requeued:
		if after.After(now) {
			return "W" // qsub -a in the future
		}
		return "Q"
	case jobs.Held:
		return "H"
	case jobs.Running, jobs.Checkpointing:
		return "R"
	case jobs.Exiting:
		return "E"
	case jobs.Finished, jobs.Failed:
		return "F"
	}
	return "?"
}

// pbsJobState is pbsState for a job as qstat got it: B for an array job
// some of whose subjobs have started, X for a subjob that has ended.
func pbsJobState(j proto.JobInfo, now time.Time) string {
	switch st := jobs.State(j.State); {
	case j.Suspended && st.Active():
		return "S"
	case st == jobs.Begun:
		return "B"
	case st.Terminal() && jobs.ID(j.ID).IsSubjob():
		return "X"
	}
	return pbsState(j.State, j.After, now)
}

// pbsSubstate is PBS's substate number of a state: 10 queued, 20 held,
// 42 running, 51 exiting, 92 finished, 93 failed; checkpointing is PBS's
// JOB_SUBSTATE_CHKPT... absent from OpenPBS, so Lazarus uses 43 (which is
// also PBS's JOB_SUBSTATE_SUSPEND, a suspended job's).
func pbsSubstate(state string) int {
	switch jobs.State(state) {
	case jobs.Queued, jobs.Requeued:
		return 10
	case jobs.Held:
		return 20
	case jobs.Running:
		return 42
	case jobs.Checkpointing:
		return 43
	case jobs.Exiting:
		return 51
	case jobs.Finished:
		return 92
	}
	return 93
}

const truncChar = '*' // PBS's DISPLAY_TRUNC_CHAR

// truncLast cuts s to n characters, the last one replaced by '*', when it
// is longer than n (PBS's trunc_value).
func truncLast(s string, n int) string {
	if len(s) > n && n > 0 {
		return s[:n-1] + string(truncChar)
	}
	return s
}

// hms is a duration as PBS prints times: HH:MM:SS, hours unbounded.
func hms(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// pbsSize is a size as PBS prints Resource_List.mem: kb, mb, gb...
func pbsSize(n int64) string {
	if n%1024 != 0 {
		return strconv.FormatInt(n, 10) + "b"
	}
	return jobs.FormatSize(n)
}

// pbsOpts are the display options of qstat in PBS mode.
type pbsOpts struct {
	wide    bool
	nodes   bool // -n
	notes   bool // -s
	oneLine bool // -1: -n's host and -s's comment on the job's line
	server  string
	host    string
	now     time.Time
}

func (o pbsOpts) id(id uint64) string { return fullID(id, o.server) }

// printPBSTable prints PBS's default table.
func printPBSTable(w io.Writer, list []proto.JobInfo, o pbsOpts) {
	if o.wide {
		io.WriteString(w, "Job id                         Name            User             Time Use S Queue\n")
		io.WriteString(w, "-----------------------------  --------------- ---------------  -------- - ---------------\n")
	} else {
		io.WriteString(w, "Job id            Name             User              Time Use S Queue\n")
		io.WriteString(w, "----------------  ---------------- ----------------  -------- - -----\n")
	}
	for _, j := range list {
		id, name, user, queue := o.id(j.ID), j.Name, j.User, j.Queue
		timeUse := "0"
		if j.RunCount > 0 {
			timeUse = truncLast(hms(seconds(j.CPUSec)), 8)
		}
		st := pbsJobState(j, o.now)
		if o.wide {
			id, user, queue = truncLast(id, 30), truncLast(user, 15), truncLast(queue, 15)
			if len(name) >= 15 {
				name = name[:14] + string(truncChar)
			}
			fmt.Fprintf(w, "%-30s %-15s %-15s  %8s %1s %-15s\n", id, name, user, timeUse, st, queue)
			continue
		}
		id, user, queue = truncLast(id, 17), truncLast(user, 16), truncLast(queue, 16)
		if len(name) >= 16 {
			name = name[:15] + string(truncChar)
		}
		fmt.Fprintf(w, "%-17s %-16s %-16s  %8s %1s %-16s\n", id, name, user, timeUse, st, queue)
	}
}

// printPBSAlt prints PBS's alternative table (qstat -a, -n, -s, -u).
func printPBSAlt(w io.Writer, list []proto.JobInfo, o pbsOpts) {
	fmt.Fprintf(w, "\n%s: \n", o.server)
	if o.wide {
		sp := strings.Repeat(" ", 30+1+15+1+15+1+15+1+8+1+4+1+5+1)
		fmt.Fprintf(w, "%sReq'd  Req'd   Elap\n", sp)
		fmt.Fprintf(w, "%-30s %-15s %-15s %-15s %-8s %-4s %-5s Memory Time  S Time\n",
			"Job ID", "Username", "Queue", "Jobname", "SessID", "NDS", "TSK")
		fmt.Fprintf(w, "%s %s %s %s %s %s %s ------ ----- - -----\n", strings.Repeat("-", 30),
			strings.Repeat("-", 15), strings.Repeat("-", 15), strings.Repeat("-", 15), strings.Repeat("-", 8),
			strings.Repeat("-", 4), strings.Repeat("-", 5))
	} else {
		fmt.Fprintf(w, "%60s%-7s%-8s%s\n", " ", "Req'd", "Req'd", "Elap")
		io.WriteString(w, "Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n")
		io.WriteString(w, "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
	}
	const blank = " -- "
	for _, j := range list {
		sess, mem, req, elap := blank, blank, blank, blank
		if j.Session > 0 {
			sess = strconv.Itoa(j.Session)
		}
		if j.MemBytes > 0 {
			mem = pbsSize(j.MemBytes)
		}
		ran := j.RunCount > 0
		if j.CPUTimeSec > 0 { // PBS shows cput when it is asked for
			req = hms(seconds(j.CPUTimeSec))
			if ran {
				elap = hms(seconds(j.CPUSec))
			}
		} else {
			if j.WalltimeSec > 0 {
				req = hms(seconds(j.WalltimeSec))
			}
			if ran {
				elap = hms(seconds(j.ElapsedSec))
			}
		}
		st := pbsJobState(j, o.now)
		tasks := strconv.Itoa(max(j.NCPUs, 1))
		if o.wide {
			fmt.Fprintf(w, "%-30.30s %-15.15s %-15.15s %-15.15s %8.8s %4.4s %5.5s %6.6s %5.5s %1s %5.5s",
				truncLast(o.id(j.ID), 30), truncLast(j.User, 15), truncLast(j.Queue, 15), truncLast(j.Name, 15),
				truncLast(sess, 8), "1", truncLast(tasks, 5), mem, req, st, elap)
		} else {
			fmt.Fprintf(w, "%-15.15s %-8.8s %-8.8s %-10.10s %6.6s %3.3s %3.3s %6.6s %5.5s %1.1s %5.5s",
				truncLast(o.id(j.ID), 15), truncLast(j.User, 8), truncLast(j.Queue, 8), truncLast(j.Name, 10),
				truncLast(sess, 6), "1", truncLast(tasks, 3), mem, req, st, elap)
		}
		// Each extra goes on a line of its own, or with -1 after the job's
		// columns, PBS's "--" standing for a job not running.
		sep := "\n   "
		if o.oneLine {
			sep = " "
		}
		if o.nodes && j.RunCount > 0 && jobs.State(j.State).Active() {
			if j.ExecHost != "" {
				fmt.Fprintf(w, "%s%s", sep, j.ExecHost)
			} else {
				fmt.Fprintf(w, "%s%s/0*%d", sep, o.host, max(j.NCPUs, 1))
			}
		} else if o.nodes && o.oneLine {
			io.WriteString(w, " --")
		}
		if o.notes && j.Reason != "" {
			c := j.Reason
			switch { // with -1, the whole comment: the line is long already
			case o.oneLine:
			case len(c) > 74 && !o.wide:
				c = c[:71] + "..."
			case len(c) > 114:
				c = c[:111] + "..."
			}
			fmt.Fprintf(w, "%s%s", sep, c)
		}
		io.WriteString(w, "\n")
	}
}

// attr is one attribute of qstat -f: Name or Name.Resource = Value.
// Number says the JSON value is a number (PBS parses numbers).
type attr struct {
	name, resource, value string
	number                bool
}

// pbsAttrs lists a job's attributes in PBS's order, then Lazarus's own
// (checkpoint generations, history). A job whose details the caller may not
// see (SummaryOnly) has only the public ones: those of the tables.
func pbsAttrs(j proto.JobInfo, o pbsOpts) []attr {
	var a []attr
	add := func(name, value string) { a = append(a, attr{name: name, value: value}) }
	num := func(name string, n int64) {
		a = append(a, attr{name: name, value: strconv.FormatInt(n, 10), number: true})
	}
	res := func(name, resource, value string, number bool) {
		a = append(a, attr{name: name, resource: resource, value: value, number: number})
	}
	ctime := func(t time.Time) string { return t.Local().Format("Mon Jan _2 15:04:05 2006") }
	add("Job_Name", j.Name)
	add("Job_Owner", j.User+"@"+o.host)
	if j.RunCount > 0 {
		res("resources_used", "cput", hms(seconds(j.CPUSec)), false)
		if j.MemUsed > 0 {
			res("resources_used", "mem", strconv.FormatInt((j.MemUsed+1023)>>10, 10)+"kb", false)
		}
		res("resources_used", "ncpus", strconv.Itoa(max(j.NCPUs, 1)), true)
		if j.VMemUsed > 0 {
			res("resources_used", "vmem", strconv.FormatInt((j.VMemUsed+1023)>>10, 10)+"kb", false)
		}
		res("resources_used", "walltime", hms(seconds(j.ElapsedSec)), false)
	}
	add("job_state", pbsJobState(j, o.now))
	add("queue", j.Queue)
	add("server", o.server)
	full := !j.SummaryOnly
	if full {
		add("Checkpoint", pbsCheckpoint(j.Checkpoint))
		add("ctime", ctime(j.Submitted))
		add("Error_Path", o.host+":"+j.Stderr)
	}
	if j.RunCount > 0 && (jobs.State(j.State).Active() || full) {
		if j.ExecHost != "" {
			add("exec_host", j.ExecHost)
			add("exec_vnode", execVnode(j.ExecHost))
		} else {
			// One host: every chunk on it, numbered on the host as PBS does.
			exec := fmt.Sprintf("%s/0*%d", o.host, max(j.NCPUs, 1))
			if cs, err := jobs.ParseSelect(j.Select); j.Select != "" && err == nil {
				var parts []string
				for _, c := range cs {
					for range c.N {
						parts = append(parts, fmt.Sprintf("%s/%d*%d", o.host, len(parts), c.NCPUs))
					}
				}
				exec = strings.Join(parts, "+")
			}
			add("exec_host", exec)
			add("exec_vnode", execVnode(exec))
		}
	}
	hold := ""
	if j.Hold {
		hold = "u"
	}
	if j.DependHold {
		hold += "s"
	}
	if hold == "" {
		hold = "n"
	}
	add("Hold_Types", hold)
	if full {
		join := j.Join
		if join == "" {
			join = "n"
		}
		add("Join_Path", join)
		keep := j.KeepFiles
		if keep == "" {
			keep = "n"
		}
		add("Keep_Files", keep)
		if j.MailPoints != "" {
			add("Mail_Points", j.MailPoints)
		}
		if j.MailUsers != "" {
			add("Mail_Users", j.MailUsers)
		}
		add("mtime", ctime(j.Changed))
		add("Output_Path", o.host+":"+j.Stdout)
		num("Priority", int64(j.Priority))
		add("qtime", ctime(j.Submitted))
		rerun := "True"
		if j.Rerunnable != nil && !*j.Rerunnable {
			rerun = "False"
		}
		add("Rerunable", rerun)
	}
	if j.MemBytes > 0 {
		res("Resource_List", "mem", pbsSize(j.MemBytes), false)
	}
	res("Resource_List", "ncpus", strconv.Itoa(max(j.NCPUs, 1)), true)
	res("Resource_List", "nodect", strconv.Itoa(max(j.Nodect, 1)), true)
	place := j.Place
	switch {
	case place == "" && j.Nodect > 1:
		place = "free" // the default arrangement of several chunks
	case place == "":
		place = "pack" // one chunk: on one host
	}
	res("Resource_List", "place", place, false)
	sel := j.Select
	if sel == "" {
		sel = "1:ncpus=" + strconv.Itoa(max(j.NCPUs, 1))
		if j.MemBytes > 0 {
			sel += ":mem=" + pbsSize(j.MemBytes)
		}
	}
	res("Resource_List", "select", sel, false)
	if j.CPUTimeSec > 0 {
		res("Resource_List", "cput", hms(seconds(j.CPUTimeSec)), false)
	}
	if j.WalltimeSec > 0 {
		res("Resource_List", "walltime", hms(seconds(j.WalltimeSec)), false)
	}
	if j.Net != "" {
		res("Resource_List", "net", j.Net, false)
	}
	if full {
		if n := len(j.Segments); n > 0 {
			add("stime", ctime(j.Segments[n-1].Start))
		}
		if j.Session > 0 {
			num("session_id", int64(j.Session))
		}
		add("jobdir", j.Workdir)
	}
	if j.Suspended {
		num("substate", 43) // PBS's JOB_SUBSTATE_SUSPEND
	} else {
		num("substate", int64(pbsSubstate(j.State)))
	}
	if j.Interactive {
		add("interactive", "True")
	}
	if j.Array != "" {
		add("array", "True")
		add("array_indices_submitted", j.Array)
		c := j.ArrayCount
		add("array_state_count", fmt.Sprintf("Queued:%d Running:%d Exiting:%d Expired:%d", c["Queued"], c["Running"], c["Exiting"], c["Expired"]))
	}
	if id := jobs.ID(j.ID); id.IsSubjob() {
		add("array_id", o.id(uint64(jobs.ArrayForm(id.Base()))))
		num("array_index", int64(id.Index()))
	}
	if j.Depend != "" {
		add("depend", j.Depend)
	}
	if full {
		vars := []string{"PBS_O_WORKDIR=" + j.Workdir, "PBS_O_QUEUE=" + j.Queue, "PBS_O_HOST=" + o.host}
		vars = append(vars, j.Vars...)
		for i, v := range vars {
			vars[i] = strings.ReplaceAll(v, ",", `\,`)
		}
		add("Variable_List", strings.Join(vars, ","))
		switch {
		case j.Reason != "" && j.NotCheckpointable != "":
			add("comment", j.Reason+"; "+j.NotCheckpointable)
		case j.Reason != "":
			add("comment", j.Reason)
		case j.NotCheckpointable != "":
			add("comment", j.NotCheckpointable)
		}
		if !j.After.IsZero() {
			add("Execution_Time", ctime(j.After))
		}
		add("etime", ctime(j.Submitted))
	}
	num("run_count", int64(j.RunCount))
	if j.ExitStatus != nil && jobs.State(j.State).Terminal() {
		num("Exit_status", int64(*j.ExitStatus))
	}
	if full {
		if n := len(j.Segments); n > 0 && !j.Segments[n-1].End.IsZero() && jobs.State(j.State).Terminal() {
			add("obittime", ctime(j.Segments[n-1].End))
		}
		if j.Account != "" {
			add("Account_Name", j.Account)
		}
		if j.Project != "" {
			add("project", j.Project)
		} else {
			add("project", "_pbs_project_default")
		}
		if j.Shell != "" {
			add("Shell_Path_List", j.Shell)
		}
		if j.Group != "" {
			add("group_list", j.Group)
		}
		add("Submit_Host", o.host)
	}
	// Lazarus's checkpoints, after PBS's attributes.
	add("lazarus_state", j.State)
	if jobs.State(j.State) == jobs.Checkpointing {
		add("checkpoint_state", "in progress")
	}
	if full {
		add("checkpoint_policy", j.Checkpoint)
		if j.CheckpointEvery > 0 {
			add("checkpoint_every", seconds(j.CheckpointEvery).String())
		}
		num("checkpoint_keep", int64(j.Keep))
	}
	num("checkpoint_generations", int64(j.Generations))
	if !j.NextCheckpoint.IsZero() {
		add("checkpoint_next", ctime(j.NextCheckpoint))
	}
	if !full {
		if !j.LastCheckpoint.IsZero() {
			add("checkpoint_last", fmt.Sprintf("%s, %s, took %.2fs", ctime(j.LastCheckpoint),
				formatBytes(j.LastCheckpointSize), j.LastCheckpointDuration))
		}
		return a
	}
	for _, g := range j.Checkpoints {
		v := fmt.Sprintf("%s, %s, took %.2fs, job stopped %.3fs, %d processes, %s",
			ctime(g.Time), formatBytes(g.Size), g.Seconds, g.Frozen, g.Processes, g.Image)
		v += genKind(g)
		if g.Bad != "" {
			v += " (not usable: " + g.Bad + ")"
		}
		res("checkpoint", strconv.Itoa(g.N), v, false)
	}
	if j.RestartFrom > 0 {
		num("checkpoint_restart_from", int64(j.RestartFrom))
	}
	if j.CheckpointError != "" {
		add("checkpoint_failure", ctime(j.CheckpointErrorTime)+": "+j.CheckpointError)
	}
	for i, s := range j.Segments {
		v := ctime(s.Start)
		if !s.End.IsZero() {
			v += " to " + ctime(s.End)
			st := jobs.Segment{End: s.End, ExitCode: s.ExitCode, Signal: s.Signal, Reason: s.Reason}
			if code, ok := st.ExitStatus(); ok {
				v += ", Exit_status " + strconv.Itoa(code)
			}
			if s.Reason != "" {
				v += " (" + s.Reason + ")"
			}
		} else {
			v += ", running"
		}
		if s.Restart {
			v += fmt.Sprintf(", restarted from checkpoint %d", s.Generation)
		}
		res("run", strconv.Itoa(i+1), v, false)
	}
	for i, e := range j.Events {
		res("history", strconv.Itoa(i+1), ctime(e.Time)+" "+e.Text, false)
	}
	return a
}

// pbsCheckpoint is a policy as PBS's Checkpoint attribute writes it: n, s,
// or w=MINUTES for an interval of wall time.
func pbsCheckpoint(policy string) string {
	p, err := jobs.ParsePolicy(policy)
	if err != nil {
		return policy
	}
	switch p.Kind {
	case jobs.CheckpointInterval:
		if p.Interval%time.Minute == 0 {
			return "w=" + strconv.FormatInt(int64(p.Interval/time.Minute), 10)
		}
		return policy
	case jobs.CheckpointNever:
		return "n"
	case jobs.CheckpointAtShutdown:
		return "s"
	}
	return policy
}

// lineLimit is PBS's CHAR_LINE_LIMIT: qstat -f wraps values at commas to
// stay within it, unless -w.
const lineLimit = 78

// printPBSFull prints one job as qstat -f does.
func printPBSFull(w io.Writer, j proto.JobInfo, o pbsOpts) {
	fmt.Fprintf(w, "Job Id: %s\n", o.id(j.ID))
	for _, a := range pbsAttrs(j, o) {
		writeAttr(w, a, o.wide)
		io.WriteString(w, "\n")
	}
	io.WriteString(w, "\n")
}

// writeAttr writes "    name[.resource] = value", wrapped as PBS's
// prt_attr wraps it: at a comma when the next item would pass the line
// limit, continued after a tab; an item longer than a line is cut.
func writeAttr(w io.Writer, a attr, oneLine bool) {
	name := a.name
	if a.resource != "" {
		name += "." + a.resource
	}
	if oneLine {
		fmt.Fprintf(w, "    %s = %s", name, a.value)
		return
	}
	var b bytes.Buffer
	start := len(name) + 7
	fmt.Fprintf(&b, "    %s = ", name)
	var items []string
	for _, it := range strings.Split(a.value, ",") {
		if it != "" { // as strtok
			items = append(items, it)
		}
	}
	for i, it := range items {
		if len(it)+start < lineLimit {
			b.WriteString(it)
			start += len(it)
		} else {
			if i > 0 {
				b.WriteString("\n\t")
				start = 9
			}
			for k := 0; k < len(it); k++ {
				b.WriteByte(it[k])
				if start++; start > lineLimit {
					start = 8
					b.WriteString("\n\t")
				}
			}
		}
		if i < len(items)-1 {
			b.WriteByte(',')
		}
	}
	w.Write(b.Bytes())
}

// jsonObject is an object whose keys keep their order.
type jsonObject struct {
	keys []string
	vals map[string]any
}

func newObject() *jsonObject { return &jsonObject{vals: map[string]any{}} }

func (o *jsonObject) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonValue is an attribute's value as PBS's JSON output has it: numbers
// as numbers, the rest as strings.
func jsonValue(a attr) any {
	if a.number {
		if n, err := strconv.ParseInt(a.value, 10, 64); err == nil {
			return n
		}
	}
	return a.value
}

// pbsJSON is qstat -f -F json: {"timestamp", "pbs_version", "pbs_server",
// "Jobs": {"N.SERVER": {attributes}}}, with resources (Resource_List,
// resources_used...) and Variable_List as objects, as PBS writes them.
func pbsJSON(list []proto.JobInfo, o pbsOpts) ([]byte, error) {
	root := newObject()
	root.set("timestamp", o.now.Unix())
	root.set("pbs_version", "lazarus")
	root.set("pbs_server", o.server)
	all := newObject()
	for _, j := range list {
		obj := newObject()
		for _, a := range pbsAttrs(j, o) {
			switch {
			case a.resource != "":
				sub, _ := obj.vals[a.name].(*jsonObject)
				if sub == nil {
					sub = newObject()
					obj.set(a.name, sub)
				}
				sub.set(a.resource, jsonValue(a))
			case a.name == "Variable_List":
				vars := newObject()
				for _, kv := range splitEscaped(a.value) {
					k, v, _ := strings.Cut(kv, "=")
					vars.set(k, v)
				}
				obj.set(a.name, vars)
			default:
				obj.set(a.name, jsonValue(a))
			}
		}
		all.set(o.id(j.ID), obj)
	}
	root.set("Jobs", all)
	return json.MarshalIndent(root, "", "    ")
}

// splitEscaped splits at commas that are not escaped by a backslash.
func splitEscaped(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

// printPBSQueues is qstat -Q as PBS prints it.
func printPBSQueues(w io.Writer, qs []proto.QueueInfo) {
	io.WriteString(w, "Queue              Max   Tot Ena Str   Que   Run   Hld   Wat   Trn   Ext Type\n")
	io.WriteString(w, "---------------- ----- ----- --- --- ----- ----- ----- ----- ----- ----- ----\n")
	for _, q := range qs {
		n := q.Counts
		tot := 0
		for _, c := range n {
			tot += c
		}
		fmt.Fprintf(w, "%-16s %5d %5d %3s %3s %5d %5d %5d %5d %5d %5d %-4s\n", truncLast(q.Name, 16), q.MaxRunning, tot,
			yesNo(q.Enabled), yesNo(q.Started), n["queued"]+n["requeued"], n["running"]+n["checkpointing"],
			n["held"], 0, 0, n["exiting"], "Exec")
	}
}

// printPBSQueuesAlt is qstat -q.
func printPBSQueuesAlt(w io.Writer, qs []proto.QueueInfo, server string) {
	fmt.Fprintf(w, "\nserver: %s\n\n", server)
	io.WriteString(w, "Queue            Memory CPU Time Walltime Node   Run   Que   Lm  State\n")
	io.WriteString(w, "---------------- ------ -------- -------- ---- ----- ----- ----  -----\n")
	const blank = "  --   "
	totRun, totQue := 0, 0
	for _, q := range qs {
		n := q.Counts
		run := n["running"] + n["checkpointing"] + n["exiting"]
		que := n["queued"] + n["requeued"] + n["held"]
		totRun += run
		totQue += que
		lm := blank
		if q.MaxRunning > 0 {
			lm = strconv.Itoa(q.MaxRunning)
		}
		ena, str := 'D', 'S'
		if q.Enabled {
			ena = 'E'
		}
		if q.Started {
			str = 'R'
		}
		fmt.Fprintf(w, "%-16.16s %6.6s %8.8s %8.8s %4.4s ", q.Name, "--  ", blank, blank, "-- ")
		fmt.Fprintf(w, "%5d %5d %4.4s   %c %c\n", run, que, lm, ena, str)
	}
	io.WriteString(w, "                                               ----- -----\n")
	fmt.Fprintf(w, "                                               %5d %5d\n", totRun, totQue)
}

// printPBSServer is qstat -B.
func printPBSServer(w io.Writer, server string, qs []proto.QueueInfo) {
	io.WriteString(w, "Server             Max   Tot   Que   Run   Hld   Wat   Trn   Ext Status\n")
	io.WriteString(w, "---------------- ----- ----- ----- ----- ----- ----- ----- ----- -----------\n")
	tot, que, run, hld, ext := 0, 0, 0, 0, 0
	for _, q := range qs {
		for _, c := range q.Counts {
			tot += c
		}
		n := q.Counts
		que += n["queued"] + n["requeued"]
		run += n["running"] + n["checkpointing"]
		hld += n["held"]
		ext += n["exiting"]
	}
	fmt.Fprintf(w, "%-16s %5d %5d %5d %5d %5d %5d %5d %5d %-10s\n", truncLast(server, 16), 0, tot, que, run, hld, 0, 0, ext, "Active")
}

// execVnode turns a cluster exec_host ("n1/0*2+n2/0*1") into PBS's
// exec_vnode ("(n1:ncpus=2)+(n2:ncpus=1)").
func execVnode(execHost string) string {
	var parts []string
	for c := range strings.SplitSeq(execHost, "+") {
		host, rest, _ := strings.Cut(c, "/")
		_, n, _ := strings.Cut(rest, "*")
		parts = append(parts, "("+host+":ncpus="+n+")")
	}
	return strings.Join(parts, "+")
}
