package qcmd

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"lazarus/jobs"
)

// Slurm's squeue formats: the default and -l's.
const (
	squeueDefault = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
	squeueLong    = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
)

// squeueField is one %-field of an squeue format: its title and value.
type squeueField struct {
	title string
	value func(j slurmJob, now time.Time) string
}

var squeueFields = map[byte]squeueField{
	'i': {"JOBID", func(j slurmJob, _ time.Time) string { return j.slurmID() }},
	'A': {"ARRAY_JOB_ID", func(j slurmJob, _ time.Time) string { return j.arrayJob() }},
	'F': {"ARRAY_JOB_ID", func(j slurmJob, _ time.Time) string { return j.arrayJob() }},
	// %a is the account, as in Slurm (the task's index is %K).
	'a': {"ACCOUNT", func(j slurmJob, _ time.Time) string { return orNull(j.info.Account) }},
	'q': {"QOS", func(slurmJob, time.Time) string { return "normal" }}, // no QOS here: Slurm's default's name
	'K': {"ARRAY_TASK_ID", func(j slurmJob, _ time.Time) string { return j.taskID() }},
	'j': {"NAME", func(j slurmJob, _ time.Time) string { return j.info.Name }},
	'u': {"USER", func(j slurmJob, _ time.Time) string { return j.info.User }},
	'U': {"UID", func(j slurmJob, _ time.Time) string { return strconv.FormatUint(uint64(j.info.UID), 10) }},
	'P': {"PARTITION", func(j slurmJob, _ time.Time) string { return j.info.Queue }},
	't': {"ST", func(j slurmJob, _ time.Time) string { return shortState(slurmState(j.info)) }},
	'T': {"STATE", func(j slurmJob, _ time.Time) string { return slurmState(j.info) }},
	'M': {"TIME", func(j slurmJob, _ time.Time) string { return slurmDuration(seconds(j.info.ElapsedSec)) }},
	'l': {"TIME_LIMIT", func(j slurmJob, _ time.Time) string { return timeLimit(j.info) }},
	'L': {"TIME_LEFT", func(j slurmJob, _ time.Time) string {
		if j.info.WalltimeSec <= 0 {
			return "UNLIMITED"
		}
		return slurmDuration(seconds(max(0, j.info.WalltimeSec-j.info.ElapsedSec)))
	}},
	'D': {"NODES", func(j slurmJob, _ time.Time) string { return nodes(j.info) }},
	'C': {"CPUS", func(j slurmJob, _ time.Time) string { return cpus(j.info) }},
	'N': {"NODELIST", func(j slurmJob, _ time.Time) string { return nodeList(j.info) }},
	'R': {"NODELIST(REASON)", func(j slurmJob, now time.Time) string {
		if slurmState(j.info) == "PENDING" {
			return "(" + slurmReason(j.info, now) + ")"
		}
		return nodeList(j.info)
	}},
	'r': {"REASON", func(j slurmJob, now time.Time) string { return slurmReason(j.info, now) }},
	'V': {"SUBMIT_TIME", func(j slurmJob, _ time.Time) string { return slurmStamp(j.info.Submitted, "N/A") }},
	'S': {"START_TIME", func(j slurmJob, _ time.Time) string { s, _ := startEnd(j.info); return slurmStamp(s, "N/A") }},
	'e': {"END_TIME", func(j slurmJob, _ time.Time) string { _, e := startEnd(j.info); return slurmStamp(e, "N/A") }},
	'Z': {"WORK_DIR", func(j slurmJob, _ time.Time) string { return j.info.Workdir }},
	'o': {"COMMAND", func(j slurmJob, _ time.Time) string { return j.info.Script }},
	'Q': {"PRIORITY", func(j slurmJob, _ time.Time) string { return strconv.Itoa(j.info.Priority) }},
}

// squeueLongFields are the names -O (--Format) takes, and their % letters.
var squeueLongFields = map[string]byte{
	"jobid": 'i', "jobarrayid": 'i', "arrayjobid": 'A', "arraytaskid": 'K', "account": 'a', "qos": 'q', "name": 'j',
	"username": 'u', "userid": 'U', "partition": 'P', "statecompact": 't', "state": 'T',
	"timeused": 'M', "timelimit": 'l', "timeleft": 'L', "numnodes": 'D', "numcpus": 'C',
	"nodelist": 'N', "reasonlist": 'R', "reason": 'r', "submittime": 'V', "starttime": 'S',
	"endtime": 'e', "workdir": 'Z', "command": 'o', "priority": 'Q',
}

// parseSqueueLongFormat parses -O: name[:[.]size][,...], each field 20
// wide unless a size is given, as Slurm's --Format.
func parseSqueueLongFormat(f string) ([]squeueItem, error) {
	var out []squeueItem
	for _, item := range strings.Split(f, ",") {
		name, size, hasSize := strings.Cut(strings.TrimSpace(item), ":")
		letter, ok := squeueLongFields[strings.ToLower(name)]
		if !ok {
			names := make([]string, 0, len(squeueLongFields))
			for n := range squeueLongFields {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("--Format: field %q is not supported (supported: %s)", name, strings.Join(names, ", "))
		}
		it := squeueItem{field: letter, width: 20}
		if hasSize {
			it.right = strings.HasPrefix(size, ".")
			n, err := strconv.Atoi(strings.TrimPrefix(size, "."))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--Format: %q: bad size", item)
			}
			it.width = n
		}
		out = append(out, it)
	}
	return out, nil
}

