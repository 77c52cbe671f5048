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
