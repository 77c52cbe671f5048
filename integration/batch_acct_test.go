package integration

// The accounting log on a real daemon: its records, what they say a job
// used over all its runs, tracejob, qstat -x of a purged job, and no record
// lost or doubled when the daemon is killed.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lazarus/jobs"
	"lazarus/queue"
)

// acctRecords reads every record of the state directory's accounting log
// for job id, in order.
func (b *batch) acctRecords(id uint64) []jobs.AcctRecord {
	b.t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.home, "accounting", "[0-9]*"))
	slices.Sort(files)
	var out []jobs.AcctRecord
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if line == "" {
				continue
			}
			r, err := jobs.ParseAcctRecord(line)
			if err != nil {
				b.t.Fatalf("%s: %v", f, err)
			}
			if n, _ := r.JobID(); uint64(n) == id {
				out = append(out, r)
			}
		}
	}
	return out
}

func acctTypes(recs []jobs.AcctRecord) string {
	var s []string
	for _, r := range recs {
		s = append(s, string(r.Type))
	}
	return strings.Join(s, "")
}

// waitRecords waits until the job has a record of type typ.
func (b *batch) waitRecords(id uint64, typ byte) []jobs.AcctRecord {
	b.t.Helper()
	var recs []jobs.AcctRecord
	b.waitFor("an accounting record "+string(typ)+" of job "+jobArg(id), func() bool {
		recs = b.acctRecords(id)
		return slices.ContainsFunc(recs, func(r jobs.AcctRecord) bool { return r.Type == typ })
	})
	return recs
}

func acctDuration(t *testing.T, r jobs.AcctRecord, key string) time.Duration {
	t.Helper()
	d, err := jobs.ParseWalltime(r.Get(key))
	if err != nil {
		t.Fatalf("%c record %s=%q: %v", r.Type, key, r.Get(key), err)
	}
	return d
}

func acctKB(t *testing.T, r jobs.AcctRecord, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(r.Get(key), "kb"), 10, 64)
	if err != nil {
		t.Fatalf("%c record %s=%q: %v", r.Type, key, r.Get(key), err)
	}
	return n << 10
}

// burnScript holds 64 MiB and burns CPU, printing "tick" at each second
// of CPU time it has used over all its runs (a restored process's clock
// starts again from zero, so only what it used since is added).
const burnScript = `#!/bin/sh
python3 -c '
import time
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
used, last, ticks = 0.0, time.process_time(), 0
while True:
    now = time.process_time()
    used += now - last if now >= last else now
    last = now
    if used >= ticks + 1:
        ticks += 1
        print("tick", flush=True)
'
`

// A job checkpointed and requeued twice, then deleted: every step has its
// record, the CPU time of the runs that checkpoints stopped is counted (it
// was lost before: the children of a dying namespace init are reaped by
// nobody's wait4), memory is recorded, and tracejob tells the whole story.
func TestBatchAccountingTwoRestarts(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	id := b.qsub("-j", "oe", "-o", filepath.Join(b.work, "burn.out"), b.script("burn.sh", burnScript))
	out := filepath.Join(b.work, "burn.out")
	// Each run burns 2 s of CPU before it is stopped.
	for run := 1; run <= 3; run++ {
		b.waitFor("the run to burn 2s of CPU", func() bool {
			return strings.Count(b.readFile(out), "tick") >= 2*run
		})
		if run < 3 {
			b.mustRun("qchkpnt", "-k", jobArg(id))
			b.waitState(id, "running")
		}
	}
	b.mustRun("qdel", jobArg(id))
	b.waitState(id, "failed")
	recs := b.waitRecords(id, jobs.AcctEnded)
	if got, want := acctTypes(recs), "QSCRTCRTDE"; got != want {
		t.Fatalf("records %s, want %s:\n%v", got, want, recs)
	}
	for _, r := range recs {
		if !strings.HasPrefix(r.ID, jobArg(id)+".") {
			t.Errorf("record id %q", r.ID)
		}
	}
	r1, r2, end := recs[3], recs[6], recs[9]
	if got := acctDuration(t, r1, "resources_used.cput"); got < 2*time.Second {
		t.Errorf("first R record: cput %v, want at least 2s (the stopped run's CPU)", got)
	}
	if got := acctDuration(t, r2, "resources_used.cput"); got < 4*time.Second {
		t.Errorf("second R record: cput %v, want at least 4s (two runs)", got)
	}
	if got := acctDuration(t, end, "resources_used.cput"); got < 6*time.Second {
		t.Errorf("E record: cput %v, want at least 6s (three runs)", got)
	}
	if got := acctKB(t, end, "resources_used.mem"); got < 64<<20 {
		t.Errorf("E record: mem %d bytes, want at least 64 MiB", got)
	}
	if got := acctKB(t, end, "resources_used.vmem"); got < 64<<20 {
		t.Errorf("E record: vmem %d bytes, want at least 64 MiB", got)
	}
	// qdel ends the run with SIGTERM (the script does not trap it): 256+15.
	if end.Get("run_count") != "3" || end.Get("Exit_status") != "271" {
		t.Errorf("E record: run_count %s, Exit_status %s; want 3 and 271", end.Get("run_count"), end.Get("Exit_status"))
	}
	if recs[4].Get("checkpoint") != "1" || recs[7].Get("checkpoint") != "2" {
		t.Errorf("T records restart from %q and %q, want 1 and 2", recs[4].Get("checkpoint"), recs[7].Get("checkpoint"))
	}
	if !strings.HasPrefix(recs[8].Get("requestor"), "root@") {
		t.Errorf("D record: requestor %q", recs[8].Get("requestor"))
	}
	// The job's own record agrees with the log.
	if j := b.job(id); j.CPUSec < 6 {
		t.Errorf("qstat: cput %.1fs, want at least 6s", j.CPUSec)
	}

	trace := b.mustRun("tracejob", "-n", "0", jobArg(id))
	if n := strings.Count(trace, " A     T;"); n != 2 {
		t.Errorf("tracejob shows %d restarts, want 2:\n%s", n, trace)
	}
	for _, want := range []string{" A     Q;", " A     E;", " S     ", "job restarting from a checkpoint", "Job: " + jobArg(id)} {
		if !strings.Contains(trace, want) {
			t.Errorf("tracejob lacks %q:\n%s", want, trace)
		}
	}
	var last time.Time
	for line := range strings.SplitSeq(strings.TrimSpace(trace), "\n") {
		if len(line) < 19 || !strings.Contains(line[:3], "/") {
			continue
		}
		tm, err := time.ParseInLocation(jobs.AcctTimeLayout, line[:19], time.Local)
		if err != nil || tm.Before(last) {
			t.Errorf("tracejob line out of order or without a time: %q", line)
		}
		last = tm
	}
	// Another user may not trace it.
	if r := b.runWith(cmdOpts{dir: b.work, cred: nobody(t)}, "tracejob", "-n", "0", jobArg(id)); r.code == 0 {
		t.Errorf("tracejob as nobody: %v", r)
	}
}

