package jobs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// OneHost says why a request for more than one host is refused on a
// single host (no cluster).
const OneHost = "this system has one host (no cluster)"

// MaxChunks bounds the chunks of a select (and Torque's nodes=).
const MaxChunks = 4096

// parsePBSResource applies the PBS resource requests beyond ncpus, mem
// and walltime: select= (chunks of ncpus, mem, mpiprocs, ompthreads, of
// one kind or several joined by "+"), Torque's nodes=N[:ppn=M] and
// procs=N, place= (arrangement and sharing), net= and cput (enforced by
// the supervisor on the job's whole tree).
func parsePBSResource(r Resources, name, val string) (Resources, error) {
	switch name {
	case "select":
		return parseSelect(r, val)
	case "nodes":
		return parseNodes(r, val)
	case "procs":
		return ParseResources(r, "ncpus="+val)
	case "place":
		if err := checkPlace(val); err != nil {
			return r, err
		}
		r.Place = val
		return r, nil
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

// ChunkSpec is one kind of select chunk: N chunks alike, each of NCPUs
// CPUs (1 when not given), Mem bytes (0: not asked for), MPIProcs MPI
// processes and OMPThreads threads (0: not given).
type ChunkSpec struct {
	N          int
	NCPUs      int
	Mem        int64
	MPIProcs   int
	OMPThreads int
}

// String formats the kind as select takes it: "2:ncpus=4:mem=1gb".
func (c ChunkSpec) String() string {
	s := strconv.Itoa(c.N) + ":ncpus=" + strconv.Itoa(c.NCPUs)
	if c.Mem > 0 {
		s += ":mem=" + FormatSize(c.Mem)
	}
	if c.MPIProcs > 0 {
		s += ":mpiprocs=" + strconv.Itoa(c.MPIProcs)
	}
	if c.OMPThreads > 0 {
		s += ":ompthreads=" + strconv.Itoa(c.OMPThreads)
	}
	return s
}

// NodeLines is how many lines PBS_NODEFILE has for one chunk of the
// kind: its mpiprocs, which is 1 when not given (PBS's default).
func (c ChunkSpec) NodeLines() int { return max(c.MPIProcs, 1) }

// ParseSelect parses a select= value, "[N:]chunk[+[N:]chunk...]", each
// chunk a colon-separated list of ncpus, mem, mpiprocs and ompthreads.
func ParseSelect(val string) ([]ChunkSpec, error) {
	var out []ChunkSpec
	total := 0
	for kind := range strings.SplitSeq(val, "+") {
		items := strings.Split(kind, ":")
		c := ChunkSpec{N: 1, NCPUs: 1}
		if n, err := strconv.Atoi(items[0]); err == nil {
			if n < 1 || n > MaxChunks {
				return nil, fmt.Errorf("select=%s: %d chunks: %w (want 1 to %d)", val, n, ErrBadResource, MaxChunks)
			}
			c.N, items = n, items[1:]
		}
		for _, item := range items {
			k, v, ok := strings.Cut(item, "=")
			if !ok || v == "" {
				return nil, fmt.Errorf("select=%s: %q: %w (want NAME=VALUE in a chunk)", val, item, ErrBadResource)
			}
			var err error
			var one Resources
			switch k {
			case "ncpus":
				one, err = ParseResources(one, k+"="+v)
				c.NCPUs = one.NCPUs
			case "mem":
				one, err = ParseResources(one, k+"="+v)
				c.Mem = one.Mem
			case "mpiprocs":
				c.MPIProcs, err = count(k, v)
			case "ompthreads":
				c.OMPThreads, err = count(k, v)
			default:
				err = fmt.Errorf("chunk resource %q: %w (known in a chunk: ncpus, mem, mpiprocs, ompthreads)", k, ErrBadResource)
			}
			if err != nil {
				return nil, fmt.Errorf("select=%s: %w", val, err)
			}
		}
		if total += c.N; total > MaxChunks {
			return nil, fmt.Errorf("select=%s: %d chunks: %w (at most %d)", val, total, ErrBadResource, MaxChunks)
		}
		if c.Mem > 0 && c.Mem > math.MaxInt64/int64(MaxChunks) {
			return nil, fmt.Errorf("select=%s: mem=%s: %w (too large)", val, FormatSize(c.Mem), ErrBadResource)
		}
		out = append(out, c)
	}
	return out, nil
}

// FormatSelect formats chunk kinds as select takes them.
func FormatSelect(cs []ChunkSpec) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "+")
}

