// Package scheduler decides which waiting jobs start: Schedule takes a
// snapshot of the machine's limits, the queues, the running jobs and the
// pending jobs, and returns a Plan. It does no I/O and changes nothing;
// the daemon carries the plan out (and records each start before acting).
//
// The policy (NQS style):
//
//   - Queues are served by priority, highest first; jobs of queues with the
//     same priority, and jobs of one queue, by job priority (qsub -p),
//     highest first, then by place: submission order (job id), unless
//     qorder exchanged two jobs' places (Job.Place).
//   - Only started queues run jobs. Held jobs are not pending at all.
//   - A job waits while its qsub -a time is in the future; the plan says when
//     to look again. Such a job does not hold others back.
//   - A job whose queue or user is at a run limit (queue max_running,
//     queue max_user_running, server max_user_running) is passed over;
//     it does not hold others back either, since what stops it is not
//     shared with them.
//   - A job that asks for more than the machine has (ncpus > slots,
//     mem > memory) can never start and is passed over.
//   - A job that would fit the machine but not the slots and memory free now
//     stops the pass: nothing behind it starts before it (no backfill), so a
//     large job is not starved by a stream of small ones.
//   - The server max_running bounds running jobs overall.
//   - An array job stands for its subjobs that wait to start, in index
//     order, in the array's place: each is a job of the array's resources,
//     passed over once %max of the array's subjobs run. Only subjobs that
//     run (hold resources) count: one that was requeued, or held after a
//     checkpoint, waits like a subjob that has not started, and is itself
//     passed over while %max others run.
//   - Jobs held for their dependencies are held: Dependencies decides when
//     they are released, or deleted because they never can be.
package scheduler

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"lazarus/jobs"
)

// Limits are the machine-wide limits (from the configuration).
type Limits struct {
	Slots          int   // CPUs to hand out
	Memory         int64 // bytes to hand out; 0: memory is not scheduled
	MaxRunning     int   // 0: no limit
	MaxUserRunning int   // per user, all queues; 0: no limit
}

// Queue is what the scheduler needs to know of a queue.
type Queue struct {
	Name           string
	Priority       int
	Started        bool
	MaxRunning     int // 0: no limit
	MaxUserRunning int // 0: no limit
}

// Snapshot is the state Schedule decides on.
type Snapshot struct {
	Now     time.Time
	Limits  Limits
	Queues  []Queue
	Running []*jobs.Job // jobs that hold resources (state Active)
	// Pending iterates over a queue's jobs that wait to run, in submission
	// order.
	Pending func(queue string) iter.Seq[*jobs.Job]
	// Job looks a job up: the array of a subjob that waits to run again,
	// for its %max. Nil: no subjob record is held to a %max.
	Job func(jobs.ID) *jobs.Job
	// Cluster mode (place.go): the nodes that are up, and the fingerprints
	// of every node known (up or gone) by name. With Nodes nil, the
	// machine is one host of Limits.Slots and Limits.Memory; with Nodes
	// set, jobs are placed on them and Limits' slots and memory are not
	// used.
	Nodes []Node
	Known map[string]Fingerprint
}

// Plan is what the daemon should do.
type Plan struct {
	Start []*jobs.Job // jobs to start, in order
	Wake  time.Time   // when a deferred (qsub -a) job becomes eligible; zero: none
	// Exec is where each job of Start runs (cluster mode only).
	Exec map[jobs.ID][]jobs.Chunk
	// Never says, of each job reached by the pass that no node up could
	// ever take, why (NeverWhy: qstat's comment); Placeable lists those
	// reached that could (cluster mode only): a comment of an earlier pass
	// is then out of date.
	Never     map[jobs.ID]string
	Placeable []jobs.ID
	// Resume are suspended jobs asked to resume (ResumeWanted) whose CPUs
	// and memory are free again: the daemon resumes them. Until one fits,
	// no job starts (it would take what the suspended one waits for).
	Resume []*jobs.Job
}

type userQueue struct {
	uid   uint32
	queue string
}

type usage struct {
	slots   int
	mem     int64
	running int
	byUser  map[uint32]int
	byQueue map[string]int
	byUQ    map[userQueue]int
	byArray map[jobs.ID]int // running subjobs of each array
	load    Load            // cluster mode: per node
}

