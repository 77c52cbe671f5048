package ckpt

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCheckpointRestart checkpoints and restarts a process holding
// 256 MiB, 1 GiB and 4 GiB of touched memory, three times each, and
// reports medians: wall seconds of the checkpoint (until the image is
// durable), how long the target was stopped, MiB/s, the restore time
// (until the process runs again) and the image size, apparent and on disk.
// Run it with make bench.
func BenchmarkCheckpointRestart(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	// 1024MiB-hmac: the same with a key, as the batch system checkpoints
	// and restores (HMAC-SHA256 of every segment, written and verified).
	key := make([]byte, 32)
	for _, c := range []struct {
		name string
		mib  int
		key  []byte
	}{{"256MiB", 256, nil}, {"1024MiB", 1024, nil}, {"1024MiB-hmac", 1024, key}, {"4096MiB", 4096, nil}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchOne(b, c.mib, c.key)
			}
		})
	}
}

func benchOne(b *testing.B, mib int, key []byte) {
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
	var ckpt, stopped, restore []float64
	var img string
	var res *CheckpointResult
	for r := 0; r < reps; r++ {
		img = filepath.Join(dir, fmt.Sprintf("img%d", r))
		res, err = Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Key: key})
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
		start := time.Now()
		p, err := Restart(context.Background(), img, RestartOptions{Force: true, Key: key})
		if err != nil {
			b.Fatal(err)
		}
		restore = append(restore, time.Since(start).Seconds())
		unix.Kill(p.PID, unix.SIGKILL)
		p.Wait()
	}
	size := float64(mib)
	b.ReportMetric(median(ckpt), "ckpt-s")
	b.ReportMetric(median(stopped), "stopped-s")
	b.ReportMetric(size/median(ckpt), "ckpt-MiB/s")
	b.ReportMetric(median(restore), "restore-s")
	b.ReportMetric(size/median(restore), "restore-MiB/s")
	b.ReportMetric(float64(res.Apparent)/(1<<20), "image-MiB")
	b.ReportMetric(float64(res.Disk)/(1<<20), "disk-MiB")
	b.ReportMetric(0, "ns/op")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkTreeCheckpointRestart checkpoints and restarts a tree of 16