// parseSelect maps "select=...". One chunk sets the job's ncpus, mem,
// mpiprocs and ompthreads (what is not given is kept); several (N>1 or
// kinds joined by "+") are kept in Select, and ncpus and mem become the
// totals of the chunks, as PBS's Resource_List.ncpus and mem are.
func parseSelect(r Resources, val string) (Resources, error) {
	cs, err := ParseSelect(val)
	if err != nil {
		return r, err
	}
	r.Select, r.Chunks = "", 0
	if len(cs) == 1 && cs[0].N == 1 {
		// One chunk: what it names, over what the job had. Its mpiprocs
		// is 1 when not given (PBS's default for a chunk with CPUs: its
		// host once in PBS_NODEFILE), as in a select of several.
		if r.MPIProcs == 0 && !strings.Contains(":"+val, ":mpiprocs=") {
			r.MPIProcs = 1
		}
		for _, item := range strings.Split(val, ":") {
			k, _, _ := strings.Cut(item, "=")
			switch k {
			case "ncpus":
				r.NCPUs = cs[0].NCPUs
			case "mem":
				r.Mem = cs[0].Mem
			case "mpiprocs":
				r.MPIProcs = cs[0].MPIProcs
			case "ompthreads":
				r.OMPThreads = cs[0].OMPThreads
			}
		}
		return r, nil
	}
	return r.withChunks(cs), nil
}

// withChunks sets r to the chunks cs (more than one).
func (r Resources) withChunks(cs []ChunkSpec) Resources {
	r.Select = FormatSelect(cs)
	r.NCPUs, r.Mem, r.Chunks = 0, 0, 0
	for _, c := range cs {
		r.NCPUs += c.N * c.NCPUs
		r.Mem += int64(c.N) * c.Mem
		r.Chunks += c.N
	}
	r.MPIProcs, r.OMPThreads = cs[0].MPIProcs, cs[0].OMPThreads
	return r
}

// ChunkList is the job's chunks, one entry each (N is 1): those of its
// select, or the one chunk of its ncpus and mem. A chunk of a select has
// mpiprocs 1 when not given (PBS's default); the one chunk of a job that
// asked for ncpus without a select keeps 0 (PBS_NODEFILE then lists the
// host once per CPU).
func (r Resources) ChunkList() []ChunkSpec {
	if r.Select != "" {
		if cs, err := ParseSelect(r.Select); err == nil {
			var out []ChunkSpec
			for _, c := range cs {
				for range c.N {
					one := c
					one.N, one.MPIProcs = 1, c.NodeLines()
					out = append(out, one)
				}
			}
			return out
		}
	}
	return []ChunkSpec{{N: 1, NCPUs: max(r.NCPUs, 1), Mem: r.Mem, MPIProcs: r.MPIProcs, OMPThreads: r.OMPThreads}}
}

// NChunks is the number of the job's chunks (PBS's nodect).
func (r Resources) NChunks() int { return max(r.Chunks, 1) }

// SelectString is the job's select as qstat -f shows Resource_List.select.
func (r Resources) SelectString() string {
	if r.Select != "" {
		return r.Select
	}
	return ChunkSpec{N: 1, NCPUs: max(r.NCPUs, 1), Mem: r.Mem, MPIProcs: r.MPIProcs, OMPThreads: r.OMPThreads}.String()
}

