package ckpt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// reference runs name with args to the end: the uninterrupted run.
func reference(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("reference run of %s: %v %s", name, err, b)
	}
}

// checkpointMidway starts prog, waits for n lines of out, checkpoints it
// with -k KILL, restarts it and compares out with ref.
func checkpointMidway(t *testing.T, dir, out, ref string, n int, prog string, args ...string) {
	t.Helper()
	cmd := start(t, dir, prog, args...)
	waitFor(t, "progress", func() bool { return lines(out) >= n })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	if lines(out) >= lines(ref) {
		t.Fatal("it finished before the checkpoint; make it longer")
	}
	if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	sameFiles(t, out, ref)
}

// TestThreadsPthreads: workers on a barrier and a mutex, a thread blocked
// on a condition variable and one in nanosleep, and thread-local storage;
// then the same with 200 workers.
func TestThreadsPthreads(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "threads", "-pthread")
	for _, c := range []struct{ workers, rounds, at int }{{4, 120, 20}, {200, 60, 5}} {
		t.Run(fmt.Sprintf("%d-workers", c.workers), func(t *testing.T) {
			dir := t.TempDir()
			ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
			reference(t, prog, ref, fmt.Sprint(c.workers), fmt.Sprint(c.rounds))
			checkpointMidway(t, dir, out, ref, c.at, prog, out, fmt.Sprint(c.workers), fmt.Sprint(c.rounds))
		})
	}
}

// TestThreadsOpenMP: a gcc -fopenmp reduction loop.
func TestThreadsOpenMP(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "omp", "-fopenmp")
	dir := t.TempDir()
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, prog, ref, "150")
	checkpointMidway(t, dir, out, ref, 20, prog, out, "150")
}

// TestThreadsGo: a Go program, whose runtime has many threads, an epoll
// instance, an eventfd and timers.
func TestThreadsGo(t *testing.T) {
	needRoot(t)
	prog := filepath.Join(progDir, "goprog")
	if b, err := exec.Command("go", "build", "-o", prog, "./testdata/goprog").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, b)
	}
	dir := t.TempDir()
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, prog, ref)
	checkpointMidway(t, dir, out, ref, 8, prog, out)
}

// TestThreadsPython: CPython with threads.
func TestThreadsPython(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "threads.py")
	os.WriteFile(script, []byte(`import sys, threading, time
out = open(sys.argv[1], "w")
lock = threading.Lock()
total = [0]
def work(k, r):
    s = sum((i * (k + 1) * (r + 3)) % 7 for i in range(20000))
    with lock:
        total[0] += s
for r in range(60):
    ts = [threading.Thread(target=work, args=(k, r)) for k in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    out.write("round %d total %d\n" % (r, total[0])); out.flush()
    time.sleep(0.01)
out.close()
`), 0o644)
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, "python3", script, ref)
	checkpointMidway(t, dir, out, ref, 10, "python3", script, out)
}

// TestAnonFiles: an eventfd keeps its counter, a timerfd keeps ticking, a
// signalfd keeps its mask, and epoll keeps watching all three.
func TestAnonFiles(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	cmd := start(t, dir, cprog(t, "anonfds"), out, gofile)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(t.Context(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gofile, nil, 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{"eventfd 5\n", "timerfd fired\n", "signalfd 12\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("output %q lacks %q", b, want)
		}
	}
}

// TestLocksAndUnlinkedFiles: an flock and a POSIX record lock are held
// again after a restart (another process cannot take them); an unlinked
// O_TMPFILE file and a memfd come back with their content and offsets.
func TestLocksAndUnlinkedFiles(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	fa, fb := filepath.Join(dir, "flocked"), filepath.Join(dir, "posix")
	cmd := start(t, dir, cprog(t, "locks"), out, gofile, fa, fb)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	if m, _ := filepath.Glob(filepath.Join(dir, "locks.*.-.*")); len(m) != 2 {
		t.Errorf("copies of the unlinked files beside the image: %v, want 2 named locks.PID.-.FD", m)
	}
	p, err := Restart(t.Context(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.OpenFile(fa, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := unix.Flock(int(a.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Errorf("flock of the file the restarted process locked: %v, want EWOULDBLOCK", err)
	}
	b, err := os.OpenFile(fb, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 12, Len: 1}
	if err := unix.FcntlFlock(b.Fd(), unix.F_GETLK, &fl); err != nil || fl.Type != unix.F_WRLCK || int(fl.Pid) != p.PID || fl.Start != 10 || fl.Len != 10 {
		t.Errorf("F_GETLK: %+v %v, want the write lock of bytes 10-19 held by pid %d", fl, err, p.PID)
	}
	os.WriteFile(gofile, nil, 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got, _ := os.ReadFile(out)
	for _, want := range []string{"tmpfile tail\n", "memfd content\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
}

// TestPythonAsyncio: asyncio (epoll, its socket pair) and a unix socket
// pair with bytes waiting in it.
func TestPythonAsyncio(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	script, _ := filepath.Abs("testdata/aioqueue.py")
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, "python3", script, ref)
	checkpointMidway(t, dir, out, ref, 20, "python3", script, out)
}

// TestPOSIXTimers: a periodic timer_create timer keeps its id, its signal
// value and its period.
func TestPOSIXTimers(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	cmd := start(t, dir, cprog(t, "ptimers", "-lrt"), out, gofile)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(t.Context(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gofile, nil, 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got, _ := os.ReadFile(out)
	if want := "ready id 1\nticking value 77 id-valid 1\n"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestInotify: an inotify instance keeps its watches under the same watch
// descriptors, a removed one leaving its gap.
func TestInotify(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out.txt"), filepath.Join(dir, "go")
	watched, file, other := filepath.Join(dir, "watched"), filepath.Join(dir, "file"), filepath.Join(dir, "other")
	os.Mkdir(watched, 0o755)
	os.WriteFile(file, nil, 0o644)
	os.WriteFile(other, nil, 0o644)
	cmd := start(t, dir, cprog(t, "inotify"), out, gofile, watched, file, other)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(t.Context(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gofile, nil, 0o644)
	os.WriteFile(filepath.Join(watched, "new"), nil, 0o644)
	os.WriteFile(file, []byte("x"), 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got, _ := os.ReadFile(out)
	if want := "ready 1 3\nevent wd 1\nevent wd 3\n"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