// processes holding 1 GiB in total (64 MiB each), three times, and reports
// medians: checkpoint wall seconds, how long the tree was stopped, and the
// restore time of the whole tree: the first after the checkpoint (cold-s,
// images not in the page cache) and of three with the images read into
// the page cache (restore-s).
func BenchmarkTreeCheckpointRestart(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const procs, mibEach = 16, 64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		t := &testing.T{}
		prog := cprog(t, "forest")
		out := filepath.Join(dir, "out.txt")
		proc, err := os.StartProcess(prog, []string{"forest", fmt.Sprint(procs), fmt.Sprint(mibEach), out}, &os.ProcAttr{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		killTree := func(root int) {
			for _, c := range childrenOf(root) {
				unix.Kill(c, unix.SIGKILL)
			}
			unix.Kill(root, unix.SIGKILL)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for lines(out) < procs {
			if time.Now().After(deadline) {
				b.Fatal("forest never got ready")
			}
			time.Sleep(50 * time.Millisecond)
		}
		var ckpt, stopped, restore []float64
		var img string
		var res *CheckpointResult
		for r := 0; r < 3; r++ {
			img = filepath.Join(dir, fmt.Sprintf("img%d", r))
			res, err = Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Tree: true, Logger: benchLogger()})
			if err != nil {
				b.Fatal(err)
			}
			ckpt = append(ckpt, res.Duration.Seconds())
			stopped = append(stopped, res.Frozen.Seconds())
		}
		killTree(proc.Pid)
		proc.Wait()
		time.Sleep(3 * time.Second) // init reaps the orphaned children
		// The first restore meets the images as written (not in the page
		// cache); the others read them into it first.
		var cold float64
		for r := 0; r < 4; r++ {
			if r > 0 {
				pageCache(b, true, res.Images...)
			}
			start := time.Now()
			p, err := Restart(context.Background(), img, RestartOptions{Force: true, Logger: benchLogger()})
			if err != nil {
				b.Fatal(err)
			}
			if s := time.Since(start).Seconds(); r == 0 {
				cold = s
			} else {
				restore = append(restore, s)
			}
			killTree(p.PID)
			p.Wait()
			time.Sleep(3 * time.Second)
		}
		b.ReportMetric(float64(len(res.Images)), "procs")
		b.ReportMetric(median(ckpt), "ckpt-s")
		b.ReportMetric(median(stopped), "stopped-s")
		b.ReportMetric(cold, "cold-s")
		b.ReportMetric(median(restore), "restore-s")
		b.ReportMetric(float64(res.Disk)/(1<<20), "disk-MiB")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkThreadsCheckpointRestart checkpoints and restarts a process of
// 64 threads holding 1 GiB, three times, and reports medians; of the
// restore, the first after the checkpoint (cold-s, image not in the page
// cache) and the median of three with the image read into the page cache
// (restore-s).
func BenchmarkThreadsCheckpointRestart(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		t := &testing.T{}
		prog := cprog(t, "threadhog", "-pthread")
		out := filepath.Join(dir, "out.txt")
		proc, err := os.StartProcess(prog, []string{"threadhog", "64", "1024", out}, &os.ProcAttr{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for lines(out) < 1 {
			if time.Now().After(deadline) {
				b.Fatal("threadhog never got ready")
			}
			time.Sleep(50 * time.Millisecond)
		}
		var ckpt, stopped, restore []float64
		var img string
		for r := 0; r < 3; r++ {
			img = filepath.Join(dir, fmt.Sprintf("img%d", r))
			res, err := Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Logger: benchLogger()})
			if err != nil {
				b.Fatal(err)
			}
			ckpt = append(ckpt, res.Duration.Seconds())
			stopped = append(stopped, res.Frozen.Seconds())
		}
		proc.Kill()
		proc.Wait()
		// The first restore meets the image as written (not in the page
		// cache); the others read it into it first.
		var cold float64
		for r := 0; r < 4; r++ {
			if r > 0 {
				pageCache(b, true, img)
			}
			start := time.Now()
			p, err := Restart(context.Background(), img, RestartOptions{Force: true, Logger: benchLogger()})
			if err != nil {
				b.Fatal(err)
			}
			if s := time.Since(start).Seconds(); r == 0 {
				cold = s
			} else {
				restore = append(restore, s)
			}
			unix.Kill(p.PID, unix.SIGKILL)
			p.Wait()
		}
		b.ReportMetric(64, "threads")
		b.ReportMetric(median(ckpt), "ckpt-s")
		b.ReportMetric(median(stopped), "stopped-s")
		b.ReportMetric(cold, "cold-s")
		b.ReportMetric(median(restore), "restore-s")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkCheckpointStop checkpoints testdata/heartbeat (MIB of touched
// memory, every page of it written over and over, one word at a turn, as
// fast as it can: a job that writes fast while its image is written)
// while it runs, three times (once at 14 GiB), and reports medians:
//   - gap-ms: how long the job was stopped as it saw it (the longest gap
//     between two turns of its loop, over the whole checkpoint: the
//     freeze, the stop of one thread before it that makes the
//     userfaultfd, and any write that waited for the image), and
//     idle-gap-ms, the longest gap of the same job over as long as a
//     checkpoint took, without one (what the machine's load does to it
//     alone);
//   - stopped-ms: the freeze as the engine measured it;
//   - ckpt-s: the whole checkpoint, until the image is durable;
//   - rss-MiB: the checkpointer's peak resident memory above what it held
//     before (VmHWM, reset with clear_refs);
//   - restore-s, disk-MiB: the restore of the last image, its size;
//   - gap/orig, rss/orig: as ratios to issue 13's figures for
//     the same size (stopped 0.50 s at 1 GiB, 1.44 s at 4 GiB, 43.7 s at
//     14 GiB; checkpointer RSS 1.13 GB at 1 GiB, 4.48 GB at 4 GiB).
//
// Ways: uffd, an untracked checkpoint (a userfaultfd snapshot, protected
// before the freeze); tracked, a periodic incremental one (each against
// the one before, the first one whole, with the dirty-page tracker: the
// batch daemon's periodic checkpoint), and twin, untracked through
// copy-on-write twins. LAZARUS_BENCH_WAY=uffd, tracked or twin runs one
// way only (twin only when asked); LAZARUS_BENCH_PREREARM=0 re-arms the
// tracker of a tracked one in the freeze only (rearm_linux_amd64.go);
// LAZARUS_BENCH_DEBUG=1 prints the checkpoints' debugging output. Sizes: 256 MiB, 1 GiB and, when the
// machine has the memory, 4 GiB; LAZARUS_BENCH_14G=1 adds 14 GiB (minutes,
// and 17 GiB of memory free).
func BenchmarkCheckpointStop(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	sizes := []int{256, 1024}
	if avail := memAvailable(); avail >= (8<<30)+(2<<30) || os.Getenv("LAZARUS_BENCH_4G") == "1" {
		sizes = append(sizes, 4096)
	} else {
		b.Logf("4 GiB left out: %d MiB of memory available", avail>>20)
	}
	if os.Getenv("LAZARUS_BENCH_14G") == "1" {
		// The job, and its restore after it is gone, with room to spare.
		if avail := memAvailable(); avail >= (14<<30)+(3<<30) {
			sizes = append(sizes, 14336)
		} else {
			b.Logf("14 GiB left out: %d MiB of memory available", avail>>20)
		}
	}
	ways := []string{"uffd", "tracked"}
	if w := os.Getenv("LAZARUS_BENCH_WAY"); w != "" {
		ways = []string{w}
	}
	for _, way := range ways {
		for _, mib := range sizes {
			b.Run(fmt.Sprintf("%s/%dMiB", way, mib), func(b *testing.B) {
				uffdSnapshots = way != "twin"
				preRearms = os.Getenv("LAZARUS_BENCH_PREREARM") != "0"
				defer func() { uffdSnapshots, preRearms = true, true }()
				for i := 0; i < b.N; i++ {
					benchStop(b, mib, way == "tracked")
				}
			})
		}
	}
}

// Issue 13's figures, by MiB of the job: seconds stopped, bytes of the
// checkpointer's peak RSS.
var (
	issue13Stop = map[int]float64{1024: 0.50, 4096: 1.44, 14336: 43.7}
	issue13RSS  = map[int]float64{1024: 1.13e9, 4096: 4.48e9}
)

func benchStop(b *testing.B, mib int, tracked bool) {
	reps := 3
	if mib > 8192 {
		reps = 1
	}
	dir := b.TempDir()
	t := &testing.T{}
	prog := cprog(t, "heartbeat")
	if t.Failed() {
		b.Fatal("cannot build heartbeat")
	}
	out := filepath.Join(dir, "out.txt")
	proc, err := os.StartProcess(prog, []string{"heartbeat", fmt.Sprint(mib), out}, &os.ProcAttr{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { proc.Kill(); proc.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for lines(out) < 1 {
		if time.Now().After(deadline) {
			b.Fatal("heartbeat never got ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	gapOf := func() float64 {
		n := lines(out)
		proc.Signal(unix.SIGUSR1)
		for lines(out) <= n {
			time.Sleep(5 * time.Millisecond)
		}
		data, _ := os.ReadFile(out)
		var us float64
		fmt.Sscanf(tailLine(data), "gap %g", &us)
		return us / 1e3
	}
	parent := ""
	if tracked {
		// The first of the chain, whole, leaves the tracker.
		parent = filepath.Join(dir, "base")
		if _, err := Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: parent, Track: true}); err != nil {
			b.Fatal(err)
		}
	}
	var ckpt, stopped, gap, rss []float64
	var img string
	var res *CheckpointResult
	for r := 0; r < reps; r++ {
		img = filepath.Join(dir, fmt.Sprintf("img%d", r))
		time.Sleep(200 * time.Millisecond)
		gapOf() // start measuring now
		base := resetPeakRSS()
		res, err = Checkpoint(context.Background(), proc.Pid, CheckpointOptions{File: img, Parent: parent, Logger: benchLogger()})
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, float64(peakRSS()-base)/(1<<20))
		time.Sleep(100 * time.Millisecond)
		gap = append(gap, gapOf())
		ckpt = append(ckpt, res.Duration.Seconds())
		stopped = append(stopped, res.Frozen.Seconds()*1e3)
		if tracked {
			if !res.Incremental {
				b.Fatal("the tracked checkpoint is not incremental")
			}
			parent = img
		} else if r < reps-1 {
			os.Remove(img)
		}
	}
	// The same job over as long as a checkpoint took, without one.
	gapOf()
	time.Sleep(time.Duration(median(ckpt) * float64(time.Second)))
	idle := gapOf()
	proc.Signal(unix.SIGUSR2)
	proc.Wait()
	start := time.Now()
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		b.Fatal(err)
	}
	restore := time.Since(start).Seconds()
	unix.Kill(p.PID, unix.SIGKILL)
	p.Wait()
	b.ReportMetric(median(gap), "gap-ms")
	b.ReportMetric(idle, "idle-gap-ms")
	b.ReportMetric(median(stopped), "stopped-ms")
	b.ReportMetric(median(ckpt), "ckpt-s")
	b.ReportMetric(median(rss), "rss-MiB")
	b.ReportMetric(restore, "restore-s")
	b.ReportMetric(float64(res.Disk)/(1<<20), "disk-MiB")
	if o, ok := issue13Stop[mib]; ok {
		b.ReportMetric(median(gap)/1e3/o, "gap/orig")
	}
	if o, ok := issue13RSS[mib]; ok {
		b.ReportMetric(median(rss)*(1<<20)/o, "rss/orig")
	}
	b.ReportMetric(0, "ns/op")
}

// benchLogger is the checkpoints' logger of the benchmarks: with
// LAZARUS_BENCH_DEBUG=1 their debugging output on stderr (what the freeze
// spent its time on), else none.
func benchLogger() *slog.Logger {
	if os.Getenv("LAZARUS_BENCH_DEBUG") != "1" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func tailLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// resetPeakRSS resets this process's VmHWM to its VmRSS (clear_refs 5)
// and returns that.
func resetPeakRSS() uint64 {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return statusKB("VmRSS:")
}

func peakRSS() uint64 { return statusKB("VmHWM:") }

func statusKB(key string) uint64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			var kb uint64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}
