package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// restart_lazy: a job restarted after a power cut comes back lazily (its
// supervisor serves its pages, the log says when every one is in) and
// ends as an uninterrupted run would. A checkpoint asked for at once
// waits until every page is in; the lazily restored run has no tracker,
// so its first checkpoint is self-contained (and arms one), the next is
// incremental on it; the generation the run was served from is kept
// until the run's first generation is recorded.
func TestBatchRestartLazy(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "restart_lazy = true\ncheckpoint_keep = 1\n")
	const steps, bodies = 6000, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("lazy", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 15)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitLines(out, fileLines(out)+10)
	b.crash()
	b.start()
	b.waitFor("the lazy restart", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 2
	})
	if got := gens(b.job(id)); got != "1" {
		t.Fatalf("generations %s while served from 1, want 1", got)
	}
	b.mustRun("qchkpnt", jobArg(id))
	if got := gens(b.job(id)); got != "2" {
		t.Errorf("the lazily restored run's first checkpoint: generations %s, want 2 (self-contained, 1 pruned)", got)
	}
	b.waitLines(out, fileLines(out)+5)
	b.mustRun("qchkpnt", jobArg(id))
	if got := gens(b.job(id)); got != "3<2 2" {
		t.Errorf("the next checkpoint: generations %s, want 3<2 2 (incremental)", got)
	}
	// The supervisor's log (in the job's run directory, while it runs).
	b.waitFor("the lazy restore's pages all in", func() bool {
		logs, _ := filepath.Glob(filepath.Join(b.home, "run", "*", "supervisor.log"))
		for _, l := range logs {
			if strings.Contains(b.readFile(l), "lazy restore: every page is in") {
				return true
			}
		}
		return false
	})
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after the power cut: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}
