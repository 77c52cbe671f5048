package ckpt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// ptyRun runs testdata/ptyscript in dir (as uid, if not 0) until it has
// bytes waiting in both directions of its pty.
func ptyRun(t *testing.T, dir string, uid int) *exec.Cmd {
	t.Helper()
	os.Chmod(dir, 0o777)
	cmd := exec.Command(cprog(t, "ptyscript"), dir)
	cmd.Dir = dir
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "ptyscript set up", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
	return cmd
}

// ptyGo lets ptyscript go on and returns what its master read.
func ptyGo(t *testing.T, dir string, wait func()) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wait()
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ptyMembers returns the pids of ptyscript's shell (the session leader)
// and job, read from the tree's images.
func ptyMembers(t *testing.T, images []string) (shell, job int) {
	t.Helper()
	for _, path := range images {
		img, err := ReadImage(path)
		if err != nil {
			t.Fatal(err)
		}
		m := img.meta
		switch {
		case m.SID == m.PID && m.PPID != 0 && path != images[0]:
			shell = m.PID
		case m.PGID == m.PID && m.SID != m.PID:
			job = m.PID
		}
	}
	if shell == 0 || job == 0 {
		t.Fatalf("no shell and job in %v", images)
	}
	return shell, job
}

// TestPTYScript: a script-like relay (pty master in the parent, a session
// leader on the slave running a job in the foreground) is checkpointed
// with output the master has not read (the job's own and the echo of what
// was typed) and input the job has not read (a complete line and an
// unfinished one), once leaving it running, once killed and restarted.
// The running one finishes as if nothing happened; the restarted one has a
// new pair whose slave has the termios, window size, session, foreground
// group and owner of the old one, and finishes with the output of an
// uninterrupted run.
func TestPTYScript(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd := ptyRun(t, dir, 0)
	want := ptyGo(t, dir, func() { cmd.Wait() })
	if !strings.Contains(want, "[line2 partial done]") || !strings.HasSuffix(want, "exit 0\n") {
		t.Fatalf("uninterrupted run: %q", want)
	}
	t.Run("running", func(t *testing.T) {
		dir := t.TempDir()
		cmd := ptyRun(t, dir, 0)
		for i := 0; i < 2; i++ {
			if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, fmt.Sprintf("img%d", i)), Tree: true}); err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
		}
		if got := ptyGo(t, dir, func() { cmd.Wait() }); got != want {
			t.Fatalf("after two checkpoints the running job read\n%q\nwant\n%q", got, want)
		}
	})
	for _, uid := range []int{0, 65534} {
		t.Run(fmt.Sprintf("restarted uid %d", uid), func(t *testing.T) {
			dir := t.TempDir()
			os.Chmod(filepath.Dir(dir), 0o755)
			cmd := ptyRun(t, dir, uid)
			img := filepath.Join(dir, "img")
			res := checkpointTreeKill(t, cmd, img)
			shell, job := ptyMembers(t, res.Images)
			opts := RestartOptions{}
			if uid != 0 {
				opts.Owner = &Owner{UID: uid, GID: uid}
			}
			p, err := Restart(context.Background(), img, opts)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			ptyCheck(t, shell, job, uid)
			if got := ptyGo(t, dir, func() { waitProc(t, p) }); got != want {
				t.Fatalf("restarted job read\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// ptyCheck looks at the restarted pair from outside: the job's control
// terminal is the slave its descriptors 0-2 hold, it is the foreground
// group, the shell leads the session, the slave has the termios and window
// size ptyscript set, and belongs to uid.
func ptyCheck(t *testing.T, shell, job, uid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", job))
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	tpgid, _ := strconv.Atoi(f[5])
	if st.SID != shell || st.PGID != job || tpgid != job {
		t.Errorf("job %d: session %d group %d foreground %d, want %d %d %d", job, st.SID, st.PGID, tpgid, shell, job, job)
	}
	var fst unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/0", job), &fst); err != nil {
		t.Fatal(err)
	}
	if !isPTYSlave(fst.Rdev) || ttyDev(st.TTYNr) != fst.Rdev {
		t.Errorf("job's control terminal %#x, its stdin %#x: want the same pty slave", ttyDev(st.TTYNr), fst.Rdev)
	}
	if int(fst.Uid) != uid {
		t.Errorf("slave owned by uid %d, want %d", fst.Uid, uid)
	}
	s, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", job), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	tio, err := unix.IoctlGetTermios(s, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Cc[unix.VEOL] != ';' || tio.Lflag&unix.ECHOE != 0 || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("slave termios: VEOL %q lflag %#o, want ';' and ECHO without ECHOE", tio.Cc[unix.VEOL], tio.Lflag)
	}
	if ws, err := unix.IoctlGetWinsize(s, unix.TIOCGWINSZ); err != nil || ws.Row != 33 || ws.Col != 111 {
		t.Errorf("slave window size %v (%v), want 33x111", ws, err)
	}
	// The complete line waits, the unfinished one does not count (n_tty's
	// FIONREAD in canonical mode).
	if n, err := unix.IoctlGetInt(s, unix.TIOCINQ); err != nil || n != len("line1\n") {
		t.Errorf("slave input queue %d (%v), want the %d bytes of the complete line", n, err, len("line1\n"))
	}
}

// TestPTYPrograms: installed programs that run a command on a pty of their
// own and relay its output (util-linux script -q -c, Python's pty.spawn),
// checkpointed midway and restarted, write what an uninterrupted run
// writes. script ends if its poll fails with EINTR: the poll the
// checkpoint interrupted is made again (restartsAsIs).
func TestPTYPrograms(t *testing.T) {
	needRoot(t)
	const loop = `i=0; while [ $i -lt 25 ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done; stty size; stty -a | grep -o -- '-echoe'`
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"script", []string{"script", "-q", "-c", "stty rows 21 cols 77 -echoe; " + loop, "/dev/null"}},
		{"python pty.spawn", []string{"python3", "-c", "import pty, sys; pty.spawn(['sh', '-c', sys.argv[1]])", "stty rows 21 cols 77 -echoe; " + loop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, err := exec.LookPath(tc.argv[0])
			if err != nil {
				testenv.Unavailable(t, "%s is not installed", tc.argv[0])
			}
			run := func(dir string) (*exec.Cmd, string) {
				out := filepath.Join(dir, "out")
				f, err := os.Create(out)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd := exec.Command(path, tc.argv[1:]...)
				cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				return cmd, out
			}
			cmd, out := run(t.TempDir())
			cmd.Wait()
			want, _ := os.ReadFile(out)
			if !strings.Contains(string(want), "line 24") || !strings.Contains(string(want), "21 77") {
				t.Fatalf("uninterrupted run: %q", want)
			}
			dir := t.TempDir()
			cmd, out = run(dir)
			waitFor(t, "5 lines", func() bool { return lines(out) >= 5 })
			img := filepath.Join(dir, "img")
			checkpointTreeKill(t, cmd, img)
			ws := restartWait(t, img, RestartOptions{})
			if got, _ := os.ReadFile(out); string(got) != string(want) || ws.ExitStatus() != 0 {
				t.Fatalf("restarted %s: %v, wrote\n%q\nwant\n%q", tc.name, ws, got, want)
			}
		})
	}
}

// TestPTYHeldOutside: a pair whose slave a process outside the tree holds
// is refused, naming the holder, and the refused tree goes on unharmed.
func TestPTYHeldOutside(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd := ptyRun(t, dir, 0)
	kids := childrenOf(cmd.Process.Pid)
	if len(kids) != 1 || len(childrenOf(kids[0])) != 1 {
		t.Fatalf("ptyscript's children: %v", kids)
	}
	job := childrenOf(kids[0])[0]
	s, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", job), os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img"), Tree: true})
	s.Close()
	if err == nil || !strings.Contains(err.Error(), "is pseudo terminal /dev/pts/") || !strings.Contains(err.Error(), fmt.Sprintf("is held by ckpt.test(%d)", os.Getpid())) {
		t.Fatalf("checkpoint: %v, want the pseudo terminal refused as held by the test", err)
	}
	got := ptyGo(t, dir, func() { cmd.Wait() })
	if !strings.Contains(got, "[line2 partial done]") || !strings.HasSuffix(got, "exit 0\n") {
		t.Fatalf("after the refused checkpoint: %q", got)
	}
}

