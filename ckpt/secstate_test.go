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
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lastLine returns the last complete line of path.
func lastLine(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSuffix(string(b), "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// statusField returns field key of /proc/PID/status.
func statusField(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range keyValues(b) {
		if k == key {
			return v
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return ""
}

// stillRunning checks that the checkpointed (not killed) process goes on
// with its work after the checkpoint.
func stillRunning(t *testing.T, cmd *exec.Cmd, out string) {
	t.Helper()
	n := lines(out)
	waitFor(t, "progress after the checkpoint", func() bool { return lines(out) >= n+3 })
	if err := unix.Kill(cmd.Process.Pid, 0); err != nil {
		t.Fatalf("target after the checkpoint: %v", err)
	}
}

// TestSeccompFilter: a program under two seccomp filters, one making
// mkdir fail with EPERM, one killing it on the system calls the engine
// injects (rt_sigaction, prctl, mmap...), is checkpointed without being
// killed and goes on; restarted, its filters are in force again (mkdir
// still EPERM, /proc says Seccomp 2 with 2 filters for every thread, and
// the forbidden call it makes at the end kills it with SIGSYS). With two
// threads that got the filters at once (TSYNC), they share them again
// after the restart: a third filter installed with TSYNC succeeds.
func TestSeccompFilter(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"single", nil, "mkdir=EPERM seccomp=2 filters=2"},
		{"tsync", []string{"threads"}, "mkdir=EPERM seccomp=2 filters=2 thread-mkdir=EPERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := start(t, dir, cprog(t, "seccompfilter", "-pthread"), append([]string{out}, tc.args...)...)
			waitFor(t, "progress", func() bool { return lines(out) >= 3 })
			if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "live")}); err != nil {
				t.Fatalf("checkpoint of a filtered process: %v", err)
			}
			stillRunning(t, cmd, out)
			if l := lastLine(out); !strings.HasSuffix(l, tc.want) {
				t.Fatalf("after the checkpoint the program says %q, want %q", l, tc.want)
			}
			img := filepath.Join(dir, "img")
			checkpointKill(t, cmd, img)
			n := lines(out)
			p, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			waitFor(t, "progress after restart", func() bool { return lines(out) >= n+3 })
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.PID))
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + len(tc.args); len(tasks) != want {
				t.Errorf("restarted: %d threads, want %d", len(tasks), want)
			}
			for _, task := range tasks {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", p.PID, task.Name()))
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for k, v := range keyValues(b) {
					got[k] = v
				}
				if got["Seccomp"] != "2" || got["Seccomp_filters"] != "2" {
					t.Errorf("restarted thread %s: Seccomp %s with %s filters, want 2 with 2", task.Name(), got["Seccomp"], got["Seccomp_filters"])
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ws := waitProc(t, p)
			b, _ := os.ReadFile(out)
			ls := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(tc.args) > 0 {
				if got := ls[len(ls)-1]; got != "tsync=ok" {
					t.Errorf("last line %q, want tsync=ok (the threads share their filters)", got)
				}
				ls = ls[:len(ls)-1]
			}
			for i, l := range ls {
				if !strings.HasSuffix(l, tc.want) {
					t.Errorf("line %d: %q, want %q", i+1, l, tc.want)
				}
			}
			if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
				t.Fatalf("restarted program at its forbidden call: %v, want killed by SIGSYS (its second filter)", ws)
			}
		})
	}
}

// TestSeccompStrict: a child in seccomp strict mode (it only reads and
// writes pipes to its parent) is not killed by a checkpoint of the tree,
// and after a restart is still in strict mode, answers its parent and
// leaves with _exit(0).
func TestSeccompStrict(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "strict"), out)
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "live"), Tree: true}); err != nil {
		t.Fatalf("checkpoint of a strict-mode process: %v", err)
	}
	stillRunning(t, cmd, out)
	want := "answer=ok child-seccomp=1"
	if l := lastLine(out); !strings.HasSuffix(l, want) {
		t.Fatalf("after the checkpoint the parent says %q, want %q", l, want)
	}
	img := filepath.Join(dir, "img")
	res := checkpointTreeKill(t, cmd, img)
	if len(res.Images) != 2 {
		t.Fatalf("images %v, want the parent's and the child's", res.Images)
	}
	child, err := ReadImage(res.Images[1])
	if err != nil {
		t.Fatal(err)
	}
	n := lines(out)
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitFor(t, "progress after restart", func() bool { return lines(out) >= n+3 })
	if got := statusField(t, child.PID, "Seccomp"); got != "1" {
		t.Errorf("restarted child: Seccomp %s, want 1", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted parent: %v", ws)
	}
	b, _ := os.ReadFile(out)
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range ls[:len(ls)-1] {
		if !strings.HasSuffix(l, want) {
			t.Errorf("line %d: %q, want %q", i+1, l, want)
		}
	}
	if got := ls[len(ls)-1]; got != "child exited 0" {
		t.Errorf("last line %q, want %q", got, "child exited 0")
	}
}

