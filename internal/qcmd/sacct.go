package qcmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/jobs"
)

// sacctField is one column of sacct: its default width and value.
type sacctField struct {
	name  string
	width int
	value func(j slurmJob) string
}

var sacctFields = []sacctField{
	{"JobID", 12, func(j slurmJob) string { return j.slurmID() }},
	{"JobIDRaw", 12, func(j slurmJob) string { return j.slurmID() }},
	{"JobName", 10, func(j slurmJob) string { return j.info.Name }},
	{"Partition", 10, func(j slurmJob) string { return j.info.Queue }},
	{"Account", 10, func(j slurmJob) string { return j.info.Account }},
	{"User", 9, func(j slurmJob) string { return j.info.User }},
	{"UID", 6, func(j slurmJob) string { return strconv.FormatUint(uint64(j.info.UID), 10) }},
	{"AllocCPUS", 10, func(j slurmJob) string { return cpus(j.info) }},
	{"NCPUS", 10, func(j slurmJob) string { return cpus(j.info) }},
	{"ReqCPUS", 8, func(j slurmJob) string { return cpus(j.info) }},
	{"NNodes", 8, func(j slurmJob) string { return nodes(j.info) }},
	{"NodeList", 15, func(j slurmJob) string {
		if n := nodeList(j.info); n != "" {
			return n
		}
		return "None assigned"
	}},
	{"State", 10, func(j slurmJob) string { return slurmState(j.info) }},
	{"ExitCode", 8, func(j slurmJob) string { return exitCode(j.info) }},
	{"Elapsed", 10, func(j slurmJob) string { return sacctDuration(seconds(j.info.ElapsedSec)) }},
	{"ElapsedRaw", 10, func(j slurmJob) string { return strconv.FormatInt(int64(j.info.ElapsedSec), 10) }},
	{"TotalCPU", 10, func(j slurmJob) string { return sacctDuration(seconds(j.info.CPUSec)) }},
	{"Timelimit", 10, func(j slurmJob) string { return timeLimit(j.info) }},
	{"Submit", 19, func(j slurmJob) string { return slurmStamp(j.info.Submitted, "Unknown") }},
	{"Start", 19, func(j slurmJob) string { s, _ := startEnd(j.info); return slurmStamp(s, "Unknown") }},
	{"End", 19, func(j slurmJob) string { _, e := startEnd(j.info); return slurmStamp(e, "Unknown") }},
	{"WorkDir", 20, func(j slurmJob) string { return j.info.Workdir }},
	{"MaxRSS", 10, func(j slurmJob) string { return sacctKB(j.info.MemUsed) }},
	{"MaxVMSize", 10, func(j slurmJob) string { return sacctKB(j.info.VMemUsed) }},
	{"ReqMem", 10, func(j slurmJob) string {
		if j.info.MemBytes <= 0 {
			return "0"
		}
		return jobs.FormatSize(j.info.MemBytes)
	}},
}

// sacctKB is a memory figure as sacct prints one (12345K); "" unknown.
func sacctKB(n int64) string {
	if n <= 0 {
		return ""
	}
	return strconv.FormatInt((n+1023)>>10, 10) + "K"
}

// sacctTime parses sacct's -S and -E times, in local time:
// YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], HH:MM[:SS] (today), now, and
// now[+|-]N[seconds|minutes|hours|days|weeks].
func sacctTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "now"); ok {
		if rest == "" {
			return now, nil
		}
		sign := time.Duration(1)
		switch rest[0] {
		case '-':
			sign = -1
		case '+':
		default:
			return time.Time{}, fmt.Errorf("invalid time %q", s)
		}
		digits := strings.TrimRight(rest[1:], "abcdefghijklmnopqrstuvwxyz")
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("invalid time %q", s)
		}
		unit := time.Second
		switch rest[1+len(digits):] {
		case "", "s", "sec", "second", "seconds":
		case "m", "min", "minute", "minutes":
			unit = time.Minute
		case "h", "hour", "hours":
			unit = time.Hour
		case "d", "day", "days":
			unit = 24 * time.Hour
		case "w", "week", "weeks":
			unit = 7 * 24 * time.Hour
		default:
			return time.Time{}, fmt.Errorf("invalid time %q", s)
		}
		return now.Add(sign * time.Duration(n) * unit), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "01/02/06", "01/02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			if layout == "01/02" {
				t = t.AddDate(now.Year(), 0, 0)
			}
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.Local), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], HH:MM[:SS] or now[-N[unit]])", s)
}

// sacctDuration is sacct's [D-]HH:MM:SS.
func sacctDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if days := s / 86400; days > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, s/3600%24, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

const sacctDefault = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"

