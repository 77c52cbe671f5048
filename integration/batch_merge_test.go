package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// memjobChecksum is the checksum memjob prints of MIB MiB (its memory
// after growing: the same pseudo-random sequence, continued).
func memjobChecksum(mib int) string {
	state, h := uint64(88172645463325252), uint64(1469598103934665603)
	for i := 0; i < mib<<17; i++ {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		h = (h ^ state) * 1099511628211
	}
	return fmt.Sprintf("checksum %016x of %d MiB", h, mib)
}

// memGrow makes the memjob writing to out add 8 MiB, its grows-th time.
func (b *batch) memGrow(out string, grows int) {
	b.t.Helper()
	os.WriteFile(filepath.Join(b.work, "grow"), nil, 0o644)
	b.waitFor(fmt.Sprintf("memjob to grow %d times", grows), func() bool {
		data, _ := os.ReadFile(out)
		return strings.Count(string(data), "grown") >= grows
	})
}

// memJob submits a memjob of mib MiB and waits for it to be ready.
func (b *batch) memJob(name string, mib int) (uint64, string) {
	b.t.Helper()
	out := filepath.Join(b.work, name+".out")
	id := b.qsub("-o", out, b.script(name+".sh", fmt.Sprintf("#!/bin/sh\n%s %d\n", batchProg(b.t, "memjob"), mib)))
	b.waitState(id, "running")
	b.waitFor("memjob to be ready", func() bool {
		data, _ := os.ReadFile(out)
		return strings.Contains(string(data), "ready")
	})
	return id, out
}

// genDirs lists the generation directories of a job on disk.
func (b *batch) genDirs(id uint64) []string {
	entries, _ := os.ReadDir(filepath.Join(b.home, "spool", jobArg(id)+".ckpt"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// stopMemJob asks a memjob to print its checksum and end, and checks it.
func (b *batch) stopMemJob(id uint64, out string, mib int) {
	b.t.Helper()
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" {
		b.t.Fatalf("job: %+v", j)
	}
	data, _ := os.ReadFile(out)
	if want := memjobChecksum(mib); !strings.Contains(string(data), want) {
		b.t.Errorf("output %q, want %q", data, want)
	}
}

// The chain policy: with checkpoint_keep = 2 and checkpoint_full_every
// large, every generation is incremental against the one before, and the
// whole chain is kept as it is (no merge: the keep counts the points a
// restart can go back to, not files), each generation a few MiB. Then
// checkpoint_full_every is lowered to 2: the next checkpoint is
// self-contained, and the older point, whose chain is now too long, is
// merged, so that only the two kept points are on disk. A power cut: the
// job restarts from the newest with its memory intact.
func TestBatchCkptChainKept(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "checkpoint_full_every = 32\ncheckpoint_keep = 2\n")
	const mib = 64
	id, out := b.memJob("chain", mib)
	var want []string
	for k := 1; k <= 4; k++ {
		b.memGrow(out, k)
		b.mustRun("qchkpnt", jobArg(id))
		if k > 1 {
			want = append([]string{fmt.Sprintf("%d<%d", k, k-1)}, want...)
		} else {
			want = []string{"1"}
		}
		if got := gens(b.job(id)); got != strings.Join(want, " ") {
			t.Fatalf("after checkpoint %d: generations %s (N<parent), want %s", k, got, strings.Join(want, " "))
		}
	}
	if got := b.genDirs(id); !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Errorf("generation directories %v, want the whole chain", got)
	}
	if strings.Contains(b.log(), "generation merged") {
		t.Error("a generation was merged while the chain was within its bounds")
	}
	j := b.job(id)
	if full, incr := j.Checkpoints[3].Size, j.Checkpoints[0].Size; full < (mib+8)<<20 || incr > full/4 {
		t.Errorf("sizes: full generation %d, newest %d", full, incr)
	}
	b.mustRun("qmgr", "-c", "set server checkpoint_full_every = 2")
	b.memGrow(out, 5)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitFor("generation 4 merged and its chain deleted", func() bool {
		return gens(b.job(id)) == "5 4" && slices.Equal(b.genDirs(id), []string{"4", "5"})
	})
	b.crash()
	b.start()
	b.waitFor("the job to restart", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 2
	})
	if j := b.job(id); !j.Segments[1].Restart || j.Segments[1].Generation != 5 {
		t.Fatalf("job after the power cut: %+v", j)
	}
	b.stopMemJob(id, out, mib+5*8)
}

