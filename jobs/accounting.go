package jobs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Accounting records, in PBS's format: one line per event,
//
//	MM/DD/YYYY HH:MM:SS;T;ID;key=value key=value ...
//
// in local time, T the record type, ID the job id with its server
// ("12.host"), then space-separated keys; a value holding a space is in
// double quotes (PBS quotes account and project names that way).
//
// The records are decided here, from a change of a job's record (old to
// new), so that every change, whichever request or event made it, has its
// records: Changes is pure, and the store writes what it returns in the
// transaction of the change itself.

// Record types (PBS's acct.h).
const (
	AcctQueued     = 'Q' // submitted, or moved to another queue (qmove)
	AcctStarted    = 'S' // a run started from the beginning of the script
	AcctRestarted  = 'T' // a run restarted from a checkpoint
	AcctRerun      = 'R' // a run ended and the job went back to its queue (held or not)
	AcctCheckpoint = 'C' // a checkpoint generation became durable
	AcctDeleted    = 'D' // qdel
	AcctAborted    = 'A' // the batch system ended the job: it could not start or restart, or its run was lost
	AcctEnded      = 'E' // the job ended: its whole usage
)

// AcctTimeLayout is the time of a record, in local time.
const AcctTimeLayout = "01/02/2006 15:04:05"

// AcctField is one key=value of a record.
type AcctField struct{ Key, Value string }

// AcctRecord is one accounting record.
type AcctRecord struct {
	Time   time.Time
	Type   byte
	ID     string // "12.host"
	Fields []AcctField
}

// Get returns the value of key, "" if the record has none.
func (r AcctRecord) Get(key string) string {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// JobID returns the job number of the record's id.
func (r AcctRecord) JobID() (ID, error) { return ParseID(r.ID) }

// Line formats the record as one line, with its newline.
func (r AcctRecord) Line() string {
	var b strings.Builder
	b.WriteString(r.Time.Local().Format(AcctTimeLayout))
	b.WriteByte(';')
	b.WriteByte(r.Type)
	b.WriteByte(';')
	b.WriteString(r.ID)
	b.WriteByte(';')
	for i, f := range r.Fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(quoteAcct(f.Value))
	}
	b.WriteByte('\n')
	return b.String()
}

// quoteAcct quotes a value holding a space, a quote or a control
// character; newlines and semicolons never reach the file (a record is
// one line).
func quoteAcct(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	if !strings.ContainsAny(v, " \"") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `'`) + `"`
}

// ErrBadAcctRecord is returned for a line that is not an accounting
// record.
var ErrBadAcctRecord = errors.New("not an accounting record")

// ParseAcctRecord reads one line of an accounting file (without or with
// its newline), in the local time zone.
func ParseAcctRecord(line string) (AcctRecord, error) {
	line = strings.TrimRight(line, "\n")
	parts := strings.SplitN(line, ";", 4)
	if len(parts) != 4 || len(parts[1]) != 1 {
		return AcctRecord{}, fmt.Errorf("%q: %w", line, ErrBadAcctRecord)
	}
	t, err := time.ParseInLocation(AcctTimeLayout, parts[0], time.Local)
	if err != nil {
		return AcctRecord{}, fmt.Errorf("%q: %w", line, ErrBadAcctRecord)
	}
	r := AcctRecord{Time: t, Type: parts[1][0], ID: parts[2]}
	for rest := strings.TrimSpace(parts[3]); rest != ""; rest = strings.TrimLeft(rest, " ") {
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.Contains(k, " ") {
			return AcctRecord{}, fmt.Errorf("%q: %w", line, ErrBadAcctRecord)
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return AcctRecord{}, fmt.Errorf("%q: %w", line, ErrBadAcctRecord)
			}
			r.Fields = append(r.Fields, AcctField{k, v[1 : 1+end]})
			rest = v[2+end:]
			continue
		}
		val, after, _ := strings.Cut(v, " ")
		r.Fields = append(r.Fields, AcctField{k, val})
		rest = after
	}
	return r, nil
}

