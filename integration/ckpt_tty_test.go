package integration

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

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// ttyPair is a pty whose master side the test reads and writes.
type ttyPair struct {
	master, slave *os.File
	mu            sync.Mutex
	out           bytes.Buffer
}

func newTTY(t *testing.T, rows, cols uint16) *ttyPair {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	p := &ttyPair{master: m, slave: s}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { s.Close(); m.Close() })
	return p
}

// expect waits until the terminal has shown want.
func (p *ttyPair) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		got := p.out.String()
		p.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal shows %q, want %q in it", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onTTY makes cmd a session leader whose control terminal is p.
func onTTY(cmd *exec.Cmd, p *ttyPair) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}

// TestCkptTTYRestartOnAnotherTerminal: an interactive program checkpointed
// on one pty and restarted from another gets the new terminal as its
// control terminal, its terminal settings back (echo off), its process
// group in the foreground, and SIGWINCH for the new window size; restarted
// where there is no terminal it is refused, unless -F.
func TestCkptTTYRestartOnAnotherTerminal(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root: chkpnt and restart ptrace the program")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "ttyprog")
	if b, err := exec.Command("gcc", "-O2", "-o", prog, "testdata/tty/ttyprog.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, b)
	}
	a := newTTY(t, 24, 80)
	cmd := exec.Command(prog)
	onTTY(cmd, a)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	a.expect(t, "ready")
	a.master.WriteString("one\n")
	a.expect(t, "line=one fg=1 echo=0 winch=0")

	img := filepath.Join(dir, "tty.img")
	if b, err := exec.Command(bin("chkpnt"), "-f", img, "-k", "KILL", fmt.Sprint(cmd.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("chkpnt: %v %s", err, b)
	}
	cmd.Wait()

	b := newTTY(t, 30, 100)
	rs := exec.Command(bin("restart"), img)
	onTTY(rs, b)
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Process.Kill(); rs.Wait() })
	// Type only once the program runs again (restored, not traced any
	// more): the terminal echoes what is typed before its settings are back.
	pid := cmd.Process.Pid
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if strings.Contains(string(st), "TracerPid:\t0\n") && strings.Contains(string(st), "State:\tS") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted program never ran: %s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.master.WriteString("two\n")
	b.expect(t, "line=two fg=1 echo=0 winch=1")
	b.master.WriteString("quit\n")
	err := rs.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("restart: %v, want exit status 3 (the program's)", err)
	}

	// No control terminal: refused without -F.
	out, err := exec.Command(bin("restart"), img).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "control terminal") {
		t.Fatalf("restart without a terminal: %v %s, want a refusal naming the control terminal", err, out)
	}
	// With -F its terminal is /dev/null: it reads end of input.
	out, err = exec.Command(bin("restart"), "-F", "-q", img).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Fatalf("restart -F without a terminal: %v %s, want exit status 4 (end of input)", err, out)
	}
}
