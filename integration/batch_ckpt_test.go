package integration

// End-to-end tests of checkpointed batch jobs: periodic checkpoints,
// qchkpnt, power cuts, restarts, their fallbacks and a full disk, with a
// real lazarusd, supervisors, checkpoint helpers and jobs.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/internal/testenv"
)

// Periodic checkpoints fire at the job's interval (an hour lasts a second
// here), only the newest generations are kept, and the job's result is
// that of an uninterrupted run.
func TestBatchCkptPeriodic(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	// Self-contained generations only: each one stands alone (see
	// batch_incr_test.go for incremental ones).
	b := newBatch(t, ckptConf+"checkpoint_full_every = 1\n")
	const steps, bodies = 6000, 600
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
	// Deleted once the record that drops it is durable: just after.
	b.waitFor("generation 1 to be deleted", func() bool {
		_, err := os.Stat(filepath.Join(b.home, "spool", jobArg(id)+".ckpt", "1"))
		return os.IsNotExist(err)
	})
	if table := b.mustRun("qstat", "-c"); !strings.Contains(table, "Next checkpoint") {
		t.Errorf("qstat table:\n%s", table)
	}
	// The schedule survives a restart of the daemon: it is in the job's record.
	b.stop()
	b.start()
	last := j.Checkpoints[0].N
	b.waitFor("a periodic checkpoint after the daemon's restart", func() bool {
		j = b.job(id)
		if j.State == "finished" || j.State == "failed" {
			t.Fatalf("the job ended before a checkpoint after the restart: %+v", j)
		}
		return j.Checkpoints[0].N > last
	})
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
	t.Parallel()
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
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	id, out, want := b.nbodyTwoGenerations("corrupt")
	j := b.job(id)
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
	if full := b.mustRun("qstat", "-c", "-f", jobArg(id)); !strings.Contains(full, "falling back to checkpoint 1") ||
		!strings.Contains(full, "(restarted from checkpoint 1)") {
		t.Errorf("qstat -f:\n%s", full)
	}
}

// A full spool (a 2 MiB tmpfs): the checkpoint fails, the previous
// generation stays the newest, the job runs on and qstat -f says why.
func TestBatchCkptDiskFull(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	b.stop()
	spool := filepath.Join(b.home, "spool")
	os.MkdirAll(spool, 0o711)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=711", "tmpfs", spool).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a tmpfs: %v %s", err, out)
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
	if full := b.mustRun("qstat", "-c", "-f", jobArg(id)); !strings.Contains(full, "last checkpoint failure") {
		t.Errorf("qstat -f does not show the failure:\n%s", full)
	}
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("the job after a failed checkpoint: %+v", j)
	}
}

// What the engine cannot checkpoint (a netlink socket) fails the checkpoint,
// not the job; a job with policy n is never checkpointed.
func TestBatchCkptRefusals(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	id := b.qsub("-o", filepath.Join(b.work, "t.out"), b.script("t.sh", fmt.Sprintf("#!/bin/sh\n%s -s 1\n", batchProg(t, "memjob"))))
	never := b.qsub("-c", "n", b.script("n.sh", "#!/bin/sh\nwhile [ ! -e stop ]; do sleep 0.05; done\n"))
	b.waitState(id, "running")
	b.waitFor("memjob to be ready", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, "t.out"))
		return strings.Contains(string(data), "ready")
	})
	r := b.run("qchkpnt", jobArg(id))
	if r.code != 1 || !strings.Contains(r.stderr, "is socket") {
		t.Errorf("qchkpnt of a job with a netlink socket: %v", r)
	}
	if j := b.job(id); j.State != "running" || len(j.Checkpoints) != 0 || !strings.Contains(j.CheckpointError, "is socket") {
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
	// A queue's default policy, and its floor.
	b.mustRun("qmgr", "-c", "create queue sim ckpt_default=2, ckpt_min=3, ckpt_keep=4")
	q := b.qsub("-q", "sim", "-h", b.script("q.sh", "#!/bin/sh\ntrue\n"))
	if j := b.job(q); j.Checkpoint != "2" || j.Keep != 4 {
		t.Errorf("a job of a queue with ckpt_default=2, ckpt_keep=4: policy %q, keep %d", j.Checkpoint, j.Keep)
	}
	b.mustRun("qdel", jobArg(q))
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	b.waitState(never, "finished")
	b.waitState(id, "finished")
	if r := b.run("qchkpnt", strconv.FormatUint(never, 10)); r.code != 1 || !strings.Contains(r.stderr, "only running jobs") {
		t.Errorf("qchkpnt of a finished job: %v", r)
	}
}

