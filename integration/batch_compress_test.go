package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"lazarus/ckpt"
)

// TestBatchCkptCompress: a job of a queue with ckpt_compress = true is
// checkpointed into compressed images (qmgr shows the setting), stopped,
// restarted from them and ends as an uninterrupted run would; a queue set
// back to false writes uncompressed images.
func TestBatchCkptCompress(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	b.mustRun("qmgr", "-c", "create queue zq")
	b.mustRun("qmgr", "-c", "set queue zq ckpt_compress = true")
	if out := b.mustRun("qmgr", "-c", "list queue zq"); !strings.Contains(out, "ckpt_compress = true") {
		t.Errorf("qmgr list queue zq:\n%s", out)
	}
	if r := b.run("qmgr", "-c", "set queue zq ckpt_compress = maybe"); r.code == 0 || !strings.Contains(r.stderr, "ckpt_compress") {
		t.Errorf("qmgr set queue zq ckpt_compress = maybe: %v, want a refusal naming the attribute", r)
	}
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("zjob", steps, bodies, "-q", "zq")
	b.waitState(id, "running")
	b.waitLines(out, 20)
	r := b.run("qchkpnt", "-k", "-h", jobArg(id))
	if r.code != 0 || !strings.Contains(r.stdout, "checkpoint 1 durable") {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	j := b.job(id)
	if len(j.Checkpoints) != 1 {
		t.Fatalf("after qchkpnt -k -h: %+v", j)
	}
	img, err := ckpt.ReadImage(j.Checkpoints[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	if img.Compressed() != "zstd" {
		t.Fatalf("image of a job of a ckpt_compress queue: compression %q, want zstd", img.Compressed())
	}
	stopped := fileLines(out)
	if r := b.run("qrestart", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	b.waitState(id, "running")
	b.waitLines(out, stopped+10)
	b.mustRun("qmgr", "-c", "set queue zq ckpt_compress = false")
	b.mustRun("qchkpnt", jobArg(id))
	j = b.job(id)
	if img, err := ckpt.ReadImage(j.Checkpoints[0].Image); err != nil {
		t.Error(err)
	} else if img.Compressed() != "" {
		t.Errorf("image after ckpt_compress = false: compression %q, want none", img.Compressed())
	}
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation != 1 {
		t.Fatalf("after qrestart: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}

// TestBatchCkptCompressAdopt: a tree checkpointed by hand with chkpnt -z
// is handed to the batch system (qrestart -f): its compressed images are
// copied, verified and restored, and the job ends as an uninterrupted run.
func TestBatchCkptCompressAdopt(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	dir := filepath.Join(b.work, "byhand")
	os.Mkdir(dir, 0o755)
	out := filepath.Join(dir, "sim.txt")
	sim := exec.Command("/bin/sh", "-c", fmt.Sprintf("%s %s %d %d; echo simulation over", batchProg(t, "nbody"), out, steps, bodies))
	sim.Dir = dir
	sim.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	b.waitLines(out, 20)
	image := filepath.Join(dir, "snap")
	if r := b.runWith(cmdOpts{dir: dir}, "chkpnt", "-z", "-r", "-K", "KILL", "-f", image, strconv.Itoa(sim.Process.Pid)); r.code != 0 {
		t.Fatalf("chkpnt -z: %v", r)
	}
	sim.Wait()
	if img, err := ckpt.ReadImage(image); err != nil || img.Compressed() != "zstd" {
		t.Fatalf("chkpnt -z image: %v", err)
	}
	r := b.runWith(cmdOpts{dir: dir}, "qrestart", "-f", "snap", "-N", "zadopted")
	if r.code != 0 {
		t.Fatalf("qrestart -f: %v", r)
	}
	id, _ := parseJobID(r.stdout)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 1 {
		t.Fatalf("the adopted job: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}
