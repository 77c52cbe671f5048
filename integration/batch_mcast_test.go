package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBatchNetPrivateMulticast: a job in a network namespace of its own
// (-l net=private) receives its own datagrams through a multicast group on
// lo; checkpointed and stopped (qchkpnt -k -h), then released, it restarts
// in a fresh namespace, where its socket must be a member again: a lost
// membership ends the job with "lost N" instead of all its steps.
func TestBatchNetPrivateMulticast(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	exe := filepath.Join(b.work, "mcastjob")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, filepath.Join("testdata", "mcast", "mcastjob.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc mcastjob: %v\n%s", err, out)
	}
	const steps = 150
	out := filepath.Join(b.work, "mcast.txt")
	id := b.qsub("-l", "net=private", b.script("mcast.sh", fmt.Sprintf("#!/bin/sh\n%s %s %d 50\n", exe, out, steps)))
	b.waitState(id, "running")
	b.waitLines(out, 10)
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	if j := b.waitState(id, "held", "finished", "failed"); j.State != "held" {
		t.Fatalf("after qchkpnt -k -h: %s (%s)", j.State, j.Reason)
	}
	if fileLines(out) >= steps {
		t.Fatal("the job was over before its checkpoint")
	}
	b.mustRun("qrls", jobArg(id))
	j := b.waitState(id, "finished", "failed")
	got, _ := os.ReadFile(out)
	var want strings.Builder
	for i := 0; i < steps; i++ {
		fmt.Fprintf(&want, "step %d\n", i)
	}
	if j.State != "finished" || len(j.Segments) < 2 || !j.Segments[len(j.Segments)-1].Restart || string(got) != want.String() {
		t.Fatalf("job %s (%s), segments %+v, output ends %q", j.State, j.Reason, j.Segments, tailOf(string(got)))
	}
}
