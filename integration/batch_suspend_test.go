package integration

// qsig -s suspend / resume (and STOP / CONT): the job shows S, its
// processes are stopped, and a power cut restores it as its record says,
// whatever state its processes were in when its image was taken.

import (
	"strings"
	"testing"
)

// qstatLetter is the job's state letter in qstat's default table.
func (b *batch) qstatLetter(id uint64) string {
	b.t.Helper()
	out := b.mustRun("qstat", jobArg(id))
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasPrefix(f[0], jobArg(id)+".") {
			return f[4]
		}
	}
	b.t.Fatalf("qstat %d: no line of the job in %q", id, out)
	return ""
}

// TestBatchSuspendPowerCut suspends three checkpointed simulations in three
// orders (suspended then checkpointed; checkpointed running then stopped
// with STOP; checkpointed suspended then resumed), cuts the power, and
// checks that each comes back as qstat shows it: the suspended ones S and
// not advancing while the resumed one runs on, then, once resumed, all of
// them ending with the result of an uninterrupted run.
func TestBatchSuspendPowerCut(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "slots = 3\n")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	a, outA := b.nbodyJob("suspended-then-ckpt", steps, bodies)
	bb, outB := b.nbodyJob("ckpt-then-stopped", steps, bodies)
	c, outC := b.nbodyJob("suspended-ckpt-resumed", steps, bodies)
	for _, id := range []uint64{a, bb, c} {
		b.waitState(id, "running")
	}
	for _, out := range []string{outA, outB, outC} {
		b.waitLines(out, 10)
	}

	// A: suspended, then checkpointed (its image holds stopped processes).
	b.mustRun("qsig", "-s", "suspend", jobArg(a))
	if got := b.qstatLetter(a); got != "S" {
		t.Fatalf("after qsig -s suspend: qstat shows %s, want S", got)
	}
	if r := b.run("qsig", "-s", "suspend", jobArg(a)); r.code == 0 || !strings.Contains(r.stderr, "already suspended") {
		t.Errorf("a second suspend: %v", r)
	}
	b.mustRun("qchkpnt", jobArg(a))
	// B: checkpointed running, then stopped with STOP (its image predates it).
	b.mustRun("qchkpnt", jobArg(bb))
	b.mustRun("qsig", "-s", "STOP", jobArg(bb))
	// C: suspended, checkpointed, resumed (its image holds stopped processes).
	b.mustRun("qsig", "-s", "suspend", jobArg(c))
	b.mustRun("qchkpnt", jobArg(c))
	b.mustRun("qsig", "-s", "resume", jobArg(c))
	if r := b.run("qsig", "-s", "resume", jobArg(c)); r.code == 0 || !strings.Contains(r.stderr, "not suspended") {
		t.Errorf("resume of a job not suspended: %v", r)
	}
	if got := b.qstatLetter(c); got != "R" {
		t.Errorf("after qsig -s resume: qstat shows %s, want R", got)
	}
	if j := b.job(bb); !j.Suspended {
		t.Errorf("after qsig -s STOP the job is not recorded suspended: %+v", j)
	}

	b.crash()
	b.start()
	restored := func(id uint64) bool {
		j := b.job(id)
		n := len(j.Segments)
		return j.State == "running" && n >= 2 && j.Segments[n-1].Restart && j.Session > 0
	}
	for _, id := range []uint64{a, bb, c} {
		b.waitFor("the restore of job "+jobArg(id), func() bool { return restored(id) })
	}
	for _, id := range []uint64{a, bb} {
		if got := b.qstatLetter(id); got != "S" {
			t.Errorf("job %d restored after a power cut while suspended: qstat shows %s, want S", id, got)
		}
	}
	if got := b.qstatLetter(c); got != "R" {
		t.Errorf("job %d, resumed before the power cut, restored: qstat shows %s, want R", c, got)
	}
	// The resumed one advances while the suspended ones do not.
	na, nb := fileLines(outA), fileLines(outB)
	b.waitLines(outC, fileLines(outC)+20)
	if ga, gb := fileLines(outA), fileLines(outB); ga != na || gb != nb {
		t.Errorf("suspended jobs advanced after their restore: %d -> %d and %d -> %d lines", na, ga, nb, gb)
	}

	b.mustRun("qsig", "-s", "resume", jobArg(a))
	b.mustRun("qsig", "-s", "CONT", jobArg(bb))
	for _, id := range []uint64{a, bb} {
		if got := b.qstatLetter(id); got != "R" {
			t.Errorf("job %d after resume: qstat shows %s, want R", id, got)
		}
	}
	for _, id := range []uint64{a, bb, c} {
		if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
			t.Errorf("job %d: %s (%s)", id, j.State, j.Reason)
		}
	}
	for _, out := range []string{outA, outB, outC} {
		checkNbodyOutput(t, out, want)
	}
}

