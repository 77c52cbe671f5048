package integration

// End-to-end tests of liblazarus (ckpt/clib: chkpnt(3), restart(3),
// chkpnt(3f), restart(3f)): C and Fortran programs from testdata/clib/,
// compiled by the tests against the library as `make install-lib` installs
// it (built to run the utilities of this test binary's bin directory), run
// as real processes. Every identifier starts with clib/Clib.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/testenv"
)

var (
	clibOnce   sync.Once
	clibPrefix string
	clibErr    error
)

// clibInstall installs the library, once, under a prefix inside binDir
// with `make install-lib`, the library running binDir's chkpnt and
// restart; it returns the prefix.
func clibInstall(t *testing.T) string {
	t.Helper()
	ckptNeedRoot(t)
	clibOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			clibErr = err
			return
		}
		prefix := filepath.Join(binDir, "prefix")
		out, err := exec.Command("make", "-s", "-C", root, "install-lib", "PREFIX="+prefix,
			"LAZARUS_BINDIR="+binDir, "LIBOUT="+filepath.Join(binDir, "libbuild")).CombinedOutput()
		if err != nil {
			clibErr = fmt.Errorf("make install-lib: %v\n%s", err, out)
			return
		}
		clibPrefix = prefix
	})
	if clibErr != nil {
		t.Fatal(clibErr)
	}
	return clibPrefix
}

// clibProg compiles testdata/clib/SRC (C, or Fortran for .f, .f90) against the
// installed library, with extra compiler flags, and returns the
// executable.
func clibProg(t *testing.T, src string, extra ...string) string {
	t.Helper()
	prefix := clibInstall(t)
	abs, err := filepath.Abs(filepath.Join("testdata", "clib", src))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), strings.TrimSuffix(src, filepath.Ext(src)))
	compiler, flags := "gcc", []string{"-Wall", "-Werror", "-O2"}
	if ext := filepath.Ext(src); ext == ".f" || ext == ".f90" {
		// The guide's '0001'x constants are a DEC extension.
		compiler, flags = "gfortran", []string{"-fallow-invalid-boz", "-O2"}
		if _, err := exec.LookPath(compiler); err != nil {
			testenv.Unavailable(t, "needs gfortran (the guide's Fortran example)")
		}
	}
	flags = append(flags, extra...)
	args := append(flags, "-I", filepath.Join(prefix, "include"), "-o", exe, abs,
		"-L", filepath.Join(prefix, "lib"), "-llazarus", "-Wl,-rpath,"+filepath.Join(prefix, "lib"))
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", compiler, src, err, out)
	}
	return exe
}

// clibCmd is prog run in dir with stdin /dev/null, stdout appended to
// dir/out and stderr to dir/err (files: a pipe to the test would be a
// descriptor chkpnt refuses).
func clibCmd(t *testing.T, dir, prog string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	for _, name := range []string{"out", "err"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if name == "out" {
			cmd.Stdout = f
		} else {
			cmd.Stderr = f
		}
	}
	return cmd
}

// clibRun runs cmd to its end and returns its wait status.
func clibRun(t *testing.T, cmd *exec.Cmd) syscall.WaitStatus {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * ckptDeadline):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still running after %v", cmd.Path, 3*ckptDeadline)
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func clibRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clibWaitFor waits until file path contains s.
func clibWaitFor(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(ckptDeadline)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(s)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after %v; it holds %q", path, s, ckptDeadline, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clibWant(t *testing.T, what string, got syscall.WaitStatus, exited bool, code int, dir string) {
	t.Helper()
	ok := (exited && got.Exited() && got.ExitStatus() == code) ||
		(!exited && got.Signaled() && got.Signal() == syscall.Signal(code))
	if !ok {
		t.Fatalf("%s: got %s, want %s %d\nstdout: %q\nstderr: %q", what, ckptWaitString(got),
			map[bool]string{true: "exit", false: "killed by signal"}[exited], code,
			clibRead(t, filepath.Join(dir, "out")), clibRead(t, filepath.Join(dir, "err")))
	}
}

