package integration

// Batch workflows on a real daemon (issue 16): the array job's own
// accounting records and end, %max counting only the subjobs that run,
// and the site's checkpoint hooks.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lazarus/jobs"
	"lazarus/queue"
)

// An array job's story, as PBS writes it: Q when submitted, E (with
// array_indices and PBS's array Exit_status: 0, 1, 2) once its last
// subjob has ended; qstat -x shows its end, even once purged; tracejob of
// N[] tells it. qdel of a begun array is a D, then its E; an array none of
// whose subjobs ran has no E.
func TestBatchArrayEndRecord(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("idx.sh", "#!/bin/sh\n[ \"$PBS_ARRAY_INDEX\" = 2 ] && exit 3\nexit 0\n")
	id := b.qsubID("-N", "sweep", "-J", "1-3", script)
	n := id.Base()
	if arr := b.waitEnded(id); arr.State != "failed" || arr.ExitStatus == nil || *arr.ExitStatus != 1 {
		t.Fatalf("array with a subjob that exited 3: %+v", arr)
	}
	recs := b.waitRecords(uint64(id), jobs.AcctEnded)
	if got := acctTypes(recs); got != "QE" {
		t.Fatalf("records of %s: %q, want QE", id, got)
	}
	e := recs[1]
	if !strings.HasPrefix(e.ID, fmt.Sprintf("%d[].", n)) || e.Get("Exit_status") != "1" || e.Get("array_indices") != "1-3" ||
		e.Get("jobname") != "sweep" || e.Get("queue") != "batch" || e.Get("exec_host") != "" {
		t.Errorf("E record of the array: %s", strings.TrimSpace(e.Line()))
	}
	start, _ := strconv.ParseInt(e.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(e.Get("end"), 10, 64)
	ctime, _ := strconv.ParseInt(e.Get("ctime"), 10, 64)
	if start < ctime || end < start {
		t.Errorf("E record times: ctime %d, start %d, end %d", ctime, start, end)
	}
	for i := 1; i <= 3; i++ {
		if got := acctTypes(b.acctRecords(uint64(jobs.SubjobID(n, i)))); got != "SE" {
			t.Errorf("records of subjob %d: %q, want SE", i, got)
		}
	}
	full := b.mustRun("qstat", "-x", "-f", id.String())
	for _, want := range []string{"job_state = F", "Exit_status = 1"} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -x -f %s lacks %q:\n%s", id, want, full)
		}
	}
	trace := b.mustRun("tracejob", "-n", "0", id.String())
	for _, want := range []string{fmt.Sprintf("Q;%d[].", n), fmt.Sprintf("E;%d[].", n), "array job begun", "array job ended"} {
		if !strings.Contains(trace, want) {
			t.Errorf("tracejob %s lacks %q:\n%s", id, want, trace)
		}
	}

	// Purged: what its E record says.
	b.stop()
	s, err := queue.Open(filepath.Join(b.home, "lazarus.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []jobs.ID{jobs.SubjobID(n, 1), jobs.SubjobID(n, 2), jobs.SubjobID(n, 3), n} {
		if _, err := s.DeleteJob(j, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b.start()
	full = b.mustRun("qstat", "-x", "-f", id.String())
	for _, want := range []string{"Job_Name = sweep", "job_state = F", "Exit_status = 1"} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -x -f of the purged array lacks %q:\n%s", want, full)
		}
	}

	// qdel of a begun array: D, then E once its subjobs have ended.
	loop := b.script("loop.sh", "#!/bin/sh\nwhile :; do sleep 0.2; done\n")
	del := b.qsubID("-J", "1-2", loop)
	b.waitFor("both subjobs to run", func() bool {
		return b.one(jobs.SubjobID(del.Base(), 1)).State == "running" && b.one(jobs.SubjobID(del.Base(), 2)).State == "running"
	})
	b.mustRun("qdel", del.String())
	if arr := b.waitEnded(del); arr.State != "failed" || *arr.ExitStatus != 1 {
		t.Errorf("deleted array: %+v", arr)
	}
	recs = b.waitRecords(uint64(del), jobs.AcctEnded)
	if got := acctTypes(recs); got != "QDE" || recs[1].Get("requestor") == "" || recs[2].Get("Exit_status") != "1" {
		t.Errorf("records of a deleted array: %q %v", got, recs)
	}

	// None ran: its subjobs deleted one by one, it fails without an E.
	b.mustRun("qmgr", "-c", "stop queue batch")
	none := b.qsubID("-J", "1-2", loop)
	b.mustRun("qdel", jobs.SubjobID(none.Base(), 1).String())
	b.mustRun("qdel", jobs.SubjobID(none.Base(), 2).String())
	if arr := b.one(none); arr.State != "failed" {
		t.Errorf("array whose subjobs were all deleted: %s %q", arr.State, arr.Reason)
	}
	// Deleted whole before one started: Q, D.
	whole := b.qsubID("-J", "1-2", loop)
	b.mustRun("qdel", whole.String())
	b.waitRecords(uint64(whole), jobs.AcctDeleted)
	if got := acctTypes(b.acctRecords(uint64(whole))); got != "QD" {
		t.Errorf("records of an array deleted before it began: %q, want QD", got)
	}
	// Records are written in order: those of the array before are all in.
	if got := acctTypes(b.acctRecords(uint64(none))); got != "Q" {
		t.Errorf("records of an array none of whose subjobs ran: %q, want Q", got)
	}
}

