package integration

// The site's checkpoint hooks on a real daemon: checkpoint_prologue runs
// before the engine freezes the job, checkpoint_epilogue after it, with
// PBS-style arguments; a prologue that fails, times out or is refused
// means no checkpoint, and the job runs on. And the epilogue of a run that
// maintenance stopped and requeued.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBatchCheckpointPrologue(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "pelog_timeout = 2s\n")
	w := b.work
	// The prologue says whether the generation's image exists yet (it
	// must not), and can be made to fail or hang; the epilogue says
	// whether it does (it must, after a good checkpoint).
	proArgs := b.pelog("checkpoint_prologue", `[ -e "$5/job" ] && echo image-before >> `+w+`/order
[ -e `+w+`/refuse ] && { echo not now; exit 2; }
[ -e `+w+`/hang ] && sleep 60
touch `+w+`/quiesced
exit 0
`, 0o700)
	epiArgs := b.pelog("checkpoint_epilogue", `[ -e "$5/job" ] && echo image-after >> `+w+`/order
rm -f `+w+`/quiesced
exit 0
`, 0o700)
	ticks := filepath.Join(w, "ticks")
	id := b.qsub("-N", "hooked", b.script("loop.sh", "#!/bin/sh\nwhile [ ! -e "+w+"/go ]; do echo t >> "+ticks+"; sleep 0.2; done\n"))
	b.waitFor("the job to run", func() bool { return fileLines(ticks) > 2 })

	// A checkpoint: prologue, image, epilogue.
	if r := b.run("qchkpnt", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt with the hooks: %v", r)
	}
	j := b.job(id)
	pro := strings.Fields(b.readFile(proArgs))
	if len(pro) != 8 || pro[0] != jobArg(id) || pro[1] != "root" || pro[2] != "root" || pro[3] != "1" ||
		pro[4] != j.Checkpoints[0].Dir || pro[5] != jobArg(uint64(j.Session)) || pro[6] != "root" || pro[7] != "continue" {
		t.Errorf("checkpoint_prologue arguments %q, want id, user, group, generation 1, %s, session %d, root, continue",
			pro, j.Checkpoints[0].Dir, j.Session)
	}
	epi := strings.Fields(b.readFile(epiArgs))
	if len(epi) != 9 || strings.Join(epi[:8], " ") != strings.Join(pro, " ") || epi[8] != "0" {
		t.Errorf("checkpoint_epilogue arguments %q, want the prologue's and 0", epi)
	}
	if order := b.readFile(filepath.Join(w, "order")); order != "image-after\n" {
		t.Errorf("the hooks saw the image %q, want only the epilogue to see it", order)
	}
	if _, err := os.Stat(filepath.Join(w, "quiesced")); err == nil {
		t.Error("the epilogue did not undo what the prologue did")
	}

	// A prologue that fails: no checkpoint, the job runs on, the history
	// and the log say why; the epilogue is told it failed.
	os.WriteFile(filepath.Join(w, "refuse"), nil, 0o644)
	r := b.run("qchkpnt", jobArg(id))
	if r.code == 0 || !strings.Contains(r.stderr, "checkpoint_prologue") || !strings.Contains(r.stderr, "not now") ||
		!strings.Contains(r.stderr, "runs on") {
		t.Errorf("qchkpnt with a failing checkpoint_prologue: %v", r)
	}
	j = b.job(id)
	if j.State != "running" || len(j.Checkpoints) != 1 || !strings.Contains(j.CheckpointError, "checkpoint_prologue") {
		t.Errorf("after a refused checkpoint: %s, %d generations, error %q", j.State, len(j.Checkpoints), j.CheckpointError)
	}
	if !strings.Contains(b.log(), "checkpoint failed; the job runs on") {
		t.Error("the daemon's log does not say the checkpoint failed")
	}
	if last := lastFields(b.readFile(epiArgs)); len(last) != 9 || last[3] != "2" || last[8] != "1" {
		t.Errorf("checkpoint_epilogue after a failed prologue: %q, want generation 2 and 1", last)
	}
	n := fileLines(ticks)
	b.waitFor("the job to go on", func() bool { return fileLines(ticks) > n })

	// Maintenance: not checkpointed, left running (no deadline).
	out := b.run("qmgr", "-c", "requeue all")
	if !strings.Contains(out.stdout+out.stderr, "checkpoint_prologue") || !strings.Contains(out.stdout, "left running") {
		t.Errorf("requeue all with a failing checkpoint_prologue: %v", out)
	}
	b.mustRun("qmgr", "-c", "start scheduling")
	if j := b.job(id); j.State != "running" || len(j.Segments) != 1 {
		t.Errorf("after requeue all: %s, %d runs", j.State, len(j.Segments))
	}
	os.Remove(filepath.Join(w, "refuse"))

	// One that hangs is killed at pelog_timeout: no checkpoint.
	os.WriteFile(filepath.Join(w, "hang"), nil, 0o644)
	if r := b.run("qchkpnt", jobArg(id)); r.code == 0 || !strings.Contains(r.stderr, "timed out") {
		t.Errorf("qchkpnt with a hanging checkpoint_prologue: %v", r)
	}
	os.Remove(filepath.Join(w, "hang"))

	// One others may change is refused, and not run (nor its epilogue).
	epis := fileLines(epiArgs)
	os.Chmod(filepath.Join(b.home, "checkpoint_prologue"), 0o720)
	if r := b.run("qchkpnt", jobArg(id)); r.code == 0 || !strings.Contains(r.stderr, "permission error") {
		t.Errorf("qchkpnt with a group-writable checkpoint_prologue: %v", r)
	}
	if fileLines(epiArgs) != epis {
		t.Error("the checkpoint_epilogue ran after a refused prologue")
	}
	os.Chmod(filepath.Join(b.home, "checkpoint_prologue"), 0o700)

	// A checkpoint that stops the job: "stop"; it restarts from it.
	if r := b.run("qchkpnt", "-k", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt -k with the hooks: %v", r)
	}
	if last := lastFields(b.readFile(proArgs)); len(last) != 8 || last[7] != "stop" {
		t.Errorf("checkpoint_prologue of qchkpnt -k: %q", last)
	}
	b.waitFor("the restart", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 2
	})
	os.WriteFile(filepath.Join(w, "go"), nil, 0o644)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" || !j.Segments[1].Restart {
		t.Errorf("job after its checkpoints: %s %q, runs %+v", j.State, j.Reason, j.Segments)
	}
}

