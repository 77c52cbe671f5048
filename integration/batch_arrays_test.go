package integration

// Job arrays and dependencies through the real daemon (issue 16): real
// scripts, PBS's and Slurm's forms, what the jobs see and what qstat shows.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// qsubID submits and returns the id qsub printed (N[] for an array).
func (b *batch) qsubID(args ...string) jobs.ID {
	b.t.Helper()
	r := b.run("qsub", args...)
	if r.code != 0 || r.stderr != "" {
		b.t.Fatalf("qsub %s: %v", strings.Join(args, " "), r)
	}
	id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
	if err != nil || !strings.Contains(r.stdout, ".") {
		b.t.Fatalf("qsub printed %q, not N.SERVER or N[].SERVER", r.stdout)
	}
	return id
}

// status returns what qstat -c -F json says of the ids (with -t: their
// subjobs too).
func (b *batch) status(subjobs bool, ids ...jobs.ID) []proto.JobInfo {
	b.t.Helper()
	args := []string{"-c", "-f", "-F", "json"}
	if subjobs {
		args = append(args, "-t")
	}
	for _, id := range ids {
		args = append(args, id.String())
	}
	r := b.run("qstat", args...)
	var reply proto.StatusReply
	if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
		b.t.Fatalf("qstat %v: %v (%v)", args, err, r)
	}
	return reply.Jobs
}

func (b *batch) one(id jobs.ID) proto.JobInfo {
	b.t.Helper()
	list := b.status(false, id)
	if len(list) != 1 {
		b.t.Fatalf("qstat %s: %d jobs", id, len(list))
	}
	return list[0]
}

// waitEnded waits until the job (or array) has ended.
func (b *batch) waitEnded(id jobs.ID) proto.JobInfo {
	b.t.Helper()
	var j proto.JobInfo
	b.waitFor(fmt.Sprintf("job %s to end", id), func() bool {
		j = b.one(id)
		return jobs.State(j.State).Terminal()
	})
	return j
}

// An array of three subjobs from #PBS -J: qsub prints N[].SERVER, each
// subjob runs the script once with its index, writes NAME.oN.INDEX, and
// qstat shows the array (B, then F) and, with -t, its subjobs (X once
// ended).
func TestBatchArrayPBS(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("sweep.sh", `#!/bin/sh
#PBS -N sweep
#PBS -J 1-5:2
echo "index=$PBS_ARRAY_INDEX"
echo "array=$PBS_ARRAY_ID"
echo "jobid=$PBS_JOBID"
echo "slurm=${SLURM_ARRAY_TASK_ID:-none}"
`)
	r := b.runWith(cmdOpts{dir: b.work}, "qsub", script)
	if r.code != 0 || !strings.Contains(r.stdout, "[].") {
		t.Fatalf("qsub: %v", r)
	}
	id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
	if err != nil || !id.IsArrayForm() {
		t.Fatalf("qsub printed %q", r.stdout)
	}
	n := id.Base()
	_, server, _ := strings.Cut(strings.TrimSpace(r.stdout), ".") // PBS_JOBID is N[i].SERVER
	arr := b.waitEnded(id)
	if arr.State != "finished" || arr.Array != "1-5:2" || arr.ArrayCount["Expired"] != 3 {
		t.Fatalf("array after its end: %+v", arr)
	}
	for _, i := range []int{1, 3, 5} {
		out := b.readFile(filepath.Join(b.work, fmt.Sprintf("sweep.o%d.%d", n, i)))
		env := envLines(out)
		want := map[string]string{
			"index": fmt.Sprint(i), "array": fmt.Sprintf("%d[].%s", n, server),
			"jobid": fmt.Sprintf("%d[%d].%s", n, i, server), "slurm": "none",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("subjob %d: %s=%q, want %q (output %q)", i, k, env[k], v, out)
			}
		}
	}
	list := b.status(true, id)
	var got []string
	for _, j := range list {
		got = append(got, jobs.ID(j.ID).String()+" "+j.State)
	}
	want := []string{fmt.Sprintf("%d[] finished", n), fmt.Sprintf("%d[1] finished", n),
		fmt.Sprintf("%d[3] finished", n), fmt.Sprintf("%d[5] finished", n)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("qstat -t: %v, want %v", got, want)
	}
	// PBS's table: the array is F, its subjobs X.
	table := b.mustRun("qstat", "-x", "-t", id.String())
	for _, line := range []string{fmt.Sprintf("%d[].", n), fmt.Sprintf("%d[3].", n)} {
		if !strings.Contains(table, line) {
			t.Errorf("qstat -x -t lacks %q:\n%s", line, table)
		}
	}
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(f[0], fmt.Sprint(n)) {
			continue
		}
		if st := f[len(f)-2]; strings.Contains(f[0], "[].") && st != "F" || !strings.Contains(f[0], "[].") && st != "X" {
			t.Errorf("state %s in %q", st, l)
		}
	}
	full := b.mustRun("qstat", "-x", "-f", id.String())
	for _, s := range []string{"array = True", "array_indices_submitted = 1-5:2", "array_state_count = Queued:0 Running:0 Exiting:0 Expired:3"} {
		if !strings.Contains(full, s) {
			t.Errorf("qstat -f lacks %q:\n%s", s, full)
		}
	}
	sub := b.mustRun("qstat", "-x", "-f", fmt.Sprintf("%d[3]", n))
	if !strings.Contains(sub, fmt.Sprintf("array_id = %d[].", n)) || !strings.Contains(sub, "array_index = 3") {
		t.Errorf("qstat -f of a subjob:\n%s", sub)
	}
}

