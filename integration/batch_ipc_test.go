package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	ipcJobOnce sync.Once
	ipcJobErr  error
)

// TestBatchCkptSysVIPC: a job using a SysV segment, semaphore set and
// message queue, and a POSIX message queue, is checkpointed, stopped and restarted: in the IPC
// namespace of its own it finds each object again by its key under the
// same id, in the state it left (the program checks every step), and ends.
// Two such jobs run side by side: their keys and ids do not collide.
func TestBatchCkptSysVIPC(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	exe := filepath.Join(binDir, "ipcjob")
	ipcJobOnce.Do(func() {
		if out, err := exec.Command("cc", "-O2", "-o", exe, "testdata/batch/ipcjob.c", "-lrt").CombinedOutput(); err != nil {
			ipcJobErr = fmt.Errorf("cc ipcjob: %v\n%s", err, out)
		}
	})
	if ipcJobErr != nil {
		t.Fatal(ipcJobErr)
	}
	b := newBatch(t, "")
	var ids []uint64
	var outs []string
	for _, name := range []string{"ipc1", "ipc2"} {
		out := filepath.Join(b.work, name+".txt")
		script := b.script(name+".sh", fmt.Sprintf("#!/bin/sh\n%s %s 200\n", exe, out))
		ids = append(ids, b.qsub(script))
		outs = append(outs, out)
	}
	for i, id := range ids {
		b.waitState(id, "running")
		b.waitLines(outs[i], 10)
	}
	id, out := ids[0], outs[0]
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 || !strings.Contains(r.stdout, "job stopped and held") {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	stopped := fileLines(out)
	if r := b.run("qrestart", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	for i, id := range ids {
		j := b.waitState(id, "finished", "failed")
		data, _ := os.ReadFile(outs[i])
		text := string(data)
		if j.State != "finished" || strings.Contains(text, "FAIL") || !strings.HasSuffix(text, "done\n") {
			t.Fatalf("job %d: %s, output:\n%s", id, j.State, text)
		}
	}
	if j := b.job(id); len(j.Segments) != 2 || fileLines(out) <= stopped {
		t.Fatalf("the job was not restarted and went on: %d segments, %d lines at the stop, %d at the end", len(j.Segments), stopped, fileLines(out))
	}
}
