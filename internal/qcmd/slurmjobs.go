package qcmd

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// What squeue, scancel and sacct share: jobs as Slurm names them (N, and
// N_I for a task of array N), and their states in Slurm's words.

// slurmMessage is an error in Slurm's own words, capitalised as Slurm
// prints them, which scripts may match.
type slurmMessage string

func (m slurmMessage) Error() string { return string(m) }

const (
	errInvalidJobID = slurmMessage("Invalid job id specified")
	errNoJobGiven   = slurmMessage("No job identification provided")
	errJobEnded     = slurmMessage("Job/step already completing or completed")
)

// slurmJob is one job or array task as the Slurm commands show it.
type slurmJob struct {
	info  proto.JobInfo
	id    jobs.ID // the job, or the subjob
	array bool    // a task of an array
	// pending lists, for squeue's line of an array's pending tasks
	// (N_[1-3,5%2]), the indices it stands for; nil otherwise.
	pending []int
	limit   string // the array's %max, for that line
}

// slurmID is the job's id in Slurm's form.
func (j slurmJob) slurmID() string {
	switch {
	case j.pending != nil:
		return fmt.Sprintf("%d_[%s%s]", j.id.Base(), indexList(j.pending), j.limit)
	case j.array:
		return fmt.Sprintf("%d_%d", j.id.Base(), j.id.Index())
	}
	return strconv.FormatUint(uint64(j.id), 10)
}

// arrayJob and taskID are %A (%F) and %a (%K): the array's id and the
// task's index; for a job that is not a task, its id and N/A.
func (j slurmJob) arrayJob() string { return strconv.FormatUint(uint64(j.id.Base()), 10) }
func (j slurmJob) taskID() string {
	switch {
	case j.pending != nil:
		return indexList(j.pending) + j.limit
	case j.array:
		return strconv.Itoa(j.id.Index())
	}
	return "N/A"
}

// indexList writes indices as Slurm does: 1-3,5.
func indexList(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		k := i
		for k+1 < len(idx) && idx[k+1] == idx[k]+1 {
			k++
		}
		if k > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[k]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i]))
		}
		i = k + 1
	}
	return strings.Join(parts, ",")
}

// Slurm's job states, long and compact (squeue %T and %t).
var slurmStates = [][2]string{
	{"PENDING", "PD"}, {"RUNNING", "R"}, {"SUSPENDED", "S"}, {"COMPLETING", "CG"},
	{"COMPLETED", "CD"}, {"FAILED", "F"}, {"CANCELLED", "CA"}, {"TIMEOUT", "TO"},
	{"OUT_OF_MEMORY", "OOM"},
}

// slurmState is the job's state in Slurm's words: a held or queued job is
// PENDING (its reason says why), a running or checkpointing one RUNNING
// (SUSPENDED when qsig stopped it), one being killed COMPLETING; a failed
// one CANCELLED when deleted, TIMEOUT over its walltime, OUT_OF_MEMORY
// over its mem, else FAILED.
func slurmState(j proto.JobInfo) string {
	switch jobs.State(j.State) {
	case jobs.Queued, jobs.Requeued, jobs.Held:
		return "PENDING"
	case jobs.Running, jobs.Checkpointing, jobs.Begun:
		if j.Suspended {
			return "SUSPENDED"
		}
		return "RUNNING"
	case jobs.Exiting:
		return "COMPLETING"
	case jobs.Finished:
		return "COMPLETED"
	}
	r := j.Reason
	switch {
	case strings.HasPrefix(r, "deleted"):
		return "CANCELLED"
	case strings.HasPrefix(r, "walltime exceeded"):
		return "TIMEOUT"
	case strings.HasPrefix(r, "memory limit exceeded"):
		return "OUT_OF_MEMORY"
	}
	return "FAILED"
}

// shortState is a state's compact form (PD).
func shortState(long string) string {
	for _, s := range slurmStates {
		if s[0] == long {
			return s[1]
		}
	}
	return long
}