// #SBATCH --array with a list and %max: the subjobs see SLURM_ARRAY_*,
// write slurm-%A_%a.out, and never more than two run at once.
func TestBatchArraySlurm(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	log := filepath.Join(b.work, "running.log")
	script := b.script("tasks.sh", fmt.Sprintf(`#!/bin/bash
#SBATCH --job-name=tasks
#SBATCH --array=1,6-7,12%%2
echo "task=$SLURM_ARRAY_TASK_ID job=$SLURM_ARRAY_JOB_ID count=$SLURM_ARRAY_TASK_COUNT min=$SLURM_ARRAY_TASK_MIN max=$SLURM_ARRAY_TASK_MAX pbs=$PBS_ARRAY_INDEX"
# How many subjobs run now: each one holds a line in the log meanwhile.
( flock 9; echo start >> %[1]s; n=$(grep -c start %[1]s); e=$(grep -c end %[1]s); echo "running=$((n-e))" ) 9>%[1]s.lock
sleep 1
( flock 9; echo end >> %[1]s ) 9>%[1]s.lock
`, log))
	id := b.qsubID(script)
	n := id.Base()
	if !id.IsArrayForm() {
		t.Fatalf("qsub gave %s", id)
	}
	b.waitEnded(id)
	for _, i := range []int{1, 6, 7, 12} {
		out := b.readFile(filepath.Join(b.work, fmt.Sprintf("slurm-%d_%d.out", n, i)))
		want := fmt.Sprintf("task=%d job=%d count=4 min=1 max=12 pbs=%d", i, n, i)
		if !strings.Contains(out, want) {
			t.Errorf("subjob %d wrote %q, want %q", i, out, want)
		}
		env := envLines(out)
		if env["running"] == "" || env["running"] > "2" {
			t.Errorf("subjob %d saw %s subjobs running (at most 2 may)", i, env["running"])
		}
	}
}

