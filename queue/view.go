package queue

import (
	"iter"

	memdb "github.com/hashicorp/go-memdb"

	"lazarus/jobs"
)

// View is a consistent, read-only snapshot of the store. Taking one is
// cheap (memdb is an immutable radix tree); values it returns are shared
// and must not be changed.
type View struct{ txn *memdb.Txn }

// View returns a snapshot of the current state.
func (s *Store) View() *View { return &View{txn: s.mem.Txn(false)} }

// Job returns a job, or nil.
func (v *View) Job(id jobs.ID) *jobs.Job {
	raw, err := v.txn.First(tableJobs, indexID, id)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*jobs.Job)
}

// WatchJob returns a job (or nil) and adds to ws a channel that is closed
// when the job changes or goes away.
func (v *View) WatchJob(ws memdb.WatchSet, id jobs.ID) *jobs.Job {
	ch, raw, err := v.txn.FirstWatch(tableJobs, indexID, id)
	if err != nil {
		return nil
	}
	ws.Add(ch)
	if raw == nil {
		return nil
	}
	return raw.(*jobs.Job)
}

// Jobs iterates over all jobs in id order.
func (v *View) Jobs() iter.Seq[*jobs.Job] { return v.jobs(indexID) }

// JobsInState iterates over the jobs in one state, in id order.
func (v *View) JobsInState(st jobs.State) iter.Seq[*jobs.Job] { return v.jobs(indexState, st) }

// JobsOf iterates over one user's jobs, in id order.
func (v *View) JobsOf(uid uint32) iter.Seq[*jobs.Job] { return v.jobs(indexOwner, uid) }

// QueueCounts counts jobs by queue and state. It walks every job.
func (v *View) QueueCounts() map[string]map[jobs.State]int {
	out := map[string]map[jobs.State]int{}
	for j := range v.Jobs() {
		m := out[j.Queue]
		if m == nil {
			m = map[jobs.State]int{}
			out[j.Queue] = m
		}
		m[j.State]++
	}
	return out
}

// Unended iterates over the jobs that have not ended (any state but
// finished and failed), state by state.
func (v *View) Unended() iter.Seq[*jobs.Job] {
	return func(yield func(*jobs.Job) bool) {
		for _, st := range jobs.States {
			if st.Terminal() {
				continue
			}
			for j := range v.JobsInState(st) {
				if !yield(j) {
					return
				}
			}
		}
	}
}

// Pending iterates over the jobs of a queue that wait to run (queued or
// requeued), in submission order.
func (v *View) Pending(queue string) iter.Seq[*jobs.Job] { return v.jobs(indexPending, queue) }

// Active returns the jobs that have a supervisor (running, exiting,
// checkpointing), in id order within each state.
func (v *View) Active() []*jobs.Job {
	var out []*jobs.Job
	for _, st := range jobs.States {
		if st.Active() {
			for j := range v.JobsInState(st) {
				out = append(out, j)
			}
		}
	}
	return out
}

func (v *View) jobs(index string, args ...any) iter.Seq[*jobs.Job] {
	return func(yield func(*jobs.Job) bool) {
		it, err := v.txn.Get(tableJobs, index, args...)
		if err != nil {
			return // only a wrong index name or argument type; tests cover every call
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if !yield(raw.(*jobs.Job)) {
				return
			}
		}
	}
}

// Queue returns a queue, or nil.
func (v *View) Queue(name string) *Queue {
	raw, err := v.txn.First(tableQueues, indexID, name)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*Queue)
}

// Queues returns every queue, by name.
func (v *View) Queues() []*Queue {
	it, err := v.txn.Get(tableQueues, indexID)
	if err != nil {
		return nil
	}
	var out []*Queue
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*Queue))
	}
	return out
}