// kill -9 of the daemon while a job runs, and again after it ended (the
// records may still be in the outbox): each record is in the log once.
func TestBatchAccountingKill9(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	flag, started := filepath.Join(b.work, "go"), filepath.Join(b.work, "started")
	id := b.qsub(b.script("wait.sh", "#!/bin/sh\ntouch "+started+"\nwhile [ ! -e "+flag+" ]; do sleep 0.1; done\necho done\n"))
	b.waitFor("the job to run", func() bool { _, err := os.Stat(started); return err == nil })
	b.waitRecords(id, jobs.AcctStarted)
	b.kill9()
	b.start()
	os.WriteFile(flag, nil, 0o644)
	b.waitState(id, "finished")
	b.kill9()
	b.start()
	id2 := b.qsub(b.script("true.sh", "#!/bin/sh\ntrue\n"))
	b.waitState(id2, "finished")
	b.stop()
	b.start()
	if got := acctTypes(b.acctRecords(id)); got != "QSE" {
		t.Errorf("job %d records %s, want QSE", id, got)
	}
	if got := acctTypes(b.acctRecords(id2)); got != "QSE" {
		t.Errorf("job %d records %s, want QSE", id2, got)
	}
}

// qstat -x shows a job the store has purged, from its E record.
func TestBatchAccountingPurgedJob(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub("-N", "gone", b.script("exit3.sh", "#!/bin/sh\nexit 3\n"))
	b.waitState(id, "failed")
	b.waitRecords(id, jobs.AcctEnded)
	// PBS's resources_used: the memory too, as the E record has it.
	used := b.mustRun("qstat", "-x", "-f", jobArg(id))
	for _, want := range []string{"resources_used.cput = ", "resources_used.mem = ", "resources_used.vmem = ", "resources_used.walltime = "} {
		if !strings.Contains(used, want) {
			t.Errorf("qstat -x -f lacks %q:\n%s", want, used)
		}
	}
	b.stop()
	s, err := queue.Open(filepath.Join(b.home, "lazarus.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteJob(jobs.ID(id), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b.start()
	if r := b.run("qstat", jobArg(id)); r.code == 0 {
		t.Errorf("qstat of a purged job without -x: %v", r)
	}
	full := b.mustRun("qstat", "-x", "-f", jobArg(id))
	for _, want := range []string{"Job_Name = gone", "job_state = F", "Exit_status = 3", "resources_used.mem = "} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -x -f lacks %q:\n%s", want, full)
		}
	}
	if list := b.mustRun("qstat", "-x"); !strings.Contains(list, jobArg(id)+".") || !strings.Contains(list, "gone") {
		t.Errorf("qstat -x does not list the purged job:\n%s", list)
	}
}

// An array job is queued once, as N[]; each subjob has its own start and
// end records.
func TestBatchAccountingArray(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	out := b.mustRun("qsub", "-J", "1-2", b.script("true.sh", "#!/bin/sh\ntrue\n"))
	n, _, _ := strings.Cut(strings.TrimSpace(out), "[")
	all := func() string { // every day's file: the test may run over midnight
		files, _ := filepath.Glob(filepath.Join(b.home, "accounting", "[0-9]*"))
		slices.Sort(files)
		var s strings.Builder
		for _, f := range files {
			s.WriteString(b.readFile(f))
		}
		return s.String()
	}
	b.waitFor("both subjobs' E records", func() bool { return strings.Count(all(), ";E;") >= 2 })
	data := all()
	for _, want := range []string{";Q;" + n + "[].", ";S;" + n + "[1].", ";E;" + n + "[1].", ";S;" + n + "[2].", ";E;" + n + "[2]."} {
		if strings.Count(data, want) != 1 {
			t.Errorf("accounting log has %d of %q, want 1:\n%s", strings.Count(data, want), want, data)
		}
	}
	if trace := b.mustRun("tracejob", "-n", "0", n+"[1]"); !strings.Contains(trace, "E;"+n+"[1].") {
		t.Errorf("tracejob of a subjob:\n%s", trace)
	}
}
