package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/internal/proto"
)

// Incremental generations: with checkpoint_full_every = 3 (and
// checkpoint_keep = 3: no merge, batch_merge_test.go), qchkpnt takes
// a self-contained generation, then two that hold what changed since the
// one before; qstat -f says which is which. A power cut while the newest
// is incremental: the job restarts from it, through its chain, and ends
// as an uninterrupted run would.
func TestBatchCkptIncrementalPowerCut(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "checkpoint_full_every = 3\ncheckpoint_keep = 3\n")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("incr", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 15)
	for i := 0; i < 3; i++ {
		b.mustRun("qchkpnt", jobArg(id))
		b.waitLines(out, fileLines(out)+5)
	}
	j := b.job(id)
	// Generation 3 needs 2, which needs 1.
	if got := gens(j); got != "3<2 2<1 1" {
		t.Fatalf("generations %s (N<parent), want 3<2 2<1 1: %+v", got, j.Checkpoints)
	}
	if f := b.mustRun("qstat", "-c", "-f", jobArg(id)); !strings.Contains(f, "incremental on generation 2") || !strings.Contains(f, ", full") {
		t.Errorf("qstat -f does not say which generations are incremental:\n%s", f)
	}
	b.waitLines(out, fileLines(out)+10)
	b.crash()
	b.start()
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart || j.Segments[1].Generation != 3 {
		t.Fatalf("job after the power cut: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}

// Periodic checkpoints are incremental between self-contained ones every
// checkpoint_full_every; pruning deletes a generation only once no kept
// one needs it, or the kept one is merged (batch_merge_test.go).
func TestBatchCkptIncrementalPeriodic(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, ckptConf+"checkpoint_full_every = 2\ncheckpoint_keep = 1\n")
	const steps, bodies = 6000, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("periodic", steps, bodies, "-c", "1")
	var j proto.JobInfo
	b.waitFor("a fourth periodic checkpoint", func() bool {
		j = b.job(id)
		if j.State == "finished" || j.State == "failed" {
			t.Fatalf("the job ended before its fourth checkpoint: %+v", j)
		}
		return len(j.Checkpoints) > 0 && j.Checkpoints[0].N >= 4
	})
	kept := map[int]bool{}
	incremental := false
	for _, g := range j.Checkpoints {
		kept[g.N] = true
	}
	for _, g := range j.Checkpoints {
		if g.Parent != 0 {
			incremental = true
			if !kept[g.Parent] {
				t.Errorf("generation %d needs %d, not kept: %s", g.N, g.Parent, gens(j))
			}
		}
		// A newer checkpoint may have pruned it since j was read: only a
		// generation still recorded must have its image.
		if _, err := os.Stat(g.Image); err != nil && recorded(b.job(id), g.N) {
			t.Errorf("generation %d: %v", g.N, err)
		}
	}
	// At most two: the newest, and the full one it may need.
	if len(j.Checkpoints) > 2 || (len(j.Checkpoints) == 2 && j.Checkpoints[0].Parent != j.Checkpoints[1].N) {
		t.Errorf("generations %s, want the newest and what it needs", gens(j))
	}
	b.waitFor("generation 1 to be deleted", func() bool {
		_, err := os.Stat(filepath.Join(b.home, "spool", jobArg(id)+".ckpt", "1"))
		return os.IsNotExist(err)
	})
	j = b.waitState(id, "finished", "failed")
	for _, g := range j.Checkpoints {
		incremental = incremental || g.Parent != 0
	}
	// keep 1: an incremental generation is merged once recorded.
	incremental = incremental || strings.Contains(b.log(), "generation merged")
	if !incremental {
		t.Errorf("no periodic generation was incremental")
	}
	if j.State != "finished" {
		t.Fatalf("job: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}

// gens lists a job's generations as N<PARENT (or N for a full one).
func gens(j proto.JobInfo) string {
	var s []string
	for _, g := range j.Checkpoints {
		if g.Parent != 0 {
			s = append(s, fmt.Sprintf("%d<%d", g.N, g.Parent))
		} else {
			s = append(s, fmt.Sprint(g.N))
		}
	}
	return strings.Join(s, " ")
}

// recorded reports whether j still records generation n.
func recorded(j proto.JobInfo, n int) bool {
	for _, g := range j.Checkpoints {
		if g.N == n {
			return true
		}
	}
	return false
}
