package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkBatchInteractive measures an interactive job: the time from
// qsub -I to "ready" (submission, scheduling, the supervisor, the shell
// on its pty, the hand-over), and the round trip of a line typed at the
// user's terminal and echoed by the job's shell through the relay.
func BenchmarkBatchInteractive(b *testing.B) {
	batchNeedRoot(b)
	bt := newBatch(b, "")
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0)
	n, _ := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	var mu sync.Mutex
	var out strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := m.Read(buf)
			mu.Lock()
			out.Write(buf[:k])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	wait := func(want string) {
		for deadline := time.Now().Add(60 * time.Second); ; {
			mu.Lock()
			got := strings.Contains(out.String(), want)
			mu.Unlock()
			if got {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("the terminal never showed %q", want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	cmd := exec.Command(bin("qsub"), "-I", "-S", "/bin/sh")
	cmd.Dir, cmd.Env = bt.work, append(bt.env(), "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	wait("ready")
	ready := time.Since(start)
	const lines = 200
	start = time.Now()
	for i := range lines {
		fmt.Fprintf(m, "echo r$((%d+1))t\r", i)
		wait(fmt.Sprintf("r%dt", i+1))
	}
	rtt := time.Since(start) / lines
	fmt.Fprintf(m, "exit 0\r")
	cmd.Wait()
	b.ReportMetric(ready.Seconds(), "s-to-ready")
	b.ReportMetric(float64(rtt.Microseconds()), "µs-echo-rtt")
	b.Logf("qsub -I to ready: %v; typed line echoed by the job's shell: %v per line (%d lines)", ready, rtt, lines)
}