// qdel, qhold and qrls of a range, of one subjob and of the array, on an
// array held at submission; the array ends once every subjob has ended or
// was deleted, and says so.
func TestBatchArrayRanges(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("r.sh", "#!/bin/sh\necho ran $PBS_ARRAY_INDEX\n")
	id := b.qsubID("-h", "-J", "1-6", "-N", "r", "-o", b.work+"/", script)
	n := id.Base()
	sj := func(i int) string { return fmt.Sprintf("%d[%d]", n, i) }
	if r := b.run("qdel", fmt.Sprintf("%d[2-3]", n)); r.code != 0 {
		t.Fatalf("qdel of a range: %v", r)
	}
	if r := b.run("qhold", sj(4)); r.code != 0 {
		t.Fatalf("qhold of a subjob: %v", r)
	}
	if r := b.run("qdel", fmt.Sprintf("%d[9]", n)); r.code == 0 || !strings.Contains(r.stderr, "has no index 9") {
		t.Errorf("qdel of an index the array lacks: %v", r)
	}
	if r := b.run("qalter", "-N", "x", sj(1)); r.code == 0 || !strings.Contains(r.stderr, "as a whole") {
		t.Errorf("qalter of a subjob: %v", r)
	}
	// The name changes; the output paths were set at submission, as PBS sets them.
	b.mustRun("qalter", "-N", "renamed", id.String())
	if j := b.one(id); j.State != "held" || j.Name != "renamed" {
		t.Fatalf("array before qrls: %+v", j)
	}
	b.mustRun("qrls", id.String())
	b.waitFor("subjobs 1, 5 and 6 to end", func() bool {
		ended := 0
		for _, j := range b.status(true, id) {
			if x := jobs.ID(j.ID); x.IsSubjob() && (x.Index() == 1 || x.Index() >= 5) && j.State == "finished" {
				ended++
			}
		}
		return ended == 3
	})
	states := map[int]string{}
	for _, j := range b.status(true, id) {
		if x := jobs.ID(j.ID); x.IsSubjob() {
			states[x.Index()] = j.State
		}
	}
	if states[2] != "failed" || states[3] != "failed" || states[4] != "held" {
		t.Errorf("subjob states %v: want 2 and 3 deleted (failed), 4 held", states)
	}
	if j := b.one(id); j.State != "begun" {
		t.Errorf("array with a held subjob: %s, want begun", j.State)
	}
	for _, i := range []int{2, 3, 4} {
		if _, err := os.Stat(filepath.Join(b.work, fmt.Sprintf("r.o%d.%d", n, i))); err == nil {
			t.Errorf("subjob %d ran", i)
		}
	}
	if out := b.readFile(filepath.Join(b.work, fmt.Sprintf("r.o%d.5", n))); out != "ran 5\n" {
		t.Errorf("subjob 5 wrote %q", out)
	}
	b.mustRun("qrls", sj(4))
	arr := b.waitEnded(id)
	if arr.State != "failed" || !strings.Contains(arr.Reason, "4 of 6 subjobs ended with exit status 0; 0 failed, 2 deleted") {
		t.Errorf("array at its end: %s %q", arr.State, arr.Reason)
	}
	// Deleting an array none of whose subjobs ran removes it.
	other := b.qsubID("-h", "-J", "1-100000", script)
	if r := b.run("qdel", other.String()); r.code != 0 {
		t.Fatalf("qdel of an array: %v", r)
	}
	if r := b.run("qstat", other.String()); r.code == 0 {
		t.Errorf("deleted array still listed: %v", r)
	}
}

// One subjob is checkpointed, stopped and held on its own, then released:
// it restarts from its checkpoint and ends as an uninterrupted run, while
// its sibling runs to the end untouched.
func TestBatchArraySubjobCheckpoint(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	script := b.script("nb.sh", fmt.Sprintf("#!/bin/sh\n%s %s/nb.$PBS_ARRAY_INDEX.txt %d %d\n",
		batchProg(t, "nbody"), b.work, steps, bodies))
	id := b.qsubID("-J", "1-2", script)
	first := jobs.SubjobID(id.Base(), 1)
	out := filepath.Join(b.work, "nb.1.txt")
	b.waitFor("subjob 1 to run", func() bool { return b.one(first).State == "running" })
	b.waitLines(out, 20)
	r := b.run("qchkpnt", "-k", "-h", first.String())
	if r.code != 0 || !strings.Contains(r.stdout, "checkpoint 1 durable") {
		t.Fatalf("qchkpnt -k -h %s: %v", first, r)
	}
	if j := b.one(first); j.State != "held" || len(j.Checkpoints) != 1 {
		t.Fatalf("subjob after qchkpnt -k -h: %+v", j)
	}
	stopped := fileLines(out)
	b.mustRun("qrls", first.String())
	j := b.waitEnded(first)
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart || j.Segments[1].Generation != 1 {
		t.Fatalf("subjob 1 after its restart: %+v", j)
	}
	if stopped >= fileLines(out) {
		t.Errorf("subjob 1 did not go on: %d lines when stopped, %d at the end", stopped, fileLines(out))
	}
	checkNbodyOutput(t, out, want)
	arr := b.waitEnded(id)
	if arr.State != "finished" {
		t.Errorf("array: %s %q", arr.State, arr.Reason)
	}
	if s := b.one(jobs.SubjobID(id.Base(), 2)); s.RunCount != 1 || len(s.Checkpoints) != 0 {
		t.Errorf("subjob 2 was touched: %+v", s)
	}
	checkNbodyOutput(t, filepath.Join(b.work, "nb.2.txt"), want)
}

