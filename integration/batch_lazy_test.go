package integration

import (
	"strings"
	"testing"
)

// restart_lazy: a job restarted after a power cut comes back lazily (its
// supervisor serves its pages, the log says when every one is in) and
// ends as an uninterrupted run would.
func TestBatchRestartLazy(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, "restart_lazy = true\ncheckpoint_keep = 1\n")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("lazy", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 15)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitLines(out, fileLines(out)+10)
	b.crash()
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after the power cut: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if log := b.log(); !strings.Contains(log, "lazy restore: every page is in") {
		t.Errorf("the restart was not lazy (no word of its pages in the log):\n%s", log)
	}
}
