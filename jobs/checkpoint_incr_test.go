package jobs

import (
	"slices"
	"testing"
	"time"
)

// TestCheckpointDoneKeepsParents: pruning never drops a generation a kept
// incremental one needs.
func TestCheckpointDoneKeepsParents(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		parents []int // parent of generation i+1 (0: full)
		keep    int
		kept    []int
		chain   int // ChainLength of the newest
	}{
		{"all full", []int{0, 0, 0, 0}, 2, []int{4, 3}, 1},
		{"chain", []int{0, 1, 2, 3}, 2, []int{4, 3, 2, 1}, 4},
		{"new full", []int{0, 1, 2, 0, 4}, 2, []int{5, 4}, 2},
		{"full in the middle", []int{0, 1, 0, 3, 4}, 1, []int{5, 4, 3}, 3},
		{"keep one full", []int{0, 0, 2}, 1, []int{3, 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Job{State: Running}
			for i, p := range tc.parents {
				j.CheckpointDone(Generation{N: i + 1, Time: now, Parent: p}, tc.keep, now)
			}
			var got []int
			for _, g := range j.Checkpoints {
				got = append(got, g.N)
			}
			if !slices.Equal(got, tc.kept) {
				t.Errorf("kept %v, want %v", got, tc.kept)
			}
			if n := j.ChainLength(got[0]); n != tc.chain {
				t.Errorf("chain of %d: %d, want %d", got[0], n, tc.chain)
			}
		})
	}
}

// TestToMergeMerged: the newest keep generations made against older ones
// are the ones to merge; once merged, the generations only they needed go.
func TestToMergeMerged(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		parents []int // parent of generation i+1 (0: full)
		bad     []int
		keep    int
		merge   []int
		kept    []int // after every merge
	}{
		{"chain of six", []int{0, 1, 2, 3, 4, 5}, nil, 2, []int{5}, []int{6, 5}},
		{"keep one", []int{0, 1, 2}, nil, 1, []int{3}, []int{3}},
		{"all full", []int{0, 0, 0}, nil, 2, nil, []int{3, 2}},
		{"short chain", []int{0, 1, 2}, nil, 3, nil, []int{3, 2, 1}},
		{"two chains", []int{0, 1, 2, 0, 4, 5}, nil, 2, []int{5}, []int{6, 5}},
		// 5 is bad: the two newest good ones are 6 and 4; 6 needs 5.
		{"bad between", []int{0, 1, 2, 3, 4, 5}, []int{5}, 2, []int{4, 6}, []int{6, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Job{State: Running}
			for i, p := range tc.parents {
				j.CheckpointDone(Generation{N: i + 1, Time: now, Parent: p}, tc.keep, now)
			}
			for i := range j.Checkpoints {
				if slices.Contains(tc.bad, j.Checkpoints[i].N) {
					j.Checkpoints[i].Bad = "restart failed"
				}
			}
			merge := j.ToMerge(tc.keep)
			if !slices.Equal(merge, tc.merge) {
				t.Fatalf("to merge %v, want %v", merge, tc.merge)
			}
			for _, n := range merge {
				if _, ok := j.Merged(n, 0, tc.keep); !ok {
					t.Fatalf("generation %d not found", n)
				}
			}
			var got []int
			for _, g := range j.Checkpoints {
				got = append(got, g.N)
			}
			if !slices.Equal(got, tc.kept) {
				t.Errorf("kept %v, want %v", got, tc.kept)
			}
			if n := j.ToMerge(tc.keep); len(n) != 0 {
				t.Errorf("still to merge: %v", n)
			}
			if _, ok := j.Merged(99, 0, tc.keep); ok {
				t.Error("Merged of a generation the job does not have")
			}
		})
	}
}