// Chains of afterok, afternotok and afterany on a job that succeeds and
// on one that fails: the dependents wait held (hold type s, with a
// comment), run when they may, and are deleted with a clear record, never
// started, when they never can. A dependency on an unknown job refuses
// the submission. The waits survive a restart of the daemon.
func TestBatchDependChains(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	mark := func(name string) string {
		return b.script(name+".sh", fmt.Sprintf("#!/bin/sh\necho %s >> %s/ran.log\n", name, b.work))
	}
	ok := b.qsubID("-h", "-N", "ok", mark("ok"))
	bad := b.qsubID("-h", "-N", "bad", "--", "/bin/sh", "-c", "echo bad >> "+b.work+"/ran.log; exit 3")
	dep := func(name, spec string) jobs.ID { return b.qsubID("-N", name, "-W", "depend="+spec, mark(name)) }
	okThen := dep("okThen", "afterok:"+ok.String())
	okElse := dep("okElse", "afternotok:"+ok.String())
	badThen := dep("badThen", "afterok:"+bad.String())
	badElse := dep("badElse", "afternotok:"+bad.String())
	anyway := dep("anyway", fmt.Sprintf("afterany:%s:%s", ok, bad))
	chained := dep("chained", "afterok:"+okThen.String())
	// Held by its owner too: it stays held once its dependency is met.
	heldToo := b.qsubID("-h", "-N", "heldToo", "-W", "depend=afterok:"+ok.String(), mark("heldToo"))
	// Slurm's "?": one of them is enough.
	either := b.script("either.sh", fmt.Sprintf("#!/bin/sh\n#SBATCH --dependency=afterok:%s?afterok:%s\necho either >> %s/ran.log\n", bad, ok, b.work))
	eitherID := b.qsubID(either)

	j := b.one(okThen)
	if j.State != "held" || !j.DependHold || j.Depend != "afterok:"+ok.String() || !strings.Contains(j.Reason, "waiting for dependencies: afterok:") {
		t.Fatalf("dependent before its target ran: %+v", j)
	}
	full := b.mustRun("qstat", "-f", okThen.String())
	for _, s := range []string{"Hold_Types = s", "depend = afterok:" + ok.String(), "job_state = H", "comment = waiting for dependencies"} {
		if !strings.Contains(full, s) {
			t.Errorf("qstat -f lacks %q:\n%s", s, full)
		}
	}
	if r := b.run("qrls", okThen.String()); r.code == 0 || !strings.Contains(r.stderr, "held for its dependencies") {
		t.Errorf("qrls of a job held for its dependencies: %v", r)
	}
	if r := b.run("qsub", "-W", "depend=afterok:999", mark("never")); r.code == 0 || !strings.Contains(r.stderr, "unknown job id 999") {
		t.Errorf("qsub with a dependency on an unknown job: %v", r)
	}

	// Held state is persisted: a restarted daemon still holds them.
	b.stop()
	b.start()
	if j := b.one(badElse); j.State != "held" || !j.DependHold {
		t.Fatalf("after a daemon restart: %+v", j)
	}
	b.mustRun("qrls", ok.String(), bad.String())

	for _, id := range []jobs.ID{okThen, badElse, anyway, chained, eitherID} {
		if j := b.waitEnded(id); j.State != "finished" || j.RunCount != 1 {
			t.Errorf("job %s (%s) should have run: %s %q", id, j.Name, j.State, j.Reason)
		}
	}
	for _, c := range []struct {
		id  jobs.ID
		why string
	}{
		{okElse, fmt.Sprintf("deleted: dependency afternotok:%s can never be satisfied: job %s", ok, ok)},
		{badThen, fmt.Sprintf("deleted: dependency afterok:%s can never be satisfied: job %s failed (exit status 3)", bad, bad)},
	} {
		j := b.waitEnded(c.id)
		if j.State != "failed" || j.RunCount != 0 || !strings.Contains(j.Reason, c.why) {
			t.Errorf("job %s (%s): %s, %d runs, %q; want failed, never run, %q", c.id, j.Name, j.State, j.RunCount, j.Reason, c.why)
		}
		// Deleted by the server, as PBS records it: a D record, no start.
		recs := b.waitRecords(uint64(c.id), jobs.AcctDeleted)
		for _, r := range recs {
			if r.Type == jobs.AcctDeleted && !strings.HasPrefix(r.Get("requestor"), "Server") {
				t.Errorf("job %s: D record %+v, want requestor Server@...", c.id, r)
			}
			if r.Type == jobs.AcctStarted || r.Type == jobs.AcctEnded {
				t.Errorf("job %s never ran, yet has the record %+v", c.id, r)
			}
		}
	}
	var h proto.JobInfo
	b.waitFor("heldToo to lose its dependency hold", func() bool { h = b.one(heldToo); return !h.DependHold })
	if h.State != "held" || !h.Hold || !strings.Contains(h.Reason, "held by") {
		t.Errorf("a job held by its owner and for a dependency, once it is met: %+v", h)
	}
	b.mustRun("qrls", heldToo.String())
	if j := b.waitEnded(heldToo); j.State != "finished" {
		t.Errorf("heldToo after qrls: %s %q", j.State, j.Reason)
	}
	ran := b.readFile(filepath.Join(b.work, "ran.log"))
	for _, name := range []string{"okElse", "badThen"} {
		if strings.Contains(ran, name) {
			t.Errorf("%s ran:\n%s", name, ran)
		}
	}
	// chained ran after okThen, which ran after ok.
	if i, k, m := strings.Index(ran, "ok\n"), strings.Index(ran, "okThen"), strings.Index(ran, "chained"); !(i >= 0 && i < k && k < m) {
		t.Errorf("order of the chain in the log:\n%s", ran)
	}
	if !strings.Contains(b.log(), "job deleted: its dependencies can never be satisfied") {
		t.Error("the daemon's log does not record the deletion")
	}
}