// A job confined by landlock, run in the job's own PID namespace: the
// checkpoint is refused naming it (the probe's reference process is made in
// that namespace), and the job runs on, still confined.
func TestBatchCkptLandlockRefused(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	out := filepath.Join(b.work, "l.out")
	id := b.qsub("-o", out, b.script("l.sh", fmt.Sprintf("#!/bin/sh\n%s\n", batchProg(t, "landlockjob"))))
	b.waitState(id, "running")
	b.waitFor("landlockjob to be ready", func() bool {
		data, _ := os.ReadFile(out)
		return strings.Contains(string(data), "ready")
	})
	r := b.run("qchkpnt", jobArg(id))
	if r.code != 1 || !strings.Contains(r.stderr, "is confined by a landlock ruleset") {
		t.Errorf("qchkpnt of a landlocked job: %v", r)
	}
	if j := b.job(id); j.State != "running" || len(j.Checkpoints) != 0 || !strings.Contains(j.CheckpointError, "landlock") {
		t.Errorf("after the refusal: %+v", j)
	}
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" || j.ExitStatus == nil || *j.ExitStatus != 0 {
		data, _ := os.ReadFile(out)
		t.Errorf("the job after the refusal: %+v: %s", j, data)
	}
}

// shutdown requeue: every job is checkpointed, stopped and requeued (or,
// with policy n, requeued to start again, or waited for); the daemon
// exits; at its next start the jobs restart and end as uninterrupted runs.
func TestBatchCkptShutdownRequeue(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "slots = 4\n")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	sim, out := b.nbodyJob("sim", steps, bodies)
	// Rerunnable, never checkpointed: it starts again; it records its starts.
	again := b.qsub("-c", "n", b.script("again.sh", "#!/bin/sh\necho start >> again.runs\nwhile [ ! -e again.go ]; do sleep 0.05; done\n"))
	// Neither: the shutdown waits for it.
	wait := b.qsub("-c", "n", "-r", "n", b.script("wait.sh", "#!/bin/sh\nwhile [ ! -e wait.go ]; do sleep 0.05; done\n"))
	for _, id := range []uint64{sim, again, wait} {
		b.waitState(id, "running")
	}
	b.waitLines(out, 20)
	b.readFile(filepath.Join(b.work, "again.runs"))

	done := make(chan result, 1)
	go func() { done <- b.run("qmgr", "-c", "shutdown requeue") }()
	b.waitFor("the shutdown to wait for the last job", func() bool {
		j := b.job(sim)
		return j.State == "requeued" && b.job(again).State == "requeued"
	})
	if j := b.job(wait); j.State != "running" {
		t.Fatalf("the job the shutdown waits for: %+v", j)
	}
	if j := b.job(sim); len(j.Checkpoints) != 1 || len(j.Segments) != 1 || j.Segments[0].Reason != "stopped after checkpoint 1" {
		t.Errorf("the checkpointed job after the shutdown: %+v", j)
	}
	os.WriteFile(filepath.Join(b.work, "wait.go"), nil, 0o644)
	r := <-done
	for _, line := range []string{
		"no job starts from now on", "3 running jobs",
		fmt.Sprintf("job %d: checkpoint 1, ", sim),
		fmt.Sprintf("job %d: policy n, rerunnable: killed; it starts again from the beginning", again),
		fmt.Sprintf("job %d: policy n, not rerunnable: the shutdown waits for it to finish", wait),
		fmt.Sprintf("job %d: finished", wait),
		"done: 1 checkpointed, 2 requeued, 0 killed, 0 could not be checkpointed, 0 left running",
		"lazarusd stops",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, line) {
			t.Errorf("qmgr shutdown requeue: %v; want a line %q", r, line)
		}
	}
	if err := b.waitExit(); err != nil {
		t.Fatalf("lazarusd after shutdown requeue: %v", err)
	}
	if len(b.supervisors()) != 0 {
		t.Error("supervisors left after shutdown requeue")
	}

	b.start()
	os.WriteFile(filepath.Join(b.work, "again.go"), nil, 0o644)
	j := b.waitState(sim, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation != 1 {
		t.Fatalf("after the restart: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	ja := b.waitState(again, "finished", "failed")
	if ja.State != "finished" || len(ja.Segments) != 2 || ja.Segments[1].Restart {
		t.Errorf("the rerunnable job: %+v", ja)
	}
	if runs := b.readFile(filepath.Join(b.work, "again.runs")); runs != "start\nstart\n" {
		t.Errorf("the rerunnable job's starts: %q", runs)
	}
	if jw := b.job(wait); jw.State != "finished" || len(jw.Segments) != 1 {
		t.Errorf("the job the shutdown waited for: %+v", jw)
	}
}

// A job that cannot be checkpointed (a TCP socket) is tried again until
// the deadline; then it is requeued to start again if it is rerunnable,
// else killed, and each outcome is recorded.
func TestBatchCkptShutdownDeadline(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "slots = 4\n")
	memjob := batchProg(t, "memjob")
	rerun := b.qsub("-o", filepath.Join(b.work, "r.out"), b.script("r.sh", fmt.Sprintf("#!/bin/sh\n%s -s 1\n", memjob)))
	once := b.qsub("-r", "n", "-o", filepath.Join(b.work, "o.out"), b.script("o.sh", fmt.Sprintf("#!/bin/sh\n%s -s 1\n", memjob)))
	for _, id := range []uint64{rerun, once} {
		b.waitState(id, "running")
	}
	r := b.run("qmgr", "-c", "shutdown requeue deadline=3s")
	for _, line := range []string{
		fmt.Sprintf("job %d: checkpoint failed: ", rerun),
		"trying again until ",
		fmt.Sprintf("job %d: could not be checkpointed before the deadline (", rerun),
		"killed; it restarts from the beginning",
		fmt.Sprintf("job %d: could not be checkpointed before the deadline (", once),
		"and is not rerunnable: killed",
		"done: 0 checkpointed, 1 requeued, 1 killed, 2 could not be checkpointed, 0 left running",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, line) {
			t.Errorf("qmgr shutdown requeue deadline=3s: %v; want %q", r, line)
		}
	}
	if err := b.waitExit(); err != nil {
		t.Fatal(err)
	}
	b.start()
	if j := b.job(once); j.State != "failed" || !strings.Contains(j.Reason, "could not be checkpointed before the deadline") {
		t.Errorf("the job that was not rerunnable: %+v", j)
	}
	var j proto.JobInfo
	b.waitFor("the rerunnable job to run again", func() bool {
		j = b.job(rerun)
		return j.State == "running" && len(j.Segments) == 2
	})
	if j.Segments[0].Reason != "stopped to be requeued" || j.Segments[1].Restart {
		t.Errorf("the rerunnable job: %+v", j)
	}
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	b.waitState(rerun, "finished")
}