// AcctContext is what records say beyond the job: the server part of job
// ids, and the names of groups (a lookup the daemon does).
type AcctContext struct {
	Server    string
	GroupName func(gid uint32) string
}

// id is a job's id in its records: N[] for an array job, as PBS writes it.
func (c AcctContext) id(j *Job) string {
	id := j.ID
	if j.Array != nil && !id.IsSubjob() && !id.IsArrayForm() {
		id = ArrayForm(id)
	}
	if c.Server == "" {
		return id.String()
	}
	return id.String() + "." + c.Server
}

func (c AcctContext) group(gid uint32) string {
	if c.GroupName != nil {
		if n := c.GroupName(gid); n != "" {
			return n
		}
	}
	return strconv.FormatUint(uint64(gid), 10)
}

// Changes returns the accounting records of a change of a job's record:
// old is nil for a submission, cur nil for a removal (by is then who asked
// for it; "" for a purge of an ended job, which records nothing). now is
// the time of a record that the job's times do not give.
func Changes(c AcctContext, old, cur *Job, by string, now time.Time) []AcctRecord {
	switch {
	case old == nil && cur == nil:
		return nil
	case old == nil:
		return []AcctRecord{{Time: cur.Submitted, Type: AcctQueued, ID: c.id(cur),
			Fields: []AcctField{{"queue", cur.Queue}}}}
	case cur == nil:
		if old.State.Terminal() || by == "" {
			return nil
		}
		return []AcctRecord{{Time: now, Type: AcctDeleted, ID: c.id(old),
			Fields: []AcctField{{"requestor", by}}}}
	}
	var out []AcctRecord
	rec := func(t time.Time, typ byte, fields []AcctField) {
		if t.IsZero() {
			t = now
		}
		out = append(out, AcctRecord{Time: t, Type: typ, ID: c.id(cur), Fields: fields})
	}
	if cur.Queue != old.Queue && !cur.State.Terminal() {
		rec(cur.Changed, AcctQueued, []AcctField{{"queue", cur.Queue}})
	}
	// qdel of a run: the D record now, the E record when it has ended.
	if cur.State == Exiting && old.State != Exiting {
		if who, ok := strings.CutPrefix(cur.Reason, "deleted by "); ok {
			if !strings.Contains(who, "@") && c.Server != "" {
				who += "@" + c.Server
			}
			rec(cur.Changed, AcctDeleted, []AcctField{{"requestor", who}})
		}
	}
	// qdel of an array that has begun: the D record now, its E record
	// when its last subjob has ended.
	if cur.Array != nil && cur.Reason != old.Reason && !cur.State.Terminal() {
		if who, ok := strings.CutPrefix(cur.Reason, "deleted by "); ok {
			if !strings.Contains(who, "@") && c.Server != "" {
				who += "@" + c.Server
			}
			rec(cur.Changed, AcctDeleted, []AcctField{{"requestor", who}})
		}
	}
	// A job deleted by the batch system before it ever ran (Cancel: its
	// dependencies can never be satisfied), as PBS's server deletes it.
	// Or by its owner, who cancelled it and kept its record (scancel).
	cancelled := old.State == Queued && cur.Array == nil && strings.HasPrefix(cur.Reason, "deleted by ")
	if (old.State == Held || cancelled) && cur.State == Failed && len(cur.Segments) == 0 {
		who := "Server"
		if by, ok := strings.CutPrefix(cur.Reason, "deleted by "); ok {
			who = by
		}
		if c.Server != "" && !strings.Contains(who, "@") {
			who += "@" + c.Server
		}
		rec(cur.Changed, AcctDeleted, []AcctField{{"requestor", who}})
	}
	// An array that ended, once it had begun (PBS's chk_array_doneness:
	// an array none of whose subjobs ran has no E record).
	if cur.Array != nil && cur.State.Terminal() && !old.State.Terminal() {
		if n := cur.Array.Count(); n[SubOK]+n[SubFailed] > 0 {
			rec(cur.Changed, AcctEnded, arrayEndFields(c, cur))
		}
	}
	// Checkpoints that became durable, oldest first: numbers only grow,
	// so a generation above every one the old record had is new.
	newest := 0
	for _, g := range old.Checkpoints {
		newest = max(newest, g.N)
	}
	for i := len(cur.Checkpoints) - 1; i >= 0; i-- {
		if g := cur.Checkpoints[i]; g.N > newest && g.Good() {
			rec(g.Time, AcctCheckpoint, []AcctField{
				{"generation", strconv.Itoa(g.N)}, {"size", strconv.FormatInt(g.Size, 10)},
				{"frozen", FormatDuration(g.Frozen)}, {"processes", strconv.Itoa(g.Processes)},
			})
		}
	}
	// Runs that ended.
	for i := range min(len(old.Segments), len(cur.Segments)) {
		if !old.Segments[i].Open() || cur.Segments[i].Open() {
			continue
		}
		s := cur.Segments[i]
		last := i == len(cur.Segments)-1
		switch {
		case last && cur.State.Terminal():
			if aborted(s) {
				rec(s.End, AcctAborted, []AcctField{{"reason", s.Reason}})
			}
			rec(s.End, AcctEnded, append(startFields(c, cur, s), endFields(cur, s)...))
		case last && (cur.State == Requeued || cur.State == Held):
			rec(s.End, AcctRerun, append(startFields(c, cur, s), endFields(cur, s)...))
		}
	}
	// A start that never ran (the daemon stopped before its supervisor).
	if len(cur.Segments) < len(old.Segments) && cur.State.Pending() {
		rec(cur.Changed, AcctRerun, []AcctField{{"reason", cur.Reason}, {"run_count", strconv.Itoa(len(cur.Segments))}})
	}
	// Runs that started.
	for i := len(old.Segments); i < len(cur.Segments); i++ {
		s := cur.Segments[i]
		fields := startFields(c, cur, s)
		if s.Generation > 0 {
			rec(s.Start, AcctRestarted, append(fields, AcctField{"checkpoint", strconv.Itoa(s.Generation)}))
		} else {
			rec(s.Start, AcctStarted, fields)
		}
	}
	// qrestart of an ended job: back in its queue.
	if old.State.Terminal() && !cur.State.Terminal() && len(cur.Segments) == len(old.Segments) {
		rec(cur.Changed, AcctRerun, []AcctField{{"queue", cur.Queue}, {"reason", cur.Reason}})
	}
	return out
}