// NewSacct builds sacct.
func NewSacct(stdout, stderr io.Writer) *cli.App {
	fieldNames := make([]string, len(sacctFields))
	for i, f := range sacctFields {
		fieldNames[i] = f.name
	}
	app := newApp("sacct", "show batch jobs' accounting as Slurm's sacct does",
		"sacct [-j id,...] [-u user,... | -a] [-s states] [-S time] [-E time] [-o field[%width],...] [-n] [-P | -p] [-X]",
		`sacct shows jobs, also ended ones (from lazarusd's accounting log once
purged), one line each with the fields of --format (default
`+sacctDefault+`). A task of array N is N_I. Only
jobs are listed, not their steps (Slurm's N.batch, N.extern lines): -X is
what it always does. States are Slurm's (see squeue --help); ExitCode is
status:signal.

Fields: `+strings.Join(fieldNames, ", ")+`; a name takes %WIDTH (JobName%30).
Without -P or -p, a value wider than its column ends with "+".
By default, your jobs; -a all users', -u those named.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "only these jobs: N, N_I, comma separated"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "only the jobs of these users"},
		&cli.BoolFlag{Name: "allusers", Aliases: []string{"a"}, DisableDefaultText: true, Usage: "every user's jobs"},
		&cli.StringFlag{Name: "state", Aliases: []string{"s"}, Usage: "only jobs in these states"},
		&cli.StringFlag{Name: "format", Aliases: []string{"o"}, Usage: "fields, comma separated"},
		&cli.BoolFlag{Name: "noheader", Aliases: []string{"n"}, DisableDefaultText: true, Usage: "no header lines"},
		&cli.BoolFlag{Name: "parsable2", Aliases: []string{"P"}, DisableDefaultText: true, Usage: "fields separated by |, none at the end, not cut"},
		&cli.BoolFlag{Name: "parsable", Aliases: []string{"p"}, DisableDefaultText: true, Usage: "fields each followed by |, not cut"},
		&cli.BoolFlag{Name: "allocations", Aliases: []string{"X"}, DisableDefaultText: true, Usage: "accepted: no steps are ever listed"},
		&cli.StringFlag{Name: "starttime", Aliases: []string{"S"}, Usage: "only jobs pending or running at some time after this one (YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], HH:MM[:SS], now-2days...)"},
		&cli.StringFlag{Name: "endtime", Aliases: []string{"E"}, Usage: "only jobs submitted before this time (as -S)"},
	}
	app.Action = func(c *cli.Context) error {
		err := sacct(c)
		if err != nil && err != errReported {
			return cli.Exit("error: "+err.Error(), 1)
		}
		return err
	}
	return app
}

func sacct(c *cli.Context) error {
	format := sacctDefault
	if c.IsSet("format") {
		format = c.String("format")
	}
	type column struct {
		f     sacctField
		width int
	}
	var cols []column
	for _, item := range strings.Split(format, ",") {
		name, w, hasW := strings.Cut(strings.TrimSpace(item), "%")
		found := false
		for _, f := range sacctFields {
			if strings.EqualFold(f.name, name) {
				col := column{f, f.width}
				if hasW {
					n, err := strconv.Atoi(w)
					if err != nil || n < 1 {
						return fmt.Errorf("invalid field width in %q", item)
					}
					col.width = n
				}
				cols, found = append(cols, col), true
			}
		}
		if !found {
			return fmt.Errorf("invalid field requested: %q", name)
		}
	}
	users := c.String("user")
	if users == "" && !c.Bool("allusers") && os.Getuid() != 0 {
		users = strconv.Itoa(os.Getuid())
	}
	keepUser, err := userFilter(users, false)
	if err != nil {
		return err
	}
	states, want, err := slurmSelection(c, "state")
	if err != nil {
		return err
	}
	// -S, -E: jobs that were pending or running at some time after -S
	// and before -E (Slurm's "in any state" between them).
	var after, before time.Time
	for _, w := range []struct {
		flag string
		to   *time.Time
	}{{"starttime", &after}, {"endtime", &before}} {
		if c.IsSet(w.flag) {
			if *w.to, err = sacctTime(c.String(w.flag), time.Now()); err != nil {
				return fmt.Errorf("--%s: %w", w.flag, err)
			}
		}
	}
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	all, _, err := slurmList(c.Context, client, true)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(c.App.Writer)
	sep, end := "", ""
	parsable := c.Bool("parsable2") || c.Bool("parsable")
	switch {
	case c.Bool("parsable2"):
		sep = "|"
	case c.Bool("parsable"):
		sep, end = "|", "|"
	default:
		sep = " "
	}
	line := func(value func(col column) string) {
		parts := make([]string, len(cols))
		for i, col := range cols {
			v := value(col)
			if !parsable {
				if len(v) > col.width {
					v = v[:col.width-1] + "+"
				}
				v = fmt.Sprintf("%*s", col.width, v)
			}
			parts[i] = v
		}
		fmt.Fprintln(out, strings.Join(parts, sep)+end)
	}
	if !c.Bool("noheader") {
		line(func(col column) string { return col.f.name })
		if !parsable {
			line(func(col column) string { return strings.Repeat("-", col.width) })
		}
	}
	for _, j := range all {
		switch {
		case want != nil && !want[j.id] && !(j.array && want[j.id.Base()]):
			continue
		case want == nil && !keepUser(j.info):
			continue
		case states != nil && !states[slurmState(j.info)]:
			continue
		}
		if !after.IsZero() || !before.IsZero() {
			_, end := startEnd(j.info)
			if !after.IsZero() && !end.IsZero() && end.Before(after) || !before.IsZero() && j.info.Submitted.After(before) {
				continue
			}
		}
		line(func(col column) string { return col.f.value(j) })
	}
	return out.Flush()
}