// qchkpnt -k -h stops the job once checkpointed and holds it; qrestart
// releases it, and it restarts from that checkpoint.
func TestBatchCkptStopHoldRestart(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("held", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 20)
	// Never two at once: the second waits for the first, then is taken.
	if r := b.run("qchkpnt", "--no-wait", jobArg(id)); r.code != 0 || !strings.Contains(r.stdout, "checkpoint 1 in progress") {
		t.Errorf("qchkpnt --no-wait: %v", r)
	}
	r := b.run("qchkpnt", "-k", "-h", jobArg(id))
	if r.code != 0 || !strings.Contains(r.stdout, "checkpoint 2 durable") || !strings.Contains(r.stdout, "job stopped and held") {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	j := b.job(id)
	if j.State != "held" || !strings.Contains(j.Reason, "held by root after checkpoint 2") || len(j.Checkpoints) != 2 {
		t.Fatalf("after qchkpnt -k -h: %+v", j)
	}
	stopped := fileLines(out)
	if len(b.supervisors()) != 0 {
		t.Error("the stopped job still has a supervisor")
	}
	if r := b.run("qrestart", jobArg(id)); r.code != 0 || !strings.Contains(r.stdout, "requeued") {
		t.Fatalf("qrestart: %v", r)
	}
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation != 2 {
		t.Fatalf("after qrestart: %+v", j)
	}
	if stopped >= fileLines(out) {
		t.Errorf("the job did not go on: %d lines when stopped, %d at the end", stopped, fileLines(out))
	}
	checkNbodyOutput(t, out, want)
}

// openPTY opens a pseudo-terminal: its master, and the path of its slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Unavailable(t, "no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// qrestart -f adopts a checkpoint taken by hand of an interactive program
// (its terminal on standard input, output and error) into a batch job of
// its owner's: the job restarts from it, its terminal descriptors writing
// to the job's output file, and ends as an uninterrupted run would. An
// image of someone else's processes is refused.
func TestBatchCkptAdopt(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	user := nobody(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	master, slave := openPTY(t)
	go io.Copy(io.Discard, master) // what the program writes on its terminal before the checkpoint
	tty, err := os.OpenFile(slave, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	dir := filepath.Join(b.work, "interactive")
	os.Mkdir(dir, 0o777)
	os.Chown(dir, int(user.Uid), int(user.Gid))
	out := filepath.Join(dir, "sim.txt")
	os.Chmod(binDir, 0o755)
	sim := exec.Command("/bin/sh", "-c", fmt.Sprintf("%s %s %d %d; echo simulation over", batchProg(t, "nbody"), out, steps, bodies))
	sim.Dir = dir
	sim.Stdin, sim.Stdout, sim.Stderr = tty, tty, tty
	sim.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Credential: user}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	b.waitLines(out, 20)
	image := filepath.Join(dir, "snap")
	if r := b.runWith(cmdOpts{dir: dir}, "chkpnt", "-r", "-K", "KILL", "-f", image, strconv.Itoa(sim.Process.Pid)); r.code != 0 {
		t.Fatalf("chkpnt: %v", r)
	}
	sim.Wait()
	files, _ := filepath.Glob(image + "*")
	for _, f := range files {
		os.Chown(f, int(user.Uid), int(user.Gid)) // as if the user had taken it
	}

	// Root's own processes are not nobody's to adopt.
	rootImg := filepath.Join(b.work, "root.img")
	sleeper := exec.Command("sleep", "300")
	sleeper.Start()
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	b.mustRun("chkpnt", "-f", rootImg, strconv.Itoa(sleeper.Process.Pid))
	os.Chmod(rootImg, 0o644)
	if r := b.runWith(cmdOpts{cred: user, dir: dir}, "qrestart", "-f", rootImg); r.code != 1 || !strings.Contains(r.stderr, "not as you") {
		t.Errorf("qrestart -f of root's image by nobody: %v", r)
	}

	r := b.runWith(cmdOpts{cred: user, dir: dir}, "qrestart", "-f", "snap", "-N", "adopted")
	if r.code != 0 {
		t.Fatalf("qrestart -f: %v", r)
	}
	id, _ := parseJobID(r.stdout)
	for _, f := range files {
		os.Remove(f) // the job has its own copy
	}
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.User != "nobody" || len(j.Segments) != 1 || j.Segments[0].Generation != 1 || j.Name != "adopted" {
		t.Fatalf("the adopted job: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if got := b.readFile(filepath.Join(dir, fmt.Sprintf("adopted.o%d", id))); got != "simulation over\n" {
		t.Errorf("what the job wrote on its terminal went to %q, want \"simulation over\\n\"", got)
	}
}

// A user's job that runs its program in a user namespace of its own
// (`unshare -r --fork`: root inside, nobody outside) is checkpointed,
// stopped, held and restarted as its owner, and ends as an uninterrupted
// run: the namespace comes back with its owner and maps (the owner rules
// take a namespace that maps only the owner's ids).
func TestBatchCkptUserNamespace(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatal("needs unshare (.ci/run installs util-linux)")
	}
	cred := nobody(t)
	b := newBatch(t, "")
	dir := filepath.Join(b.work, "nobody")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	out := filepath.Join(dir, "ns.txt")
	script := filepath.Join(dir, "ns.sh")
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\n%s -r --fork %s %s %d %d\necho simulated\n", unshare, batchProg(t, "nbody"), out, steps, bodies)), 0o755)
	id := b.qsubWith(cmdOpts{dir: dir, cred: cred}, "-o", filepath.Join(dir, "ns.out"), "-e", filepath.Join(dir, "ns.err"), script)
	b.waitState(id, "running")
	b.waitLines(out, 20)
	r := b.run("qchkpnt", "-k", "-h", jobArg(id))
	if r.code != 0 || !strings.Contains(r.stdout, "job stopped and held") {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	if r := b.run("qrestart", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	j := b.waitState(id, "finished", "failed")
	errs, _ := os.ReadFile(filepath.Join(dir, "ns.err"))
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("after qrestart: %+v\n%s", j, errs)
	}
	checkNbodyOutput(t, out, want)
}

// TestBatchCkptDaemon: a job script starts a daemon the classic way (fork,
// setsid, fork, the parents exit): the daemon, the supervisor's child now,
// is in a session and a process group whose leader is gone. It was refused
// at checkpoint ("led by no process of the tree"); the job is now
// checkpointed, stopped and restarted, and the daemon comes back in its
// own session (the restart makes a ghost leader for it) and counts on
// from where it was, while the script waits for it.
func TestBatchCkptDaemon(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	out := filepath.Join(b.work, "daemon.txt")
	daemon := b.script("daemon.py", fmt.Sprintf(`import os, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
# Counted once the session's leader is gone (reaped by the subreaper).
for _ in range(1000):
    if not os.path.exists("/proc/%%d" %% os.getsid(0)):
        break
    time.sleep(0.01)
for n in range(1, 61):
    with open(%q, "a") as f:
        f.write("%%d sid=%%d pgid=%%d leader=%%s\n" %% (n, os.getsid(0), os.getpgid(0), os.path.exists("/proc/%%d" %% os.getsid(0))))
    time.sleep(0.1)
`, out))
	id := b.qsub(b.script("d.sh", fmt.Sprintf("#!/bin/sh\npython3 %s\nwhile [ \"$(wc -l < %s 2>/dev/null)\" != 60 ]; do sleep 0.1; done\necho all\n", daemon, out)))
	b.waitState(id, "running")
	b.waitLines(out, 5)
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 || !strings.Contains(r.stdout, "job stopped and held") {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	stopped := fileLines(out)
	if r := b.run("qrestart", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" || len(j.Segments) != 2 {
		t.Fatalf("after qrestart: %+v", j)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 60 || stopped >= 60 {
		t.Fatalf("%d lines (%d when stopped), want 60 and the restart to go on:\n%s", len(lines), stopped, data)
	}
	first := strings.SplitN(lines[0], " ", 2)[1]
	for i, l := range lines {
		n, rest, _ := strings.Cut(l, " ")
		if n != strconv.Itoa(i+1) || rest != first {
			t.Fatalf("line %d: %q, want %d %s (the same session and group, no leader, throughout):\n%s", i+1, l, i+1, first, data)
		}
	}
	if !strings.HasSuffix(first, "leader=False") {
		t.Errorf("the daemon's session had a leader: %s", first)
	}
}