// The guide's Figure 3-1: a parent checkpoints its child with chkpnt()
// (CHKPNT_SIGROOT|CHKPNT_FORCE, SIGKILL), restarts it with restart() and
// waits for it: the restored child must be the caller's child, get the
// SIGCONT that ends its wait and print the guide's lines.
func TestClibFigure31(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "fig3-1.c")
	dir := t.TempDir()
	clibWant(t, "fig3-1", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := "Before checkpoint.\nGot signal 18.\nAfter restart.\n"
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "ex1")); err != nil {
		t.Fatalf("checkpoint file ex1: %v", err)
	}
}

// The guide's Figure 3-2 in gfortran: the program checkpoints itself into
// ex1 (it goes on: 0), then into ex2 with CHKPNT_KILL (it dies by
// SIGKILL). restart(1) of ex2 brings back a program in which that call
// returns 1 (the value a restored self-checkpoint sees), which the figure
// reports as "chkpnt 2 failed, ret_val = 1" and exit 2; ex1 likewise.
func TestClibFigure32Fortran(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "fig3-2.f")
	dir := t.TempDir()
	clibWant(t, "fig3-2", clibRun(t, clibCmd(t, dir, prog)), false, int(syscall.SIGKILL), dir)
	for _, img := range []string{"ex1", "ex2"} {
		if _, err := os.Stat(filepath.Join(dir, img)); err != nil {
			t.Fatalf("checkpoint file: %v", err)
		}
	}
	if got := clibRead(t, filepath.Join(dir, "out")); got != "" {
		t.Fatalf("output before restart: got %q, want none", got)
	}
	for _, c := range []struct{ img, want string }{{"ex2", "chkpnt 2 failed"}, {"ex1", "chkpnt 1 failed"}} {
		os.Truncate(filepath.Join(dir, "out"), 0)
		clibWant(t, "restart "+c.img, clibRun(t, clibCmd(t, dir, bin("restart"), c.img)), true, 2, dir)
		out := clibRead(t, filepath.Join(dir, "out"))
		if fields := strings.Fields(out); !strings.Contains(out, c.want) || len(fields) < 3 ||
			strings.Join(fields[len(fields)-3:], " ") != "ret_val = 1" {
			t.Fatalf("restart %s: output %q, want %q then ret_val = 1", c.img, out, c.want)
		}
	}
}

// A C program checkpoints itself (pid 0) every 10 iterations of its main
// loop and is killed (SIGKILL) right after its second image; restarted
// from that image, by restart(1) or by restart(3) from another program,
// its call returns 1, and it ends with the sum of an uninterrupted run.
func TestClibSelfCheckpointLoop(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "selfloop.c")
	restarter := clibProg(t, "restarter.c")
	var sum int64
	for i := int64(1); i <= 50; i++ {
		sum += i * i
	}
	want := fmt.Sprintf("ckpt 10 ret 0\nckpt 20 ret 1\nckpt 30 ret 0\nckpt 40 ret 0\nckpt 50 ret 0\nsum %d\n", sum)
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"utility", []string{bin("restart"), "loop.img"}},
		{"library", []string{restarter, "loop.img"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			res := filepath.Join(dir, "res")
			clibWant(t, "selfloop", clibRun(t, clibCmd(t, dir, prog, res, dir, "50", "10", "20")), false, int(syscall.SIGKILL), dir)
			if got, w := clibRead(t, res), "ckpt 10 ret 0\nckpt 20 ret 0\n"; got != w {
				t.Fatalf("before the kill: got %q, want %q", got, w)
			}
			clibWant(t, c.name+" restart", clibRun(t, clibCmd(t, dir, c.argv[0], c.argv[1:]...)), true, 0, dir)
			if got := clibRead(t, res); got != want {
				t.Fatalf("after restart: got %q, want %q", got, want)
			}
			if c.name == "library" {
				if out := clibRead(t, filepath.Join(dir, "out")); !strings.Contains(out, "parent me status 0") {
					t.Fatalf("restarter: %q, want the restored process its child, exit status 0", out)
				}
			}
		})
	}
}

