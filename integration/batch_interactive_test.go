package integration

// Interactive jobs (qsub -I, qrestart --attach), driven through real
// ptys: the test is the user at the terminal, qsub runs on the slave of a
// pty whose master the test reads and writes, and the job's shell runs on
// the pty of its supervisor, in its namespaces.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// interactive is a qsub -I or qrestart --attach running on a terminal.
type interactive struct {
	t    *testing.T
	tty  *ttyPair
	cmd  *exec.Cmd
	done chan error
}

// startOnTTY runs a batch command on a new pty of rows x cols.
func (b *batch) startOnTTY(t *testing.T, rows, cols uint16, name string, args ...string) *interactive {
	t.Helper()
	return b.startOnTTYAs(t, nil, rows, cols, name, args...)
}

// startOnTTYAs is startOnTTY as another user (nil: as ourselves).
func (b *batch) startOnTTYAs(t *testing.T, cred *syscall.Credential, rows, cols uint16, name string, args ...string) *interactive {
	t.Helper()
	p := newTTY(t, rows, cols)
	cmd := exec.Command(bin(name), args...)
	cmd.Dir = b.work
	cmd.Env = append(b.env(), "TERM=dumb", "PS1=$ ")
	onTTY(cmd, p)
	cmd.SysProcAttr.Credential = cred
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &interactive{t: t, tty: p, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		s.done <- nil
	})
	return s
}

// qsubI submits an interactive job from a new terminal and waits until
// it is ready; it returns the session and the job's id.
func (b *batch) qsubI(t *testing.T, args ...string) (*interactive, uint64) {
	t.Helper()
	s := b.startOnTTY(t, 24, 80, "qsub", append([]string{"-I"}, args...)...)
	s.tty.expect(t, "qsub: waiting for job ")
	m := regexp.MustCompile(`waiting for job (\d+)`).FindStringSubmatch(s.output())
	id, _ := strconv.ParseUint(m[1], 10, 64)
	s.tty.expect(t, fmt.Sprintf("qsub: job %d", id))
	s.tty.expect(t, "ready")
	return s, id
}

func (s *interactive) output() string {
	s.tty.mu.Lock()
	defer s.tty.mu.Unlock()
	return s.tty.out.String()
}

// typeLine types a command line at the terminal.
func (s *interactive) typeLine(line string) {
	s.t.Helper()
	if _, err := s.tty.master.WriteString(line + "\r"); err != nil {
		s.t.Fatal(err)
	}
}

// exitCode waits for the command to end and returns its exit status.
func (s *interactive) exitCode() int {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(90 * time.Second):
		s.t.Fatalf("%s did not end; its terminal shows %q", s.cmd.Path, s.output())
		return -1
	}
}

