package integration

// Attacks on lazarusd's socket by an ordinary local user: floods of idle
// connections, oversized request lines, requests abandoned half-way; and
// submissions repeated after a lost reply.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/internal/testenv"
)

// dialAs opens up to n connections to the daemon with the credentials of
// uid and gid: SO_PEERCRED records those of the thread that connects, so
// a thread of ours takes them (and, locked, ends with its goroutine,
// never serving another). Connections the kernel refuses (a full backlog)
// are counted, not returned.
func dialAs(t *testing.T, b *batch, uid, gid uint32, n int) (conns []*net.UnixConn, failed int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
			done <- e
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			done <- e
			return
		}
		addr := &net.UnixAddr{Name: proto.SocketPath(b.home), Net: "unix"}
		for range n {
			c, err := net.DialUnix("unix", nil, addr)
			if err != nil {
				failed++
				continue
			}
			conns = append(conns, c)
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("take uid %d on a thread: %v", uid, err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns, failed
}

// runBounded runs a command that must not hang: one still running after
// two minutes (a machine far slower than any seen) is killed and reported.
func (b *batch) runBounded(o cmdOpts, name string, args ...string) result {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(name), args...)
	cmd.Env = append(b.env(), o.env...)
	cmd.Dir = b.work
	cmd.Stdin = strings.NewReader(o.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if o.cred != nil {
		os.Chmod(binDir, 0o755)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		b.t.Fatalf("%s %s did not return: lazarusd does not answer (stdout %q, stderr %q)", name, strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("run %s: %v", name, err)
	}
	return result{out.String(), errb.String(), code}
}

// procStatus returns a field of /proc/PID/status in kB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// sockets counts the sockets a process holds.
func sockets(pid int) int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// readReply reads one reply line of a raw connection.
func readReply(c net.Conn) (proto.Response, error) {
	c.SetReadDeadline(time.Now().Add(time.Minute))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	var resp proto.Response
	if err == nil {
		err = json.Unmarshal(line, &resp)
	}
	return resp, err
}

// TestProtoIdleFloodFromOneUser: user nobody opens thousands of
// connections and leaves them idle. The daemon must not run out of
// descriptors (its limit is lowered to 2048, below the flood), and root's
// and another user's qstat and qsub must be answered.
func TestProtoIdleFloodFromOneUser(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t, "connections as other users, a daemon of root")
	flooder := nobody(t)
	victim := &syscall.Credential{Uid: 65533, Gid: 65533, Groups: []uint32{65533}}
	b := newBatch(t, "")
	pid := b.cmd.Process.Pid
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 2048, Max: 2048}, nil); err != nil {
		t.Fatal(err)
	}
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	const flood = 3000
	if rl.Cur < flood+512 {
		rl.Cur = min(rl.Max, flood+512)
		unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
		if rl.Cur < flood+512 {
			t.Fatalf("RLIMIT_NOFILE %d is too low for the flood", rl.Cur)
		}
	}

	conns, failed := dialAs(t, b, flooder.Uid, flooder.Gid, flood)
	t.Logf("%d connections opened, %d refused by the kernel", len(conns), failed)
	// The last ones were refused: the daemon says so.
	if len(conns) > 0 {
		last := conns[len(conns)-1]
		last.SetWriteDeadline(time.Now().Add(time.Minute))
		last.Write([]byte(`{"version":1,"op":"ping"}` + "\n"))
		resp, err := readReply(last)
		if err != nil || resp.Error == nil || resp.Error.Code != proto.CodeBusy || !strings.Contains(resp.Error.Message, "max_user_connections") {
			t.Errorf("connection %d of one user: reply %+v, %v; want a busy refusal naming max_user_connections", len(conns), resp.Error, err)
		}
	}

	// The flooding user's own commands are refused while it holds its
	// limit, with a message that says why.
	if r := b.runBounded(cmdOpts{cred: flooder}, "qstat"); r.code == 0 || !strings.Contains(r.stderr, "max_user_connections") {
		t.Errorf("qstat of the flooding user: %v; want a refusal naming max_user_connections", r)
	}

	// The flood still open, others are served.
	script := b.script("victim.sh", "#!/bin/sh\ntrue\n")
	for _, who := range []struct {
		name string
		cred *syscall.Credential
	}{{"root", nil}, {"uid 65533", victim}} {
		if r := b.runBounded(cmdOpts{cred: who.cred}, "qstat"); r.code != 0 {
			t.Errorf("qstat of %s during the flood: %v", who.name, r)
		}
		r := b.runBounded(cmdOpts{cred: who.cred}, "qsub", "-h", script)
		if _, err := parseJobID(r.stdout); r.code != 0 || err != nil {
			t.Errorf("qsub of %s during the flood: %v", who.name, r)
		}
	}
}

