package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"lazarus/jobs"
)

// Placement in a cluster (the daemon's cluster mode): which node runs each
// chunk of a job. Like Schedule, Place is a pure decision on a snapshot.
//
// The rules:
//
//   - A node takes chunks only while it is up (its lease is held) and not
//     offline (pbsnodes -o, a drain); its free slots and memory are its
//     own less the chunks of the runs placed on it.
//   - A job restarted from a checkpoint goes only to a node that can run
//     the image (Fingerprint.CanRestore): same machine architecture and
//     engine image format, and every CPU feature the image records present
//     (a restored process may use any instruction it found when it
//     started). A fresh start goes anywhere.
//   - place=free (the default): each chunk goes to the node with the most
//     free slots that can take it (ties: most free memory, then name), so
//     that jobs spread over the cluster.
//   - place=pack: every chunk on one node (the one with the most free
//     slots that takes them all).
//   - place=scatter: each chunk on a node of its own.
//   - place=…:excl: the nodes chosen run nothing else, before or after.
//   - A job that would fit the cluster's nodes if they were idle but not
//     now waits (Schedule: it stops the pass, no backfill); a job that
//     could not fit even then is passed over, with a reason (NeverWhy)
//     that qstat shows as its comment, PBS's "Can Never Run".
//   - The script runs on the first chunk's node; the other chunks are
//     held (their slots and memory counted taken) as long as the run.

// Fingerprint is what a restored process may rely on of the machine it
// was checkpointed on.
type Fingerprint struct {
	Machine  string   // uname machine: x86_64
	Format   int      // the engine's image format version
	CPUFlags []string // instruction-set flags (ckpt.HostFingerprint)
	Kernel   string   // informational: a restart under another kernel is allowed
}

// ErrIncompatible is wrapped by CanRestore's refusals.
var ErrIncompatible = errors.New("cannot restart the image here")