// aborted says whether a run was ended by the batch system rather than by
// the job or a request: it could not start or restart, or it was lost.
func aborted(s Segment) bool {
	st, _ := s.ExitStatus()
	return st == ExecFail1 || st == ExecBadRestart || st == ExecInitAbort
}

// startFields are the keys of S, T, R and E records: who, what, where and
// what was asked for.
func startFields(c AcctContext, j *Job, s Segment) []AcctField {
	f := []AcctField{
		{"user", j.Owner.Name}, {"group", c.group(j.Owner.GID)},
	}
	if j.Attrs.Account != "" {
		f = append(f, AcctField{"account", j.Attrs.Account})
	}
	if j.Attrs.Project != "" {
		f = append(f, AcctField{"project", j.Attrs.Project})
	}
	ncpus := max(j.Resources.NCPUs, 1)
	host := strings.TrimSuffix(c.Server, ".")
	execHost := fmt.Sprintf("%s/0*%d", host, ncpus)
	execVnode := fmt.Sprintf("(%s:ncpus=%d)", host, ncpus)
	if len(s.Exec) > 0 {
		// Cluster mode: the nodes the run was placed on, PBS's form.
		var hosts, vnodes []string
		for _, ch := range s.Exec {
			n := max(ch.NCPUs, 1)
			hosts = append(hosts, fmt.Sprintf("%s/0*%d", ch.Host, n))
			vnodes = append(vnodes, fmt.Sprintf("(%s:ncpus=%d)", ch.Host, n))
		}
		execHost, execVnode = strings.Join(hosts, "+"), strings.Join(vnodes, "+")
	}
	f = append(f,
		AcctField{"jobname", j.Name}, AcctField{"queue", j.Queue},
		AcctField{"ctime", unix(j.Submitted)}, AcctField{"qtime", unix(j.Submitted)},
		AcctField{"etime", unix(eligible(j))}, AcctField{"start", unix(s.Start)},
		AcctField{"exec_host", execHost},
		AcctField{"exec_vnode", execVnode},
	)
	if j.Resources.CPUTime > 0 {
		f = append(f, AcctField{"Resource_List.cput", FormatDuration(j.Resources.CPUTime)})
	}
	if j.Resources.Mem > 0 {
		f = append(f, AcctField{"Resource_List.mem", FormatSize(j.Resources.Mem)})
	}
	f = append(f, AcctField{"Resource_List.ncpus", strconv.Itoa(ncpus)}, AcctField{"Resource_List.nodect", "1"})
	if j.Resources.Walltime > 0 {
		f = append(f, AcctField{"Resource_List.walltime", FormatDuration(j.Resources.Walltime)})
	}
	return f
}