// A power cut while the daemon merges a generation (its images half
// written under a temporary name, or renamed already): checkpoint_keep =
// 2 and a chain 1<2<3; checkpoint_full_every lowered to 2, so checkpoint
// 4 is self-contained and 3, the older point, is merged. The power goes
// during that merge; the job restarts from the newest generation, every
// generation the record lists is on disk with what it needs, and the next
// checkpoint merges what is left to merge and deletes what is no longer
// needed.
func TestBatchCkptMergePowerCut(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "checkpoint_full_every = 32\ncheckpoint_keep = 2\n")
	const mib = 512
	id, out := b.memJob("cut", mib)
	for k := 1; k <= 3; k++ {
		if k > 1 {
			b.memGrow(out, k-1)
		}
		b.mustRun("qchkpnt", jobArg(id))
	}
	if got := gens(b.job(id)); got != "3<2 2<1 1" {
		t.Fatalf("generations %s, want 3<2 2<1 1", got)
	}
	b.mustRun("qmgr", "-c", "set server checkpoint_full_every = 2")
	b.memGrow(out, 3)
	done := make(chan result, 1)
	go func() { done <- b.run("qchkpnt", jobArg(id)) }()
	gen3 := filepath.Join(b.home, "spool", jobArg(id)+".ckpt", "3")
	begun, caught := false, false
	for !caught {
		select {
		case r := <-done:
			if r.code != 0 {
				t.Fatalf("qchkpnt: %v", r)
			}
			t.Log("the merge ended before a temporary image was seen: the power cut is after it")
			caught = true
			continue
		default:
		}
		if !begun {
			j := b.job(id)
			begun = len(j.Checkpoints) > 0 && j.Checkpoints[0].N == 4
			continue
		}
		entries, _ := os.ReadDir(gen3)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".job") && strings.Contains(e.Name(), ".tmp") {
				t.Logf("power cut with %s in generation 3", e.Name())
				caught = true
			}
		}
	}
	b.crash()
	b.start()
	b.waitFor("the job to restart", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 2
	})
	j := b.job(id)
	if !j.Segments[1].Restart || j.Segments[1].Generation != 4 {
		t.Fatalf("job after the power cut: %+v", j)
	}
	// Every recorded generation and what it needs is there.
	for _, g := range j.Checkpoints {
		if _, err := os.Stat(g.Image); err != nil {
			t.Errorf("generation %d recorded, its image: %v", g.N, err)
		}
		if g.Parent != 0 && !recorded(j, g.Parent) {
			t.Errorf("generation %d needs %d, not recorded: %s", g.N, g.Parent, gens(j))
		}
	}
	b.memGrow(out, 4)
	b.mustRun("qchkpnt", jobArg(id))
	b.waitFor("only the two newest kept, and on disk", func() bool {
		return gens(b.job(id)) == "5<4 4" && slices.Equal(b.genDirs(id), []string{"4", "5"})
	})
	b.stopMemJob(id, out, mib+32)
}

// A job restarted from a generation is tracked again: the first
// checkpoint of the restarted run is incremental against the generation
// it restarted from (small), and a restart from that one, through the
// chain, gets the memory back intact.
func TestBatchCkptRestoredIncremental(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "checkpoint_full_every = 8\ncheckpoint_keep = 8\n")
	const mib = 128
	id, out := b.memJob("rt", mib)
	b.mustRun("qchkpnt", jobArg(id))
	b.crash()
	b.start()
	b.waitFor("the job to restart", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 2
	})
	b.memGrow(out, 1)
	b.mustRun("qchkpnt", jobArg(id))
	j := b.job(id)
	if got := gens(j); got != "2<1 1" {
		t.Fatalf("generations %s (N<parent), want 2<1 1", got)
	}
	if full, incr := j.Checkpoints[1].Size, j.Checkpoints[0].Size; incr > full/4 {
		t.Errorf("the restarted run's checkpoint: %d bytes, the full one %d", incr, full)
	}
	b.crash()
	b.start()
	b.waitFor("the job to restart again", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) == 3
	})
	if j := b.job(id); j.Segments[2].Generation != 2 {
		t.Fatalf("restarted from %d, want 2", j.Segments[2].Generation)
	}
	b.stopMemJob(id, out, mib+8)
}

// A generation whose parent is damaged cannot be restarted from: the
// restart says so, naming the parent, and the job falls back to the
// generation before, and before that, down to a good self-contained one.
func TestBatchCkptDamagedParent(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "checkpoint_full_every = 3\ncheckpoint_keep = 3\n")
	const mib = 32
	id, out := b.memJob("dp", mib)
	for k := 1; k <= 3; k++ {
		if k > 1 {
			b.memGrow(out, k-1)
		}
		b.mustRun("qchkpnt", jobArg(id))
	}
	j := b.job(id)
	if got := gens(j); got != "3<2 2<1 1" {
		t.Fatalf("generations %s (N<parent), want 3<2 2<1 1", got)
	}
	// A byte of the memory memjob grew by before generation 2, which 3
	// inherits: the middle of memjob's image.
	imgs, _ := filepath.Glob(filepath.Join(j.Checkpoints[1].Dir, "job.memjob.*"))
	if len(imgs) != 1 {
		t.Fatalf("memjob's images in generation 2: %v", imgs)
	}
	img := imgs[0]
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b.crash()
	b.start()
	b.waitFor("the job to restart from generation 1", func() bool {
		j := b.job(id)
		n := len(j.Segments)
		return j.State == "running" && n >= 2 && j.Segments[n-1].Generation == 1
	})
	j = b.job(id)
	var bad3 string
	for _, g := range j.Checkpoints {
		if g.N == 3 {
			bad3 = g.Bad
		}
	}
	if !strings.Contains(bad3, "2/"+filepath.Base(img)) {
		t.Errorf("generation 3 bad for %q, want its parent 2/%s named", bad3, filepath.Base(img))
	}
	b.stopMemJob(id, out, mib)
}