// DragonFly's sys_checkpoint(2) example: a signal (SIGUSR1 for SIGCKPT)
// sets a reminder, the main loop checkpoints the program into x.ckpt and
// it goes on; killed, it is resumed with restart(1) and learns it was
// resumed from the call's return value.
func TestClibDragonFlyExample(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "dfly.c")
	dir := t.TempDir()
	cmd := clibCmd(t, dir, prog)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	out := filepath.Join(dir, "out")
	clibWaitFor(t, out, "ready\n")
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	clibWaitFor(t, out, "checkpoint successful, continuing\n")
	cmd.Process.Kill()
	<-done
	clibWant(t, "restart x.ckpt", clibRun(t, clibCmd(t, dir, bin("restart"), "x.ckpt")), true, 0, dir)
	got := clibRead(t, out)
	if !strings.HasPrefix(got, "ready\ncheckpoint successful, continuing\nresumed from checkpoint at ") || strings.Count(got, "\n") != 3 {
		t.Fatalf("output: got %q, want ready, checkpoint successful, resumed from checkpoint", got)
	}
}

// chkpnt(3) and restart(3) set the errno of the guide's tables.
func TestClibErrno(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "errnos.c")
	dir := t.TempDir()
	clibWant(t, "errnos", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := []struct {
		name string
		ret  int
		err  syscall.Errno
	}{
		{"esrch", -1, syscall.ESRCH},
		{"eexist", -1, syscall.EEXIST},
		{"force", 0, 0},
		{"einval-sigs", -1, syscall.EINVAL},
		{"einval-kill", -1, syscall.EINVAL},
		{"einval-pfd", -1, syscall.EINVAL},
		{"einval-nosig", -1, syscall.EINVAL},
		{"einval-class", -1, syscall.EINVAL},
		{"einval-rsigs", -1, syscall.EINVAL},
		{"enametoolong", -1, syscall.ENAMETOOLONG},
		{"enoent-dir", -1, syscall.ENOENT},
		{"enoent", -1, syscall.ENOENT},
		{"enoexec", -1, syscall.ENOEXEC},
		{"epipe", -1, syscall.EPIPE},
		{"live", 0, 0},
		{"eagain", -1, syscall.EAGAIN},
	}
	lines := strings.Split(strings.TrimSpace(clibRead(t, filepath.Join(dir, "out"))), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %q, want %d", len(lines), lines, len(want))
	}
	for i, w := range want {
		var name string
		var ret, e int
		if _, err := fmt.Sscanf(lines[i], "%s %d %d", &name, &ret, &e); err != nil {
			t.Fatalf("line %q: %v", lines[i], err)
		}
		if name != w.name || ret != w.ret || syscall.Errno(e) != w.err {
			t.Errorf("%s: got %s returns %d errno %d (%v), want returns %d errno %d (%v)",
				w.name, name, ret, e, syscall.Errno(e), w.ret, int(w.err), w.err)
		}
	}
}

// The guide's caution, enforced: no chkpnt() from within a multithreaded
// (OpenMP parallel) region; outside it the library works.
func TestClibParallelRegion(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "omp.c", "-fopenmp")
	dir := t.TempDir()
	clibWant(t, "omp", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := fmt.Sprintf("parallel -1 %d\nserial -1 %d\n", int(syscall.EINVAL), int(syscall.ENOENT))
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "omp.img")); err == nil {
		t.Fatalf("omp.img written from within a parallel region")
	}
}

// A program checkpoints itself with its child (CHKPNT_FAMILY, pid 0,
// CHKPNT_KILL): the chkpnt process, the program's child too, is not part
// of the tree; restarted, the program sees 1 and its child, restored with
// it, still reads the pipe between them.
func TestClibSelfCheckpointFamily(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "famself.c")
	dir := t.TempDir()
	res := filepath.Join(dir, "res")
	clibWant(t, "famself", clibRun(t, clibCmd(t, dir, prog, res)), false, int(syscall.SIGKILL), dir)
	imgs, _ := filepath.Glob(filepath.Join(dir, "fam.img*"))
	if len(imgs) != 2 {
		t.Fatalf("images: got %q, want fam.img and its child's", imgs)
	}
	clibWant(t, "restart fam.img", clibRun(t, clibCmd(t, dir, bin("restart"), "fam.img")), true, 0, dir)
	if got, want := clibRead(t, res), "parent restarted\nchild got 42\nchild exit 0\n"; got != want {
		t.Fatalf("output: got %q, want %q", got, want)
	}
}