// arrayEndFields are the keys of an array job's E record, as PBS writes
// them: those of S without the execution host (each subjob ran on its
// own), its indices, then its end and Exit_status (0, 1 or 2: see
// Array.Exit). Its subjobs' usage is in their own E records.
func arrayEndFields(c AcctContext, j *Job) []AcctField {
	began := j.Array.Began
	if began.IsZero() {
		began = j.Submitted // an array that began before Began was kept
	}
	var f []AcctField
	for _, x := range startFields(c, j, Segment{Start: began}) {
		switch x.Key {
		case "exec_host", "exec_vnode":
			continue
		}
		f = append(f, x)
		if x.Key == "start" {
			f = append(f, AcctField{"array_indices", j.Array.Indices()})
		}
	}
	return append(f,
		AcctField{"session", "0"}, AcctField{"end", unix(j.Changed)},
		AcctField{"Exit_status", strconv.Itoa(j.Array.ExitStatus())}, AcctField{"run_count", "0"})
}

func eligible(j *Job) time.Time {
	if j.After.After(j.Submitted) {
		return j.After
	}
	return j.Submitted
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// endFields are the keys an R or E record adds: how the run ended and what
// the job used over all its runs so far (CPU and wall time summed, memory
// the largest of any run).
func endFields(j *Job, s Segment) []AcctField {
	st, _ := s.ExitStatus()
	u := j.Usage()
	return []AcctField{
		{"session", strconv.Itoa(s.Session)},
		{"end", unix(s.End)},
		{"Exit_status", strconv.Itoa(st)},
		{"resources_used.cput", FormatDuration(u.CPU)},
		{"resources_used.mem", kb(u.Mem)},
		{"resources_used.ncpus", strconv.Itoa(max(j.Resources.NCPUs, 1))},
		{"resources_used.vmem", kb(u.VMem)},
		{"resources_used.walltime", FormatDuration(u.Wall)},
		{"run_count", strconv.Itoa(len(j.Segments))},
	}
}

func kb(n int64) string { return strconv.FormatInt((n+1023)>>10, 10) + "kb" }

// Usage is what a job used over its ended runs: CPU and wall time summed,
// memory the largest any run reached.
type Usage struct {
	CPU, Wall time.Duration
	Mem, VMem int64 // bytes
}

// Usage sums the job's closed run segments.
func (j *Job) Usage() Usage {
	var u Usage
	for _, s := range j.Segments {
		if s.Open() {
			continue
		}
		u.CPU += s.CPU()
		u.Wall += s.Wall(s.End) - j.SuspendedWithin(s.Start, s.End) // not charged (OpenPBS)
		u.Mem = max(u.Mem, s.Mem)
		u.VMem = max(u.VMem, s.VMem)
	}
	return u
}
