package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMPICheckpoint1GiB: an MPICH job of 4 ranks holding 256 MiB of
// data each (heat with MIB_PER_RANK 256: pages of non-zero words, none a
// checkpoint can skip), checkpointed as a tree while it runs (chkpnt -r
// -v: the tree stopped only while its memory is copied out) and restarted
// from that image after the tree is killed (restart -W: until every
// process runs again). Reports the stop time, the checkpoint's time until
// its images are durable, the restore's time and the images' size. Run
// once, as the other benchmarks (make bench).
func BenchmarkMPICheckpoint1GiB(b *testing.B) {
	f := mpiFlavours[1]
	exe := mpiBuild(b, f)
	dir := b.TempDir()
	out := filepath.Join(dir, "out.txt")
	args := f.command(exe, out, 100000, 100, "256")
	b.Logf("job: %v", args)
	before := mpiShm()
	defer func() {
		for n := range mpiShm() {
			if !before[n] {
				os.Remove(n)
			}
		}
	}()
	cmd := newMPICmd(dir, args)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	root := cmd.Process.Pid
	defer func() { mpiKillTree(root); cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for fileLines(out) < 3 {
		if time.Now().After(deadline) {
			b.Fatal("the job did not start its steps")
		}
		time.Sleep(50 * time.Millisecond)
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	c := exec1(b, dir, bin("chkpnt"), "-r", "-v", "-d", img, strconv.Itoa(root))
	m := regexp.MustCompile(`process stopped ([0-9.]+)s, total ([0-9.]+)s`).FindStringSubmatch(c)
	if m == nil {
		b.Fatalf("chkpnt -v said %q", c)
	}
	stopped, _ := strconv.ParseFloat(m[1], 64)
	total, _ := strconv.ParseFloat(m[2], 64)
	var size int64
	imgs, _ := filepath.Glob(filepath.Join(img, "*"))
	for _, p := range imgs {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	ranks := mpiRanksOf(nil, root, exe)
	mpiKillTree(root)
	cmd.Wait()
	for _, pid := range append(ranks, root) {
		for pidExists(pid) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	rootImg, _ := filepath.Glob(filepath.Join(img, "*."+strconv.Itoa(root)))
	if len(rootImg) != 1 {
		b.Fatalf("root image: %v", rootImg)
	}
	start := time.Now()
	exec1(b, dir, bin("restart"), "-q", "-W", rootImg[0])
	restore := time.Since(start)
	if got := mpiRanksOf(nil, root, exe); len(got) != mpiRanks {
		b.Fatalf("restarted ranks %v", got)
	}
	at := fileLines(out)
	for fileLines(out) < at+2 {
		if time.Now().After(deadline) {
			b.Fatal("the restarted job makes no progress")
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(root, syscall.SIGKILL)
	b.ReportMetric(stopped, "stop-s")
	b.ReportMetric(total, "checkpoint-s")
	b.ReportMetric(restore.Seconds(), "restore-s")
	b.ReportMetric(float64(size)/(1<<30), "image-GiB")
	b.Logf("4 ranks, 1 GiB: stopped %.3f s, checkpoint %.2f s, restore %.2f s, images %.2f GiB", stopped, total, restore.Seconds(), float64(size)/(1<<30))
}
