package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OneHost says why a request for more than one host (or chunk) is refused.
const OneHost = "this system has one host (multi-host jobs come with the cluster issue)"

// parsePBSResource applies the PBS resource requests beyond ncpus, mem
// and walltime, mapped onto what this system schedules: select= (one
// chunk of ncpus, mem, mpiprocs, ompthreads), Torque's nodes=1:ppn=N and
// procs=N, place= (the arrangements that make sense on one host), and
// cput (enforced by the supervisor on the job's whole tree).
func parsePBSResource(r Resources, name, val string) (Resources, error) {
	switch name {
	case "select":
		return parseSelect(r, val)
	case "nodes":
		return parseNodes(r, val)
	case "procs":
		return ParseResources(r, "ncpus="+val)
	case "place":
		return r, checkPlace(val)
	case "net":
		switch val {
		case NetPrivate:
			r.Net = NetPrivate
		case NetHost:
			r.Net = NetHost
		default:
			return r, fmt.Errorf("net=%s: %w (want private or host)", val, ErrBadResource)
		}
		return r, nil
	case "cput":
		d, err := ParseWalltime(val)
		if err != nil {
			return r, fmt.Errorf("cput=%s: %w", val, err)
		}
		if d == 0 {
			return r, fmt.Errorf("cput=%s: %w (must be more than 0)", val, ErrBadResource)
		}
		r.CPUTime = d
		return r, nil
	}
	return r, fmt.Errorf("unknown resource %q: %w (known: %s)", name, ErrBadResource, strings.Join(AllResourceNames, ", "))
}

// AllResourceNames lists every resource qsub -l takes.
var AllResourceNames = []string{"ncpus", "mem", "walltime", "cput", "select", "nodes", "procs", "place", "net"}

func count(what, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("%s=%s: %w (want a whole number, at least 1)", what, s, ErrBadResource)
	}
	return n, nil
}

// parseSelect maps "select=[N:]chunk": N must be 1 and there must be one
// chunk (no "+").
func parseSelect(r Resources, val string) (Resources, error) {
	if strings.Contains(val, "+") {
		return r, fmt.Errorf("select=%s: %w: more than one kind of chunk, but %s", val, ErrBadResource, OneHost)
	}
	items := strings.Split(val, ":")
	if n, err := strconv.Atoi(items[0]); err == nil {
		if n != 1 {
			return r, fmt.Errorf("select=%s: %w: %d chunks, but %s", val, ErrBadResource, n, OneHost)
		}
		items = items[1:]
	}
	for _, item := range items {
		k, v, ok := strings.Cut(item, "=")
		if !ok || v == "" {
			return r, fmt.Errorf("select=%s: %q: %w (want NAME=VALUE in a chunk)", val, item, ErrBadResource)
		}
		var err error
		switch k {
		case "ncpus", "mem":
			r, err = ParseResources(r, k+"="+v)
		case "mpiprocs":
			r.MPIProcs, err = count(k, v)
		case "ompthreads":
			r.OMPThreads, err = count(k, v)
		default:
			err = fmt.Errorf("chunk resource %q: %w (known in a chunk: ncpus, mem, mpiprocs, ompthreads)", k, ErrBadResource)
		}
		if err != nil {
			return r, fmt.Errorf("select=%s: %w", val, err)
		}
	}
	return r, nil
}

// parseNodes maps Torque's "nodes=1[:ppn=N]".
func parseNodes(r Resources, val string) (Resources, error) {
	if strings.Contains(val, "+") {
		return r, fmt.Errorf("nodes=%s: %w: %s", val, ErrBadResource, OneHost)
	}
	items := strings.Split(val, ":")
	n, err := strconv.Atoi(items[0])
	switch {
	case err != nil:
		return r, fmt.Errorf("nodes=%s: %w (want nodes=1[:ppn=N]; a host name or property is not taken)", val, ErrBadResource)
	case n != 1:
		return r, fmt.Errorf("nodes=%s: %w: %d nodes, but %s", val, ErrBadResource, n, OneHost)
	}
	for _, item := range items[1:] {
		k, v, _ := strings.Cut(item, "=")
		if k != "ppn" {
			return r, fmt.Errorf("nodes=%s: %q: %w (only ppn=N is taken)", val, item, ErrBadResource)
		}
		if r, err = ParseResources(r, "ncpus="+v); err != nil {
			return r, fmt.Errorf("nodes=%s: %w", val, err)
		}
	}
	return r, nil
}

// checkPlace accepts the place= values that hold on one host: any
// arrangement (free, pack, scatter, vscatter: one chunk is on one host)
// and shared; excl and exclhost (this system does not reserve the host for
// one job) and group= are refused.
func checkPlace(val string) error {
	for _, item := range strings.Split(val, ":") {
		switch {
		case item == "free", item == "pack", item == "scatter", item == "vscatter", item == "shared":
		case item == "excl", item == "exclhost":
			return fmt.Errorf("place=%s: %w: %s is not supported (jobs share this host; ask for its ncpus and mem instead)", val, ErrBadResource, item)
		case strings.HasPrefix(item, "group="):
			return fmt.Errorf("place=%s: %w: grouping is meaningless with %s", val, ErrBadResource, OneHost)
		default:
			return fmt.Errorf("place=%s: %w (want free, pack, scatter, vscatter or shared)", val, ErrBadResource)
		}
	}
	return nil
}

// CPUTimeLeft is the CPU time limit (qsub -l cput) of the job's open run:
// a run restarted from a checkpoint has what earlier runs did not use;
// 0: no limit.
func (j *Job) CPUTimeLeft() time.Duration {
	c := j.Resources.CPUTime
	seg, open := j.Current()
	if c == 0 || !open || seg.Generation == 0 {
		return c
	}
	for _, s := range j.Segments[:len(j.Segments)-1] {
		c -= s.CPU()
	}
	return max(c, time.Second)
}

// Threads is the job's OMP_NUM_THREADS: ompthreads of its chunk, else
// its ncpus divided among its mpiprocs, as PBS sets it.
func (r Resources) Threads() int {
	switch {
	case r.OMPThreads > 0:
		return r.OMPThreads
	case r.MPIProcs > 0:
		return max(r.NCPUs/r.MPIProcs, 1)
	}
	return r.NCPUs
}

// NodeLines is how many times PBS_NODEFILE lists the host: once per MPI
// process (mpiprocs), else once per CPU.
func (r Resources) NodeLines() int {
	if r.MPIProcs > 0 {
		return r.MPIProcs
	}
	return r.NCPUs
}

// pbsStrings formats the resources of parsePBSResource for String.
func (r Resources) pbsStrings() []string {
	var parts []string
	if r.CPUTime > 0 {
		parts = append(parts, "cput="+FormatDuration(r.CPUTime))
	}
	if r.MPIProcs > 0 {
		parts = append(parts, "mpiprocs="+strconv.Itoa(r.MPIProcs))
	}
	if r.OMPThreads > 0 {
		parts = append(parts, "ompthreads="+strconv.Itoa(r.OMPThreads))
	}
	if r.Net != "" {
		parts = append(parts, "net="+r.Net)
	}
	return parts
}
