package scheduler

import (
	"iter"
	"slices"
	"testing"
	"time"

	"lazarus/jobs"
)

var now = time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

type job struct {
	id    jobs.ID
	queue string
	uid   uint32
	ncpus int
	mem   int64
	after time.Duration
	prio  int // qsub -p
}

func (j job) build(st jobs.State) *jobs.Job {
	n := j.ncpus
	if n == 0 {
		n = 1
	}
	out := &jobs.Job{ID: j.id, Queue: j.queue, State: st, Owner: jobs.Owner{UID: j.uid},
		Resources: jobs.Resources{NCPUs: n, Mem: j.mem}, Attrs: jobs.Attributes{Priority: j.prio}}
	if j.after != 0 {
		out.After = now.Add(j.after)
	}
	return out
}

func snapshot(limits Limits, queues []Queue, running, pending []job) Snapshot {
	s := Snapshot{Now: now, Limits: limits, Queues: queues}
	for _, j := range running {
		s.Running = append(s.Running, j.build(jobs.Running))
	}
	var all []*jobs.Job
	for _, j := range pending {
		all = append(all, j.build(jobs.Queued))
	}
	slices.SortFunc(all, func(a, b *jobs.Job) int { return int(a.ID) - int(b.ID) })
	s.Pending = func(q string) iter.Seq[*jobs.Job] {
		return func(yield func(*jobs.Job) bool) {
			for _, j := range all {
				if j.Queue == q && !yield(j) {
					return
				}
			}
		}
	}
	return s
}