// TestProtoLargeLinesFromOneUser: user nobody sends a dozen submission
// lines of 60 MiB at once. The daemon refuses them without holding them
// (its peak RSS stays far below a dozen times 60 MiB), and another user's
// qstat and qsub are answered afterwards.
func TestProtoLargeLinesFromOneUser(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t, "connections as other users, a daemon of root")
	flooder := nobody(t)
	victim := &syscall.Credential{Uid: 65533, Gid: 65533, Groups: []uint32{65533}}
	b := newBatch(t, "")
	pid := b.cmd.Process.Pid
	conns, _ := dialAs(t, b, flooder.Uid, flooder.Gid, 12)
	if len(conns) != 12 {
		t.Fatalf("%d connections of 12", len(conns))
	}
	// A dozen submissions of 60 MiB on the first connections (admitted).
	line := []byte(`{"version":1,"op":"submit","body":{"workdir":"/tmp","script":"`)
	line = append(line, bytes.Repeat([]byte("A"), 60<<20)...)
	line = append(line, `"}}`+"\n"...)
	replies := make([]string, 12)
	var wg sync.WaitGroup
	for i := range replies {
		if i >= len(conns) {
			break
		}
		c := conns[i]
		wg.Go(func() {
			c.SetWriteDeadline(time.Now().Add(3 * time.Minute))
			c.Write(line)
			resp, err := readReply(c)
			switch {
			case err != nil:
				replies[i] = "no reply: " + err.Error()
			case resp.Error != nil:
				replies[i] = resp.Error.Code + ": " + resp.Error.Message
			default:
				replies[i] = "accepted"
			}
		})
	}
	wg.Wait()
	tooLong := 0
	for i, r := range replies {
		if strings.Contains(r, "longer than") {
			tooLong++
		}
		if !strings.HasPrefix(r, proto.CodeBadRequest+": ") && !strings.HasPrefix(r, proto.CodeBusy+": ") {
			t.Errorf("60 MiB submission %d: %s; want refused", i, r)
		}
	}
	if tooLong == 0 {
		t.Errorf("no 60 MiB line was refused as too long: %q", replies)
	}
	// Generous: the daemon starts at some 20 MiB; a dozen lines of 60
	// MiB held whole are 720 MiB before they are decoded.
	if hwm := procStatus(t, pid, "VmHWM"); hwm > 400<<10 {
		t.Errorf("lazarusd's peak RSS is %d MiB after the large lines; want under 400 MiB", hwm>>10)
	}
	t.Logf("lazarusd VmRSS %d kB, VmHWM %d kB", procStatus(t, pid, "VmRSS"), procStatus(t, pid, "VmHWM"))

	if r := b.runBounded(cmdOpts{cred: victim}, "qstat"); r.code != 0 {
		t.Errorf("qstat of uid 65533 after the large lines: %v", r)
	}
	r := b.runBounded(cmdOpts{cred: victim}, "qsub", "-h", b.script("victim.sh", "#!/bin/sh\ntrue\n"))
	if _, err := parseJobID(r.stdout); r.code != 0 || err != nil {
		t.Errorf("qsub of uid 65533 after the large lines: %v", r)
	}
}

