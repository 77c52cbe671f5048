package jobs

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// errNoOpenRun is returned by SetExec for a job that is not running.
var errNoOpenRun = errors.New("the job has no open run")

// SetExec records where the open run was placed (cluster mode).
func (j *Job) SetExec(cs []Chunk) error {
	n := len(j.Segments)
	if n == 0 || !j.Segments[n-1].Open() {
		return errNoOpenRun
	}
	j.Segments[n-1].Exec = slices.Clone(cs)
	return nil
}

// ExecHost is the node that runs the open run's script: the host of its
// first chunk; "" when the job does not run or runs on a single host.
func (j *Job) ExecHost() string {
	if seg, ok := j.Current(); ok && len(seg.Exec) > 0 {
		return seg.Exec[0].Host
	}
	return ""
}

// Hosts are the distinct hosts of a placement, in chunk order.
func Hosts(cs []Chunk) []string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.Host) {
			out = append(out, c.Host)
		}
	}
	return out
}

// FormatExec formats a placement as PBS prints exec_host:
// "host1/0*2+host2/0*2" (the chunk's CPUs after the star, the chunk's
// index on its host after the slash).
func FormatExec(cs []Chunk) string {
	seen := map[string]int{}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Host+"/"+strconv.Itoa(seen[c.Host])+"*"+strconv.Itoa(c.NCPUs))
		seen[c.Host]++
	}
	return strings.Join(parts, "+")
}

// SpannedHosts is the number of distinct hosts the open run holds (0:
// the job does not run, or runs on a single host without a placement).
func (j *Job) SpannedHosts() int {
	seg, ok := j.Current()
	if !ok {
		return 0
	}
	return len(Hosts(seg.Exec))
}

// NotCheckpointable says why the open run cannot be checkpointed because
// of where it runs: one spanning several hosts would need all its ranks
// frozen together, which the engine does not do; "" otherwise (a job of
// several chunks all on one host is checkpointable).
func (j *Job) NotCheckpointable() string {
	if n := j.SpannedHosts(); n > 1 {
		return "not checkpointable: spans " + strconv.Itoa(n) + " hosts (the ranks on several hosts cannot be frozen together)"
	}
	return ""
}