// squeueItem is a piece of a parsed format: literal text, or a field.
type squeueItem struct {
	text  string
	field byte
	right bool
	width int // 0: as wide as the value
}

// parseSqueueFormat parses "%[.][size]type" fields among literal text.
func parseSqueueFormat(f string) ([]squeueItem, error) {
	var out []squeueItem
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			k := strings.IndexByte(f[i:], '%')
			if k < 0 {
				k = len(f) - i
			}
			out = append(out, squeueItem{text: f[i : i+k]})
			i += k - 1
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			out = append(out, squeueItem{text: "%"})
			continue
		}
		it := squeueItem{}
		if i < len(f) && f[i] == '.' {
			it.right = true
			i++
		}
		start := i
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
		}
		if i > start {
			it.width, _ = strconv.Atoi(f[start:i])
		}
		if i >= len(f) {
			return nil, fmt.Errorf("format %q: a %% field without its letter at the end", f)
		}
		if _, ok := squeueFields[f[i]]; !ok {
			return nil, fmt.Errorf("format %q: field %%%c is not supported (supported: %%i %%A %%F %%a %%q %%K %%j %%u %%U %%P %%t %%T %%M %%l %%L %%D %%C %%N %%R %%r %%V %%S %%e %%Z %%o %%Q %%%%)", f, f[i])
		}
		it.field = f[i]
		out = append(out, it)
	}
	return out, nil
}

// pad fits s to an item's width: padded, and cut when longer, as squeue
// does.
func (it squeueItem) pad(s string) string {
	if it.width == 0 {
		return s
	}
	if utf8.RuneCountInString(s) > it.width {
		s = string([]rune(s)[:it.width])
	}
	if it.right {
		return fmt.Sprintf("%*s", it.width, s)
	}
	return fmt.Sprintf("%-*s", it.width, s)
}