// lastFields splits the last line of s.
func lastFields(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Fields(lines[len(lines)-1])
}

// The epilogue runs after a run that maintenance checkpointed, stopped
// and requeued (with PBS's Exit_status of a checkpointed stop, -12), and
// after the run that ends the job.
func TestBatchEpilogueAfterMaintenance(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	epiArgs := b.pelog("epilogue", "exit 0\n", 0o700)
	ticks := filepath.Join(b.work, "ticks")
	// A job that starts no process while it waits: a sleep(1) ending
	// during the checkpoint fails it, and requeue all does not try again
	// (the checkpoint takes longer than a sleep 0.2 on a loaded machine).
	id := b.qsub("-A", "acct1", b.script("loop.sh", fmt.Sprintf(`#!/bin/sh
exec python3 -c '
import os, time
while not os.path.exists(%q):
    with open(%q, "a") as f:
        f.write("t\n")
    time.sleep(0.2)
'
`, filepath.Join(b.work, "go"), ticks)))
	b.waitFor("the job to run", func() bool { return fileLines(ticks) > 2 })
	out := b.mustRun("qmgr", "-c", "requeue all")
	if !strings.Contains(out, "requeued") {
		t.Fatalf("requeue all: %s", out)
	}
	b.waitFor("the epilogue of the stopped run", func() bool { return fileLines(epiArgs) == 1 })
	if epi := strings.Fields(b.readFile(epiArgs)); len(epi) != 10 || epi[0] != jobArg(id) || epi[9] != "-12" {
		t.Errorf("epilogue of a run stopped by maintenance: %q, want its exit status -12", epi)
	}
	if j := b.job(id); j.State != "requeued" {
		t.Errorf("job after requeue all: %s", j.State)
	}
	b.mustRun("qmgr", "-c", "start scheduling")
	b.waitFor("the restart", func() bool { return b.job(id).State == "running" })
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	b.waitState(id, "finished")
	b.waitFor("the epilogue of the last run", func() bool { return fileLines(epiArgs) == 2 })
	if last := lastFields(b.readFile(epiArgs)); len(last) != 10 || last[9] != "0" {
		t.Errorf("epilogue of the last run: %q", last)
	}
}

// A periodic checkpoint has its hooks too, "schedule" asking; a subjob's
// id is N[i].
func TestBatchCheckpointHookPeriodic(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, ckptConf)
	proArgs := b.pelog("checkpoint_prologue", "exit 0\n", 0o700)
	epiArgs := b.pelog("checkpoint_epilogue", "exit 0\n", 0o700)
	script := b.script("loop.sh", "#!/bin/sh\nwhile [ ! -e "+b.work+"/go ]; do sleep 0.2; done\n")
	id := b.qsubID("-J", "1-2", "-c", "1", script)
	b.waitFor("a periodic checkpoint's epilogue", func() bool { return fileLines(epiArgs) > 0 })
	pro := strings.Fields(strings.Split(b.readFile(proArgs), "\n")[0])
	if len(pro) != 8 || !strings.HasPrefix(pro[0], jobArg(uint64(id.Base()))+"[") || pro[6] != "schedule" || pro[7] != "continue" {
		t.Errorf("checkpoint_prologue of a periodic checkpoint of a subjob: %q", pro)
	}
	epi := strings.Fields(strings.Split(b.readFile(epiArgs), "\n")[0])
	if len(epi) != 9 || epi[6] != "schedule" || epi[8] != "0" {
		t.Errorf("checkpoint_epilogue of a periodic checkpoint: %q", epi)
	}
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	if arr := b.waitEnded(id); arr.State != "finished" {
		t.Errorf("array: %s %q", arr.State, arr.Reason)
	}
}