func TestSchedule(t *testing.T) {
	batch := Queue{Name: "batch", Started: true}
	express := Queue{Name: "express", Priority: 10, Started: true}
	other := Queue{Name: "other", Started: true}
	tests := []struct {
		name     string
		limits   Limits
		queues   []Queue
		running  []job
		pending  []job
		want     []jobs.ID
		wantWake time.Duration
	}{
		{
			name:    "submission order fills the slots",
			limits:  Limits{Slots: 2},
			queues:  []Queue{batch},
			pending: []job{{id: 3, queue: "batch"}, {id: 1, queue: "batch"}, {id: 2, queue: "batch"}},
			want:    []jobs.ID{1, 2},
		},
		{
			name:    "higher priority queue first",
			limits:  Limits{Slots: 2},
			queues:  []Queue{batch, express},
			pending: []job{{id: 1, queue: "batch"}, {id: 2, queue: "batch"}, {id: 3, queue: "express"}},
			want:    []jobs.ID{3, 1},
		},
		{
			name:    "equal priority queues merge by submission",
			limits:  Limits{Slots: 8},
			queues:  []Queue{other, batch},
			pending: []job{{id: 4, queue: "other"}, {id: 1, queue: "batch"}, {id: 2, queue: "other"}, {id: 3, queue: "batch"}},
			want:    []jobs.ID{1, 2, 3, 4},
		},
		{
			name:    "job priority first within a queue, then submission",
			limits:  Limits{Slots: 3},
			queues:  []Queue{batch},
			pending: []job{{id: 1, queue: "batch"}, {id: 2, queue: "batch", prio: 5}, {id: 3, queue: "batch", prio: -3}, {id: 4, queue: "batch", prio: 5}},
			want:    []jobs.ID{2, 4, 1},
		},
		{
			name:    "job priority orders merged queues of one priority",
			limits:  Limits{Slots: 2},
			queues:  []Queue{other, batch},
			pending: []job{{id: 1, queue: "batch"}, {id: 2, queue: "other", prio: 1023}, {id: 3, queue: "batch", prio: -1024}},
			want:    []jobs.ID{2, 1},
		},
		{
			name:    "queue priority beats job priority",
			limits:  Limits{Slots: 1},
			queues:  []Queue{batch, express},
			pending: []job{{id: 1, queue: "batch", prio: 1023}, {id: 2, queue: "express"}},
			want:    []jobs.ID{2},
		},
		{
			name:    "a high priority job waiting for room stops the pass",
			limits:  Limits{Slots: 3},
			queues:  []Queue{batch},
			running: []job{{id: 9, queue: "batch"}},
			pending: []job{{id: 1, queue: "batch"}, {id: 2, queue: "batch", prio: 9, ncpus: 3}},
			want:    nil,
		},
		{
			name:    "stopped queue runs nothing",
			limits:  Limits{Slots: 8},
			queues:  []Queue{{Name: "batch"}, other},
			pending: []job{{id: 1, queue: "batch"}, {id: 2, queue: "other"}},
			want:    []jobs.ID{2},
		},
		{
			name:    "running jobs use slots",
			limits:  Limits{Slots: 4},
			queues:  []Queue{batch},
			running: []job{{id: 1, queue: "batch", ncpus: 3}},
			pending: []job{{id: 2, queue: "batch"}, {id: 3, queue: "batch"}},
			want:    []jobs.ID{2},
		},
		{
			name:    "no backfill past a job waiting for room",
			limits:  Limits{Slots: 4},
			queues:  []Queue{batch},
			running: []job{{id: 1, queue: "batch", ncpus: 2}},
			pending: []job{{id: 2, queue: "batch", ncpus: 4}, {id: 3, queue: "batch", ncpus: 1}},
			want:    nil,
		},
		{
			name:    "a job too big for the machine holds nobody back",
			limits:  Limits{Slots: 4, Memory: 1 << 30},
			queues:  []Queue{batch},
			pending: []job{{id: 1, queue: "batch", ncpus: 5}, {id: 2, queue: "batch", mem: 2 << 30}, {id: 3, queue: "batch"}},
			want:    []jobs.ID{3},
		},
		{
			name:    "memory is scheduled",
			limits:  Limits{Slots: 8, Memory: 4 << 30},
			queues:  []Queue{batch},
			running: []job{{id: 1, queue: "batch", mem: 3 << 30}},
			pending: []job{{id: 2, queue: "batch", mem: 2 << 30}, {id: 3, queue: "batch", mem: 1 << 30}},
			want:    nil,
		},
		{
			name:    "memory not scheduled when zero",
			limits:  Limits{Slots: 8},
			queues:  []Queue{batch},
			pending: []job{{id: 2, queue: "batch", mem: 64 << 30}},
			want:    []jobs.ID{2},
		},
		{
			name:    "queue max_running",
			limits:  Limits{Slots: 8},
			queues:  []Queue{{Name: "batch", Started: true, MaxRunning: 2}, other},
			running: []job{{id: 1, queue: "batch"}},
			pending: []job{{id: 2, queue: "batch"}, {id: 3, queue: "batch"}, {id: 4, queue: "other"}},
			want:    []jobs.ID{2, 4},
		},
		{
			name:    "queue max_user_running",
			limits:  Limits{Slots: 8},
			queues:  []Queue{{Name: "batch", Started: true, MaxUserRunning: 1}},
			pending: []job{{id: 1, queue: "batch", uid: 5}, {id: 2, queue: "batch", uid: 5}, {id: 3, queue: "batch", uid: 6}},
			want:    []jobs.ID{1, 3},
		},
		{
			name:    "server max_user_running spans queues",
			limits:  Limits{Slots: 8, MaxUserRunning: 2},
			queues:  []Queue{batch, other},
			running: []job{{id: 1, queue: "other", uid: 5}},
			pending: []job{{id: 2, queue: "batch", uid: 5}, {id: 3, queue: "batch", uid: 5}, {id: 4, queue: "batch", uid: 6}},
			want:    []jobs.ID{2, 4},
		},
		{
			name:    "server max_running",
			limits:  Limits{Slots: 8, MaxRunning: 3},
			queues:  []Queue{batch},
			running: []job{{id: 1, queue: "batch"}},
			pending: []job{{id: 2, queue: "batch"}, {id: 3, queue: "batch"}, {id: 4, queue: "batch"}},
			want:    []jobs.ID{2, 3},
		},
		{
			name:     "deferred jobs wait and set the wake time",
			limits:   Limits{Slots: 8},
			queues:   []Queue{batch},
			pending:  []job{{id: 1, queue: "batch", after: time.Hour}, {id: 2, queue: "batch", after: time.Minute}, {id: 3, queue: "batch", after: -time.Minute}},
			want:     []jobs.ID{3},
			wantWake: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Schedule(snapshot(tt.limits, tt.queues, tt.running, tt.pending))
			var got []jobs.ID
			for _, j := range plan.Start {
				got = append(got, j.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("start = %v, want %v", got, tt.want)
			}
			var wantWake time.Time
			if tt.wantWake != 0 {
				wantWake = now.Add(tt.wantWake)
			}
			if !plan.Wake.Equal(wantWake) {
				t.Errorf("wake = %v, want %v", plan.Wake, wantWake)
			}
		})
	}
}

// A pass over many pending jobs that cannot start must stay cheap: with a
// user at their limit, every job of theirs is looked at and passed over.
func BenchmarkScheduleBlockedUser(b *testing.B) {
	var pending []job
	for i := range 100_000 {
		pending = append(pending, job{id: jobs.ID(i + 10), queue: "batch", uid: 5})
	}
	s := snapshot(Limits{Slots: 64, MaxUserRunning: 1}, []Queue{{Name: "batch", Started: true}},
		[]job{{id: 1, queue: "batch", uid: 5}}, pending)
	for b.Loop() {
		Schedule(s)
	}
}
