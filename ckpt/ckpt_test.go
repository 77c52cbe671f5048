package ckpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// The engine is tested on real processes: C programs compiled from
// testdata/ by the tests, and Python. A restore is proven by behaviour: the
// computation finishes with the same output as an uninterrupted run.

var (
	progDir  string
	progOnce sync.Map // name -> *progBuild
)

type progBuild struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ckpt-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	progDir = dir
	os.Chmod(dir, 0o755) // the programs also run as other users
	// Descriptors this test binary inherited (from a shell, a CI runner)
	// would be inherited by the test programs and make them
	// uncheckpointable; none of them is ours to pass on.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root: ptrace of the test programs with clone3 set_tid and PR_SET_MM_MAP")
	}
}

// cprog compiles testdata/NAME.c once per test binary and returns the
// executable.
func cprog(t testing.TB, name string, flags ...string) string {
	t.Helper()
	v, _ := progOnce.LoadOrStore(name, &progBuild{})
	pb := v.(*progBuild)
	pb.once.Do(func() {
		pb.path = filepath.Join(progDir, name)
		args := append([]string{"-O2", "-g", "-o", pb.path, filepath.Join("testdata", name+".c")}, flags...)
		out, err := exec.Command("gcc", append(args, "-lm")...).CombinedOutput()
		if err != nil {
			pb.err = fmt.Errorf("gcc %s: %v\n%s", name, err, out)
		}
	})
	if pb.err != nil {
		t.Fatal(pb.err)
	}
	return pb.path
}

// start runs a target with stdin and stdout on /dev/null (a pipe to the
// test would be a descriptor outside the checkpointed process).
func start(t testing.TB, dir string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// waitFor polls until cond holds, failing the test after a generous
// deadline (the machines are small and shared).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// checkpointKill checkpoints cmd's process with -k KILL and reaps it.
func checkpointKill(t *testing.T, cmd *exec.Cmd, image string) *CheckpointResult {
	t.Helper()
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: image, Signal: unix.SIGKILL})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("target after chkpnt -k KILL: %v, want killed by SIGKILL", err)
	}
	return res
}

func restartWait(t *testing.T, image string, opts RestartOptions) unix.WaitStatus {
	t.Helper()
	p, err := Restart(context.Background(), image, opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	return waitProc(t, p)
}

// waitProc waits for a restarted process, killing it and failing the test
// if it does not end within a generous deadline.
func waitProc(t *testing.T, p *Process) unix.WaitStatus {
	t.Helper()
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		ws, err := p.Wait()
		done <- result{ws, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ws
	case <-time.After(2 * time.Minute):
		unix.Kill(p.PID, unix.SIGKILL)
		<-done
		t.Fatalf("restarted process %d did not finish", p.PID)
		return 0
	}
}

func sameFiles(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("output after restart differs from an uninterrupted run:\ngot  %q\nwant %q", tail(g), tail(w))
	}
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// computeRun runs compute to the end as the reference.
func computeRun(t *testing.T, dir, out, data string, steps int) {
	t.Helper()
	cmd := exec.Command(cprog(t, "compute"), out, fmt.Sprint(steps), data)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v %s", err, b)
	}
}

func dataFile(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "data.bin")
	b := make([]byte, 300*1024+123)
	for i := range b {
		b[i] = byte(i*7 + i/1000)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRestartComputation: heap, stack, a private file mapping, floating
// point, the vDSO, a signal handler and an output file all survive a
// checkpoint, a kill and a restart; the output is byte for byte that of an
// uninterrupted run, and a second restart of the same image too.
func TestRestartComputation(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	data := dataFile(t, dir)
	ref := filepath.Join(dir, "ref.txt")
	computeRun(t, dir, ref, data, 80)
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "compute"), out, "80", data)
	waitFor(t, "the computation to get going", func() bool { return lines(out) >= 20 })
	img := filepath.Join(dir, "compute.img")
	res := checkpointKill(t, cmd, img)
	if lines(out) >= 80 {
		t.Fatalf("the computation finished before the checkpoint; make it longer")
	}
	if res.Apparent <= 0 || res.Memory == 0 || len(res.Images) != 1 {
		t.Fatalf("result %+v", res)
	}
	if ws := restartWait(t, img, RestartOptions{}); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("restarted process: %v, want exit 0", ws)
	}
	sameFiles(t, out, ref)
	// The same image, once more.
	if ws := restartWait(t, img, RestartOptions{}); ws.ExitStatus() != 0 {
		t.Fatalf("second restart: %v", ws)
	}
	sameFiles(t, out, ref)
}