// add counts a running job. A suspended one holds no CPUs or memory:
// OpenPBS releases them to other jobs (its processes are stopped).
func (u *usage) add(j *jobs.Job) {
	if !j.IsSuspended() {
		u.addResources(j)
	}
	u.running++
	u.byUser[j.Owner.UID]++
	u.byQueue[j.Queue]++
	u.byUQ[userQueue{j.Owner.UID, j.Queue}]++
	if j.ID.IsSubjob() {
		u.byArray[j.ID.Base()]++
	}
}

// addResources counts what a job holds when it runs.
func (u *usage) addResources(j *jobs.Job) {
	u.slots += j.Resources.NCPUs
	u.mem += j.Resources.Mem
	if u.load != nil {
		u.load.add(j)
	}
}

// ResumeFits reports whether a suspended job's CPUs and memory are free
// for it to resume now, given what the running jobs hold.
func ResumeFits(s Snapshot, j *jobs.Job) bool {
	u := usage{byUser: map[uint32]int{}, byQueue: map[string]int{}, byUQ: map[userQueue]int{}, byArray: map[jobs.ID]int{}}
	if s.Nodes != nil {
		u.load = Load{}
	}
	for _, r := range s.Running {
		if r.ID != j.ID {
			u.add(r)
		}
	}
	return u.fits(&s, j)
}

// fits reports whether a suspended job fits what is free.
func (u *usage) fits(s *Snapshot, j *jobs.Job) bool {
	if s.Nodes == nil {
		return u.slots+j.Resources.NCPUs <= s.Limits.Slots &&
			(s.Limits.Memory == 0 || u.mem+j.Resources.Mem <= s.Limits.Memory)
	}
	seg, ok := j.Current()
	if !ok {
		return true
	}
	for _, c := range seg.Exec {
		i := slices.IndexFunc(s.Nodes, func(n Node) bool { return n.Name == c.Host })
		if i < 0 {
			continue // a node that is gone: nothing to wait for there
		}
		n, used := s.Nodes[i], u.load[c.Host]
		if used.slots+c.NCPUs > n.Slots || (n.Memory > 0 && used.mem+c.Mem > n.Memory) {
			return false
		}
	}
	return true
}

// Schedule returns the jobs to start now.
func Schedule(s Snapshot) Plan {
	u := usage{byUser: map[uint32]int{}, byQueue: map[string]int{}, byUQ: map[userQueue]int{}, byArray: map[jobs.ID]int{}}
	if s.Nodes != nil {
		u.load = Load{}
	}
	for _, j := range s.Running {
		u.add(j)
	}
	var plan Plan
	// Suspended jobs asked to resume come first, in the order they were
	// suspended; one that does not fit yet stops the pass.
	var resume []*jobs.Job
	for _, j := range s.Running {
		if j.IsSuspended() && j.ResumeWanted {
			resume = append(resume, j)
		}
	}
	slices.SortStableFunc(resume, func(a, b *jobs.Job) int { return a.Suspended.Compare(b.Suspended) })
	for _, j := range resume {
		if !u.fits(&s, j) {
			return plan
		}
		plan.Resume = append(plan.Resume, j)
		u.addResources(j)
	}
	queues := slices.Clone(s.Queues)
	slices.SortStableFunc(queues, func(a, b Queue) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Name, b.Name))
	})
	byName := map[string]Queue{}
	for _, q := range queues {
		byName[q.Name] = q
	}
	for group := range samePriority(queues) {
		for _, j := range byPriority(merged(group, s.Pending)) {
			if j.Array == nil {
				if j.ID.IsSubjob() && s.Job != nil {
					if a := s.Job(j.ID.Base()); a != nil && a.Array != nil && limitReached(a.Array.Max, u.byArray[a.ID]) {
						continue // %max of its array run: it waits, and holds back no one
					}
				}
				if consider(&s, &plan, &u, byName[j.Queue], j) == stop {
					return plan
				}
				continue
			}
			if j.State == jobs.Held {
				continue
			}
			for pos, st := range j.Array.States {
				if st != jobs.SubQueued {
					continue
				}
				if limitReached(j.Array.Max, u.byArray[j.ID]) {
					break
				}
				v := consider(&s, &plan, &u, byName[j.Queue], j.SubjobShell(j.Array.IndexAt(pos)))
				if v == stop {
					return plan
				}
				if v == pass {
					break // what holds this subjob back holds its array's others
				}
			}
		}
	}
	return plan
}

type verdict int

const (
	started verdict = iota // added to the plan
	pass                   // not now, but jobs behind it may start
	stop                   // nothing behind it starts
)

