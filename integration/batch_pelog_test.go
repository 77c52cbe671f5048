package integration

// The site's prologue and epilogue on a real daemon: PBS's arguments, the
// epilogue's output in the job's output file, no prologue for a restart
// from a checkpoint, and the refusal of a script others could change.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/jobs"
)

// pelog writes the state directory's prologue or epilogue: a shell script
// that appends its arguments to NAME.args in the work directory, then runs
// body.
func (b *batch) pelog(name, body string, mode os.FileMode) string {
	b.t.Helper()
	path := filepath.Join(b.home, name)
	script := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(b.work, name+".args") + "\n" + body
	if err := os.WriteFile(path, []byte(script), mode); err != nil {
		b.t.Fatal(err)
	}
	os.Chmod(path, mode)
	return filepath.Join(b.work, name+".args")
}

func TestBatchPrologueEpilogue(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	proArgs := b.pelog("prologue", "echo prologue output\nexit 0\n", 0o755)
	epiArgs := b.pelog("epilogue", "echo epilogue says hi\n", 0o700)
	out := filepath.Join(b.work, "job.out")
	id := b.qsub("-N", "pe", "-A", "acct1", "-l", "walltime=1:00:00", "-j", "oe", "-o", out,
		b.script("job.sh", "#!/bin/sh\necho job ran\n"))
	b.waitState(id, "finished")
	pro := strings.Fields(b.readFile(proArgs))
	if len(pro) != 3 || pro[0] != jobArg(id) || pro[1] != "root" || pro[2] != "root" {
		t.Errorf("prologue arguments %q, want id, user, group", pro)
	}
	b.waitFor("the epilogue's arguments", func() bool { return b.readFile(epiArgs) != "" })
	epi := strings.Fields(b.readFile(epiArgs))
	if len(epi) != 10 || epi[0] != jobArg(id) || epi[3] != "pe" || epi[7] != "batch" || epi[8] != "acct1" || epi[9] != "0" ||
		!strings.Contains(epi[5], "walltime=01:00:00") || !strings.HasPrefix(epi[6], "cput=") || epi[4] == "0" {
		t.Errorf("epilogue arguments %q", epi)
	}
	if got := b.readFile(out); !strings.Contains(got, "job ran\n") || !strings.HasSuffix(got, "epilogue says hi\n") {
		t.Errorf("job output %q: want the job's, then the epilogue's", got)
	}

	// A restart from a checkpoint has no prologue (PBS's MoM restarts a
	// checkpointed job without one); every run has its epilogue.
	os.Remove(proArgs)
	os.Remove(epiArgs)
	flag := filepath.Join(b.work, "go")
	ticks := filepath.Join(b.work, "ticks")
	id2 := b.qsub(b.script("loop.sh", "#!/bin/sh\nwhile [ ! -e "+flag+" ]; do echo t >> "+ticks+"; sleep 0.2; done\n"))
	b.waitFor("the job to run", func() bool { return fileLines(ticks) > 2 })
	b.mustRun("qchkpnt", "-k", jobArg(id2))
	b.waitFor("the restart", func() bool {
		j := b.job(id2)
		return j.State == "running" && len(j.Segments) == 2
	})
	n := fileLines(ticks)
	b.waitFor("the restarted job to run", func() bool { return fileLines(ticks) > n })
	os.WriteFile(flag, nil, 0o644)
	b.waitState(id2, "finished")
	if n := fileLines(proArgs); n != 1 {
		t.Errorf("prologue ran %d times for a job started once and restarted once, want 1", n)
	}
	b.waitFor("two epilogues", func() bool { return fileLines(epiArgs) == 2 })
}

// A prologue that its group may write is refused: the job does not run,
// it is requeued, then held after three tries, and says why.
func TestBatchPrologueRefused(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	ran := b.pelog("prologue", "exit 0\n", 0o775)
	marker := filepath.Join(b.work, "ran")
	id := b.qsub(b.script("job.sh", "#!/bin/sh\ntouch "+marker+"\n"))
	j := b.waitState(id, "held")
	if !strings.Contains(j.Reason, "writable by group or others") || !strings.Contains(j.Reason, "3 runs") {
		t.Errorf("reason %q", j.Reason)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the job ran although its prologue was refused")
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the refused prologue ran")
	}
	// The accounting log is written behind the job's state: the third R
	// may come after the job is seen held.
	var got string
	b.waitFor("three R records of job "+jobArg(id), func() bool {
		got = acctTypes(b.acctRecords(id))
		return strings.Count(got, "R") >= 3
	})
	if got != "QSRSRSR" {
		t.Errorf("records %s, want QSRSRSR", got)
	}
	for _, s := range j.Segments {
		if !strings.HasPrefix(s.Reason, "prologue failed") {
			t.Errorf("run %+v: want a prologue failure", s)
		}
	}
}

// A prologue that exits 1 aborts the job (PBS).
func TestBatchPrologueAborts(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	b.pelog("prologue", "echo no scratch space\nexit 1\n", 0o755)
	id := b.qsub(b.script("job.sh", "#!/bin/sh\necho ran\n"))
	j := b.waitState(id, "failed")
	if !strings.Contains(j.Reason, "prologue failed") || !strings.Contains(j.Reason, "no scratch space") {
		t.Errorf("reason %q", j.Reason)
	}
	if got := acctTypes(b.waitRecords(id, jobs.AcctEnded)); got != "QSAE" {
		t.Errorf("records %s, want QSAE", got)
	}
}