// TestRestartKeepsPIDAndHandler: the process gets its PID back, its parent
// is the restarting process, and its signal handler still counts.
func TestRestartKeepsPIDAndHandler(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	data := dataFile(t, dir)
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "compute"), out, "150", data)
	pid := cmd.Process.Pid
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != pid {
		t.Errorf("restarted pid %d, want %d", p.PID, pid)
	}
	st, err := readStat(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getpid() {
		t.Errorf("parent of the restarted process %d, want the restarter %d", st.PPID, os.Getpid())
	}
	if st.Comm != "compute" {
		t.Errorf("command name %q, want compute", st.Comm)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID)); exe != cprog(t, "compute") {
		t.Errorf("exe %q, want %q", exe, cprog(t, "compute"))
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted process: %v", ws)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(tail(b), "usr1=1") {
		t.Errorf("last line %q, want usr1=1 (the handler counted the signal sent after restart)", tail(b))
	}
}

// TestRestartPython: an unmodified CPython interpreter.
func TestRestartPython(t *testing.T) {
	needRoot(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for this test")
	}
	dir := t.TempDir()
	script, _ := filepath.Abs("testdata/compute.py")
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, py, script, ref, "120")
	checkpointMidway(t, dir, out, ref, 30, py, script, out, "120")
}

// TestRestartAVX: the extended FPU state (YMM upper halves) survives.
func TestRestartAVX(t *testing.T) {
	needRoot(t)
	if !strings.Contains(" "+strings.Join(cpuFlags(), " ")+" ", " avx ") {
		t.Skip("this CPU has no AVX")
	}
	dir := t.TempDir()
	prog := cprog(t, "avx", "-mavx")
	ref, out := filepath.Join(dir, "ref.txt"), filepath.Join(dir, "out.txt")
	reference(t, prog, ref, "12")
	checkpointMidway(t, dir, out, ref, 3, prog, out, "12")
}

// TestRestartSignalState: a queued signal with its value, an alternate
// signal stack, a running interval timer, umask, a resource limit and the
// nice value all come back.
func TestRestartSignalState(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	gofile := filepath.Join(dir, "go")
	cmd := start(t, dir, cprog(t, "sigstate"), out, gofile)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "sig.img")
	checkpointKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gofile, nil, 0o644)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{"usr2 4242", "usr1 onstack 1", "timer ticking 1", "umask 027", "nofile 100", "nice 3",
		fmt.Sprintf("pid %d", cmd.Process.Pid)} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("output %q lacks %q", b, want)
		}
	}
}

// TestImageIsSparseCore: the image is an ELF core file with holes for the
// zero pages, and gdb shows where the process was.
func TestImageIsSparseCore(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "64", out, "sparse")
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "hog.img")
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img})
	if err != nil {
		t.Fatal(err)
	}
	// 64 MiB touched, one page in 16 non-zero.
	if res.Apparent < 64<<20 {
		t.Errorf("apparent size %d, want at least the 64 MiB touched", res.Apparent)
	}
	if res.Disk > 16<<20 {
		t.Errorf("on disk %d bytes, want the zero pages left as holes (< 16 MiB)", res.Disk)
	}
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Fatal("gdb is needed for this test (.ci/run installs it)")
	}
	b, err := exec.Command(gdb, "-batch", "-nx", "-ex", "bt", cprog(t, "memhog"), img).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "in main") {
		t.Errorf("gdb bt does not show main:\n%s", b)
	}
	unix.Kill(cmd.Process.Pid, unix.SIGUSR1)
	cmd.Wait()
	want, _ := os.ReadFile(out)
	os.WriteFile(out, []byte("ready\n"), 0o644)
	// The image restores the same memory: the sum matches.
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	got, _ := os.ReadFile(out)
	if tail(got) != tail(want) {
		t.Errorf("after restart %q, want %q", tail(got), tail(want))
	}
}