// parseNodes maps Torque's "nodes=N[:ppn=M]": N chunks of M CPUs (1 when
// not given), each listed M times in PBS_NODEFILE, on N different hosts
// (PBS's nodes= to select= mapping: mpiprocs=M, place=scatter).
func parseNodes(r Resources, val string) (Resources, error) {
	if strings.Contains(val, "+") {
		return r, fmt.Errorf("nodes=%s: %w (want nodes=N[:ppn=M]; several node specifications are not taken, use select=)", val, ErrBadResource)
	}
	items := strings.Split(val, ":")
	n, err := strconv.Atoi(items[0])
	if err != nil || n < 1 || n > MaxChunks {
		return r, fmt.Errorf("nodes=%s: %w (want nodes=N[:ppn=M], N from 1 to %d; a host name or property is not taken)", val, ErrBadResource, MaxChunks)
	}
	ppn := 0
	for _, item := range items[1:] {
		k, v, _ := strings.Cut(item, "=")
		if k != "ppn" {
			return r, fmt.Errorf("nodes=%s: %q: %w (only ppn=M is taken)", val, item, ErrBadResource)
		}
		one, err := ParseResources(Resources{}, "ncpus="+v)
		if err != nil {
			return r, fmt.Errorf("nodes=%s: %w", val, err)
		}
		ppn = one.NCPUs
	}
	if n == 1 {
		if ppn > 0 {
			r.NCPUs = ppn
		}
		r.Select, r.Chunks = "", 0
		return r, nil
	}
	ppn = max(ppn, 1)
	r = r.withChunks([]ChunkSpec{{N: n, NCPUs: ppn, MPIProcs: ppn}})
	if r.Place == "" {
		r.Place = "scatter"
	}
	return r, nil
}

// checkPlace checks a place= value: an arrangement (free, pack, scatter,
// vscatter) and a sharing (shared, excl, exclhost), separated by a colon;
// group= is refused (nodes have no resources to group by).
func checkPlace(val string) error {
	arr, share := 0, 0
	for _, item := range strings.Split(val, ":") {
		switch {
		case item == "free", item == "pack", item == "scatter", item == "vscatter":
			arr++
		case item == "shared", item == "excl", item == "exclhost":
			share++
		case strings.HasPrefix(item, "group="):
			return fmt.Errorf("place=%s: %w: grouping by a resource is not supported (nodes have no such resources here)", val, ErrBadResource)
		default:
			return fmt.Errorf("place=%s: %w (want free, pack, scatter or vscatter, and shared, excl or exclhost, joined by a colon)", val, ErrBadResource)
		}
	}
	if arr > 1 || share > 1 {
		return fmt.Errorf("place=%s: %w (at most one arrangement and one sharing)", val, ErrBadResource)
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

// Threads is the job's OMP_NUM_THREADS: ompthreads of its (first)
// chunk, else that chunk's ncpus divided among its mpiprocs, as PBS sets
// it.
func (r Resources) Threads() int {
	c := r.ChunkList()[0]
	switch {
	case c.OMPThreads > 0:
		return c.OMPThreads
	case c.MPIProcs > 0:
		return max(c.NCPUs/c.MPIProcs, 1)
	}
	return c.NCPUs
}

// FirstNCPUs is the ncpus of the job's first chunk (NCPUS of the script,
// which runs on that chunk's host).
func (r Resources) FirstNCPUs() int { return r.ChunkList()[0].NCPUs }

// NodeLines is how many lines PBS_NODEFILE has for the job's chunks on
// one host: for each chunk its mpiprocs (ChunkList's rule: 1 when not
// given in a select of several, the chunk's CPUs for the one chunk of a
// job that gave none).
func (r Resources) NodeLines() int {
	n := 0
	for _, c := range r.ChunkList() {
		if c.MPIProcs > 0 {
			n += c.MPIProcs
		} else {
			n += c.NCPUs
		}
	}
	return n
}

// ChunkLines is NodeLines for each chunk, in order.
func (r Resources) ChunkLines() []int {
	cs := r.ChunkList()
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.MPIProcs
		if out[i] == 0 {
			out[i] = c.NCPUs
		}
	}
	return out
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
	if r.Select != "" {
		parts = append(parts, "select="+r.Select)
	}
	if r.Place != "" {
		parts = append(parts, "place="+r.Place)
	}
	return parts
}
