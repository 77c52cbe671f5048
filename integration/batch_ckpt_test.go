package integration

// End-to-end tests of checkpointed batch jobs: periodic checkpoints,
// qchkpnt, power cuts, restarts, their fallbacks and a full disk, with a
// real lazarusd, supervisors, checkpoint helpers and jobs.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
)

// Periodic checkpoints fire at the job's interval (an hour lasts a second
// here), only the newest generations are kept, and the job's result is
// that of an uninterrupted run.
func TestBatchCkptPeriodic(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, ckptConf)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("periodic", steps, bodies, "-c", "1")
	var j proto.JobInfo
	b.waitFor("a third periodic checkpoint", func() bool {
		j = b.job(id)
		if j.State == "finished" || j.State == "failed" {
			t.Fatalf("the job ended before its third checkpoint: %+v", j)
		}
		return len(j.Checkpoints) > 0 && j.Checkpoints[0].N >= 3
	})
	if len(j.Checkpoints) != 2 || j.Keep != 2 || j.CheckpointEvery != 1 {
		t.Errorf("generations %+v, keep %d, every %vs; want the newest 2, every 1s", j.Checkpoints, j.Keep, j.CheckpointEvery)
	}
	for _, g := range j.Checkpoints {
		if g.Size <= 0 || g.Processes != 2 || g.Bad != "" || !strings.HasPrefix(g.Dir, filepath.Join(b.home, "spool")) {
			t.Errorf("generation %+v", g)
		}
		if _, err := os.Stat(g.Image); err != nil {
			t.Errorf("generation %d: %v", g.N, err)
		}
	}
	if _, err := os.Stat(filepath.Join(b.home, "spool", jobArg(id)+".ckpt", "1")); err == nil {
		t.Error("generation 1 was not deleted")
	}
	if table := b.mustRun("qstat"); !strings.Contains(table, "Next checkpoint") {
		t.Errorf("qstat table:\n%s", table)
	}
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 1 {
		t.Fatalf("job after its periodic checkpoints: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if !j.NextCheckpoint.IsZero() {
		t.Errorf("a finished job has a next checkpoint: %v", j.NextCheckpoint)
	}
}

// qchkpnt, then a power cut: the daemon, the supervisors and the jobs are
// killed at once. The daemon's next start restarts the job from its image
// (same id, a second run, accounting going on) and it ends as an
// uninterrupted run would. Then qrestart -g runs the finished job again
// from its first checkpoint.
func TestBatchCkptPowerCut(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("cut", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 20)
	r := b.run("qchkpnt", jobArg(id))
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("job %d: checkpoint 1 durable in ", id)) {
		t.Fatalf("qchkpnt: %v", r)
	}
	at := fileLines(out)
	b.waitLines(out, at+10) // the job goes on after its checkpoint
	b.crash()
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 {
		t.Fatalf("job after the power cut: %+v", j)
	}
	if s := j.Segments[1]; !s.Restart || s.Generation != 1 || s.UserCPUSec+s.SysCPUSec <= 0 {
		t.Errorf("the second run %+v: want a restart from checkpoint 1 with its own CPU time", s)
	}
	if !strings.Contains(j.Segments[0].Reason, "gone without an exit status") {
		t.Errorf("the first run: %+v", j.Segments[0])
	}
	checkNbodyOutput(t, out, want)
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("cut.sh.o%d", id))); got != "simulated\n" {
		t.Errorf("the script's output: %q", got)
	}

	// The finished job runs again from its checkpoint.
	if r := b.run("qrestart", "-g", "1", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	j = b.waitFor3Runs(id)
	if s := j.Segments[2]; j.State != "finished" || !s.Restart || s.Generation != 1 {
		t.Errorf("after qrestart -g 1: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if r := b.run("qrestart", "-g", "7", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "no checkpoint 7") {
		t.Errorf("qrestart -g 7: %v", r)
	}
}

func (b *batch) waitFor3Runs(id uint64) proto.JobInfo {
	b.t.Helper()
	var j proto.JobInfo
	b.waitFor("the third run's end", func() bool {
		j = b.job(id)
		return len(j.Segments) == 3 && !j.Segments[2].End.IsZero() && (j.State == "finished" || j.State == "failed")
	})
	return j
}

// The newest generation is damaged: the restart falls back to the
// previous one, and qstat -f says so.
func TestBatchCkptCorruptFallsBack(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("corrupt", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 15)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitLines(out, fileLines(out)+10)
	b.mustRun("qchkpnt", jobArg(id))
	j := b.job(id)
	if len(j.Checkpoints) != 2 || j.Checkpoints[0].N != 2 {
		t.Fatalf("generations %+v", j.Checkpoints)
	}
	// A torn image: what a disk that lies about its writes leaves.
	if err := os.Truncate(j.Checkpoints[0].Image, 300); err != nil {
		t.Fatal(err)
	}
	b.crash()
	b.start()
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation != 1 {
		t.Fatalf("job after the fallback: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if g := j.Checkpoints[0]; g.N != 2 || !strings.HasPrefix(g.Bad, "restart failed: ") {
		t.Errorf("the damaged generation: %+v", g)
	}
	found := false
	for _, e := range j.Events {
		found = found || strings.Contains(e.Text, "restart from checkpoint 2 failed") && strings.Contains(e.Text, "falling back to checkpoint 1")
	}
	if !found {
		t.Errorf("history %+v: the fallback is not recorded", j.Events)
	}
	if full := b.mustRun("qstat", "-f", jobArg(id)); !strings.Contains(full, "falling back to checkpoint 1") ||
		!strings.Contains(full, "(restarted from checkpoint 1)") {
		t.Errorf("qstat -f:\n%s", full)
	}
}

// A full spool (a 2 MiB tmpfs): the checkpoint fails, the previous
// generation stays the newest, the job runs on and qstat -f says why.
func TestBatchCkptDiskFull(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, "")
	b.stop()
	spool := filepath.Join(b.home, "spool")
	os.MkdirAll(spool, 0o711)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=711", "tmpfs", spool).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { unix.Unmount(spool, unix.MNT_DETACH) })
	b.start()
	id := b.qsub("-o", filepath.Join(b.work, "mem.out"), b.script("mem.sh", fmt.Sprintf("#!/bin/sh\n%s 0\n", batchProg(t, "memjob"))))
	b.waitState(id, "running")
	b.waitFor("memjob to be ready", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, "mem.out"))
		return strings.Contains(string(data), "ready")
	})
	b.mustRun("qchkpnt", jobArg(id))
	// Now it holds 8 MiB more than the spool can take.
	os.WriteFile(filepath.Join(b.work, "grow"), nil, 0o644)
	b.waitFor("memjob to grow", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, "mem.out"))
		return strings.Contains(string(data), "grown")
	})
	r := b.run("qchkpnt", jobArg(id))
	if r.code != 1 || !strings.Contains(r.stderr, "checkpoint 2 failed") || !strings.Contains(r.stderr, "space") {
		t.Errorf("qchkpnt on a full spool: %v", r)
	}
	j := b.job(id)
	if j.State != "running" || len(j.Checkpoints) != 1 || j.Checkpoints[0].N != 1 || !strings.Contains(j.CheckpointError, "space") {
		t.Errorf("after the failure: state %s, generations %+v, error %q", j.State, j.Checkpoints, j.CheckpointError)
	}
	if _, err := os.Stat(j.Checkpoints[0].Image); err != nil {
		t.Errorf("the previous generation: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(spool, jobArg(id)+".ckpt"))
	if len(entries) != 1 || entries[0].Name() != "1" {
		t.Errorf("generation directories: %v", entries)
	}
	if full := b.mustRun("qstat", "-f", jobArg(id)); !strings.Contains(full, "last checkpoint failure") {
		t.Errorf("qstat -f does not show the failure:\n%s", full)
	}
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("the job after a failed checkpoint: %+v", j)
	}
}