// TestCapabilityState: no_new_privs, a reduced bounding set, capabilities
// kept by a non-root process (permitted, effective, inheritable, ambient),
// securebits and dumpable 0 are the same after a restart as before, as
// the program itself reads them, for a process of nobody's and one of
// root's. A restart for a non-root owner of either image is refused: the
// process had capabilities, the owner has none.
func TestCapabilityState(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name  string
		args  []string
		setup string // what the program's first line must hold
	}{
		{"nobody", nil, "amb=0000000000000400"},
		{"root", []string{"root"}, "securebits=0x5 dumpable=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			os.Chmod(filepath.Dir(dir), 0o755)
			out := filepath.Join(dir, "out.txt")
			// Opened by the program as root; reopened at restart as its owner.
			if err := os.WriteFile(out, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			os.Chmod(out, 0o666)
			cmd := start(t, dir, cprog(t, "capstate"), append([]string{out}, tc.args...)...)
			waitFor(t, "progress", func() bool { return lines(out) >= 2 })
			before := lastLine(out)
			if !strings.Contains(before, tc.setup) || !strings.Contains(before, "dumpable=0") || !strings.Contains(before, "nnp=1") {
				t.Fatalf("the program did not set up its state: %q", before)
			}
			img := filepath.Join(dir, "img")
			checkpointKill(t, cmd, img)

			p, err := Restart(context.Background(), img, RestartOptions{Owner: &Owner{UID: 65534, GID: 65534}})
			if err == nil {
				unix.Kill(p.PID, unix.SIGKILL)
				waitProc(t, p)
				t.Fatal("restart for user 65534 of an image with capabilities succeeded, want a refusal")
			}
			// The root process's ids already are not the owner's; nobody's
			// are, and only its capabilities are in the way.
			if tc.name == "root" && !errors.Is(err, ErrNotOwner) || tc.name != "root" && !strings.Contains(err.Error(), "capabilities") {
				t.Fatalf("restart for user 65534: %v, want a refusal about capabilities", err)
			}

			n := lines(out)
			p, err = Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			waitFor(t, "progress after restart", func() bool { return lines(out) >= n+2 })
			if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				t.Fatalf("restarted: %v", ws)
			}
			b, _ := os.ReadFile(out)
			for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if l != before {
					t.Errorf("line %d: %q\nwant %q", i+1, l, before)
				}
			}
		})
	}
}

// openPTY opens a new pseudo terminal: its master and its slave.
func openPTY(t *testing.T) (master, slave *os.File, path string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	path = fmt.Sprintf("/dev/pts/%d", n)
	pts, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptmx, pts, path
}

// TestPTYSlave: a process holding a pty slave (not its control terminal)
// whose master is held by another process cannot be checkpointed; with -F
// the descriptor is saved closed. An image that names the pty slave
// (written by an older engine, or edited) is refused at restart once that
// /dev/pts/N is the terminal of another session, and with -F the
// descriptor is restored closed: the process never gets a stranger's
// terminal.
func TestPTYSlave(t *testing.T) {
	needRoot(t)
	_, pts, ptsPath := openPTY(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(cprog(t, "compute"), out, "400", dataFile(t, dir))
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{pts} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })

	img := filepath.Join(dir, "img")
	_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img})
	var ue *UncheckpointableError
	if !errors.As(err, &ue) || ue.FD != 3 || !strings.Contains(err.Error(), "master is outside") {
		t.Fatalf("checkpoint of a pty slave whose master is elsewhere: %v, want fd 3 refused", err)
	}
	if _, err := os.Stat(img); err == nil {
		t.Fatal("a refused checkpoint left an image")
	}
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Force: true, Signal: unix.SIGKILL}); err != nil {
		t.Fatalf("forced checkpoint: %v", err)
	}
	cmd.Wait()
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", p.PID)); err == nil {
		t.Errorf("restarted fd 3 -> %s, want it closed", l)
	}
	unix.Kill(p.PID, unix.SIGKILL)
	waitProc(t, p)

	// The same image as an engine that saved the slave would write it: fd
	// 3 a terminal at /dev/pts/N.
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	closed := fmt.Sprintf(`{"fd":3,"kind":"closed","path":%q`, ptsPath)
	i := bytes.Index(b, []byte(closed))
	if i < 0 {
		t.Fatalf("the image does not hold %s", closed)
	}
	// The checksums are made right for the edit: only the terminal rule
	// may catch it.
	raw := parseRaw(t, b).editMeta(t, func(m *imageMeta) {
		for i := range m.Files {
			if m.Files[i].FD == 3 {
				m.Files[i].Kind, m.Files[i].Reason = fdTTY, ""
			}
		}
	})
	forged := forge(t, dir, "forged", raw.bytes(true, false, nil))
	// Now /dev/pts/N is the control terminal of someone else's session.
	stranger := exec.Command("sleep", "1000")
	stranger.Stdin, stranger.Stdout, stranger.Stderr = pts, pts, pts
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })

	p, err = Restart(context.Background(), forged, RestartOptions{})
	if err == nil {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", p.PID))
		unix.Kill(p.PID, unix.SIGKILL)
		waitProc(t, p)
		t.Fatalf("restart of an image naming %s succeeded (fd 3 -> %q), want a refusal", ptsPath, l)
	}
	if !errors.Is(err, errForeignTerminal) {
		t.Fatalf("restart: %v, want %v", err, errForeignTerminal)
	}
	p, err = Restart(context.Background(), forged, RestartOptions{Force: true})
	if err != nil {
		t.Fatalf("forced restart: %v", err)
	}
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", p.PID))
	unix.Kill(p.PID, unix.SIGKILL)
	waitProc(t, p)
	if err == nil {
		t.Fatalf("forced restart: fd 3 -> %s, want it closed", l)
	}
}