// TestBatchInteractiveSession: qsub -I waits for its job, which runs the
// login shell in its namespaces on a terminal relayed to qsub's: commands
// typed run there, with PBS's interactive environment; a window size
// change reaches the job (stty size); qsub's terminal is raw meanwhile and
// restored at the end; qsub exits with the shell's status.
func TestBatchInteractiveSession(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	s, id := b.qsubI(t, "-N", "inter", "-S", "/bin/sh")
	s.typeLine(`echo "M=$((6*7)) $PBS_ENVIRONMENT job=$PBS_JOBID pid=$$ wd=$PBS_O_WORKDIR"`)
	s.tty.expect(t, fmt.Sprintf("M=42 PBS_INTERACTIVE job=%d.%s pid=1 wd=%s", id, shortHostname(), b.work))
	// The user's terminal is raw while the session runs: no echo, no
	// line editing on this side (the job's pty does those).
	tio, err := unix.IoctlGetTermios(int(s.tty.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&(unix.ICANON|unix.ECHO) != 0 {
		t.Errorf("qsub's terminal has lflag %#x during the session, want ICANON and ECHO off", tio.Lflag)
	}
	s.typeLine(`stty size; tty`)
	s.tty.expect(t, "24 80")
	s.tty.expect(t, "/dev/pts/")
	if got := b.job(id).State; got != "running" {
		t.Errorf("job state %q during the session, want running", got)
	}
	// The window grows: the kernel sends qsub SIGWINCH, qsub tells the
	// job's pty.
	if err := unix.IoctlSetWinsize(int(s.tty.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 31, Col: 101}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.output(), "31 101") {
		if time.Now().After(deadline) {
			t.Fatalf("the job never saw the new window size; terminal: %q", s.output())
		}
		s.typeLine(`stty size`)
		time.Sleep(200 * time.Millisecond)
	}
	s.typeLine("exit 7")
	if code := s.exitCode(); code != 7 {
		t.Errorf("qsub exited %d, want 7 (the shell's); terminal: %q", code, s.output())
	}
	s.tty.expect(t, fmt.Sprintf("qsub: job %d", id))
	s.tty.expect(t, "completed")
	tio, err = unix.IoctlGetTermios(int(s.tty.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("qsub's terminal has lflag %#x after the session, want its settings back (ICANON, ECHO)", tio.Lflag)
	}
	j := b.waitState(id, "finished", "failed")
	if j.ExitStatus == nil || *j.ExitStatus != 7 {
		t.Errorf("job exit status %v, want 7", j.ExitStatus)
	}
	if out := b.mustRun("qstat", "-f", "-x", jobArg(id)); !strings.Contains(out, "interactive = True") {
		t.Errorf("qstat -f does not say interactive = True:\n%s", out)
	}
}

// TestBatchInteractiveRefused: qsub -I without a terminal, -X without a
// display, and -I with an array are refused, each with its reason, and
// nothing is submitted.
func TestBatchInteractiveRefused(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-I"}, "standard input is not a terminal"},
		{[]string{"-I", "-X"}, "DISPLAY is not set"},
		{[]string{"-I", "-J", "1-3"}, "array"},
	} {
		r := b.runWith(cmdOpts{env: []string{"DISPLAY="}}, "qsub", tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("qsub %v: %v, want one line of refusal with %q", tt.args, r, tt.want)
		}
	}
	if jobs := b.jobs(); len(jobs) != 0 {
		t.Errorf("refused submissions left jobs: %+v", jobs)
	}
	r := b.run("qrestart", "--attach", "1")
	if r.code == 0 || !strings.Contains(r.stderr, "standard input is not a terminal") {
		t.Errorf("qrestart --attach without a terminal: %v, want a refusal", r)
	}
	// A batch job has no terminal to attach to.
	id := b.qsub("-h", b.script("batch.sh", "#!/bin/sh\ntrue\n"))
	a := b.startOnTTY(t, 24, 80, "qrestart", "--attach", jobArg(id))
	if code := a.exitCode(); code == 0 {
		t.Errorf("qrestart --attach of a batch job exited 0")
	}
	a.tty.expect(t, "not an interactive job")
}

// TestBatchInteractiveQsubKilled: when qsub goes away, its job is killed,
// as PBS ends an interactive job whose qsub has gone, and the reason is in
// the job's history.
func TestBatchInteractiveQsubKilled(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	s, id := b.qsubI(t, "-S", "/bin/sh")
	s.typeLine(`echo alive$((1+1))`)
	s.tty.expect(t, "alive2")
	s.cmd.Process.Kill()
	s.exitCode()
	j := b.waitState(id, "finished", "failed")
	last := j.Segments[len(j.Segments)-1]
	if !strings.Contains(last.Reason, "interactive session ended") {
		t.Errorf("the run ended with reason %q, want the interactive session's end", last.Reason)
	}
	if out := b.mustRun("qstat", "-f", "-x", jobArg(id)); !strings.Contains(out, "interactive session ended") {
		t.Errorf("qstat -f -x does not tell why the job ended:\n%s", out)
	}
}

// TestBatchInteractiveCheckpointRestart: an interactive job's tree is
// checkpointable with its terminal held outside it. Held (checkpointed and
// stopped), it comes back with qrestart --attach on a new terminal with
// the shell's variables; checkpointed again and cut by a power cut, it
// restarts in batch, its terminal re-pointed to its output file, where the
// command it was running finishes with the same shell state.
func TestBatchInteractiveCheckpointRestart(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	s, id := b.qsubI(t, "-S", "/bin/bash", "-N", "ickpt")
	s.typeLine(`X=4$((1+1)); echo "set=$X"`)
	s.tty.expect(t, "set=42")

	b.mustRun("qhold", jobArg(id))
	if code := s.exitCode(); code == 0 {
		t.Errorf("qsub exited 0 when its job was held; terminal: %q", s.output())
	}
	s.tty.expect(t, "qrestart --attach")
	b.waitState(id, "held")

	a := b.startOnTTY(t, 40, 120, "qrestart", "--attach", jobArg(id))
	a.tty.expect(t, fmt.Sprintf("qrestart: job %d ready", id))
	a.typeLine(`echo "again=$X"; stty size`)
	a.tty.expect(t, "again=42")
	a.tty.expect(t, "40 120")

	// A command that waits for a file, then prints the variable.
	gate := filepath.Join(b.work, "gate")
	a.typeLine(fmt.Sprintf(`echo waiting; while [ ! -e %s ]; do sleep 0.1; done; echo "after=$X"`, gate))
	a.tty.expect(t, "waiting")
	before := len(b.job(id).Checkpoints)
	b.mustRun("qchkpnt", jobArg(id))
	if n := len(b.job(id).Checkpoints); n <= before {
		t.Fatalf("qchkpnt made no new generation (%d, was %d)", n, before)
	}
	b.crash()
	if code := a.exitCode(); code == 0 {
		t.Errorf("qrestart --attach exited 0 when its job's supervisor died; terminal: %q", a.output())
	}
	b.start()
	b.waitFor("the job to restart in batch", func() bool {
		j := b.job(id)
		return j.State == "running" && len(j.Segments) >= 3
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j := b.waitState(id, "finished", "failed")
	out := b.readFile(filepath.Join(b.work, fmt.Sprintf("ickpt.o%d", id)))
	if !strings.Contains(out, "after=42") {
		t.Errorf("the output file has %q, want the running command's end, after=42", out)
	}
	if n := len(j.Segments); n < 3 || !j.Segments[n-1].Restart {
		t.Errorf("segments %+v, want the last one a restart", j.Segments)
	}
}

// TestBatchInteractiveInterruptedWhileWaiting: ^C while qsub -I waits for
// its job to start deletes the job, as PBS aborts it, and qsub says so.
func TestBatchInteractiveInterruptedWhileWaiting(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	s := b.startOnTTY(t, 24, 80, "qsub", "-I", "-h")
	s.tty.expect(t, "qsub: waiting for job ")
	m := regexp.MustCompile(`waiting for job (\d+)`).FindStringSubmatch(s.output())
	id, _ := strconv.ParseUint(m[1], 10, 64)
	if got := b.job(id).State; got != "held" {
		t.Fatalf("job state %q, want held", got)
	}
	s.tty.master.WriteString("\x03") // ^C: SIGINT to qsub, the foreground group
	if code := s.exitCode(); code == 0 {
		t.Errorf("qsub exited 0 when interrupted")
	}
	s.tty.expect(t, "the job is deleted")
	r := b.run("qstat", jobArg(id))
	if r.code == 0 {
		t.Errorf("qstat %d: %v, want the job gone", id, r)
	}
}

// TestBatchInteractiveDaemonRestart: the session does not go through the
// daemon once the job runs: lazarusd stopped and started again, the shell
// still answers, and its end is recorded by the new daemon.
func TestBatchInteractiveDaemonRestart(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	s, id := b.qsubI(t, "-S", "/bin/sh")
	b.stop()
	s.typeLine(`echo "still=$((40+2))"`)
	s.tty.expect(t, "still=42")
	b.start()
	s.typeLine("exit 3")
	if code := s.exitCode(); code != 3 {
		t.Errorf("qsub exited %d, want 3", code)
	}
	j := b.waitState(id, "finished", "failed")
	if j.ExitStatus == nil || *j.ExitStatus != 3 {
		t.Errorf("job exit status %v, want 3", j.ExitStatus)
	}
}

// TestBatchInteractiveWaitAcrossDaemonRestart: lazarusd restarted while
// qsub -I waits for its job: qsub waits for it to come back, and the job,
// kept, gets its terminal when it starts.
func TestBatchInteractiveWaitAcrossDaemonRestart(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	s := b.startOnTTY(t, 24, 80, "qsub", "-I", "-h", "-S", "/bin/sh")
	s.tty.expect(t, "qsub: waiting for job ")
	m := regexp.MustCompile(`waiting for job (\d+)`).FindStringSubmatch(s.output())
	id, _ := strconv.ParseUint(m[1], 10, 64)
	b.waitFor("the attach request to wait in lazarusd", func() bool {
		return strings.Contains(b.log(), "job submitted")
	})
	b.stop()
	s.tty.expect(t, "lazarusd went away")
	b.start()
	b.mustRun("qrls", jobArg(id))
	s.tty.expect(t, "ready")
	s.typeLine(`echo "back=$((40+2))"; exit 5`)
	s.tty.expect(t, "back=42")
	if code := s.exitCode(); code != 5 {
		t.Errorf("qsub exited %d, want 5", code)
	}
}

// TestBatchInteractiveAsUser: another user's interactive job runs as that
// user, on a terminal that user owns.
func TestBatchInteractiveAsUser(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	cred := nobody(t)
	b := newBatch(t, "")
	os.Chmod(binDir, 0o755) // the commands run as that user
	s := b.startOnTTYAs(t, cred, 24, 80, "qsub", "-I")
	s.tty.expect(t, "ready")
	s.typeLine(`echo "who=$(id -u):$(stat -c %u $(tty)) env=$PBS_ENVIRONMENT"`)
	s.tty.expect(t, fmt.Sprintf("who=%d:%d env=PBS_INTERACTIVE", cred.Uid, cred.Uid))
	m := regexp.MustCompile(`job (\d+)`).FindStringSubmatch(s.output())
	id, _ := strconv.ParseUint(m[1], 10, 64)
	// The running job's terminal is taken: qrestart --attach says how
	// to move the job to another terminal.
	again := b.startOnTTYAs(t, cred, 24, 80, "qrestart", "--attach", jobArg(id))
	if code := again.exitCode(); code == 0 {
		t.Errorf("qrestart --attach of a running job exited 0: %q", again.output())
	}
	again.tty.expect(t, "qhold")
	s.typeLine("exit 0")
	if code := s.exitCode(); code != 0 {
		t.Errorf("qsub exited %d, want 0", code)
	}
}

// TestBatchInteractiveUnprivilegedDaemon: a lazarusd that is not root runs
// its user's interactive jobs too (without namespaces: no checkpoints).
func TestBatchInteractiveUnprivilegedDaemon(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatchAs(t, "", cred)
	s := b.startOnTTYAs(t, cred, 24, 80, "qsub", "-I", "-S", "/bin/sh")
	s.tty.expect(t, "ready")
	s.typeLine(`echo "uid=$(id -u) $PBS_ENVIRONMENT"; exit 4`)
	s.tty.expect(t, fmt.Sprintf("uid=%d PBS_INTERACTIVE", cred.Uid))
	if code := s.exitCode(); code != 4 {
		t.Errorf("qsub exited %d, want 4; terminal: %q", code, s.output())
	}
}
