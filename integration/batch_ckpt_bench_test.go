package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkBatchCkptPeriodic1GiB runs a batch job holding 1 GiB of data
// (memjob: pages of random bytes, none of which a checkpoint can skip) with
// periodic checkpoints, as lazarusd takes them (its helper, the whole tree,
// fsync of every image and of the generation), and reports per checkpoint:
// how long the job was stopped (the mean, and the longest), how long the
// checkpoint took until durable, and its size; and the overhead over the
// job's run at an interval of one
// hour, extrapolated from those: stopped time / 1 h (the job runs on while
// its image is written), and, as an upper bound, the whole checkpoint's
// time / 1 h. Like the other benchmarks it runs its experiment once.
func BenchmarkBatchCkptPeriodic1GiB(b *testing.B) {
	batchNeedRoot(b)
	const samples = 3
	// An hour lasts 10 s: a checkpoint every 10 s, kept, so each can be read.
	d := newBatch(b, fmt.Sprintf("checkpoint_hour = 10s\ncheckpoint_keep = %d\n", samples+1))
	out := filepath.Join(d.work, "mem.out")
	id := d.qsub("-c", "1", "-o", out, d.script("mem.sh", fmt.Sprintf("#!/bin/sh\n%s 1024\n", batchProg(b, "memjob"))))
	d.waitFor("memjob to fill 1 GiB", func() bool {
		data, _ := os.ReadFile(out)
		return strings.Contains(string(data), "ready")
	})
	ready := time.Now()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		j := d.job(id)
		var got []int
		for _, g := range j.Checkpoints {
			if g.Time.After(ready) {
				got = append(got, g.N)
			}
		}
		if len(got) >= samples {
			break
		}
		if j.State != "running" && j.State != "checkpointing" || time.Now().After(deadline) {
			b.Fatalf("the job: %+v", j)
		}
		time.Sleep(500 * time.Millisecond)
	}
	j := d.job(id)
	var frozen, took, size, worst float64
	n := 0
	for _, g := range j.Checkpoints {
		if !g.Time.After(ready) {
			continue
		}
		b.Logf("checkpoint %d: %.2f GiB, job stopped %.3f s, durable after %.2f s", g.N, float64(g.Size)/(1<<30), g.Frozen, g.Seconds)
		frozen += g.Frozen
		worst = max(worst, g.Frozen)
		took += g.Seconds
		size += float64(g.Size)
		n++
	}
	frozen, took, size = frozen/float64(n), took/float64(n), size/float64(n)
	os.WriteFile(filepath.Join(d.work, "stop"), nil, 0o644)
	d.waitState(id, "finished", "failed")
	b.ReportMetric(frozen*1000, "stop-ms/ckpt")
	b.ReportMetric(worst*1000, "max-stop-ms")
	b.ReportMetric(took, "durable-s/ckpt")
	b.ReportMetric(size/(1<<30), "GiB/ckpt")
	b.ReportMetric(frozen/3600*100, "stop-%@1h")
	b.ReportMetric(took/3600*100, "max-overhead-%@1h")
}
