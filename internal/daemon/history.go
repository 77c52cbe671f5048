package daemon

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// What the accounting log still tells of jobs the store has purged:
// qstat -x lists them, tracejob tells their story.

// historyDays is how far back qstat -x looks in the accounting log for
// purged jobs when no id is given: PBS's default job_history_duration,
// two weeks. A job asked for by id is looked for in every file.
const historyDays = 14

// purgedJobs returns, for the ended jobs of the accounting records that
// the store no longer has, what qstat shows of them, in id order.
func (d *Daemon) purgedJobs(ids []uint64) []proto.JobInfo {
	var want map[jobs.ID]bool
	days := historyDays
	if len(ids) > 0 {
		want, days = map[jobs.ID]bool{}, 0
		for _, id := range ids {
			want[jobs.ID(id)] = true
		}
	}
	v := d.store.View()
	infos := map[jobs.ID]*proto.JobInfo{}
	for _, r := range d.jobRecords(want, days) {
		id, err := r.JobID()
		// An array is stored under its number (its subjobs in it): the
		// record of 5[] or 5[2] is not of a purged job while 5 is there.
		if err != nil || v.Job(id) != nil || (id.IsArrayForm() || id.IsSubjob()) && v.Job(id.Base()) != nil {
			continue
		}
		switch r.Type {
		case jobs.AcctAborted:
			if info := infos[id]; info != nil {
				info.Reason = r.Get("reason")
			} else {
				infos[id] = &proto.JobInfo{ID: uint64(id), Reason: r.Get("reason")}
			}
		case jobs.AcctEnded:
			why := ""
			if info := infos[id]; info != nil {
				why = info.Reason
			}
			info := endedInfo(r)
			info.Reason = why
			infos[id] = &info
		}
	}
	var out []proto.JobInfo
	for _, info := range infos {
		if info.State != "" { // an E record was found
			out = append(out, *info)
		}
	}
	slices.SortFunc(out, func(a, b proto.JobInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// endedInfo is a job as its E record tells it.
func endedInfo(r jobs.AcctRecord) proto.JobInfo {
	id, _ := r.JobID()
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(r.Get(k), 10, 64)
		return n
	}
	secs := func(k string) float64 {
		d, err := jobs.ParseWalltime(r.Get(k))
		if err != nil {
			return 0
		}
		return d.Seconds()
	}
	status := int(num("Exit_status"))
	state := jobs.Finished
	if status != 0 {
		state = jobs.Failed
	}
	info := proto.JobInfo{
		ID: uint64(id), Name: r.Get("jobname"), User: r.Get("user"), State: string(state), Queue: r.Get("queue"),
		ElapsedSec: secs("resources_used.walltime"), CPUSec: secs("resources_used.cput"),
		NCPUs: int(num("Resource_List.ncpus")), WalltimeSec: secs("Resource_List.walltime"),
		Session: int(num("session")), ExitStatus: &status, RunCount: int(num("run_count")),
		Submitted: time.Unix(num("ctime"), 0), Changed: time.Unix(num("end"), 0),
		Account: r.Get("account"), Project: r.Get("project"), Group: r.Get("group"),
	}
	for key, to := range map[string]*int64{"resources_used.mem": &info.MemUsed, "resources_used.vmem": &info.VMemUsed} {
		if n, err := strconv.ParseInt(strings.TrimSuffix(r.Get(key), "kb"), 10, 64); err == nil {
			*to = n << 10
		}
	}
	if m, err := jobs.ParseSize(r.Get("Resource_List.mem")); err == nil {
		info.MemBytes = m
	}
	info.Array = r.Get("array_indices") // an array job's
	return info
}

// tracejob's maximum of daemon log read, from its end.
const traceLogMax = 64 << 20

// trace handles tracejob: the job's accounting records and the daemon's
// log lines about it, in time order. Its owner, operators, and anyone when
// query_other_jobs is true may ask; the owner of a purged job is the user
// its records name.
func (d *Daemon) trace(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.TraceRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.ID == 0 {
		return nil, badRequest("no job id")
	}
	id := jobs.ID(req.ID)
	recs := d.jobRecords(map[jobs.ID]bool{id: true}, req.Days)
	j := d.store.View().Job(id)
	if id.IsArrayForm() {
		j = d.store.View().Job(id.Base())
	}
	if j == nil && len(recs) == 0 {
		return nil, notFound("unknown job id %d", id)
	}
	allowed := d.operator(who) || d.config().QueryOtherJobs
	switch {
	case allowed:
	case j != nil:
		allowed = j.Owner.UID == who.uid
	default:
		for _, r := range recs {
			if u := r.Get("user"); u != "" {
				allowed = u == who.name
			}
		}
	}
	if !allowed {
		return nil, denied("job %d is not yours", id)
	}
	var reply proto.TraceReply
	for _, r := range recs {
		line := strings.TrimSuffix(r.Line(), "\n")
		_, text, _ := strings.Cut(line, ";")
		reply.Lines = append(reply.Lines, proto.TraceLine{Time: r.Time, Source: "A", Text: text})
	}
	logLines, missing := d.logLines(id, req.Days)
	reply.Lines = append(reply.Lines, logLines...)
	reply.LogMissing = missing
	slices.SortStableFunc(reply.Lines, func(a, b proto.TraceLine) int { return a.Time.Compare(b.Time) })
	return reply, nil
}

// logFile is the file the daemon's log goes to: its standard error, when
// that is a regular file (a service manager's or a shell's redirection).
func logFile() (string, error) {
	path, err := os.Readlink("/proc/self/fd/2")
	if err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("the daemon logs to %s, not a file", path)
	}
	return path, nil
}

// logLines reads the daemon's log lines that name the job (job_id=N),
// written in the last days days (all: 0); missing says why there are none
// to read.
func (d *Daemon) logLines(id jobs.ID, days int) (out []proto.TraceLine, missing string) {
	path, err := logFile()
	if err != nil {
		return nil, err.Error()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > traceLogMax {
		f.Seek(st.Size()-traceLogMax, 0)
	}
	var since time.Time
	if days > 0 {
		since = time.Now().AddDate(0, 0, -days)
	}
	key := "job_id=" + id.String()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, key)
		if i < 0 || (i+len(key) < len(line) && line[i+len(key)] != ' ') {
			continue
		}
		t, ok := logTime(line)
		if !ok || t.Before(since) {
			continue
		}
		out = append(out, proto.TraceLine{Time: t, Source: "S", Text: strings.TrimSpace(dropTime(line))})
	}
	return out, ""
}

// logTime reads the time=... of a slog text line.
func logTime(line string) (time.Time, bool) {
	v, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	v, _, _ = strings.Cut(v, " ")
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

func dropTime(line string) string {
	if _, rest, ok := strings.Cut(line, " "); ok && strings.HasPrefix(line, "time=") {
		return rest
	}
	return line
}
