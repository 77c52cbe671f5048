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

// BenchmarkCompress checkpoints and restarts textmem holding 1 GiB of
// memory as a simulation's compresses (half text-like lines, a quarter
// random words, an eighth zero pages, the rest a repeating pattern),
// uncompressed and compressed (CheckpointOptions.Compress levels 1 and 3,
// level 1 with a key), three times each, and reports medians: the
// checkpoint until the image is durable, how long the target was stopped,
// the image on disk (and apparent), the eager restore until the process
// runs and the lazy restore until every page is in (image in the page
// cache). Run it with make bench, or:
//
//	go test -run '^$' -bench BenchmarkCompress -benchtime 1x ./ckpt
func BenchmarkCompress(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	key := make([]byte, 32)
	for _, c := range []struct {
		name  string
		level int
		key   []byte
	}{{"1024MiB-plain", 0, nil}, {"1024MiB-z1", 1, nil}, {"1024MiB-z1-hmac", 1, key}, {"1024MiB-z3", 3, nil}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchCompress(b, 1024, c.level, c.key)
			}
		})
	}
}

func benchCompress(b *testing.B, mib, level int, key []byte) {
	const reps = 3
	dir := b.TempDir()
	t := &testing.T{}
	prog := cprog(t, "textmem")
	if t.Failed() {
		b.Fatal("cannot build textmem")
	}
	out := filepath.Join(dir, "out.txt")
	proc, err := os.StartProcess(prog, []string{"textmem", fmt.Sprint(mib), out}, &os.ProcAttr{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { proc.Kill(); proc.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for lines(out) < 1 {
		if time.Now().After(deadline) {
			b.Fatal("textmem never got ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ckpt, stopped, restore, lazyLoaded []float64
	var img string
	var res *CheckpointResult
	for r := 0; r < reps; r++ {
		img = filepath.Join(dir, fmt.Sprintf("img%d", r))
		res, err = Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Key: key, Compress: level})
		if err != nil {
			b.Fatal(err)
		}
		ckpt = append(ckpt, res.Duration.Seconds())
		stopped = append(stopped, res.Frozen.Seconds())
		if r < reps-1 {
			os.Remove(img)
		}
	}
	proc.Kill()
	proc.Wait()
	for r := 0; r < reps; r++ {
		for _, lazy := range []bool{false, true} {
			start := time.Now()
			p, err := Restart(context.Background(), img, RestartOptions{Force: true, Key: key, Lazy: lazy})
			if err != nil {
				b.Fatal(err)
			}
			if lazy {
				<-p.Loaded()
				if err := p.LoadErr(); err != nil {
					b.Fatal(err)
				}
				lazyLoaded = append(lazyLoaded, time.Since(start).Seconds())
			} else {
				restore = append(restore, time.Since(start).Seconds())
			}
			unix.Kill(p.PID, unix.SIGKILL)
			p.Wait()
		}
	}
	b.ReportMetric(median(ckpt), "ckpt-s")
	b.ReportMetric(median(stopped)*1000, "stopped-ms")
	b.ReportMetric(float64(res.Disk)/(1<<20), "disk-MiB")
	b.ReportMetric(float64(res.Apparent)/(1<<20), "image-MiB")
	b.ReportMetric(median(restore), "restore-s")
	b.ReportMetric(median(lazyLoaded), "lazy-loaded-s")
	b.ReportMetric(0, "ns/op")
}