// Dependencies on arrays (afterok on N[] means every subjob ended with 0)
// and on one subjob; before and on:count; and a target that is requeued
// (qrerun) after it started does not start its after dependent again.
func TestBatchDependArraysBeforeRequeue(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	mark := func(name string) string {
		return b.script(name+".sh", fmt.Sprintf("#!/bin/sh\necho %s >> %s/ran.log\n", name, b.work))
	}
	arr := b.qsubID("-h", "-J", "1-3", "--", "/bin/sh", "-c", `test "$PBS_ARRAY_INDEX" != 2`)
	n := arr.Base()
	allOK := b.qsubID("-N", "allOK", "-W", "depend=afterok:"+arr.String(), mark("allOK"))
	notAll := b.qsubID("-N", "notAll", "-W", "depend=afternotok:"+arr.String(), mark("notAll"))
	first := b.qsubID("-N", "first", "-W", fmt.Sprintf("depend=afterok:%d[1]", n), mark("first"))
	second := b.qsubID("-N", "second", "-W", fmt.Sprintf("depend=afterok:%d[2]", n), mark("second"))
	// on:1 waits for a before dependency to be given to it.
	later := b.qsubID("-N", "later", "-W", "depend=on:1", mark("later"))
	if j := b.one(later); j.State != "held" || !j.DependHold {
		t.Fatalf("on:1 job: %+v", j)
	}
	sooner := b.qsubID("-N", "sooner", "-W", "depend=beforeok:"+later.String(), mark("sooner"))
	if j := b.one(later); j.Depend != "afterok:"+sooner.String() {
		t.Errorf("before did not give its dependency: %q", j.Depend)
	}
	b.mustRun("qrls", arr.String())
	for _, id := range []jobs.ID{notAll, first, later, sooner} {
		if j := b.waitEnded(id); j.State != "finished" || j.RunCount != 1 {
			t.Errorf("job %s (%s) should have run: %s %q", id, j.Name, j.State, j.Reason)
		}
	}
	for _, id := range []jobs.ID{allOK, second} {
		if j := b.waitEnded(id); j.State != "failed" || j.RunCount != 0 || !strings.Contains(j.Reason, "can never be satisfied") {
			t.Errorf("job %s (%s) should be deleted: %s %q", id, j.Name, j.State, j.Reason)
		}
	}
	ran := b.readFile(filepath.Join(b.work, "ran.log"))
	if s, l := strings.Index(ran, "sooner"), strings.Index(ran, "later"); s < 0 || l < s {
		t.Errorf("later ran before sooner:\n%s", ran)
	}

	// after: the dependent starts once its target has; a requeue of the
	// target starts the target again, not the dependent.
	gate := filepath.Join(b.work, "gate")
	target := b.qsubID("-N", "target", "--", "/bin/sh", "-c", fmt.Sprintf("echo run >> %s/target.log; while [ ! -e %s ]; do sleep 0.1; done", b.work, gate))
	follower := b.qsubID("-N", "follower", "-W", "depend=after:"+target.String(), mark("follower"))
	b.readFile(filepath.Join(b.work, "target.log"))
	b.waitEnded(follower)
	b.mustRun("qrerun", target.String())
	b.waitFor("the target to run again", func() bool {
		return strings.Count(b.readFile(filepath.Join(b.work, "target.log")), "run") == 2
	})
	os.WriteFile(gate, nil, 0o644)
	b.waitEnded(target)
	if j := b.one(follower); j.RunCount != 1 || strings.Count(b.readFile(filepath.Join(b.work, "ran.log")), "follower") != 1 {
		t.Errorf("the follower ran again after its target was requeued: %+v", j)
	}
}