// TestBatchSuspendRights: suspend and resume are for operators (PBS's
// rule); an owner stops and continues a job with STOP and CONT, which show
// the same; another user can do neither.
func TestBatchSuspendRights(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	mine := b.qsubWith(as, b.script("mine.sh", "#!/bin/sh\nsleep 300\n"))
	id := b.qsub(b.script("sleep.sh", "#!/bin/sh\nsleep 300\n"))
	for _, j := range []uint64{mine, id} {
		b.waitState(j, "running")
		b.waitFor("its script", func() bool { return b.job(j).Session > 0 })
	}
	if r := b.runWith(as, "qsig", "-s", "suspend", jobArg(mine)); r.code == 0 || !strings.Contains(r.stderr, "operators") {
		t.Errorf("qsig -s suspend by the owner, not an operator: %v", r)
	}
	b.mustRunWith(as, "qsig", "-s", "STOP", jobArg(mine))
	if got := b.qstatLetter(mine); got != "S" {
		t.Errorf("after the owner's STOP: %s, want S", got)
	}
	if r := b.runWith(as, "qsig", "-s", "CONT", jobArg(id)); r.code == 0 || b.job(id).Suspended {
		t.Errorf("qsig -s CONT of root's job by nobody: %v", r)
	}
	if r := b.runWith(as, "qsig", "-s", "STOP", jobArg(id)); r.code == 0 || b.job(id).Suspended {
		t.Errorf("qsig -s STOP of root's job by nobody: %v", r)
	}
	b.mustRunWith(as, "qsig", "-s", "CONT", jobArg(mine))
	b.mustRun("qdel", jobArg(mine))
	b.mustRun("qsig", "-s", "STOP", jobArg(id))
	if got := b.qstatLetter(id); got != "S" {
		t.Errorf("after STOP: %s, want S", got)
	}
	out := b.mustRun("qstat", "-f", jobArg(id))
	if !strings.Contains(out, "job_state = S\n") || !strings.Contains(out, "substate = 43\n") {
		t.Errorf("qstat -f of a suspended job:\n%s", out)
	}
	if got := strings.TrimSpace(b.mustRun("qselect", "-s", "S")); got != jobArg(id)+".pbs" && !strings.HasPrefix(got, jobArg(id)+".") {
		t.Errorf("qselect -s S = %q", got)
	}
	b.mustRun("qsig", "-s", "CONT", jobArg(id))
	if got := b.qstatLetter(id); got != "R" {
		t.Errorf("after CONT: %s, want R", got)
	}
	if r := b.run("qsig", "-s", "admin-suspend", jobArg(id)); r.code == 0 || !strings.Contains(r.stderr, "maintenance") {
		t.Errorf("admin-suspend: %v", r)
	}
	b.mustRun("qdel", jobArg(id))
	b.waitState(id, "finished", "failed")
}

// mustRunWith is mustRun with options (another user).
func (b *batch) mustRunWith(o cmdOpts, name string, args ...string) string {
	b.t.Helper()
	r := b.runWith(o, name, args...)
	if r.code != 0 {
		b.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), r)
	}
	return r.stdout
}