// runningSubjobs returns the indices of the array's subjobs that run.
func (b *batch) runningSubjobs(id jobs.ID) []int {
	b.t.Helper()
	var out []int
	for _, j := range b.status(true, id) {
		if sub := jobs.ID(j.ID); sub.IsSubjob() && (j.State == "running" || j.State == "checkpointing" || j.State == "exiting") {
			out = append(out, sub.Index())
		}
	}
	slices.Sort(out)
	return out
}

// %max counts the subjobs that run: one held after a checkpoint (qhold),
// or requeued (qrerun), lets another start, and waits its turn when it
// may run again; never more than %max run.
func TestBatchArrayMaxRunning(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	script := b.script("wait.sh", fmt.Sprintf("#!/bin/sh\nwhile [ ! -e %s/stop.$PBS_ARRAY_INDEX ]; do sleep 0.2; done\n", b.work))
	id := b.qsubID("-J", "1-4%2", script)
	n := id.Base()
	want := func(what string, idx ...int) {
		t.Helper()
		b.waitFor(what, func() bool {
			got := b.runningSubjobs(id)
			if len(got) > 2 {
				t.Fatalf("%d subjobs run at once (%v) with %%2", len(got), got)
			}
			return slices.Equal(got, idx)
		})
	}
	want("subjobs 1 and 2 to run", 1, 2)
	if r := b.run("qhold", jobs.SubjobID(n, 1).String()); r.code != 0 {
		t.Fatalf("qhold of a running subjob: %v", r)
	}
	if j := b.one(jobs.SubjobID(n, 1)); j.State != "held" {
		t.Fatalf("subjob 1 after qhold: %s", j.State)
	}
	want("subjob 3 to start in the place of the held one", 2, 3)
	b.mustRun("qrls", jobs.SubjobID(n, 1).String())
	if r := b.run("qrerun", jobs.SubjobID(n, 2).String()); r.code != 0 {
		t.Fatalf("qrerun of a running subjob: %v", r)
	}
	// Subjob 2 requeued: two run again (3 and one of 1, 2, 4), never three.
	b.waitFor("two subjobs to run again", func() bool {
		got := b.runningSubjobs(id)
		if len(got) > 2 {
			t.Fatalf("%d subjobs run at once (%v) with %%2", len(got), got)
		}
		return len(got) == 2 && slices.Contains(got, 3)
	})
	for i := 1; i <= 4; i++ {
		os.WriteFile(filepath.Join(b.work, "stop."+strconv.Itoa(i)), nil, 0o644)
	}
	b.waitFor("the array to end", func() bool {
		if got := b.runningSubjobs(id); len(got) > 2 {
			t.Fatalf("%d subjobs run at once (%v) with %%2", len(got), got)
		}
		return jobs.State(b.one(id).State).Terminal()
	})
	if arr := b.one(id); arr.State != "finished" {
		t.Errorf("array: %s %q", arr.State, arr.Reason)
	}
	if j := b.one(jobs.SubjobID(n, 1)); len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Errorf("subjob 1: runs %+v, want a restart from its checkpoint", j.Segments)
	}
}

// A job that ends while its periodic checkpoint is being written (after
// the freeze, from its copy-on-write twins): the checkpoint ends at once,
// and so does the job. The init of the job's PID namespace, exiting,
// waits in the kernel until every process of the namespace is reaped,
// the twins included; the engine used to wait for that init to stop,
// twin by twin, for a minute each, before it collected the next twin, so
// the checkpoint and the job's end hung for minutes.
func TestBatchJobEndsDuringCheckpoint(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, ckptConf)
	gen := filepath.Join(b.home, "spool", "1.ckpt", "1")
	// The job touches 400 MiB (so writing its images takes a while), then
	// ends as soon as the first image file of its first checkpoint
	// appears: the engine creates it once the tree runs again.
	script := b.script("end.sh", `#!/bin/sh
python3 - <<'PY'
import os, time
x = bytearray(b'\x01') * (400 << 20)
while True:
    try:
        if os.listdir("`+gen+`"):
            break
    except FileNotFoundError:
        pass
    time.sleep(0.005)
PY
echo done
`)
	id := b.qsub("-c", "1", script)
	if id != 1 {
		t.Fatalf("job id %d, want 1", id)
	}
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 1 {
		t.Fatalf("job: %s %q, runs %+v", j.State, j.Reason, j.Segments)
	}
	if out := b.readFile(j.Stdout); out != "done\n" {
		t.Errorf("job output %q", out)
	}
	// Its checkpoint has ended too, taken or not: nothing waits for it.
	b.waitFor("the checkpoint to end", func() bool {
		return strings.Contains(b.log(), "checkpoint done") || strings.Contains(b.log(), "checkpoint failed")
	})
	if j := b.job(id); j.State != "finished" {
		t.Errorf("job after its checkpoint ended: %s", j.State)
	}
}