// parseSlurmStates parses a -t/--states list: long or compact names, in
// any case, or "all".
func parseSlurmStates(list string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range strings.Split(strings.ToUpper(list), ",") {
		if s == "ALL" {
			for _, st := range slurmStates {
				out[st[0]] = true
			}
			continue
		}
		found := false
		for _, st := range slurmStates {
			if s == st[0] || s == st[1] {
				out[st[0]], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("invalid job state specified: %s", s)
		}
	}
	return out, nil
}

// slurmReason is squeue's %r: why a pending job waits (Dependency,
// JobHeldUser, BeginTime, Priority), or None.
func slurmReason(j proto.JobInfo, now time.Time) string {
	switch st := jobs.State(j.State); {
	case st == jobs.Held && j.DependHold:
		return "Dependency"
	case st == jobs.Held:
		return "JobHeldUser"
	case st.Pending() && j.After.After(now):
		return "BeginTime"
	case st.Pending():
		return "Priority"
	}
	return "None"
}

// parseSlurmIDs parses job ids as the Slurm commands take them: N, N_I,
// N_[1-3,5] (and this system's N[I], N[1-3]); commas separate several.
// A plain N may still be an array: the caller looks in the daemon's list.
func parseSlurmIDs(list string) ([]jobs.ID, error) {
	var out []jobs.ID
	for _, s := range splitIDList(list) {
		base, task, isTask := strings.Cut(s, "_")
		if !isTask {
			ids, err := jobs.ParseIDs(s)
			if err != nil {
				return nil, fmt.Errorf("invalid job id %s", s)
			}
			out = append(out, ids...)
			continue
		}
		n, err := strconv.ParseUint(base, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("invalid job id %s", s)
		}
		task = strings.TrimSuffix(strings.TrimPrefix(task, "["), "]")
		a, err := jobs.ParseArray(task)
		if err != nil {
			return nil, fmt.Errorf("invalid job id %s: %v", s, err)
		}
		for pos := range a.Len() {
			out = append(out, jobs.SubjobID(jobs.ID(n), a.IndexAt(pos)))
		}
	}
	return out, nil
}

// splitIDList splits a comma list of ids, keeping N_[1,3] whole.
func splitIDList(list string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range list {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, list[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, list[start:])
	return slices.DeleteFunc(out, func(s string) bool { return strings.TrimSpace(s) == "" })
}

// slurmList asks the daemon for every job (with array tasks, each after
// its array) and returns them as Slurm lists them: arrays by their tasks.
func slurmList(ctx context.Context, client *proto.Client, history bool) ([]slurmJob, time.Time, error) {
	var reply proto.StatusReply
	req := proto.StatusRequest{Full: true, Subjobs: true, History: history}
	if err := client.Call(ctx, proto.OpStatus, req, &reply); err != nil {
		return nil, time.Time{}, err
	}
	var out []slurmJob
	seen := map[jobs.ID]bool{}
	limits := map[jobs.ID]string{} // array → its %max
	waits := map[jobs.ID]bool{}    // array → held for its dependencies
	for _, info := range reply.Jobs {
		id := jobs.ID(info.ID)
		if id.IsArrayForm() {
			if _, max, ok := strings.Cut(info.Array, "%"); ok {
				limits[id.Base()] = "%" + max
			}
			waits[id.Base()] = info.DependHold
			continue // an array is shown by its tasks
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if id.IsSubjob() && jobs.State(info.State) == jobs.Held && waits[id.Base()] {
			info.DependHold = true // its tasks wait for what the array waits for
		}
		out = append(out, slurmJob{info: info, id: id, array: id.IsSubjob(), limit: limits[id.Base()]})
	}
	return out, reply.Now, nil
}

// userFilter returns the uids and names a -u list (or --me) selects; an
// unknown user is an error, as in Slurm.
func userFilter(list string, me bool) (func(proto.JobInfo) bool, error) {
	var names []string
	if list != "" {
		names = strings.Split(list, ",")
	}
	if me {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		names = append(names, u.Username)
	}
	if len(names) == 0 {
		return func(proto.JobInfo) bool { return true }, nil
	}
	uids := map[uint32]bool{}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			if _, err2 := strconv.ParseUint(n, 10, 32); err2 != nil {
				return nil, fmt.Errorf("invalid user: %s", n)
			}
			u = &user.User{Uid: n}
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		uids[uint32(uid)] = true
	}
	return func(j proto.JobInfo) bool { return uids[j.UID] }, nil
}

// thisNode is the node list of a job that ran on this host.
func thisNode() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return h
}

// nodeList is %N: the hosts of the job's run (none while it waits).
func nodeList(j proto.JobInfo) string {
	if len(j.Segments) == 0 && jobs.State(j.State) != jobs.Running {
		return ""
	}
	if j.ExecHost == "" {
		return thisNode()
	}
	var hosts []string
	for _, chunk := range strings.Split(j.ExecHost, "+") {
		h, _, _ := strings.Cut(chunk, "/")
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return strings.Join(hosts, ",")
}

// slurmDuration writes a duration as Slurm does: M:SS, H:MM:SS, D-HH:MM:SS.
func slurmDuration(d time.Duration) string {
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, sec)
	case h > 0:
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// timeLimit is %l: the walltime, or UNLIMITED.
func timeLimit(j proto.JobInfo) string {
	if j.WalltimeSec <= 0 {
		return "UNLIMITED"
	}
	return slurmDuration(seconds(j.WalltimeSec))
}

// slurmStamp is a time as Slurm prints it; none is none.
func slurmStamp(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Local().Format("2006-01-02T15:04:05")
}

// startEnd are the start of the job's first run and the end of its last.
func startEnd(j proto.JobInfo) (start, end time.Time) {
	if n := len(j.Segments); n > 0 {
		start, end = j.Segments[0].Start, j.Segments[n-1].End
	}
	return start, end
}

// exitCode is sacct's ExitCode, status:signal.
func exitCode(j proto.JobInfo) string {
	if j.ExitStatus == nil {
		return "0:0"
	}
	switch s := *j.ExitStatus; {
	case s >= jobs.SignalBase:
		return fmt.Sprintf("0:%d", s-jobs.SignalBase)
	case s >= 0:
		return fmt.Sprintf("%d:0", s)
	}
	return "0:0" // ended by the system: the state says how
}

// nodes is %D: how many hosts the job has (1 on a single host).
func nodes(j proto.JobInfo) string {
	if j.Nodect > 1 {
		return strconv.Itoa(j.Nodect)
	}
	return "1"
}

// cpus is %C.
func cpus(j proto.JobInfo) string {
	if j.NCPUs > 0 {
		return strconv.Itoa(j.NCPUs)
	}
	return "1"
}
