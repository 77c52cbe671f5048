package ckpt

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkLazy restarts lazily one checkpoint of lazyclock holding 1 GiB
// and 4 GiB (image in the page cache) and reports, from the workload's own
// clock: the time from the call of Restart to the workload's first
// instruction after it (lazy-first-instr-ms), and to the workload having
// read every page of its memory (lazy-touched-all-s, faults and the
// background load together); and the time until every page is in
// (Process.Loaded, lazy-loaded-s). Also the same run's restart time of the
// eager restore to its first instruction (eager-first-instr-ms), for
// comparison.
func BenchmarkLazy(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, mib := range []int{1024, 4096} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchLazy(b, mib)
			}
		})
	}
}

func benchLazy(b *testing.B, mib int) {
	dir := b.TempDir()
	t := &testing.T{}
	prog := cprog(t, "lazyclock")
	if t.Failed() {
		b.Fatal("cannot build lazyclock")
	}
	out := filepath.Join(dir, "out.txt")
	proc, err := os.StartProcess(prog, []string{"lazyclock", fmt.Sprint(mib), out}, &os.ProcAttr{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { proc.Kill(); proc.Wait() }()
	await := func(prefix string) string {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			data, _ := os.ReadFile(out)
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, prefix) {
					return l
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("lazyclock never wrote %q", prefix)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	await("ready")
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img}); err != nil {
		b.Fatal(err)
	}
	proc.Kill()
	proc.Wait()
	if f, err := os.Open(img); err == nil { // into the page cache
		io.Copy(io.Discard, f)
		f.Close()
	}
	run := func(lazy bool) (first, touched, loaded float64) {
		os.WriteFile(out, []byte("ready\n"), 0o644)
		time.Sleep(400 * time.Millisecond) // the gap lazyclock sees
		began := time.Now()
		p, err := Restart(context.Background(), img, RestartOptions{Force: true, Lazy: lazy})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Loaded()
		loaded = time.Since(began).Seconds()
		if err := p.LoadErr(); err != nil {
			b.Fatal(err)
		}
		var ns, tns int64
		var sum string
		fmt.Sscanf(await("resumed "), "resumed %d", &ns)
		fmt.Sscanf(await("touched "), "touched %d %s", &tns, &sum)
		p.Wait()
		return float64(ns-began.UnixNano()) / 1e6, float64(tns-began.UnixNano()) / 1e9, loaded
	}
	eager, _, _ := run(false)
	first, touched, loaded := run(true)
	b.ReportMetric(eager, "eager-first-instr-ms")
	b.ReportMetric(first, "lazy-first-instr-ms")
	b.ReportMetric(touched, "lazy-touched-all-s")
	b.ReportMetric(loaded, "lazy-loaded-s")
	b.ReportMetric(0, "ns/op")
}