// TestOpenRefusesForeignTerminal: whatever kind an image gives a
// descriptor, and through whatever link, the restorer never opens a pty
// slave for it by path, nor a terminal whose device belongs to another
// user than the process's (here a virtual console of uid 12345 for a
// process of root's).
func TestOpenRefusesForeignTerminal(t *testing.T) {
	needRoot(t)
	_, _, ptsPath := openPTY(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "innocent")
	if err := os.Symlink(ptsPath, link); err != nil {
		t.Fatal(err)
	}
	vt := filepath.Join(dir, "tty9")
	if err := unix.Mknod(vt, unix.S_IFCHR|0o600, int(unix.Mkdev(4, 9))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(vt, 12345, 5); err != nil {
		t.Fatal(err)
	}
	r := &restorer{}
	p := &rproc{meta: &imageMeta{}, closed: map[int]bool{}}
	for _, f := range []fileDesc{
		{FD: 3, Kind: fdTTY, Path: ptsPath, Flags: unix.O_RDWR},
		{FD: 4, Kind: fdDevice, Path: ptsPath, Flags: unix.O_RDWR},
		{FD: 5, Kind: fdFile, Path: link, Flags: unix.O_RDWR},
		{FD: 6, Kind: fdTTY, Path: vt, Flags: unix.O_RDWR | unix.O_NONBLOCK},
	} {
		t.Run(fmt.Sprintf("%s %s", f.Kind, filepath.Base(f.Path)), func(t *testing.T) {
			fd, err := r.openDescription(p, f, nil, map[int]bool{})
			if err == nil {
				unix.Close(fd)
				t.Fatalf("%s %s opened as fd %d, want a refusal", f.Kind, f.Path, fd)
			}
			if !errors.Is(err, errForeignTerminal) {
				t.Fatalf("%s %s: %v, want %v", f.Kind, f.Path, err, errForeignTerminal)
			}
		})
	}
}

// TestSeccompWithoutSuspend: where the kernel refuses to suspend a
// target's seccomp (here because the checkpointer itself is under seccomp,
// which makes PTRACE_O_SUSPEND_SECCOMP fail with EPERM), a process under
// seccomp is refused with a message, and not killed by the injections the
// checkpoint would have made.
func TestSeccompWithoutSuspend(t *testing.T) {
	if pid := os.Getenv("LAZARUS_TEST_TRACER_UNDER_SECCOMP"); pid != "" {
		tracerUnderSeccomp(pid)
		return
	}
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "seccompfilter", "-pthread"), out)
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	tracer := exec.Command(os.Args[0], "-test.run=^TestSeccompWithoutSuspend$", "-test.count=1")
	tracer.Env = append(os.Environ(), fmt.Sprintf("LAZARUS_TEST_TRACER_UNDER_SECCOMP=%d", cmd.Process.Pid))
	b, err := tracer.CombinedOutput()
	if err != nil {
		t.Fatalf("checkpointer under seccomp: %v\n%s", err, b)
	}
	if !bytes.Contains(b, []byte("checkpoint: ")) || !bytes.Contains(b, []byte("PTRACE_O_SUSPEND_SECCOMP")) {
		t.Fatalf("checkpointer under seccomp says:\n%s\nwant a refusal naming PTRACE_O_SUSPEND_SECCOMP", b)
	}
	stillRunning(t, cmd, out)
	if l := lastLine(out); !strings.HasSuffix(l, "mkdir=EPERM seccomp=2 filters=2") {
		t.Fatalf("after the refused checkpoint the program says %q", l)
	}
}

// tracerUnderSeccomp puts this process under a seccomp filter that allows
// everything, then checkpoints pid and prints the outcome.
func tracerUnderSeccomp(pid string) {
	allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		os.Exit(1)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		fmt.Println("seccomp:", e)
		os.Exit(1)
	}
	var n int
	fmt.Sscan(pid, &n)
	_, err := Checkpoint(context.Background(), n, CheckpointOptions{File: filepath.Join(os.TempDir(), "never-written"), CheckOnly: true})
	fmt.Printf("checkpoint: %v\n", err)
}