// CanRestore says why a node of fingerprint f cannot restart an image
// written on a node of fingerprint from; nil if it can.
func (f Fingerprint) CanRestore(from Fingerprint) error {
	switch {
	case from.Machine != "" && f.Machine != from.Machine:
		return fmt.Errorf("%w: machine %s, image of %s", ErrIncompatible, f.Machine, from.Machine)
	case from.Format != 0 && f.Format != from.Format:
		return fmt.Errorf("%w: image format %d, image of format %d", ErrIncompatible, f.Format, from.Format)
	}
	var missing []string
	for _, fl := range from.CPUFlags {
		if !slices.Contains(f.CPUFlags, fl) {
			missing = append(missing, fl)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: CPU features missing: %s", ErrIncompatible, strings.Join(missing, " "))
	}
	return nil
}

// Node is a cluster node as placement sees it.
type Node struct {
	Name        string
	Slots       int
	Memory      int64 // bytes; 0: memory is not scheduled on it
	Fingerprint Fingerprint
	Offline     bool // takes no new chunk (pbsnodes -o, draining)
}

// Arrangement is place='s arrangement of chunks.
type Arrangement string

// Arrangements.
const (
	Free    Arrangement = "free"
	Pack    Arrangement = "pack"
	Scatter Arrangement = "scatter"
)

// Placement is a job's place= request.
type Placement struct {
	Arrangement Arrangement // "" is Free
	Excl        bool
}

// ParsePlace parses place=: an arrangement (free, pack, scatter; vscatter
// is scatter, each node being one vnode) and a sharing (shared, excl,
// exclhost), separated by a colon, each optional.
func ParsePlace(s string) (Placement, error) {
	var p Placement
	if s == "" {
		return p, nil
	}
	for item := range strings.SplitSeq(s, ":") {
		switch item {
		case "free", "pack", "scatter":
			p.Arrangement = Arrangement(item)
		case "vscatter":
			p.Arrangement = Scatter
		case "shared":
		case "excl", "exclhost":
			p.Excl = true
		default:
			return p, fmt.Errorf("place=%s: %w (want free, pack or scatter, and shared or excl)", s, jobs.ErrBadResource)
		}
	}
	return p, nil
}

// Request is what a job asks of the cluster.
type Request struct {
	Chunks []jobs.Chunk // Host is left empty
	Place  Placement
	// From is the fingerprint of the node that wrote the checkpoint the
	// job restarts from; nil: a fresh start (or one whose writer is not
	// known: the engine still checks the image when it restores).
	From *Fingerprint
	// Host, when set, is the one node the request may use (qmove -n).
	Host string
}

// use is what runs on a node.
type use struct {
	slots int
	mem   int64
	runs  int
	excl  bool
	// unmetered: the node does not schedule memory (free space only).
	unmetered bool
}

// Load is what the running jobs hold of each node.
type Load map[string]use

// NewLoad counts the chunks of the runs of running jobs.
func NewLoad(running []*jobs.Job) Load {
	l := Load{}
	for _, j := range running {
		l.add(j)
	}
	return l
}

func (l Load) add(j *jobs.Job) {
	seg, ok := j.Current()
	if !ok {
		return
	}
	p, _ := ParsePlace(j.Resources.Place)
	l.hold(seg.Exec, p.Excl)
}

func (l Load) hold(cs []jobs.Chunk, excl bool) {
	for _, c := range cs {
		u := l[c.Host]
		u.slots += c.NCPUs
		u.mem += c.Mem
		u.runs++
		u.excl = u.excl || excl
		l[c.Host] = u
	}
}

// Fit is the outcome of Place.
type Fit int

// Outcomes.
const (
	Fits  Fit = iota // placed now
	Wait             // would fit the nodes if they were idle
	Never            // no node (set) that is up could ever take it
)

// Place places a request's chunks on nodes, given what they run. Nodes
// that are offline, or cannot restart the job's image, are not used.
func Place(nodes []Node, load Load, r Request) ([]jobs.Chunk, Fit) {
	var ok []Node
	for _, n := range nodes {
		if n.Offline || (r.From != nil && n.Fingerprint.CanRestore(*r.From) != nil) || (r.Host != "" && n.Name != r.Host) {
			continue
		}
		ok = append(ok, n)
	}
	if cs := place(ok, load, r); cs != nil {
		return cs, Fits
	}
	if place(ok, Load{}, r) != nil {
		return nil, Wait
	}
	return nil, Never
}

// NeverPrefix starts the reasons of NeverWhy, as PBS's comment does.
const NeverPrefix = "Can Never Run: "

// NeverWhy says why no set of the nodes (those up) could ever take the
// request, even idle: the comment qstat shows of a job Place says Never
// of.
func NeverWhy(nodes []Node, r Request) string {
	var ok []Node
	for _, n := range nodes {
		if n.Offline || (r.From != nil && n.Fingerprint.CanRestore(*r.From) != nil) {
			continue
		}
		ok = append(ok, n)
	}
	if len(ok) == 0 {
		if r.From != nil && len(nodes) > 0 {
			return NeverPrefix + "no node that is up and online can restart its checkpoint (" + r.From.Machine + ", image format " + fmt.Sprint(r.From.Format) + ", its CPU features)"
		}
		return NeverPrefix + "no node is up and online"
	}
	biggest := ok[0]
	for _, n := range ok[1:] {
		if n.Slots > biggest.Slots || n.Slots == biggest.Slots && n.Memory > biggest.Memory {
			biggest = n
		}
	}
	fitsIdle := func(n Node, c jobs.Chunk) bool {
		return c.NCPUs <= n.Slots && (n.Memory == 0 || c.Mem <= n.Memory)
	}
	largest := func() string {
		s := fmt.Sprintf("the largest node has %d slots", biggest.Slots)
		if biggest.Memory > 0 {
			s += " and mem=" + jobs.FormatSize(biggest.Memory)
		}
		return s
	}
	chunkText := func(c jobs.Chunk) string {
		s := fmt.Sprintf("ncpus=%d", c.NCPUs)
		if c.Mem > 0 {
			s += ":mem=" + jobs.FormatSize(c.Mem)
		}
		return s
	}
	for _, c := range r.Chunks {
		if !slices.ContainsFunc(ok, func(n Node) bool { return fitsIdle(n, c) }) {
			return NeverPrefix + "a chunk of " + chunkText(c) + " is bigger than every node (" + largest() + ")"
		}
	}
	switch r.Place.Arrangement {
	case Pack:
		var total jobs.Chunk
		for _, c := range r.Chunks {
			total.NCPUs += c.NCPUs
			total.Mem += c.Mem
		}
		return NeverPrefix + "place=pack needs " + chunkText(total) + " on one node (" + largest() + ")"
	case Scatter:
		if len(r.Chunks) > len(ok) {
			return NeverPrefix + fmt.Sprintf("place=scatter needs %d nodes, the cluster has %d up and online", len(r.Chunks), len(ok))
		}
		return NeverPrefix + fmt.Sprintf("place=scatter needs %d nodes that can each take a chunk", len(r.Chunks))
	}
	return NeverPrefix + fmt.Sprintf("its %d chunks do not fit the nodes up and online even when idle", len(r.Chunks))
}

// place is Place on usable nodes; nil when the chunks do not fit.
func place(nodes []Node, load Load, r Request) []jobs.Chunk {
	if len(r.Chunks) == 0 {
		return nil
	}
	free := map[string]use{} // what is left of each node
	for _, n := range nodes {
		u := load[n.Name]
		if u.excl || (r.Place.Excl && u.runs > 0) {
			continue
		}
		free[n.Name] = use{slots: n.Slots - u.slots, mem: n.Memory - u.mem, unmetered: n.Memory == 0}
	}
	fits := func(name string, c jobs.Chunk) bool {
		f, ok := free[name]
		return ok && c.NCPUs <= f.slots && (f.unmetered || c.Mem <= f.mem)
	}
	take := func(name string, c jobs.Chunk) {
		f := free[name]
		f.slots -= c.NCPUs
		f.mem -= c.Mem
		free[name] = f
	}
	// Most free slots first, then most free memory, then name.
	order := func() []string {
		names := make([]string, 0, len(free))
		for n := range free {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			fa, fb := free[a], free[b]
			return cmp.Or(cmp.Compare(fb.slots, fa.slots), cmp.Compare(fb.mem, fa.mem), cmp.Compare(a, b))
		})
		return names
	}
	out := make([]jobs.Chunk, 0, len(r.Chunks))
	switch r.Place.Arrangement {
	case Pack:
		var total jobs.Chunk
		for _, c := range r.Chunks {
			total.NCPUs += c.NCPUs
			total.Mem += c.Mem
		}
		for _, name := range order() {
			if fits(name, total) {
				for _, c := range r.Chunks {
					c.Host = name
					out = append(out, c)
				}
				return out
			}
		}
		return nil
	case Scatter:
		used := map[string]bool{}
		for _, c := range r.Chunks {
			placed := false
			for _, name := range order() {
				if !used[name] && fits(name, c) {
					take(name, c)
					used[name] = true
					c.Host = name
					out = append(out, c)
					placed = true
					break
				}
			}
			if !placed {
				return nil
			}
		}
		return out
	default:
		for _, c := range r.Chunks {
			placed := false
			for _, name := range order() {
				if fits(name, c) {
					take(name, c)
					c.Host = name
					out = append(out, c)
					placed = true
					break
				}
			}
			if !placed {
				return nil
			}
		}
		return out
	}
}

// RequestOf is the request of a job (or subjob): its select chunks, its
// place=, and the fingerprint of the node that wrote the generation it
// would restart from, looked up in known (nodes up or gone).
func RequestOf(j *jobs.Job, known map[string]Fingerprint) Request {
	var r Request
	for _, c := range j.Resources.ChunkList() {
		r.Chunks = append(r.Chunks, jobs.Chunk{NCPUs: max(c.NCPUs, 1), Mem: c.Mem})
	}
	r.Place, _ = ParsePlace(j.Resources.Place)
	r.Host = j.MoveTo
	if g, ok := j.RestoreFrom(); ok && g.Host != "" {
		if fp, ok := known[g.Host]; ok {
			r.From = &fp
		}
	}
	return r
}