// TestPTYImageChecks: pty state out of bounds or in the wrong place in an
// image (re-sealed, so only the checks can catch it) is refused as
// corrupt by the image reader.
func TestPTYImageChecks(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	cmd := ptyRun(t, dir, 0)
	img := filepath.Join(dir, "img")
	checkpointTreeKill(t, cmd, img)
	orig, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	master := func(m *imageMeta) *fileDesc {
		for i := range m.Files {
			if f := &m.Files[i]; f.Pty != nil && f.Pty.Pair != nil {
				return f
			}
		}
		t.Fatal("no pty pair in the root's image")
		return nil
	}
	// Re-sealed unchanged, it reads.
	b := parseRaw(t, orig).editMeta(t, func(*imageMeta) {}).bytes(true, false, nil)
	path := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImage(path); err != nil {
		t.Fatalf("the image re-sealed unchanged: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(m *imageMeta)
	}{
		{"output too long", func(m *imageMeta) { master(m).Pty.Pair.Output = make([]byte, maxPTYOutput+1) }},
		{"input too long", func(m *imageMeta) { master(m).Pty.Pair.Partial = make([]byte, nTTYBufSize+1) }},
		{"control characters", func(m *imageMeta) { master(m).Pty.Pair.Termios.Cc = make([]uint8, termiosCC+1) }},
		{"pair on a slave", func(m *imageMeta) { master(m).Pty.Master = false }},
		{"pty state on a file", func(m *imageMeta) { master(m).Kind = fdFile }},
		{"negative number", func(m *imageMeta) { master(m).Pty.Index = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := parseRaw(t, orig).editMeta(t, tc.edit).bytes(true, false, nil)
			path := filepath.Join(t.TempDir(), "img")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadImage(path); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: %v, want %v", err, ErrCorrupt)
			}
		})
	}
}