// consider decides on one job (or subjob) of the pass.
func consider(s *Snapshot, plan *Plan, u *usage, q Queue, j *jobs.Job) verdict {
	if limitReached(s.Limits.MaxRunning, u.running) {
		return stop
	}
	switch {
	case j.After.After(s.Now):
		if plan.Wake.IsZero() || j.After.Before(plan.Wake) {
			plan.Wake = j.After
		}
		return pass
	case limitReached(q.MaxRunning, u.byQueue[q.Name]),
		limitReached(q.MaxUserRunning, u.byUQ[userQueue{j.Owner.UID, q.Name}]),
		limitReached(s.Limits.MaxUserRunning, u.byUser[j.Owner.UID]):
		return pass
	case s.Nodes != nil:
		return placeOnNodes(s, plan, u, j)
	case j.Resources.NCPUs > s.Limits.Slots,
		s.Limits.Memory > 0 && j.Resources.Mem > s.Limits.Memory:
		return pass // can never fit; the daemon refuses such submissions
	case u.slots+j.Resources.NCPUs > s.Limits.Slots,
		s.Limits.Memory > 0 && u.mem+j.Resources.Mem > s.Limits.Memory:
		return stop // no backfill: nothing passes a job that waits for room
	}
	plan.Start = append(plan.Start, j)
	u.add(j)
	return started
}

// placeOnNodes is consider's end in cluster mode: the job is placed on
// nodes now, waits for room (stopping the pass), or is passed over when no
// node that is up could ever take it.
func placeOnNodes(s *Snapshot, plan *Plan, u *usage, j *jobs.Job) verdict {
	req := RequestOf(j, s.Known)
	cs, fit := Place(s.Nodes, u.load, req)
	switch fit {
	case Wait:
		plan.Placeable = append(plan.Placeable, j.ID)
		return stop
	case Never:
		if plan.Never == nil {
			plan.Never = map[jobs.ID]string{}
		}
		plan.Never[j.ID] = NeverWhy(s.Nodes, req)
		return pass
	}
	plan.Placeable = append(plan.Placeable, j.ID)
	if plan.Exec == nil {
		plan.Exec = map[jobs.ID][]jobs.Chunk{}
	}
	plan.Start = append(plan.Start, j)
	plan.Exec[j.ID] = cs
	u.add(j)
	u.load.hold(cs, RequestOf(j, nil).Place.Excl)
	return started
}

// byPriority orders jobs (given in id order) by job priority, highest
// first, then by place (submission order, unless qorder swapped them).
func byPriority(seq iter.Seq[*jobs.Job]) []*jobs.Job {
	js := slices.Collect(seq)
	slices.SortStableFunc(js, func(a, b *jobs.Job) int {
		return cmp.Or(cmp.Compare(b.Attrs.Priority, a.Attrs.Priority), cmp.Compare(a.Place(), b.Place()))
	})
	return js
}

func limitReached(limit, n int) bool { return limit > 0 && n >= limit }

// samePriority yields the started queues in groups of equal priority,
// highest first (queues must be sorted by priority).
func samePriority(queues []Queue) iter.Seq[[]Queue] {
	return func(yield func([]Queue) bool) {
		var group []Queue
		for _, q := range queues {
			if !q.Started {
				continue
			}
			if len(group) > 0 && group[0].Priority != q.Priority {
				if !yield(group) {
					return
				}
				group = nil
			}
			group = append(group, q)
		}
		if len(group) > 0 {
			yield(group)
		}
	}
}

// merged yields the pending jobs of several queues in id order.
func merged(group []Queue, pending func(string) iter.Seq[*jobs.Job]) iter.Seq[*jobs.Job] {
	if len(group) == 1 {
		return pending(group[0].Name)
	}
	return func(yield func(*jobs.Job) bool) {
		type head struct {
			job  *jobs.Job
			next func() (*jobs.Job, bool)
		}
		var heads []head
		for _, q := range group {
			next, stop := iter.Pull(pending(q.Name))
			defer stop()
			if j, ok := next(); ok {
				heads = append(heads, head{j, next})
			}
		}
		for len(heads) > 0 {
			i := 0
			for k := range heads {
				if heads[k].job.ID < heads[i].job.ID {
					i = k
				}
			}
			if !yield(heads[i].job) {
				return
			}
			if j, ok := heads[i].next(); ok {
				heads[i].job = j
			} else {
				heads = slices.Delete(heads, i, i+1)
			}
		}
	}
}
