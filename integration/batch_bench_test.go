package integration

// Benchmarks of the batch system (make bench): submission throughput
// through qsub and through the protocol, qstat latency, and the daemon's
// start time and memory with 100,000 jobs in its store. Each runs its
// experiment once (whatever b.N is) and reports its figures as metrics.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
)

const benchJobs = 100_000

// benchDaemon is a lazarusd started for a benchmark.
type benchDaemon struct {
	home    string
	cmd     *exec.Cmd
	startup time.Duration // from exec to the first answer
}

func startBenchDaemon(b *testing.B, home string) *benchDaemon {
	b.Helper()
	cmd := exec.Command(bin("lazarusd"), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "LAZARUS_HOME="+home)
	logf, err := os.Create(filepath.Join(home, "lazarusd.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	d := &benchDaemon{home: home, cmd: cmd}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		if c, err := proto.Dial(context.Background(), home); err == nil {
			err = c.Call(context.Background(), proto.OpPing, nil, nil)
			c.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(home, "lazarusd.log"))
			b.Fatalf("lazarusd did not answer; its log:\n%s", log)
		}
	}
	d.startup = time.Since(t0)
	return d
}

// rss returns the daemon's resident and peak resident memory, in MiB.
func (d *benchDaemon) rss(b *testing.B) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

func benchHome(b *testing.B) string {
	home := b.TempDir()
	os.WriteFile(filepath.Join(home, "lazarus.conf"), []byte("slots = 64\n"), 0o644)
	return home
}

// bigStore returns a state directory whose store holds benchJobs jobs:
// 90% finished (one run each), 10% queued in a stopped queue, owned by 50
// users.
func bigStore(b *testing.B) string {
	b.Helper()
	home := benchHome(b)
	t0 := time.Now()
	if err := populate(filepath.Join(home, "lazarus.db"), benchJobs); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d jobs in %v", benchJobs, time.Since(t0).Round(time.Millisecond))
	return home
}

var benchScript = []byte("#!/bin/sh\n#comment\n./simulate --case input.dat --steps 1000000 > result.dat\n")

