package integration

// The guide's interactive modes, driven through a real pty: chkpnt -i
// with -L recording the session and -I replaying it, and restart -i.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ckptTree is a running cktree: the parent and its child.
type ckptTree struct {
	cmd        *exec.Cmd
	pid, child int
	out, data  string
	dir        string
	waited     chan struct{}
}

func ckptStartTree(t *testing.T, steps int) *ckptTree {
	t.Helper()
	ckptNeedRoot(t)
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "ckpt", "cktree.c"))
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "cktree")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	tr := &ckptTree{dir: dir, out: filepath.Join(dir, "out"), data: filepath.Join(dir, "data"), waited: make(chan struct{})}
	if err := os.WriteFile(tr.data, []byte("original\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.cmd = exec.Command(exe, tr.out, tr.data, strconv.Itoa(steps))
	tr.cmd.Dir = dir
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr.pid = tr.cmd.Process.Pid
	go func() { tr.cmd.Wait(); close(tr.waited) }()
	t.Cleanup(func() {
		syscall.Kill(-tr.pid, syscall.SIGKILL)
		if tr.child > 0 {
			syscall.Kill(tr.child, syscall.SIGKILL)
		}
		<-tr.waited
	})
	ckptWaitLines(t, tr.out, 3)
	deadline := time.Now().Add(ckptDeadline)
	for tr.child == 0 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", tr.pid, tr.pid))
		tr.child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatal("cktree: no child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return tr
}

// ckptOnTTY runs bin(name) args in dir on a new pty, typing input, and
// returns what the terminal showed and the exit code.
func ckptOnTTY(t *testing.T, dir, input, name string, args ...string) (string, int) {
	t.Helper()
	p := ckptQuietTTY(t)
	cmd := exec.Command(bin(name), args...)
	cmd.Dir = dir
	onTTY(cmd, p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.master.WriteString(input); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * ckptDeadline):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s: still running", name, strings.Join(args, " "))
	}
	time.Sleep(100 * time.Millisecond) // the reader drains the master
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r\n", "\n"), cmd.ProcessState.ExitCode()
}

// ckptQuietTTY is a pty that does not echo: the answers, typed all at
// once, would otherwise land anywhere among the prompts.
func ckptQuietTTY(t *testing.T) *ttyPair {
	t.Helper()
	p := newTTY(t, 24, 200)
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(int(p.slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return p
}

func ckptWantIn(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: got %q, want %q in it", what, got, w)
		}
	}
}

// chkpnt -ri -L: the guide's prompts and help; the child ignored, the data
// file copied, the out file saved; the log in the guide's format; the
// image restarts without the child; -I replays the log without input.
func TestCkptInteractiveCheckpoint(t *testing.T) {
	t.Parallel()
	tr := ckptStartTree(t, 80)
	pid := strconv.Itoa(tr.pid)
	// Q: nothing is written and the tree runs on.
	shown, code := ckptOnTTY(t, tr.dir, "Q\n", "chkpnt", "-ri", "-f", "img", pid)
	if code != 1 || !strings.Contains(shown, "quit: no checkpoint written") {
		t.Errorf("chkpnt -ri, Q: got exit %d, terminal %q; want 1 and the quit message", code, shown)
	}
	ckptNoFile(t, filepath.Join(tr.dir, "img"))

	// Help, print all, go to the child and back, checkpoint the root (its
	// out file saved after an unknown command, its data file copied), then
	// at the child: no next process, ignore it.
	input := "?\nP\nG " + strconv.Itoa(tr.child) + "\nG " + pid + "\nc\ns\ns\ns\nx\ns\n?\nc\nG\ni\n"
	shown, code = ckptOnTTY(t, tr.dir, input, "chkpnt", "-ri", "-L", "mylog", "-f", "img", "-K", "KILL", pid)
	if code != 0 {
		t.Fatalf("chkpnt -ri -L: exit %d\n%s", code, shown)
	}
	root := fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d [cip]:", tr.pid, tr.pid, os.Getpid())
	ckptWantIn(t, "chkpnt -ri terminal", shown,
		"Chkpnt interactive mode. Type '?' for help.\n"+root, "(Q)uit - exit without performing any checkpointing\n",
		"(c)heckpoint - make the current process eligible for checkpointing\n",
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d\nfd 0 ", tr.child, tr.pid, tr.pid),
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d [cip]:", tr.child, tr.pid, tr.pid),
		"no next process in the hierarchy",
		" "+tr.out+" [cis]:unknown command 'x'; type '?' for help",
		"(s)ave - store data about the file in the checkpoint file.",
		" 9/0 "+tr.data+" [cis]:")
	<-tr.waited // -K KILL ended the root; the ignored child runs on
	if !ckptAlive(tr.child) {
		t.Fatalf("ignored child %d: gone, want it left running", tr.child)
	}
	log, err := os.ReadFile(filepath.Join(tr.dir, "mylog"))
	if err != nil {
		t.Fatal(err)
	}
	wantLog := fmt.Sprintf("%d cktree checkpoint\n0 :/dev/null: path\n1 :/dev/null: path\n2 :/dev/null: path\n3 :%s: path\n4 :%s: copy\n%d cktree ignore\n",
		tr.pid, tr.out, tr.data, tr.child)
	if string(log) != wantLog {
		t.Errorf("log: got %q, want %q", log, wantLog)
	}
	copied := filepath.Join(tr.dir, fmt.Sprintf("cktree.%d.data.4", tr.pid))
	if b, err := os.ReadFile(copied); err != nil || string(b) != "original\n" {
		t.Errorf("copy %s: got %q %v, want the data file's content", copied, b, err)
	}
	if _, err := os.Stat(filepath.Join(tr.dir, fmt.Sprintf("img.cktree.%d", tr.child))); err == nil {
		t.Errorf("an image of the ignored child was written")
	}
	// The pid of the root stays taken while the ignored child holds its
	// process group: the restart waits for it.
	syscall.Kill(tr.child, syscall.SIGKILL)
	ckptWaitGone(t, tr.child)
	rpid, _, _ := ckptDetached(t, tr.dir, filepath.Join(tr.dir, "img"))
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", rpid, rpid)); strings.TrimSpace(string(b)) != "" {
		t.Errorf("restarted root: got children %q, want none (the child was ignored)", b)
	}
	ws := ckptWaitChild(t, rpid)
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("restarted root: got %s, want exit 7", ckptWaitString(ws))
	}
	b, _ := os.ReadFile(tr.out)
	if !strings.HasSuffix(string(b), "step 79\ndata=original\n") {
		t.Errorf("out: got %q, want every step and data=original at the end", b)
	}

	// -I replays the log on a new run of the program (other pids: matched
	// by place), printing the actions, reading nothing.
	tr2 := ckptStartTree(t, 400)
	r := ckptRun(t, tr.dir, "chkpnt", "-n", "-r", "-I", "mylog", strconv.Itoa(tr2.pid))
	ckptWantCode(t, "chkpnt -n -r -I mylog", r, 0)
	ckptWantIn(t, "chkpnt -I output", r.stdout,
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d checkpoint\nfd 0 ", tr2.pid, tr2.pid, os.Getpid()),
		" "+tr2.out+" pathname\n", " "+tr2.data+" copy\n",
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d ignore\n", tr2.child, tr2.pid, tr2.pid))
	r = ckptRun(t, tr.dir, "chkpnt", "-i", "-I", "mylog", strconv.Itoa(tr2.pid))
	ckptWantFailure(t, "chkpnt -i -I", r, "-I cannot be combined with -i or -L")
	if err := os.WriteFile(filepath.Join(tr.dir, "badlog"), []byte("12 cktree maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = ckptRun(t, tr.dir, "chkpnt", "-n", "-I", "badlog", strconv.Itoa(tr2.pid))
	ckptWantFailure(t, "chkpnt -I badlog", r, "line 1", "checkpoint or ignore")
}

// restart -i: the root restarted with its data file's descriptor given
// another path (the program reads the new file through it); the child not
// restarted.
func TestCkptInteractiveRestart(t *testing.T) {
	t.Parallel()
	tr := ckptStartTree(t, 60)
	r := ckptRun(t, tr.dir, "chkpnt", "-r", "-f", "img", "-K", "KILL", strconv.Itoa(tr.pid))
	ckptWantCode(t, "chkpnt -r -K KILL", r, 0)
	<-tr.waited
	ckptWaitGone(t, tr.child)
	other := filepath.Join(tr.dir, "other")
	if err := os.WriteFile(other, []byte("replacement\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(tr.dir, "img")
	input := "?\np\nr\nu\nu\nu\nu\nm relative\nm " + other + "\ni\n"
	p := ckptQuietTTY(t)
	cmd := exec.Command(bin("restart"), "-i", "-W", "--status-fd", "3", image)
	cmd.Dir = tr.dir
	onTTY(cmd, p)
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	cmd.ExtraFiles = []*os.File{sw}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sw.Close()
	p.master.WriteString(input)
	status, _ := bufio.NewReader(sr).ReadString('\n')
	cmd.Wait()
	p.expect(t, fmt.Sprintf("[ipr]:%d", tr.pid)) // the last prompt, then -W's pid
	p.mu.Lock()
	shown := strings.ReplaceAll(p.out.String(), "\r\n", "\n")
	p.mu.Unlock()
	f := strings.Fields(status)
	if len(f) != 3 || f[0] != "ok" || f[1] != strconv.Itoa(tr.pid) {
		t.Fatalf("restart -i -W: got status %q, exit %d; want ok %d STUB\n%s", status, cmd.ProcessState.ExitCode(), tr.pid, shown)
	}
	t.Cleanup(func() { syscall.Kill(tr.pid, syscall.SIGKILL); syscall.Wait4(tr.pid, nil, 0, nil) })
	stub, _ := strconv.Atoi(f[2])
	syscall.Wait4(stub, nil, 0, nil) // restart -W: the stub was our child too
	ckptWantIn(t, "restart -i terminal", shown,
		"Restart interactive mode. Type '?' for help.\n",
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d [ipr]:", tr.pid, tr.pid, os.Getpid()), "(Q)uit - exit without performing the restart\n",
		"(p)rint - print information about the current process and its children",
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d\nfd 0 ", tr.child, tr.pid, tr.pid),
		" "+tr.data+" [ium]:m takes the absolute pathname of the file to use",
		fmt.Sprintf("cktree - pid = %d pgrp = %d ppid = %d [ipr]:", tr.child, tr.pid, tr.pid))
	if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/4", tr.pid)); got != other {
		t.Errorf("fd 4: got %q, want the new path %s", got, other)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", tr.pid, tr.pid)); strings.TrimSpace(string(b)) != "" {
		t.Errorf("restarted root: got children %q, want none (the child was ignored)", b)
	}
	ws := ckptWaitChild(t, tr.pid)
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("restarted root: got %s, want exit 7", ckptWaitString(ws))
	}
	if b, _ := os.ReadFile(tr.out); !strings.HasSuffix(string(b), "data=replacement\n") {
		t.Errorf("out: got %q, want data=replacement at the end (read through the new path)", b)
	}
}