// NewSqueue builds squeue.
func NewSqueue(stdout, stderr io.Writer) *cli.App {
	app := newApp("squeue", "list batch jobs as Slurm's squeue does",
		"squeue [-u user,...] [--me] [-j id,...] [-t states] [-p queue] [-n name] [-r] [-h] [-l] [-o format]",
		`squeue lists the jobs lazarusd knows, one line each, as Slurm's squeue does:
by default "`+squeueDefault+`":
JOBID PARTITION (the queue) NAME USER ST TIME NODES NODELIST(REASON).

STATES. PD (PENDING: queued, requeued or held; the reason says Priority,
Dependency, JobHeldUser or BeginTime), R (RUNNING, also while a checkpoint
is taken), S (SUSPENDED by qsig), CG (COMPLETING: being killed), CD
(COMPLETED: exit status 0), F (FAILED), CA (CANCELLED: deleted), TO (TIMEOUT:
over its walltime), OOM (OUT_OF_MEMORY). Without -t only PD, R, S and CG
jobs are listed, but every state when -j names jobs (lazarusd keeps an ended
job for keep_finished, and the accounting log tells of it after; a pending
job cancelled is removed at once, and is then an invalid id).

ARRAYS. A task of array N is N_I; the pending tasks of an array are one line,
N_[1-3,7%2] (%2: at most two run at once), unless -r lists each.

FORMAT (-o): text with fields %[.][size]type; "." justifies right; a value
longer than size is cut. Types: %i id, %A and %F array job id (the id of a
job not in an array), %K task index (N/A), %a account, %q QOS (normal), %j name, %u user, %U uid,
%P partition, %t compact state, %T state, %M time used, %l time limit, %L
time left, %D nodes, %C CPUs, %N node list, %R node list or (reason), %r
reason, %V submit time, %S start time, %e end time, %Z work directory, %o
script, %Q priority, %% a "%". Any other is refused. -O (--Format) names
the fields instead (see OPTIONS), each 20 wide unless name:size says.

Exit status: 0; 1 on an error (an unknown job id given with -j: "squeue:
error: Invalid job id specified").

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "only the jobs of these users (names or uids, comma separated)"},
		&cli.BoolFlag{Name: "me", DisableDefaultText: true, Usage: "only your jobs"},
		&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "only these jobs: N, N_I, N_[1-3], comma separated; every state"},
		&cli.StringFlag{Name: "states", Aliases: []string{"t"}, Usage: "only jobs in these states: PD, R, S, CG, CD, F, CA, TO, OOM (or their long names), or all"},
		&cli.StringFlag{Name: "partition", Aliases: []string{"p"}, Usage: "only the jobs of these queues (comma separated)"},
		&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only the jobs of these names (comma separated)"},
		&cli.BoolFlag{Name: "array", Aliases: []string{"r"}, DisableDefaultText: true, Usage: "one line per array task, also pending ones"},
		&cli.BoolFlag{Name: "noheader", Aliases: []string{"h"}, DisableDefaultText: true, Usage: "no header line"},
		&cli.BoolFlag{Name: "long", Aliases: []string{"l"}, DisableDefaultText: true, Usage: "the long format: " + squeueLong},
		&cli.StringFlag{Name: "format", Aliases: []string{"o"}, Usage: "the line's format (see FORMAT)"},
		&cli.StringFlag{Name: "Format", Aliases: []string{"O"}, Usage: "the line's fields by name, name[:[.]size],... (20 wide by default): jobid, arrayjobid, arraytaskid, name, username, userid, partition, statecompact, state, timeused, timelimit, timeleft, numnodes, numcpus, nodelist, reasonlist, reason, submittime, starttime, endtime, workdir, command, priority"},
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, DisableDefaultText: true, Usage: "accepted: every queue is always shown"},
	}
	app.Action = func(c *cli.Context) error {
		err := squeue(c)
		if err != nil && err != errReported {
			return cli.Exit("error: "+err.Error(), 1)
		}
		return err
	}
	return app
}

func squeue(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (job ids go after -j)", c.Args().First())
	}
	format := squeueDefault
	if c.Bool("long") {
		format = squeueLong
	}
	if c.IsSet("format") {
		format = c.String("format")
	}
	items, err := parseSqueueFormat(format)
	if c.IsSet("Format") {
		items, err = parseSqueueLongFormat(c.String("Format"))
	}
	if err != nil {
		return err
	}
	keepUser, err := userFilter(c.String("user"), c.Bool("me"))
	if err != nil {
		return err
	}
	states, want, err := slurmSelection(c, "states")
	if err != nil {
		return err
	}
	inList := func(list, v string) bool {
		if list == "" {
			return true
		}
		for _, s := range strings.Split(list, ",") {
			if s == v {
				return true
			}
		}
		return false
	}
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	// A job -j names may have been removed (a pending job cancelled) or
	// purged: the accounting log still says how it ended, as Slurm's
	// squeue shows an ended job for a while.
	all, now, err := slurmList(c.Context, client, want != nil)
	if err != nil {
		return err
	}
	var list []slurmJob
	found := map[jobs.ID]bool{}
	for _, j := range all {
		// -j N selects job N, or every task of array N.
		if want != nil && !want[j.id] && !(j.array && want[j.id.Base()]) {
			continue
		}
		found[j.id], found[j.id.Base()] = true, true
		st := slurmState(j.info)
		switch {
		case states != nil && !states[st]:
			continue
		case states == nil && want == nil && st != "PENDING" && st != "RUNNING" && st != "SUSPENDED" && st != "COMPLETING":
			continue
		case !keepUser(j.info) || !inList(c.String("partition"), j.info.Queue) || !inList(c.String("name"), j.info.Name):
			continue
		}
		list = append(list, j)
	}
	for id := range want {
		if !found[id] {
			return errInvalidJobID
		}
	}
	if !c.Bool("array") {
		list = collapsePending(list, want)
	}
	out := bufio.NewWriter(c.App.Writer)
	line := func(value func(it squeueItem) string) {
		var b strings.Builder
		for _, it := range items {
			if it.field == 0 {
				b.WriteString(it.text)
				continue
			}
			b.WriteString(it.pad(value(it)))
		}
		fmt.Fprintln(out, b.String())
	}
	if !c.Bool("noheader") {
		line(func(it squeueItem) string { return squeueFields[it.field].title })
	}
	for _, j := range list {
		line(func(it squeueItem) string { return squeueFields[it.field].value(j, now) })
	}
	return out.Flush()
}

// collapsePending makes the pending tasks of each array one line, where
// the first of them was, as squeue shows an array; a task named by its
// own id (-j N_I) keeps its line.
func collapsePending(list []slurmJob, named map[jobs.ID]bool) []slurmJob {
	var out []slurmJob
	at := map[jobs.ID]int{} // array → its pending line in out
	for _, j := range list {
		if !j.array || slurmState(j.info) != "PENDING" || named[j.id] {
			out = append(out, j)
			continue
		}
		if k, ok := at[j.id.Base()]; ok {
			out[k].pending = append(out[k].pending, j.id.Index())
			continue
		}
		at[j.id.Base()] = len(out)
		j.pending = []int{j.id.Index()}
		out = append(out, j)
	}
	return out
}

// slurmSelection reads the job states (the flag stateFlag, -t) and the
// job ids (-j) squeue and sacct select by; nil: no selection.
func slurmSelection(c *cli.Context, stateFlag string) (states map[string]bool, want map[jobs.ID]bool, err error) {
	if c.IsSet(stateFlag) {
		if states, err = parseSlurmStates(c.String(stateFlag)); err != nil {
			return nil, nil, err
		}
	}
	if c.IsSet("jobs") {
		ids, err := parseSlurmIDs(c.String("jobs"))
		if err != nil {
			return nil, nil, err
		}
		want = map[jobs.ID]bool{}
		for _, id := range ids {
			want[id] = true
		}
	}
	return states, want, nil
}