func populate(path string, n int) error {
	s, err := queue.Open(path, queue.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	return fillStore(s, n)
}

// queuedJob returns a job of s that waits (qstat shows it without -x),
// near the middle of the ids.
func queuedJob(s *queue.Store) string {
	var one jobs.ID
	for j := range s.View().JobsInState(jobs.Queued) {
		if one = j.ID; one >= benchJobs/2 {
			break
		}
	}
	return one.String()
}

// fillStore stores n jobs in s (see bigStore).
func fillStore(s *queue.Store, n int) error {
	now := time.Now().Round(0)
	q := queue.NewQueue("batch", now)
	q.Started = false
	if err := s.CreateQueue(q); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	per := n / 16
	for w := range 16 {
		wg.Go(func() {
			for i := range per {
				k := w*per + i
				uid := uint32(1000 + k%50)
				j := &jobs.Job{
					ID: s.NextID(), Name: fmt.Sprintf("sim-%d.sh", k), Queue: "batch", State: jobs.Finished,
					Owner:     jobs.Owner{UID: uid, GID: uid, Groups: []uint32{uid}, Name: fmt.Sprintf("user%d", k%50)},
					Submitted: now, Changed: now, Workdir: fmt.Sprintf("/home/user%d/runs/case%d", k%50, k%300),
					Script: "/var/lib/lazarus/spool/x", Rerunnable: true,
					Resources:  jobs.Resources{NCPUs: 1 + k%4, Mem: 2 << 30, Walltime: 12 * time.Hour},
					Checkpoint: jobs.Policy{Kind: jobs.CheckpointInterval, Interval: 2 * time.Hour},
				}
				j.Stdout = j.Workdir + "/" + j.Name + ".o" + j.ID.String()
				j.Stderr = j.Workdir + "/" + j.Name + ".e" + j.ID.String()
				if k%10 == 0 {
					j.State = jobs.Queued
				} else {
					j.Segments = []jobs.Segment{{Start: now.Add(-time.Hour), End: now, UserCPU: 3500 * time.Second, SysCPU: 20 * time.Second}}
				}
				if err := s.Submit(j, benchScript, []byte("HOME=/home/user\x00PATH=/usr/bin:/bin\x00"), nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkBatchDaemon100k: start time and memory of lazarusd with 100,000
// jobs in its store.
func BenchmarkBatchDaemon100k(b *testing.B) {
	home := bigStore(b)
	b.ResetTimer()
	d := startBenchDaemon(b, home)
	b.StopTimer()
	rss, _ := d.rss(b)
	// The peak after the heaviest request: a full listing of every job.
	c := exec.Command(bin("qstat"), "-f", "-F", "json")
	c.Env = append(os.Environ(), "LAZARUS_HOME="+home)
	if err := c.Run(); err != nil {
		b.Fatal(err)
	}
	after, hwm := d.rss(b)
	b.ReportMetric(d.startup.Seconds()*1000, "start-ms")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(after, "rss-after-qstat-f-MiB")
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.Logf("lazarusd with %d jobs: ready in %v, RSS %.0f MiB idle, %.0f MiB after qstat -f of all (peak %.0f MiB)",
		benchJobs, d.startup.Round(time.Millisecond), rss, after, hwm)
}

// BenchmarkBatchQstat100k: qstat latency with 100,000 jobs in the store.
func BenchmarkBatchQstat100k(b *testing.B) {
	home := bigStore(b)
	s, err := queue.Open(filepath.Join(home, "lazarus.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	one := queuedJob(s)
	s.Close()
	startBenchDaemon(b, home)
	benchQstat(b, home, one)
}

// benchQstat measures qstat; one is the id of a job that has not ended.
func benchQstat(b *testing.B, home, one string) {
	env := append(os.Environ(), "LAZARUS_HOME="+home)
	time1 := func(args ...string) time.Duration {
		var ds []time.Duration
		for range 5 {
			c := exec.Command(bin("qstat"), args...)
			c.Env = env
			t0 := time.Now()
			if out, err := c.CombinedOutput(); err != nil {
				b.Fatalf("qstat %v: %v: %s", args, err, out[:min(len(out), 200)])
			}
			ds = append(ds, time.Since(t0))
		}
		return median(ds)
	}
	b.ResetTimer()
	oneJob := time1(one)
	oneFull := time1("-f", one)
	user := time1("-u", "user7")
	queues := time1("-Q")
	all := time1()
	allJSON := time1("-F", "json")
	b.StopTimer()
	b.ReportMetric(float64(oneJob.Microseconds())/1000, "one-job-ms")
	b.ReportMetric(float64(oneFull.Microseconds())/1000, "one-job-f-ms")
	b.ReportMetric(float64(user.Microseconds())/1000, "user-2000-jobs-ms")
	b.ReportMetric(float64(queues.Microseconds())/1000, "Q-ms")
	b.ReportMetric(float64(all.Microseconds())/1000, "all-100k-ms")
	b.ReportMetric(float64(allJSON.Microseconds())/1000, "all-100k-json-ms")
	b.Logf("qstat with %d jobs (median of 5, command start included): one job %v, -f one job %v, -u (2,000 jobs) %v, -Q %v, all jobs %v, all as JSON %v",
		benchJobs, oneJob, oneFull, user, queues, all, allJSON)
}

// BenchmarkBatchQsubCommand: submissions per second through the qsub
// command, one at a time and four at a time (into a stopped queue, so that
// only submission is measured).
func BenchmarkBatchQsubCommand(b *testing.B) {
	home := benchHome(b)
	startBenchDaemon(b, home)
	env := append(os.Environ(), "LAZARUS_HOME="+home)
	script := filepath.Join(home, "job.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755)
	run := func(args ...string) {
		c := exec.Command(bin(args[0]), args[1:]...)
		c.Env, c.Dir = env, home
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("qmgr", "-c", "stop queue batch")
	measure := func(workers, each int) float64 {
		t0 := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					run("qsub", script)
				}
			})
		}
		wg.Wait()
		return float64(workers*each) / time.Since(t0).Seconds()
	}
	b.ResetTimer()
	seq := measure(1, 300)
	par := measure(4, 150)
	b.StopTimer()
	b.ReportMetric(seq, "jobs/s-sequential")
	b.ReportMetric(par, "jobs/s-4-parallel")
	b.Logf("qsub command: %.0f jobs/s one at a time, %.0f jobs/s four at a time", seq, par)
}

// BenchmarkBatchQsubAPI: submissions per second through the protocol
// (internal/proto), one client and sixteen clients, each on one connection.
func BenchmarkBatchQsubAPI(b *testing.B) {
	home := benchHome(b)
	startBenchDaemon(b, home)
	benchQsubAPI(b, home)
}

func benchQsubAPI(b *testing.B, home string) {
	ctx := context.Background()
	setup, err := proto.Dial(ctx, home)
	if err != nil {
		b.Fatal(err)
	}
	if err := setup.Call(ctx, proto.OpQueueSet, proto.QueueRequest{Name: "batch",
		Attrs: []proto.Attribute{{Name: "started", Value: "false"}}}, nil); err != nil {
		b.Fatal(err)
	}
	setup.Close()
	req := proto.SubmitRequest{Script: []byte("#!/bin/sh\necho hello\n"), ScriptName: "job.sh", Workdir: home,
		Env: []string{"HOME=/root", "PATH=/usr/bin:/bin"}}
	measure := func(clients, each int) float64 {
		t0 := time.Now()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				c, err := proto.Dial(ctx, home)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for range each {
					var reply proto.SubmitReply
					if err := c.Call(ctx, proto.OpSubmit, req, &reply); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return float64(clients*each) / time.Since(t0).Seconds()
	}
	b.ResetTimer()
	one := measure(1, 2000)
	many := measure(16, 250)
	b.StopTimer()
	b.ReportMetric(one, "jobs/s-1-client")
	b.ReportMetric(many, "jobs/s-16-clients")
	b.Logf("protocol submissions: %.0f jobs/s from one client, %.0f jobs/s from sixteen", one, many)
}