// A power cut while two subjobs run, each checkpointed on its own by its
// periodic checkpoints (-c, every "hour" of one second here): after the
// restart each restarts from its own newest checkpoint, and the array ends
// once both have, with the results of uninterrupted runs.
func TestBatchArrayPowerCut(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, ckptConf)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	script := b.script("nb.sh", fmt.Sprintf("#!/bin/sh\n%s %s/cut.$PBS_ARRAY_INDEX.txt %d %d\n",
		batchProg(t, "nbody"), b.work, steps, bodies))
	id := b.qsubID("-J", "1-2", "-c", "1", script)
	subs := []jobs.ID{jobs.SubjobID(id.Base(), 1), jobs.SubjobID(id.Base(), 2)}
	b.waitFor("a periodic checkpoint of each subjob", func() bool {
		for _, s := range subs {
			if j := b.one(s); j.State != "running" || len(j.Checkpoints) == 0 {
				return false
			}
		}
		return true
	})
	for _, s := range subs {
		if j := b.one(s); j.CheckpointEvery != 1 {
			t.Errorf("subjob %s checkpoints every %vs, want 1s", s, j.CheckpointEvery)
		}
	}
	b.crash()
	b.start()
	arr := b.waitEnded(id)
	if arr.State != "finished" {
		t.Fatalf("array after the power cut: %s %q", arr.State, arr.Reason)
	}
	for i, s := range subs {
		j := b.one(s)
		if len(j.Segments) < 2 || !j.Segments[1].Restart || j.Segments[1].Generation < 1 {
			t.Errorf("subjob %s: runs %+v, want a restart from one of its checkpoints", s, j.Segments)
		}
		checkNbodyOutput(t, filepath.Join(b.work, fmt.Sprintf("cut.%d.txt", i+1)), want)
	}
}

// qrun starts one subjob of an array in a stopped queue, leaving its
// siblings queued; qsig of the array signals every running subjob; the
// array's Exit_status is PBS's (0: no subjob that ran failed).
func TestBatchArrayRunSignal(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.mustRun("qmgr", "-c", "stop queue batch")
	script := b.script("trap.sh", fmt.Sprintf(`#!/bin/sh
trap 'echo got $PBS_ARRAY_INDEX >> %s/sig.log; exit 0' USR1
echo up >> %s/up.$PBS_ARRAY_INDEX
while :; do sleep 0.1; done
`, b.work, b.work))
	id := b.qsubID("-J", "1-3", script)
	n := id.Base()
	for _, i := range []int{2, 3} {
		if r := b.run("qrun", fmt.Sprintf("%d[%d]", n, i)); r.code != 0 {
			t.Fatalf("qrun %d[%d]: %v", n, i, r)
		}
		b.readFile(filepath.Join(b.work, fmt.Sprintf("up.%d", i)))
	}
	if j := b.one(jobs.SubjobID(n, 1)); j.State != "queued" {
		t.Errorf("subjob 1 in the stopped queue: %s", j.State)
	}
	if j := b.one(id); j.State != "begun" {
		t.Errorf("array: %s, want begun", j.State)
	}
	if out := b.mustRun("qstat", id.String()); !strings.Contains(out, " B ") {
		t.Errorf("qstat of a begun array:\n%s", out)
	}
	b.mustRun("qsig", "-s", "USR1", id.String())
	for _, i := range []int{2, 3} {
		if j := b.waitEnded(jobs.SubjobID(n, i)); j.State != "finished" {
			t.Errorf("subjob %d after USR1: %s %q", i, j.State, j.Reason)
		}
	}
	if log := b.readFile(filepath.Join(b.work, "sig.log")); !strings.Contains(log, "got 2") || !strings.Contains(log, "got 3") {
		t.Errorf("signal log %q", log)
	}
	b.mustRun("qdel", fmt.Sprintf("%d[1]", n))
	arr := b.waitEnded(id)
	full := b.mustRun("qstat", "-x", "-f", id.String())
	if arr.State != "failed" || !strings.Contains(full, "Exit_status = 0") {
		t.Errorf("array with one subjob deleted: %s %q\n%s", arr.State, arr.Reason, full)
	}
}
