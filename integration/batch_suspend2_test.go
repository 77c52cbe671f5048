package integration

// What a suspended job holds, as OpenPBS has it (qsig(1B)): it is not
// charged for walltime while suspended, it releases its CPUs to other
// jobs and, asked to resume, goes on only once they are free again; qdel
// of a suspended job resumes it so that it gets SIGTERM, then SIGKILL,
// and ends.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBatchSuspendWalltime: a job of walltime=6 that needs 2 seconds of
// run is suspended for 7 seconds: it ends by itself (without the rule its
// walltime would have run out while it was suspended). A job of
// walltime=3 that would run for ever, suspended for 4 seconds, is killed
// over its walltime, and not before 3 seconds of run after the 4.
func TestBatchSuspendWalltime(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	done := b.qsub("-l", "walltime=6", "-j", "oe", b.script("short.sh",
		"#!/bin/sh\nfor i in 1 2 3 4; do echo tick $i; sleep 0.5; done\necho over\n"))
	forever := b.qsub("-l", "walltime=3", "-j", "oe", b.script("long.sh", "#!/bin/sh\nwhile :; do sleep 0.2; done\n"))
	for _, id := range []uint64{done, forever} {
		b.waitState(id, "running")
		b.waitFor("its script", func() bool { return b.job(id).Session > 0 })
		b.mustRun("qsig", "-s", "suspend", jobArg(id))
	}
	suspended := time.Now()
	time.Sleep(4 * time.Second)
	b.mustRun("qsig", "-s", "resume", jobArg(forever))
	time.Sleep(3 * time.Second)
	b.mustRun("qsig", "-s", "resume", jobArg(done))
	j := b.waitState(done, "finished", "failed")
	out := b.readFile(filepath.Join(b.work, "short.sh.o"+jobArg(done)))
	if j.State != "finished" || j.Segments[len(j.Segments)-1].ExitCode != 0 || !strings.HasSuffix(out, "over\n") {
		t.Errorf("the job suspended for longer than its walltime: %s (%s), output %q", j.State, j.Reason, out)
	}
	j = b.waitState(forever, "finished", "failed")
	if !strings.Contains(j.Reason, "walltime exceeded") {
		t.Errorf("the job that runs for ever: %s (%s), want killed over its walltime", j.State, j.Reason)
	}
	if end := j.Segments[len(j.Segments)-1].End; end.Sub(suspended) < 4*time.Second+3*time.Second-time.Second {
		t.Errorf("killed %s after its suspension began: its 3 s of walltime counted the 4 s suspended", end.Sub(suspended))
	}
}

// TestBatchSuspendReleasesCPUs: on a host of 2 slots, a job of ncpus=2
// suspended lets another of ncpus=2 start; asked to resume while that one
// runs, it stays suspended (S) and resumes, by itself, once the other has
// ended; then it runs to its end.
func TestBatchSuspendReleasesCPUs(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 2\n")
	gate := filepath.Join(b.work, "gate")
	first := b.qsub("-l", "ncpus=2", "-j", "oe", b.script("first.sh",
		"#!/bin/sh\ni=0\nwhile [ $i -lt 20 ]; do echo n=$i; i=$((i+1)); sleep 0.1; done\necho first-over\n"))
	b.waitState(first, "running")
	b.waitFor("its script", func() bool { return b.job(first).Session > 0 })
	b.mustRun("qsig", "-s", "suspend", jobArg(first))
	second := b.qsub("-l", "ncpus=2", "-j", "oe", b.script("second.sh",
		"#!/bin/sh\nwhile [ ! -e "+gate+" ]; do sleep 0.1; done\necho second-over\n"))
	b.waitState(second, "running")
	b.mustRun("qsig", "-s", "resume", jobArg(first))
	if got := b.qstatLetter(first); got != "S" {
		t.Errorf("resumed while its CPUs are taken: qstat shows %s, want S", got)
	}
	outFirst := filepath.Join(b.work, "first.sh.o"+jobArg(first))
	n := fileLines(outFirst)
	time.Sleep(time.Second)
	if got := fileLines(outFirst); got != n {
		t.Errorf("the suspended job ran while waiting for its CPUs: %d -> %d lines", n, got)
	}
	if j := b.job(second); j.State != "running" {
		t.Errorf("the job that took the CPUs: %s (%s)", j.State, j.Reason)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if j := b.waitState(second, "finished", "failed"); j.State != "finished" {
		t.Errorf("second job: %s (%s)", j.State, j.Reason)
	}
	j := b.waitState(first, "finished", "failed")
	if j.State != "finished" || j.Suspended {
		t.Errorf("first job after the second ended: %s (%s), suspended %v", j.State, j.Reason, j.Suspended)
	}
	hasAll(t, "output", b.readFile(outFirst), "n=19\n", "first-over\n")
}

// TestBatchSuspendQdel: qdel of a suspended job ends it: a script that
// traps SIGTERM gets it (it is resumed to take it), and one that does
// not is killed.
func TestBatchSuspendQdel(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	trap := b.qsub("-j", "oe", b.script("trap.sh",
		"#!/bin/bash\ntrap 'echo got-term; exit 3' TERM\nwhile :; do sleep 0.2; done\n"))
	plain := b.qsub("-j", "oe", b.script("plain.sh", "#!/bin/sh\nsleep 1000\n"))
	for _, id := range []uint64{trap, plain} {
		b.waitState(id, "running")
		b.waitFor("its script", func() bool { return b.job(id).Session > 0 })
		b.mustRun("qsig", "-s", "suspend", jobArg(id))
		if got := b.qstatLetter(id); got != "S" {
			t.Fatalf("after suspend: %s", got)
		}
		b.mustRun("qdel", jobArg(id))
	}
	for _, id := range []uint64{trap, plain} {
		b.waitState(id, "finished", "failed")
	}
	hasAll(t, "the trapping script's output", b.readFile(filepath.Join(b.work, "trap.sh.o"+jobArg(trap))), "got-term\n")
}
