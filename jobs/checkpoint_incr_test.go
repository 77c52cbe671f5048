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

// TestToMergeMerged: the merge policy. Kept points keep their chains as
// they are; a merge happens only when a chain is longer than fullEvery
// (lowered since) or the kept generations hold more than keep+1 full
// images; once merged, the generations only the merged one needed go.
func TestToMergeMerged(t *testing.T) {
	now := time.Now()
	const F, d = 100, 5 // a full image's size, a 5% change's
	for _, tc := range []struct {
		name      string
		parents   []int   // parent of generation i+1 (0: full)
		sizes     []int64 // size of generation i+1 (nil: d, F for full ones)
		bad       []int
		keep      int
		fullEvery int
		merge     []int
		kept      []int // after every merge
	}{
		{"chain kept whole", []int{0, 1, 2, 3, 4, 5}, nil, nil, 2, 8, nil, []int{6, 5, 4, 3, 2, 1}},
		{"keep one, chain kept", []int{0, 1, 2}, nil, nil, 1, 8, nil, []int{3, 2, 1}},
		{"new full frees the chain", []int{0, 1, 2, 3, 0, 5}, nil, nil, 2, 8, nil, []int{6, 5}},
		{"new full, previous point kept", []int{0, 1, 2, 3, 0}, nil, nil, 2, 8, nil, []int{5, 4, 3, 2, 1}},
		{"all full", []int{0, 0, 0}, nil, nil, 2, 8, nil, []int{3, 2}},
		{"full_every lowered", []int{0, 1, 2, 3, 4, 5}, nil, nil, 2, 3, []int{5}, []int{6, 5}},
		{"full_every lowered, keep one", []int{0, 1, 2, 3}, nil, nil, 1, 2, []int{4}, []int{4}},
		{"full_every 1 merges chains", []int{0, 1}, nil, nil, 2, 1, []int{1 + 1}, []int{2, 1}},
		// 60% of the pages change each time: 100+60+60 = 220 > 2*100.
		{"disk bound", []int{0, 1, 2}, []int64{F, 60, 60}, nil, 1, 8, []int{3}, []int{3}},
		{"under the disk bound", []int{0, 1, 2}, []int64{F, 40, 40}, nil, 1, 8, nil, []int{3, 2, 1}},
		// Two points over 3 full images: the older one is merged first,
		// which is enough.
		{"disk bound, oldest first", []int{0, 1, 2, 3, 4}, []int64{F, 70, 70, 70, 70}, nil, 2, 8, []int{4}, []int{5, 4}},
		// 5 is bad: the two newest good ones are 6 and 4; 6 needs 5.
		{"bad between", []int{0, 1, 2, 3, 4, 5}, nil, []int{5}, 2, 3, []int{4}, []int{6, 5, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Job{State: Running}
			for i, p := range tc.parents {
				size := int64(d)
				if p == 0 {
					size = F
				}
				if tc.sizes != nil {
					size = tc.sizes[i]
				}
				j.CheckpointDone(Generation{N: i + 1, Time: now, Parent: p, Size: size}, tc.keep, now)
			}
			for i := range j.Checkpoints {
				if slices.Contains(tc.bad, j.Checkpoints[i].N) {
					j.Checkpoints[i].Bad = "restart failed"
				}
			}
			merge := j.ToMerge(tc.keep, tc.fullEvery)
			if !slices.Equal(merge, tc.merge) {
				t.Fatalf("to merge %v, want %v", merge, tc.merge)
			}
			for _, n := range merge {
				if _, ok := j.Merged(n, F, tc.keep); !ok {
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
			if n := j.ToMerge(tc.keep, tc.fullEvery); len(n) != 0 {
				t.Errorf("still to merge: %v", n)
			}
			if _, ok := j.Merged(99, 0, tc.keep); ok {
				t.Error("Merged of a generation the job does not have")
			}
		})
	}
}

// TestServingPinned: while a run restarted lazily is served from a
// generation, that generation and its chain are neither merged nor
// pruned; the first generation the run records (taken once every page was
// in) lets them go, and so does the end of the run.
func TestServingPinned(t *testing.T) {
	t0 := time.Now().Round(0)
	build := func(t *testing.T) *Job {
		t.Helper()
		j := &Job{ID: 7, State: Queued}
		if err := j.Start(t0); err != nil {
			t.Fatal(err)
		}
		for i, p := range []int{0, 1, 2, 3} {
			j.State = Running
			j.CheckpointDone(Generation{N: i + 1, Time: t0.Add(time.Duration(i+1) * time.Minute), Parent: p, Size: 100}, 2, t0)
		}
		if err := j.Requeue(Result{End: t0.Add(time.Hour), ExitCode: -1}, "power cut", false); err != nil {
			t.Fatal(err)
		}
		// Restarted lazily from 3: 4 is superseded.
		if err := j.RestoreLazy(3, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		return j
	}
	gensOf := func(j *Job) (out []int) {
		for _, g := range j.Checkpoints {
			out = append(out, g.N)
		}
		return out
	}
	t.Run("not merged nor pruned", func(t *testing.T) {
		j := build(t)
		if n := j.Serving(); n != 3 {
			t.Fatalf("serving %d, want 3", n)
		}
		// full_every lowered to 2: 3's chain of 3 would be merged.
		if m := j.ToMerge(1, 2); len(m) != 0 {
			t.Errorf("to merge %v while 3 is served", m)
		}
		dropped := j.prune(1)
		if got := gensOf(j); !slices.Equal(got, []int{3, 2, 1}) {
			t.Errorf("kept %v while 3 is served, want [3 2 1]", got)
		}
		if len(dropped) != 1 || dropped[0].N != 4 {
			t.Errorf("dropped %v, want the superseded 4", dropped)
		}
	})
	t.Run("released by the run's generation", func(t *testing.T) {
		j := build(t)
		j.State = Running
		dropped := j.CheckpointDone(Generation{N: 5, Time: t0.Add(3 * time.Hour), Size: 100}, 1, t0)
		if n := j.Serving(); n != 0 {
			t.Errorf("still serving %d after the run's own generation", n)
		}
		if got := gensOf(j); !slices.Equal(got, []int{5}) {
			t.Errorf("kept %v, want [5]", got)
		}
		if len(dropped) != 4 {
			t.Errorf("dropped %v, want 4 3 2 1", dropped)
		}
	})
	t.Run("released by the end of the run", func(t *testing.T) {
		j := build(t)
		if err := j.End(Result{End: t0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if n := j.Serving(); n != 0 {
			t.Errorf("serving %d after the run ended", n)
		}
		if m := j.ToMerge(1, 2); !slices.Equal(m, []int{3}) {
			t.Errorf("to merge %v, want [3]", m)
		}
	})
	t.Run("not lazy", func(t *testing.T) {
		j := build(t)
		j.Segments[len(j.Segments)-1].Lazy = false
		if n := j.Serving(); n != 0 {
			t.Errorf("serving %d for a run not restarted lazily", n)
		}
	})
}