// What the engine cannot checkpoint yet (a second thread) fails the
// checkpoint, not the job; a job with policy n is never checkpointed.
func TestBatchCkptRefusals(t *testing.T) {
	batchNeedRoot(t)
	b := newBatch(t, "")
	id := b.qsub("-o", filepath.Join(b.work, "t.out"), b.script("t.sh", fmt.Sprintf("#!/bin/sh\n%s -t 1\n", batchProg(t, "memjob"))))
	never := b.qsub("-c", "n", b.script("n.sh", "#!/bin/sh\nwhile [ ! -e stop ]; do sleep 0.05; done\n"))
	b.waitState(id, "running")
	b.waitFor("memjob to be ready", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, "t.out"))
		return strings.Contains(string(data), "ready")
	})
	r := b.run("qchkpnt", jobArg(id))
	if r.code != 1 || !strings.Contains(r.stderr, "threads") {
		t.Errorf("qchkpnt of a multithreaded job: %v", r)
	}
	if j := b.job(id); j.State != "running" || len(j.Checkpoints) != 0 || !strings.Contains(j.CheckpointError, "threads") {
		t.Errorf("after the refusal: %+v", j)
	}
	b.waitState(never, "running")
	if r := b.run("qchkpnt", jobArg(never)); r.code != 1 || !strings.Contains(r.stderr, "policy n") {
		t.Errorf("qchkpnt of a job with policy n: %v", r)
	}
	// -i changes the policy, and the checkpoint is taken.
	if r := b.run("qchkpnt", "-i", "2", jobArg(never)); r.code != 0 || !strings.Contains(r.stdout, "checkpoint policy 2") {
		t.Errorf("qchkpnt -i 2: %v", r)
	}
	if j := b.job(never); len(j.Checkpoints) != 1 || j.Checkpoint != "2" || j.NextCheckpoint.IsZero() {
		t.Errorf("after qchkpnt -i 2: %+v", j)
	}
	if r := b.runWith(cmdOpts{cred: nobody(t)}, "qchkpnt", jobArg(never)); r.code != 1 || !strings.Contains(r.stderr, "belongs to") {
		t.Errorf("qchkpnt of another user's job: %v", r)
	}
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	b.waitState(never, "finished")
	b.waitState(id, "finished")
	if r := b.run("qchkpnt", strconv.FormatUint(never, 10)); r.code != 1 || !strings.Contains(r.stderr, "only running jobs") {
		t.Errorf("qchkpnt of a finished job: %v", r)
	}
}
