package ckpt

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkIncrementalCheckpoint: a 1 GiB job (testdata/incr.c) is
// checkpointed whole with the dirty-page tracker, rewrites 5% of its pages
// (one in 20, spread out), and is checkpointed again against the first:
// size and time of each, of the restore through the chain and of a
// self-contained image, and of merging the chain (pruning's work). Run by
// make bench.
func BenchmarkIncrementalCheckpoint(b *testing.B) {
	for _, mib := range []int{1024} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			dir := b.TempDir()
			out := filepath.Join(dir, "out")
			cmd := start(b, dir, cprog(b, "incr"), fmt.Sprint(mib), out)
			pid := cmd.Process.Pid
			waitFor(b, "ready", func() bool { return lines(out) >= 1 })
			ask := func(sig unix.Signal) {
				n := lines(out)
				unix.Kill(pid, sig)
				waitFor(b, "an answer", func() bool { return lines(out) > n })
			}
			for i := 0; i < b.N; i++ {
				full, err := Checkpoint(context.Background(), pid, CheckpointOptions{Dir: dir, File: "full", Track: true, Replace: true})
				if err != nil {
					b.Fatal(err)
				}
				ask(unix.SIGUSR1) // 5% of the pages written
				t0 := time.Now()
				incr, err := Checkpoint(context.Background(), pid, CheckpointOptions{Dir: dir, File: "incr", Parent: filepath.Join(dir, "full"), Replace: true})
				if err != nil {
					b.Fatal(err)
				}
				incrTime := time.Since(t0)
				if !incr.Incremental {
					b.Fatal("not incremental")
				}
				ask(unix.SIGUSR1)
				t0 = time.Now()
				fullAgain, err := Checkpoint(context.Background(), pid, CheckpointOptions{Dir: dir, File: "full2", Replace: true})
				if err != nil {
					b.Fatal(err)
				}
				fullTime := time.Since(t0)
				b.ReportMetric(fullTime.Seconds(), "full-s")
				b.ReportMetric(fullAgain.Frozen.Seconds(), "full-stopped-s")
				b.ReportMetric(float64(fullAgain.Disk)/(1<<20), "full-disk-MiB")
				b.ReportMetric(incrTime.Seconds(), "incr-s")
				b.ReportMetric(incr.Frozen.Seconds(), "incr-stopped-s")
				b.ReportMetric(float64(incr.Disk)/(1<<20), "incr-disk-MiB")
				b.ReportMetric(float64(incr.Memory)/float64(full.Memory)*100, "incr-%mem")
				cmd.Process.Kill()
				cmd.Wait()
				t0 = time.Now()
				p, err := Restart(context.Background(), filepath.Join(dir, "incr"), RestartOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(t0).Seconds(), "restore-chain-s")
				unix.Kill(p.PID, unix.SIGKILL)
				p.Wait()
				t0 = time.Now()
				if p, err = Restart(context.Background(), filepath.Join(dir, "full2"), RestartOptions{}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(t0).Seconds(), "restore-full-s")
				unix.Kill(p.PID, unix.SIGKILL)
				p.Wait()
				// What a batch system's pruning does: the incremental
				// image made self-contained, through its chain.
				t0 = time.Now()
				if _, err := Merge(context.Background(), filepath.Join(dir, "incr"), MergeOptions{}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(t0).Seconds(), "merge-s")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}
