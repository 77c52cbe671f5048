package ckpt

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 13's figures, measured on these machines with the image in the
// page cache: CRIU 4.2's restore times, and ours when the issue was
// opened, by MiB of the job. The benchmarks report their ratios to ours
// (vs-criu, vs-issue above 1: faster).
var (
	criuRestore  = map[int]float64{1024: 1.12, 4096: 3.99}
	issueRestore = map[int]float64{4096: 10.1}
)

// BenchmarkRestore restarts one checkpoint of memhog holding 256 MiB,
// 1 GiB, 4 GiB (and 1 GiB with a key: every segment's HMAC verified) and
// reports:
//   - cold-s: the first restore right after the checkpoint, as a restart
//     after a crash meets it: the image was written around the page cache
//     and the memory just freed by the job is not backed by the host yet;
//   - uncached-s: the median of three restores of the image dropped from
//     the page cache (POSIX_FADV_DONTNEED), the memory warm;
//   - restore-s (warm): the median of three with the image read into the
//     page cache first, the figure CRIU's are compared with;
//   - touch-s: how long this process takes to fault in as much fresh
//     memory (4 KiB pages, as a restore maps it), once the memory freed
//     has had time to go back to the host (free page reporting): the
//     floor of a cold restore that day (it moves with the host's load);
//     vs-touch is touch-s over restore-s: near 1, the restore costs what
//     its memory does and nothing else; touch-huge-s, the same with
//     MADV_HUGEPAGE (what a restore that forced huge pages would pay);
//   - of the lazy restore (warm): the time until the process runs and
//     until every page is in (Process.Loaded).
func BenchmarkRestore(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	key := make([]byte, 32)
	for _, c := range []struct {
		name string
		mib  int
		key  []byte
	}{{"256MiB", 256, nil}, {"1024MiB", 1024, nil}, {"1024MiB-hmac", 1024, key}, {"4096MiB", 4096, nil}} {
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
	restore := func(lazy bool) (ran, loaded float64) {
		start := time.Now()
		p, err := Restart(context.Background(), img, RestartOptions{Force: true, Key: key, Lazy: lazy})
		if err != nil {
			b.Fatal(err)
		}
		ran = time.Since(start).Seconds()
		if lazy {
			<-p.Loaded()
			if err := p.LoadErr(); err != nil {
				b.Fatal(err)
			}
			loaded = time.Since(start).Seconds()
		}
		unix.Kill(p.PID, unix.SIGKILL)
		p.Wait()
		return ran, loaded
	}
	cold, _ := restore(false)
	var uncached, warm, lazyRun, lazyLoaded []float64
	for r := 0; r < reps; r++ {
		pageCache(b, false, img)
		s, _ := restore(false)
		uncached = append(uncached, s)
	}
	for r := 0; r < reps; r++ {
		pageCache(b, true, img)
		s, _ := restore(false)
		warm = append(warm, s)
		pageCache(b, true, img)
		ran, loaded := restore(true)
		lazyRun = append(lazyRun, ran)
		lazyLoaded = append(lazyLoaded, loaded)
	}
	time.Sleep(3 * time.Second) // the memory freed goes back to the host
	b.ReportMetric(cold, "cold-s")
	touch := touchFresh(b, mib, false)
	b.ReportMetric(touch, "touch-s")
	time.Sleep(3 * time.Second)
	b.ReportMetric(touchFresh(b, mib, true), "touch-huge-s")
	b.ReportMetric(touch/median(warm), "vs-touch")
	b.ReportMetric(median(uncached), "uncached-s")
	b.ReportMetric(median(warm), "restore-s")
	b.ReportMetric(float64(mib)/median(warm), "restore-MiB/s")
	if criu, ok := criuRestore[mib]; ok && key == nil {
		b.ReportMetric(criu/median(warm), "vs-criu")
		b.ReportMetric(criu/cold, "cold-vs-criu")
	}
	if was, ok := issueRestore[mib]; ok && key == nil {
		b.ReportMetric(was/median(warm), "vs-issue")
	}
	b.ReportMetric(median(lazyRun)*1000, "lazy-run-ms")
	b.ReportMetric(median(lazyLoaded), "lazy-loaded-s")
	b.ReportMetric(0, "ns/op")
}

// pageCache reads the files paths whole into the page cache (in true),
// or drops them from it.
func pageCache(b *testing.B, in bool, paths ...string) {
	b.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		if in {
			_, err = io.Copy(io.Discard, f)
		} else {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// touchFresh maps mib MiB of anonymous memory (with MADV_HUGEPAGE if
// huge), writes a byte of every 4 KiB page and unmaps it: the seconds it
// took.
func touchFresh(b *testing.B, mib int, huge bool) float64 {
	b.Helper()
	n := mib << 20
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(m)
	if huge {
		unix.Madvise(m, unix.MADV_HUGEPAGE)
	}
	start := time.Now()
	for i := 0; i < n; i += 4096 {
		m[i] = 1
	}
	return time.Since(start).Seconds()
}
