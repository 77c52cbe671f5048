package scheduler

import (
	"slices"
	"testing"
	"time"

	"lazarus/jobs"
)

// TestScheduleSuspended: a suspended job holds no CPUs or memory; one
// asked to resume resumes once they are free, before any job starts,
// and while it does not fit nothing starts.
func TestScheduleSuspended(t *testing.T) {
	batch := Queue{Name: "batch", Started: true}
	limits := Limits{Slots: 4, Memory: 4 << 30}
	tests := []struct {
		name       string
		running    []job
		suspended  map[jobs.ID]bool // suspended; true: resume wanted
		pending    []job
		wantStart  []jobs.ID
		wantResume []jobs.ID
	}{
		{"running holds its CPUs", []job{{id: 1, queue: "batch", ncpus: 4}}, nil,
			[]job{{id: 2, queue: "batch", ncpus: 2}}, nil, nil},
		{"suspended releases them", []job{{id: 1, queue: "batch", ncpus: 4, mem: 4 << 30}}, map[jobs.ID]bool{1: false},
			[]job{{id: 2, queue: "batch", ncpus: 4, mem: 4 << 30}}, []jobs.ID{2}, nil},
		{"resume waits for its CPUs and stops the pass",
			[]job{{id: 1, queue: "batch", ncpus: 4}, {id: 2, queue: "batch", ncpus: 2}}, map[jobs.ID]bool{1: true},
			[]job{{id: 3, queue: "batch", ncpus: 1}}, nil, nil},
		{"resume first, then what still fits",
			[]job{{id: 1, queue: "batch", ncpus: 2}, {id: 2, queue: "batch", ncpus: 1}}, map[jobs.ID]bool{1: true},
			[]job{{id: 3, queue: "batch", ncpus: 1}, {id: 4, queue: "batch", ncpus: 1}}, []jobs.ID{3}, []jobs.ID{1}},
		{"memory too", []job{{id: 1, queue: "batch", ncpus: 1, mem: 3 << 30}, {id: 2, queue: "batch", ncpus: 1, mem: 2 << 30}},
			map[jobs.ID]bool{1: true}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snapshot(limits, []Queue{batch}, tt.running, tt.pending)
			for i, j := range s.Running {
				if want, ok := tt.suspended[j.ID]; ok {
					j.Suspended = now.Add(-time.Duration(i+1) * time.Minute)
					j.ResumeWanted = want
				}
			}
			plan := Schedule(s)
			var started, resumed []jobs.ID
			for _, j := range plan.Start {
				started = append(started, j.ID)
			}
			for _, j := range plan.Resume {
				resumed = append(resumed, j.ID)
			}
			if !slices.Equal(started, tt.wantStart) || !slices.Equal(resumed, tt.wantResume) {
				t.Errorf("started %v, resumed %v; want %v, %v", started, resumed, tt.wantStart, tt.wantResume)
			}
			for _, j := range s.Running {
				if j.IsSuspended() {
					if got, want := ResumeFits(s, j), slices.Contains(tt.wantResume, j.ID); j.ResumeWanted && got != want {
						t.Errorf("ResumeFits(%d) = %v, want %v", j.ID, got, want)
					}
				}
			}
		})
	}
}
