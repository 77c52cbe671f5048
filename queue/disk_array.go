package queue

import (
	"fmt"
	"time"

	"lazarus/jobs"
)

// diskArray is an array job's subjobs (schema 4): its indices in the form
// jobs.ParseArray reads, and one state letter per subjob (jobs.Sub*), so
// that an array of 100,000 subjobs is one record of about 100 kB, not
// 100,000 records.
type diskArray struct {
	Spec   string `json:"spec"`
	States string `json:"states"`
	// When it began, and the worst end of its subjobs (jobs.Array);
	// absent in older records.
	Began time.Time `json:"began,omitzero"`
	Exit  int       `json:"exit,omitempty"`
}

// diskDepend is what a job waits for (schema 4).
type diskDepend struct {
	Conds   []diskCond `json:"conds,omitempty"`
	Any     bool       `json:"any,omitempty"`
	On      int        `json:"on,omitempty"`
	Waiting bool       `json:"waiting,omitempty"`
	Hold    string     `json:"hold,omitempty"`
}

type diskCond struct {
	Kind string `json:"kind"`
	ID   uint64 `json:"id"`
	Done bool   `json:"done,omitempty"`
}

func toDiskArray(a *jobs.Array) *diskArray {
	if a == nil {
		return nil
	}
	return &diskArray{Spec: a.Spec(), States: string(a.States), Began: a.Began, Exit: a.Exit}
}

func (d *diskArray) array() (*jobs.Array, error) {
	if d == nil {
		return nil, nil
	}
	a, err := jobs.ParseArray(d.Spec)
	if err != nil {
		return nil, err
	}
	if len(d.States) != a.Len() {
		return nil, fmt.Errorf("array %s: %d subjob states for %d subjobs", d.Spec, len(d.States), a.Len())
	}
	a.States = []byte(d.States)
	a.Began, a.Exit = d.Began, d.Exit
	return a, nil
}

func toDiskDepend(d *jobs.Depend) *diskDepend {
	if d == nil {
		return nil
	}
	out := &diskDepend{Any: d.Any, On: d.On, Waiting: d.Waiting, Hold: d.Hold}
	for _, c := range d.Conds {
		out.Conds = append(out.Conds, diskCond{Kind: string(c.Kind), ID: uint64(c.ID), Done: c.Done})
	}
	return out
}

func (d *diskDepend) depend() *jobs.Depend {
	if d == nil {
		return nil
	}
	out := &jobs.Depend{Any: d.Any, On: d.On, Waiting: d.Waiting, Hold: d.Hold}
	for _, c := range d.Conds {
		out.Conds = append(out.Conds, jobs.Cond{Kind: jobs.DepKind(c.Kind), ID: jobs.ID(c.ID), Done: c.Done})
	}
	return out
}
