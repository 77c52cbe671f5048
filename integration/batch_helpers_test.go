package integration

// Helpers of the batch system tests (batch_*_test.go): each test starts a
// real lazarusd on a state directory of its own and drives the built
// commands, as a user would.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/proc"
	"lazarus/internal/proto"
	"lazarus/internal/testenv"
)

// testConf keeps kills short; tests add their own settings.
const testConf = "kill_grace = 1s\n"

// batch is one lazarusd and its state directory.
type batch struct {
	t    testing.TB
	home string
	work string              // a directory anyone may write: jobs run there
	cred *syscall.Credential // the daemon's user; nil: ours
	cmd  *exec.Cmd
	done chan error
}

func newBatch(t testing.TB, conf string) *batch {
	t.Helper()
	return newBatchAs(t, conf, nil)
}

// newBatchAs starts a daemon that runs as the given user (a single-user
// setup), on a state directory that user owns.
func newBatchAs(t testing.TB, conf string, cred *syscall.Credential) *batch {
	t.Helper()
	return newBatchIn(t, t.TempDir(), conf, cred)
}

// newBatchIn starts a daemon on the given (empty) state directory.
func newBatchIn(t testing.TB, home, conf string, cred *syscall.Credential) *batch {
	t.Helper()
	// Other users reach the socket and their spooled scripts through it.
	for d := home; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	work := filepath.Join(home, "work")
	if err := os.Mkdir(work, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, os.ModeSticky|0o777)
	if err := os.WriteFile(filepath.Join(home, "lazarus.conf"), []byte(testConf+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &batch{t: t, home: home, work: work, cred: cred}
	if cred != nil {
		for _, p := range []string{home, work, filepath.Join(home, "lazarus.conf")} {
			os.Chown(p, int(cred.Uid), int(cred.Gid))
		}
		os.Chmod(binDir, 0o755)
	}
	b.start()
	t.Cleanup(b.cleanup)
	return b
}

func (b *batch) env() []string {
	return append(os.Environ(), "LAZARUS_HOME="+b.home)
}

// start runs lazarusd in a process group of its own (so that the tests
// can kill the group, as a careless administrator would) and waits until
// it answers.
func (b *batch) start() {
	b.t.Helper()
	logf, err := os.OpenFile(filepath.Join(b.home, "lazarusd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin("lazarusd"), "--log-level", "debug")
	cmd.Env = b.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: b.cred}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.cmd, b.done = cmd, make(chan error, 1)
	go func() { b.done <- cmd.Wait() }()
	b.waitFor("lazarusd to answer", func() bool {
		select {
		case err := <-b.done:
			b.done <- err
			b.t.Fatalf("lazarusd exited at start (%v); its log:\n%s", err, b.log())
		default:
		}
		return b.run("qstat", "-Q").code == 0
	})
}

func (b *batch) log() string {
	data, _ := os.ReadFile(filepath.Join(b.home, "lazarusd.log"))
	return string(data)
}

// running reports whether the daemon process is still there.
func (b *batch) running() bool {
	if b.cmd == nil {
		return false
	}
	select {
	case err := <-b.done:
		b.done <- err
		return false
	default:
		return true
	}
}

// waitExit waits for the daemon to exit by itself.
func (b *batch) waitExit() error {
	b.t.Helper()
	select {
	case err := <-b.done:
		b.cmd = nil
		return err
	case <-time.After(60 * time.Second):
		b.t.Fatalf("lazarusd did not exit; its log:\n%s", b.log())
		return nil
	}
}

// stop ends the daemon with SIGTERM.
func (b *batch) stop() {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := b.waitExit(); err != nil {
		b.t.Fatalf("lazarusd exited with %v after SIGTERM; its log:\n%s", err, b.log())
	}
}

// kill9 kills the daemon and its whole process group with SIGKILL.
func (b *batch) kill9() {
	b.t.Helper()
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	b.waitExit()
}

// supervisors returns the pids of the supervisors of this state directory.
func (b *batch) supervisors() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 3 && args[1] == "supervise" && strings.HasPrefix(args[2], b.home+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// checkpointHelpers returns the pids of the checkpoint helpers
// ("lazarusd checkpoint-job") working for this state directory.
func (b *batch) checkpointHelpers() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 3 && args[1] == "checkpoint-job" && strings.Contains(args[2], b.home+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// cleanup stops the daemon and whatever jobs a test left running.
func (b *batch) cleanup() {
	if b.running() {
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	sups := b.supervisors()
	for _, pid := range sups {
		syscall.Kill(pid, syscall.SIGTERM) // the supervisor kills its job's tree
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(b.supervisors()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range b.supervisors() {
		kids, _ := proc.Descendants(pid)
		for _, k := range append(kids, pid) {
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
	// A checkpoint helper still at work (a periodic checkpoint begun as
	// the job ended) writes in the job's run directory: the test's
	// directory is removed once none is left.
	deadline = time.Now().Add(20 * time.Second)
	for len(b.checkpointHelpers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range b.checkpointHelpers() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if b.t.Failed() || os.Getenv("LAZARUS_TEST_LOG") != "" {
		b.t.Logf("lazarusd log:\n%s", b.log())
		// The checkpoint helpers' own logs, for a checkpoint that failed
		// or did not end.
		logs, _ := filepath.Glob(filepath.Join(b.home, "run", "*", "checkpoint.log"))
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil && len(data) > 0 {
				b.t.Logf("%s:\n%s", l, data)
			}
		}
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// cmdOpts say how to run a command.
type cmdOpts struct {
	dir   string
	stdin string
	cred  *syscall.Credential
	env   []string
}

func (b *batch) run(name string, args ...string) result {
	return b.runWith(cmdOpts{dir: b.work}, name, args...)
}

func (b *batch) runWith(o cmdOpts, name string, args ...string) result {
	b.t.Helper()
	cmd := exec.Command(bin(name), args...)
	cmd.Env = append(b.env(), o.env...)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = b.work
	}
	cmd.Stdin = strings.NewReader(o.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if o.cred != nil {
		os.Chmod(binDir, 0o755) // other users run the commands too
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("run %s: %v", name, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustRun runs a command that must succeed.
func (b *batch) mustRun(name string, args ...string) string {
	b.t.Helper()
	r := b.run(name, args...)
	if r.code != 0 {
		b.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), r)
	}
	return r.stdout
}

// script writes an executable script into the work directory.
func (b *batch) script(name, body string) string {
	b.t.Helper()
	path := filepath.Join(b.work, name)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		b.t.Fatal(err)
	}
	os.Chmod(path, 0o755)
	return path
}

// qsub submits and returns the job id.
func (b *batch) qsub(args ...string) uint64 {
	b.t.Helper()
	return b.qsubWith(cmdOpts{}, args...)
}

func (b *batch) qsubWith(o cmdOpts, args ...string) uint64 {
	b.t.Helper()
	r := b.runWith(o, "qsub", args...)
	if r.code != 0 || r.stderr != "" {
		b.t.Fatalf("qsub %s: %v", strings.Join(args, " "), r)
	}
	id, err := parseJobID(r.stdout)
	if err != nil {
		b.t.Fatalf("qsub printed %q, not a job id", r.stdout)
	}
	return id
}

// parseJobID reads a job id as qsub prints it: N.SERVER.
func parseJobID(out string) (uint64, error) {
	s := strings.TrimSpace(out)
	n, server, ok := strings.Cut(s, ".")
	if !ok || server == "" || strings.Contains(server, ".") {
		return 0, fmt.Errorf("%q is not N.SERVER", s)
	}
	return strconv.ParseUint(n, 10, 64)
}

// jobs returns the full records of the given jobs (all jobs if none).
func (b *batch) jobs(ids ...uint64) []proto.JobInfo {
	b.t.Helper()
	args := []string{"-c", "-f", "-F", "json"}
	for _, id := range ids {
		args = append(args, strconv.FormatUint(id, 10))
	}
	r := b.run("qstat", args...)
	var reply proto.StatusReply
	if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
		b.t.Fatalf("qstat %v: %v (%v)", args, err, r)
	}
	return reply.Jobs
}

// job returns one job's full record.
func (b *batch) job(id uint64) proto.JobInfo {
	b.t.Helper()
	list := b.jobs(id)
	if len(list) != 1 {
		b.t.Fatalf("qstat %d: %d jobs", id, len(list))
	}
	return list[0]
}

// waitFor polls cond until it holds, with a deadline generous enough for a
// loaded two-core machine.
func (b *batch) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitState waits until a job is in one of the states and returns it.
func (b *batch) waitState(id uint64, states ...string) proto.JobInfo {
	b.t.Helper()
	var j proto.JobInfo
	b.waitFor(fmt.Sprintf("job %d to be %s", id, strings.Join(states, " or ")), func() bool {
		j = b.job(id)
		return slices.Contains(states, j.State)
	})
	return j
}

// readFile waits for a file to exist and returns its contents.
func (b *batch) readFile(path string) string {
	b.t.Helper()
	var data []byte
	b.waitFor(path, func() bool {
		var err error
		data, err = os.ReadFile(path)
		return err == nil
	})
	return string(data)
}

// nobody returns the credentials of user nobody, skipping the test when
// it cannot switch users.
func nobody(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "running commands as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		testenv.Unavailable(t, "this machine has no user nobody")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
}
