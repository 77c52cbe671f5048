package jobs

import (
	"fmt"
	"strconv"
	"strings"
)

// Job dependencies (qsub -W depend=, sbatch --dependency=). A job that
// waits for others is held by the system (PBS's hold type s) until every
// condition is satisfied (or, for Slurm's "?" lists, one of them); a
// condition that can never be satisfied deletes the job without running
// it. A satisfied condition is marked Done and never looked at again, so a
// job that is requeued or restarted from a checkpoint after its
// dependents were released does not release (or delete) them again.

// DepKind is the kind of one dependency.
type DepKind string

const (
	DepAfter      DepKind = "after"      // once the job has started
	DepAfterOK    DepKind = "afterok"    // once it has ended with exit status 0
	DepAfterNotOK DepKind = "afternotok" // once it has ended any other way
	DepAfterAny   DepKind = "afterany"   // once it has ended, however
	// The before kinds, given to the job that others wait for, put the
	// matching after kind on each of those (which should have been
	// submitted with on:count so that they wait for it).
	DepBefore      DepKind = "before"
	DepBeforeOK    DepKind = "beforeok"
	DepBeforeNotOK DepKind = "beforenotok"
	DepBeforeAny   DepKind = "beforeany"
)

// After returns the after kind a before kind puts on the other job.
func (k DepKind) After() (DepKind, bool) {
	switch k {
	case DepBefore:
		return DepAfter, true
	case DepBeforeOK:
		return DepAfterOK, true
	case DepBeforeNotOK:
		return DepAfterNotOK, true
	case DepBeforeAny:
		return DepAfterAny, true
	}
	return "", false
}

// Cond is one condition: a kind on one job (N, N[] or N[i]).
type Cond struct {
	Kind DepKind
	ID   ID
	Done bool // satisfied: not looked at again
}

func (c Cond) String() string { return string(c.Kind) + ":" + c.ID.String() }

// Depend is what a job waits for.
type Depend struct {
	Conds []Cond
	Any   bool // satisfied when one condition is (Slurm's "?"), else when all are
	// On is how many before-dependencies of other jobs the job still waits
	// to be given (depend=on:count).
	On int
	// Waiting says the job is held for its dependencies (hold type s).
	Waiting bool
	// Hold is the reason of its owner's hold (qsub -h, qhold) while it
	// waits: the job stays held, for that, once its dependencies are met.
	Hold string
}

// Copy returns a deep copy.
func (d *Depend) Copy() *Depend {
	if d == nil {
		return nil
	}
	c := *d
	c.Conds = append([]Cond(nil), d.Conds...)
	return &c
}

// String prints the dependencies as PBS's depend attribute.
func (d *Depend) String() string {
	var parts []string
	byKind := map[DepKind][]string{}
	var kinds []DepKind
	for _, c := range d.Conds {
		if _, seen := byKind[c.Kind]; !seen {
			kinds = append(kinds, c.Kind)
		}
		byKind[c.Kind] = append(byKind[c.Kind], c.ID.String())
	}
	sep := ","
	if d.Any {
		sep = "?"
	}
	for _, k := range kinds {
		parts = append(parts, string(k)+":"+strings.Join(byKind[k], ":"))
	}
	if d.On > 0 {
		parts = append(parts, "on:"+strconv.Itoa(d.On))
	}
	return strings.Join(parts, sep)
}

// Pending returns the conditions not yet satisfied.
func (d *Depend) Pending() []Cond {
	var out []Cond
	for _, c := range d.Conds {
		if !c.Done {
			out = append(out, c)
		}
	}
	return out
}

// DependRequest is a parsed depend list: the job's own conditions, and the
// before conditions it puts on other jobs.
type DependRequest struct {
	Depend
	Before []Cond // kinds DepBefore*, on the jobs named
}

func parseDepKind(s string) (DepKind, bool) {
	switch k := DepKind(s); k {
	case DepAfter, DepAfterOK, DepAfterNotOK, DepAfterAny, DepBefore, DepBeforeOK, DepBeforeNotOK, DepBeforeAny:
		return k, true
	}
	return "", false
}

// ParseDepend parses PBS's depend list (qsub -W depend=...):
// type:id[:id...][,type:id...] with the after*, before* kinds and on:count.
func ParseDepend(s string) (*DependRequest, error) {
	return parseDepend(s, ",", "depend="+s, false)
}

// ParseSlurmDepend parses sbatch --dependency: type:id[:id...] items
// separated by "," (all must hold) or "?" (one must), with Slurm's
// after, afterok, afternotok and afterany (an after:id+time delay and
// singleton are refused).
func ParseSlurmDepend(s string) (*DependRequest, error) {
	name := "--dependency=" + s
	if strings.Contains(s, ",") && strings.Contains(s, "?") {
		return nil, fmt.Errorf("%s: %w (',' and '?' cannot be mixed)", name, ErrBadDepend)
	}
	sep := ","
	if strings.Contains(s, "?") {
		sep = "?"
	}
	r, err := parseDepend(s, sep, name, true)
	if err != nil {
		return nil, err
	}
	if len(r.Before) > 0 || r.On > 0 {
		return nil, fmt.Errorf("%s: %w (Slurm has no before or on kinds)", name, ErrBadDepend)
	}
	r.Any = sep == "?"
	return r, nil
}

// slurmTask turns Slurm's id of an array task, N_I, into N[I].
func slurmTask(t string) string {
	if n, i, ok := strings.Cut(t, "_"); ok {
		return n + "[" + i + "]"
	}
	return t
}

func parseDepend(s, sep, name string, slurm bool) (*DependRequest, error) {
	r := &DependRequest{}
	if s == "" {
		return nil, fmt.Errorf("%s: %w (empty)", name, ErrBadDepend)
	}
	for _, item := range strings.Split(s, sep) {
		kindName, rest, ok := strings.Cut(item, ":")
		if !ok || rest == "" {
			if item == "singleton" {
				return nil, fmt.Errorf("%s: %w (singleton is not supported)", name, ErrBadDepend)
			}
			return nil, fmt.Errorf("%s: %w (%q: want type:jobid[:jobid...])", name, ErrBadDepend, item)
		}
		if kindName == "on" {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 1 || n > 10000 {
				return nil, fmt.Errorf("%s: %w (on:%s: want a count from 1 to 10000)", name, ErrBadDepend, rest)
			}
			r.On += n
			continue
		}
		kind, ok := parseDepKind(kindName)
		if !ok {
			return nil, fmt.Errorf("%s: %w (unknown type %q: want after, afterok, afternotok, afterany, before, beforeok, beforenotok, beforeany or on)",
				name, ErrBadDepend, kindName)
		}
		for _, t := range strings.Split(rest, ":") {
			if strings.Contains(t, "+") {
				return nil, fmt.Errorf("%s: %w (a delay after a job, %q, is not supported)", name, ErrBadDepend, t)
			}
			if slurm {
				t = slurmTask(t)
			}
			id, err := ParseID(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			c := Cond{Kind: kind, ID: id}
			if _, before := kind.After(); before {
				if id.IsSubjob() || id.IsArrayForm() {
					return nil, fmt.Errorf("%s: %w (%s on an array or subjob: PBS does not allow it)", name, ErrBadDepend, kind)
				}
				r.Before = append(r.Before, c)
			} else {
				r.Conds = append(r.Conds, c)
			}
		}
	}
	if len(r.Conds) > 1000 || len(r.Before) > 1000 {
		return nil, fmt.Errorf("%s: %w (more than 1000 jobs)", name, ErrBadDepend)
	}
	return r, nil
}
