package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// criuRestore holds the restore times CRIU 4.2 took on these machines
// (issue 13, image in the page cache), by MiB of the job: the benchmarks
// report their ratio to ours (vs-criu above 1: faster than CRIU).
var criuRestore = map[int]float64{1024: 1.12, 4096: 3.99}

// BenchmarkRestore restarts one checkpoint of memhog holding 256 MiB and
// 1 GiB (and 1 GiB with a key: every segment's HMAC verified) three times
// each, eagerly and lazily, image in the page cache, and reports medians:
// the eager restore until the process runs, and of the lazy restore the
// time until the process runs (its first instruction) and until every page
// is in (Process.Loaded). The 4 GiB figure comes from
// BenchmarkCheckpointRestart (the machine is shared: one such job at most).
func BenchmarkRestore(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	key := make([]byte, 32)
	for _, c := range []struct {
		name string
		mib  int
		key  []byte
	}{{"256MiB", 256, nil}, {"1024MiB", 1024, nil}, {"1024MiB-hmac", 1024, key}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchRestore(b, c.mib, c.key)
			}
		})
	}
}

func benchRestore(b *testing.B, mib int, key []byte) {
	const reps = 3
	dir := b.TempDir()
	t := &testing.T{}
	prog := cprog(t, "memhog")
	if t.Failed() {
		b.Fatal("cannot build memhog")
	}
	out := filepath.Join(dir, "out.txt")
	proc, err := os.StartProcess(prog, []string{"memhog", fmt.Sprint(mib), out}, &os.ProcAttr{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { proc.Kill(); proc.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for lines(out) < 1 {
		if time.Now().After(deadline) {
			b.Fatal("memhog never got ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Key: key}); err != nil {
		b.Fatal(err)
	}
	proc.Kill()
	proc.Wait()
	var eager, lazyRun, lazyLoaded []float64
	for r := 0; r < reps; r++ {
		for _, lazy := range []bool{false, true} {
			start := time.Now()
			p, err := Restart(context.Background(), img, RestartOptions{Force: true, Key: key, Lazy: lazy})
			if err != nil {
				b.Fatal(err)
			}
			ran := time.Since(start).Seconds()
			if lazy {
				lazyRun = append(lazyRun, ran)
				<-p.Loaded()
				if err := p.LoadErr(); err != nil {
					b.Fatal(err)
				}
				lazyLoaded = append(lazyLoaded, time.Since(start).Seconds())
			} else {
				eager = append(eager, ran)
			}
			unix.Kill(p.PID, unix.SIGKILL)
			p.Wait()
		}
	}
	b.ReportMetric(median(eager), "restore-s")
	b.ReportMetric(float64(mib)/median(eager), "restore-MiB/s")
	if criu, ok := criuRestore[mib]; ok && key == nil {
		b.ReportMetric(criu/median(eager), "vs-criu")
	}
	b.ReportMetric(median(lazyRun)*1000, "lazy-run-ms")
	b.ReportMetric(median(lazyLoaded), "lazy-loaded-s")
	b.ReportMetric(0, "ns/op")
}
