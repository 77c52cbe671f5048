package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lazarus/jobs"
)

// BenchmarkBatchArray100k: an array of 100,000 subjobs through qsub (into
// a stopped queue, so that only submission is measured), then qstat of it:
// the array's line, its -f, every job, and -t (a line per subjob); and the
// size of the store, which holds the array once with a byte per subjob.
func BenchmarkBatchArray100k(b *testing.B) {
	home := benchHome(b)
	d := startBenchDaemon(b, home)
	env := append(os.Environ(), "LAZARUS_HOME="+home)
	script := filepath.Join(home, "job.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n#PBS -N sweep\necho $PBS_ARRAY_INDEX\n"), 0o755)
	run := func(args ...string) (string, time.Duration) {
		c := exec.Command(bin(args[0]), args[1:]...)
		c.Env, c.Dir = env, home
		t0 := time.Now()
		out, err := c.CombinedOutput()
		if err != nil {
			b.Fatalf("%v: %v: %s", args, err, out[:min(len(out), 300)])
		}
		return string(out), time.Since(t0)
	}
	run("qmgr", "-c", "stop queue batch")
	var subs []time.Duration
	var id jobs.ID
	b.ResetTimer()
	for range 3 {
		out, took := run("qsub", "-J", "1-100000", script)
		subs = append(subs, took)
		var err error
		if id, err = jobs.ParseID(strings.TrimSpace(out)); err != nil {
			b.Fatal(err)
		}
	}
	time1 := func(args ...string) time.Duration {
		var ds []time.Duration
		for range 5 {
			_, took := run(append([]string{"qstat"}, args...)...)
			ds = append(ds, took)
		}
		return median(ds)
	}
	one := time1(id.String())
	full := time1("-f", id.String())
	all := time1()
	sub := time1(jobs.SubjobID(id.Base(), 77777).String())
	out, _ := run("qstat", "-t", id.String())
	if n := strings.Count(out, "\n"); n != 100_000+3 {
		b.Fatalf("qstat -t printed %d lines", n)
	}
	each := time1("-t", id.String())
	b.StopTimer()
	st, err := os.Stat(filepath.Join(home, "lazarus.db"))
	if err != nil {
		b.Fatal(err)
	}
	rss, _ := d.rss(b)
	qsub := median(subs)
	b.ReportMetric(float64(qsub.Microseconds())/1000, "qsub-100k-ms")
	b.ReportMetric(float64(one.Microseconds())/1000, "qstat-array-ms")
	b.ReportMetric(float64(full.Microseconds())/1000, "qstat-f-array-ms")
	b.ReportMetric(float64(all.Microseconds())/1000, "qstat-all-ms")
	b.ReportMetric(float64(sub.Microseconds())/1000, "qstat-subjob-ms")
	b.ReportMetric(float64(each.Microseconds())/1000, "qstat-t-100k-ms")
	b.ReportMetric(float64(st.Size())/(1<<20), "db-MiB")
	b.ReportMetric(rss, "rss-MiB")
	b.Logf("array of 100,000 subjobs (x3 in the store): qsub %v (median of 3, command start included); qstat of the array %v, -f %v, all jobs %v, one subjob %v, -t (100,000 lines) %v; store %.1f MiB, lazarusd RSS %.0f MiB",
		qsub, one, full, all, sub, each, float64(st.Size())/(1<<20), rss)
}