// The Fortran interface with chkpnt.inc's constants: errno of a failed
// restart and of exclusive options, and a self-checkpoint whose name's
// trailing blanks are not part of the file name.
func TestClibFortranInclude(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "finc.f90")
	dir := t.TempDir()
	clibWant(t, "finc", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := fmt.Sprintf("restart -1 %d\nchkpnt -1 %d\nself 0\n", int(syscall.ENOENT), int(syscall.EINVAL))
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "self.img")); err != nil {
		t.Fatalf("self.img: %v", err)
	}
}

// ENOSPC and EROFS from chkpnt(3): an image into a file system too small
// for it, and into a read-only one (tmpfs mounts of the test).
func TestClibErrnoFilesystems(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "errfs.c")
	dir := t.TempDir()
	var mnts []string
	for _, m := range []struct{ name, opts string }{{"full", "size=64k"}, {"ro", "ro,size=64k"}} {
		mnt := filepath.Join(dir, m.name)
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", m.opts, "tmpfs", mnt).CombinedOutput(); err != nil {
			testenv.Unavailable(t, "needs tmpfs mounts: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		mnts = append(mnts, mnt)
	}
	clibWant(t, "errfs", clibRun(t, clibCmd(t, dir, prog, mnts...)), true, 0, dir)
	want := fmt.Sprintf("enospc -1 %d\nerofs -1 %d\n", int(syscall.ENOSPC), int(syscall.EROFS))
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q\nstderr: %q", got, want, clibRead(t, filepath.Join(dir, "err")))
	}
	if names, _ := filepath.Glob(filepath.Join(mnts[0], "*")); len(names) != 0 {
		t.Fatalf("a failed checkpoint left %q", names)
	}
}

// The options reach the utilities: CHKPNT_FAMILY with CHKPNT_SIGFAMILY
// SIGKILL checkpoints and kills a tree of two; RESTART_SUSPEND leaves the
// restored root stopped; RESTART_SIGFAMILY SIGTERM ends both with SIGTERM.
func TestClibOptions(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "flags.c")
	dir := t.TempDir()
	clibWant(t, "flags", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := "chkpnt 0 0\nroot signal 9\ngrandchild signal 9\n" +
		"suspend same pid state T\nsuspended root signal 9\nsuspended grandchild signal 9\n" +
		"sigfamily same pid\nsigfamily root signal 15\nsigfamily grandchild signal 15\n"
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q\nstderr: %q", got, want, clibRead(t, filepath.Join(dir, "err")))
	}
}

// A program that closed its standard input and output checkpoints itself:
// the library's pipe, which then gets descriptors 0 and 1, must not be
// lost under chkpnt's /dev/null; restarted, the program sees 1.
func TestClibSelfCheckpointClosedStdio(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "closed.c")
	dir := t.TempDir()
	clibWant(t, "closed", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	if got, want := clibRead(t, filepath.Join(dir, "err")), "closed 0 0\n"; got != want {
		t.Fatalf("stderr: got %q, want %q", got, want)
	}
	clibWant(t, "restart closed.img", clibRun(t, clibCmd(t, dir, bin("restart"), "-q", "closed.img")), true, 0, dir)
	if got, want := clibRead(t, filepath.Join(dir, "err")), "closed 0 0\nclosed 1 0\n"; got != want {
		t.Fatalf("stderr after restart: got %q, want %q", got, want)
	}
}

// restart(3) returns a child of the caller (restart -W puts the restored
// root in restart's place): with RESTART_DEBUG it is stopped for a
// debugger until the caller continues it; the process it was cloned from
// never reaches the caller's wait.
func TestClibRestartDebug(t *testing.T) {
	t.Parallel()
	prog := clibProg(t, "debug.c")
	dir := t.TempDir()
	clibWant(t, "debug", clibRun(t, clibCmd(t, dir, prog)), true, 0, dir)
	want := "debug same pid, parent us\ndebug stopped by 19\ndebug exit 7\ndebug other children: none\n" +
		"plain same pid, parent us\nplain exit 7\nplain other children: none\n"
	if got := clibRead(t, filepath.Join(dir, "out")); got != want {
		t.Fatalf("output: got %q, want %q\nstderr: %q", got, want, clibRead(t, filepath.Join(dir, "err")))
	}
}