// TestPTYSlaveClosed: a master whose slaves were all closed with output
// left unread reads that output, then EIO, after a checkpoint that lets it
// run and after a restart; in packet mode and locked, it still is.
func TestPTYSlaveClosed(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		kill bool
		mode string
		want string
	}{
		{false, "", "bye\r\npartial|Input/output error\n"},
		{true, "", "bye\r\npartial|Input/output error\n"},
		{false, "pkt", "packet 1 locked 1|.bye\r\npartial|Input/output error\n"},
		{true, "pkt", "packet 1 locked 1|.bye\r\npartial|Input/output error\n"},
	} {
		kill, want := tc.kill, tc.want
		t.Run(fmt.Sprintf("killed %v %s", kill, tc.mode), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(cprog(t, "ptyclosed"), dir, tc.mode)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitFor(t, "set up", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			img := filepath.Join(dir, "img")
			wait := func() { cmd.Wait() }
			if kill {
				checkpointKill(t, cmd, img)
				p, err := Restart(context.Background(), img, RestartOptions{})
				if err != nil {
					t.Fatalf("restart: %v", err)
				}
				wait = func() { waitProc(t, p) }
			} else if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img}); err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			if got := ptyGo(t, dir, wait); got != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		})
	}
}

// TestOpenSlaveFlags: a slave opened by the engine must not carry O_CLOEXEC
// in its description's flags (TIOCGPTPEER keeps it there, unlike open), or
// a checkpoint of a restored tree reads it from fdinfo as close-on-exec
// and the next restore loses the descriptor across the program's exec.
func TestOpenSlaveFlags(t *testing.T) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		testenv.Unavailable(t, "no /dev/ptmx: %v", err)
	}
	defer unix.Close(m)
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, err := openSlave(m, false, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	fd, err := unix.FcntlInt(uintptr(s), unix.F_GETFD, 0)
	if err != nil || fd&unix.FD_CLOEXEC == 0 {
		t.Fatalf("F_GETFD = %#x, %v; want FD_CLOEXEC on the engine's own descriptor", fd, err)
	}
	// With the descriptor's flag cleared, fdinfo must say not close-on-exec.
	if _, err := unix.FcntlInt(uintptr(s), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", s))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		v, ok := strings.CutPrefix(line, "flags:")
		if !ok {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.O_CLOEXEC != 0 {
			t.Fatalf("fdinfo flags %#o carry O_CLOEXEC, the descriptor's flag is clear", flags)
		}
		return
	}
	t.Fatalf("no flags line in fdinfo: %q", info)
}
