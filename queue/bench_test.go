package queue

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lazarus/internal/etcdtest"
	"lazarus/jobs"
)

// Benchmarks of the two backends (make bench): submissions per second,
// one submitter and sixteen, and the time to open (load) a store of
// 100,000 jobs. etcd is a one-member embedded cluster with fsync on, as
// bbolt has it; each experiment runs once and reports its figures.

func benchStores(b *testing.B, fn func(b *testing.B, open func(b *testing.B, o EtcdOptions) *Store)) {
	b.Run("bbolt", func(b *testing.B) {
		dir := b.TempDir()
		fn(b, func(b *testing.B, o EtcdOptions) *Store {
			// Each open of the same IDBlock is the same file (a reopen).
			s, err := Open(filepath.Join(dir, fmt.Sprintf("lazarus%d.db", o.IDBlock)), o.Options)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		})
	})
	b.Run("etcd", func(b *testing.B) {
		c := etcdtest.Start(b, etcdtest.Options{Members: 1, Fsync: true})
		spool := filepath.Join(b.TempDir(), "spool")
		fn(b, func(b *testing.B, o EtcdOptions) *Store {
			o.SpoolDir = spool
			s, err := OpenEtcd(b.Context(), c.NewClient(b), "/lazarus", o)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func benchJob(s *Store, k int) *jobs.Job {
	now := time.Now().Round(0)
	uid := uint32(1000 + k%50)
	return &jobs.Job{
		ID: s.NextID(), Name: fmt.Sprintf("sim-%d.sh", k), Queue: "batch", State: jobs.Queued,
		Owner:     jobs.Owner{UID: uid, GID: uid, Groups: []uint32{uid}, Name: fmt.Sprintf("user%d", k%50)},
		Submitted: now, Changed: now, Workdir: fmt.Sprintf("/home/user%d/runs/case%d", k%50, k%300),
		Script: "/var/lib/lazarus/spool/x", Rerunnable: true,
		Resources:  jobs.Resources{NCPUs: 1 + k%4, Mem: 2 << 30, Walltime: 12 * time.Hour},
		Checkpoint: jobs.Policy{Kind: jobs.CheckpointInterval, Interval: 2 * time.Hour},
	}
}

var benchScript = []byte("#!/bin/sh\n./simulate --case input.dat --steps 1000000 > result.dat\n")

// submitMany submits n jobs from workers goroutines and returns the rate.
func submitMany(b *testing.B, s *Store, workers, n int) float64 {
	b.Helper()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := s.Submit(benchJob(s, i), benchScript, []byte("HOME=/home/u\x00"), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds()
}

// BenchmarkStoreSubmit: submissions per second, with job ids one at a
// time (etcd: IDBlock 1, the default) and reserved 64 at a time.
func BenchmarkStoreSubmit(b *testing.B) {
	benchStores(b, func(b *testing.B, open func(*testing.B, EtcdOptions) *Store) {
		s := open(b, EtcdOptions{})
		s64 := open(b, EtcdOptions{IDBlock: 64})
		b.ResetTimer()
		one := submitMany(b, s, 1, 500)
		sixteen := submitMany(b, s, 16, 4000)
		sixteen64 := submitMany(b, s64, 16, 4000)
		b.StopTimer()
		b.ReportMetric(one, "jobs/s-1")
		b.ReportMetric(sixteen, "jobs/s-16")
		b.ReportMetric(sixteen64, "jobs/s-16-idblock64")
		b.Logf("submissions: %.0f jobs/s one at a time, %.0f jobs/s sixteen at a time (%.0f with ids reserved 64 at a time)",
			one, sixteen, sixteen64)
		if e, ok := s64.be.(*etcdStore); ok {
			// Group commit: writes per etcd transaction, sixteen at a time.
			w, g := e.writes.Load(), e.groups.Load()
			b.ReportMetric(float64(w)/float64(max(g, 1)), "writes/txn-16-idblock64")
			b.Logf("group commit: %d writes in %d etcd transactions", w, g)
		}
	})
}

// BenchmarkStoreOpen100k: opening (loading the view of) a store of
// 100,000 jobs, and reading one job and all of them from the view.
func BenchmarkStoreOpen100k(b *testing.B) {
	const n = 100_000
	benchStores(b, func(b *testing.B, open func(*testing.B, EtcdOptions) *Store) {
		s := open(b, EtcdOptions{IDBlock: 1000})
		t0 := time.Now()
		rate := submitMany(b, s, 32, n)
		b.Logf("stored %d jobs in %v (%.0f jobs/s, 32 submitters)", n, time.Since(t0).Round(time.Millisecond), rate)
		s.Close()
		b.ResetTimer()
		t0 = time.Now()
		s = open(b, EtcdOptions{IDBlock: 1000})
		load := time.Since(t0)
		t0 = time.Now()
		if s.View().Job(50000) == nil {
			b.Fatal("job 50000 missing")
		}
		one := time.Since(t0)
		t0 = time.Now()
		count := 0
		for range s.View().Jobs() {
			count++
		}
		all := time.Since(t0)
		b.StopTimer()
		if count != n {
			b.Fatalf("%d jobs after reopening, want %d", count, n)
		}
		b.ReportMetric(load.Seconds()*1000, "open-ms")
		b.ReportMetric(float64(one.Nanoseconds())/1000, "one-job-us")
		b.ReportMetric(all.Seconds()*1000, "all-jobs-ms")
		b.Logf("open with %d jobs: %v; one job from the view %v, all %v", n, load.Round(time.Millisecond), one, all.Round(time.Millisecond))
	})
}