// TestProtoOversizedLineRefused: a request line over its limit gets a
// clear error and its connection is closed; a submission, which carries
// its script, has a larger limit.
func TestProtoOversizedLineRefused(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	c, err := net.Dial("unix", proto.SocketPath(b.home))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids := strings.Repeat("1,", 1<<20) // 2 MiB: twice the limit
	c.Write([]byte(`{"version":1,"op":"status","body":{"ids":[` + ids + `1]}}` + "\n"))
	resp, err := readReply(c)
	if err != nil || resp.Error == nil || resp.Error.Code != proto.CodeBadRequest || !strings.Contains(resp.Error.Message, "longer than "+strconv.Itoa(proto.MaxLine)) {
		t.Fatalf("status request of 2 MiB: %+v, %v; want bad_request, longer than %d", resp.Error, err, proto.MaxLine)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection stays open after an oversized line")
	}

	// A script of 4 MiB: over the ordinary limit, under a submission's.
	pc, err := proto.Dial(context.Background(), b.home)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	script := append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("# padding\n"), 4<<20/10)...)
	var reply proto.SubmitReply
	err = pc.Call(context.Background(), proto.OpSubmit, proto.SubmitRequest{Script: script, Workdir: b.work, Hold: true}, &reply)
	if err != nil || reply.ID == 0 {
		t.Fatalf("submission of a 4 MiB script: %+v, %v", reply, err)
	}
	if j := b.job(reply.ID); j.State != "held" {
		t.Errorf("job of the 4 MiB script: %+v", j)
	}
}

// TestProtoHangupCancelsWait: a client that leaves while its qstat -w is
// waiting ends the wait; the daemon lets the connection go at once, not
// when the wait would have timed out (five minutes).
func TestProtoHangupCancelsWait(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub("-h", b.script("w.sh", "#!/bin/sh\ntrue\n"))
	pid := b.cmd.Process.Pid
	// The daemon lets go of qsub's connection a moment after qsub exits:
	// idle is the count once it no longer changes.
	idle := -1
	b.waitFor("lazarusd's sockets to settle", func() bool {
		n := sockets(pid)
		time.Sleep(300 * time.Millisecond)
		idle = sockets(pid)
		return n == idle
	})
	c, err := net.Dial("unix", proto.SocketPath(b.home))
	if err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf(`{"version":1,"op":"wait","body":{"jobs":[{"id":%d,"state":"held"}]}}`+"\n", id)
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	b.waitFor("lazarusd to take the connection", func() bool { return sockets(pid) > idle })
	// The wait is in progress: the job stays held.
	c.Close()
	b.waitFor("lazarusd to let go of the connection of a client that hung up", func() bool { return sockets(pid) == idle })
	if r := b.run("qstat", strconv.FormatUint(id, 10)); r.code != 0 {
		t.Errorf("qstat after the abandoned wait: %v", r)
	}
}

// TestProtoSubmitKeyOnce: a submission sent again with its key (a retry
// after a lost reply) gets the job the first made, also after a restart
// of the daemon, and never a second job.
func TestProtoSubmitKeyOnce(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	req := proto.SubmitRequest{Script: []byte("#!/bin/sh\ntrue\n"), Workdir: b.work, Hold: true, Key: proto.NewKey()}
	submit := func() uint64 {
		t.Helper()
		var reply proto.SubmitReply
		if err := proto.CallRetry(context.Background(), b.home, proto.OpSubmit, req, &reply); err != nil {
			t.Fatal(err)
		}
		return reply.ID
	}
	first := submit()
	if again := submit(); again != first {
		t.Errorf("same key again: job %d, want %d", again, first)
	}
	b.stop()
	b.start()
	if again := submit(); again != first {
		t.Errorf("same key after a restart: job %d, want %d", again, first)
	}
	if list := b.jobs(); len(list) != 1 {
		t.Errorf("%d jobs after three submissions with one key, want 1", len(list))
	}
	// Another key is another job; a malformed one is refused.
	req.Key = proto.NewKey()
	if other := submit(); other == first {
		t.Errorf("another key: job %d, the same as the first", other)
	}
	req.Key = "../x"
	var pe *proto.Error
	if err := proto.CallRetry(context.Background(), b.home, proto.OpSubmit, req, nil); !errors.As(err, &pe) || pe.Code != proto.CodeBadRequest {
		t.Errorf("malformed key: %v", err)
	}
}