// TestImageErrors: files that are not images, damaged images and images of
// another format are refused with clear errors, never restored halfway.
func TestImageErrors(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "compute"), out, "100000", dataFile(t, dir))
	waitFor(t, "progress", func() bool { return lines(out) >= 2 })
	img := filepath.Join(dir, "good.img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img}); err != nil {
		t.Fatal(err)
	}
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img}); !errors.Is(err, ErrExists) {
		t.Errorf("second checkpoint to the same file: %v, want ErrExists", err)
	}
	good, _ := os.ReadFile(img)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	// Edited images get their checksums made right again: what is tested
	// is the check of the edit.
	resum := func(b []byte) []byte { return parseRaw(t, b).bytes(true, false, nil) }
	format1 := parseRaw(t, good)
	format1.notes = format1.notes[:len(format1.notes)-1] // format 1 had no checksums
	format1.note(noteOwner, noteMeta).desc = bytes.Replace(format1.note(noteOwner, noteMeta).desc, []byte(`{"format":2,`), []byte(`{"format":1,`), 1)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"text", []byte("hello, world\n"), ErrNotImage},
		{"empty", nil, ErrNotImage},
		{"truncated", good[:len(good)/2], ErrCorrupt},
		{"header-only", good[:100], ErrCorrupt},
		{"other-format", resum(bytes.Replace(good, []byte(`{"format":2,`), []byte(`{"format":9,`), 1)), ErrIncompatible},
		{"format-1", format1.bytes(false, false, nil), ErrIncompatible},
		{"missing-cpu-feature", resum(renameFirstCPUFlag(good)), ErrIncompatible},
		{"garbled-metadata", bytes.Replace(good, []byte(`"regions":[`), []byte(`"regions":{`), 1), ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(c.name, c.data)
			_, err := Restart(context.Background(), p, RestartOptions{PIDRetry: time.Second})
			if !errors.Is(err, c.want) {
				t.Fatalf("restart: %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), p+": ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestRestartCredentials: restarted by root, a process gets back the uid
// and gids it had, not root's.
func TestRestartCredentials(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is private
	data := dataFile(t, dir)
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(cprog(t, "compute"), out, "150", data)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 100}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := readStatus(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.UID != [4]int{65534, 65534, 65534, 65534} || st.GID != [4]int{65534, 65534, 65534, 65534} {
		t.Errorf("uids %v gids %v, want all 65534", st.UID, st.GID)
	}
	if fmt.Sprint(st.Groups) != "[100 65534]" {
		t.Errorf("groups %v, want [100 65534]", st.Groups)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
}

// TestRestartTerminalWithoutTerminal: a process whose control terminal
// was a pty cannot come back where there is none, unless forced; then its
// terminal descriptors point to /dev/null.
func TestRestartTerminalWithoutTerminal(t *testing.T) {
	needRoot(t)
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		f.Close()
		t.Skip("this test needs to run without a control terminal, as on CI")
	}
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(cprog(t, "compute"), out, "150", dataFile(t, dir))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	// The pty is its control terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	_, err = Restart(context.Background(), img, RestartOptions{})
	if err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("restart without a terminal: %v, want an error about the terminal", err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", p.PID)); l != "/dev/null" {
		t.Errorf("fd 1 of the forced restart points to %q, want /dev/null", l)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
}

// renameFirstCPUFlag returns a copy of an image whose first recorded CPU
// feature is one no machine has (same length, so no offset moves).
func renameFirstCPUFlag(img []byte) []byte {
	b := append([]byte(nil), img...)
	key := []byte(`"cpu_flags":["`)
	if i := bytes.Index(b, key); i >= 0 {
		b[i+len(key)] = 'Z'
	}
	return b
}

// TestRestartOpensFilesAsTheOwner: restarted by root, a process of
// another user cannot be made to open, through a symbolic link put in
// place of one of its files, a file its owner could not read.
func TestRestartOpensFilesAsTheOwner(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	data := dataFile(t, dir)
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(cprog(t, "compute"), out, "150", data)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root only\n"), 0o600)
	os.Remove(out)
	if err := os.Symlink(secret, out); err != nil {
		t.Fatal(err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{Force: true})
	if err == nil {
		unix.Kill(p.PID, unix.SIGKILL)
		waitProc(t, p)
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", p.PID)); l == secret {
			t.Fatal("the restarted process of nobody holds the root-only file open")
		}
		t.Fatalf("restart succeeded, want a refusal to open %s", out)
	}
	if !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("restart: %v, want permission denied", err)
	}
}
