package integration

// A red team's attacks by an ordinary local user (nobody) on a batch
// system run by root, and on the chkpnt and restart utilities: each test
// is the attack, then the proof that it was refused in one clear line (or
// was harmless) and that nothing of root's or of another user's changed.
// The attacks already kept in batch_attacks_test.go, batch_trust_test.go,
// batch_adversary_test.go and batch_adopt_test.go are not repeated.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/proto"
)

// resum recomputes the CRCs of an image's checksum note after its notes
// were edited: the CRCs only find damage, anyone can compute them (only
// an HMAC with the host key proves who wrote an image).
func resum(t *testing.T, img []byte) []byte {
	t.Helper()
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	phoff := binary.LittleEndian.Uint64(img[32:])
	phnum := int(binary.LittleEndian.Uint16(img[56:]))
	for i := 0; i < phnum; i++ {
		ph := img[phoff+uint64(i)*56:]
		if elf.ProgType(binary.LittleEndian.Uint32(ph)) != elf.PT_NOTE {
			continue
		}
		off := int(binary.LittleEndian.Uint64(ph[8:]))
		end := off + int(binary.LittleEndian.Uint64(ph[32:]))
		for p := off; p+12 <= end; {
			namesz := int(binary.LittleEndian.Uint32(img[p:]))
			descsz := int(binary.LittleEndian.Uint32(img[p+4:]))
			typ := binary.LittleEndian.Uint32(img[p+8:])
			name := string(bytes.TrimRight(img[p+12:p+12+namesz], "\x00"))
			desc := p + 12 + (namesz+3)&^3
			if name == "LAZARUS" && typ == 0x4c5a0002 {
				d := img[desc : desc+descsz]
				binary.LittleEndian.PutUint32(d[8:], crc32.Checksum(img[:desc], castagnoli))
				binary.LittleEndian.PutUint32(d[descsz-4:], crc32.Checksum(d[:descsz-4], castagnoli))
				return img
			}
			p = desc + (descsz+3)&^3
		}
	}
	t.Fatal("no checksum note in the image")
	return nil
}

// setuidCopy installs a copy of a built command set-user-ID root in a
// directory every user can reach, as a careless site might.
func setuidCopy(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	data, err := os.ReadFile(bin(name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAs runs a program (not one of binDir's) as cred.
func runAs(t *testing.T, cred *syscall.Credential, dir, path string, args ...string) result {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	return result{out.String(), errb.String(), code}
}

// procUID returns the uids line of a process's status.
func procUID(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Uid:") {
			return strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return ""
}

// TestRedteamSetuidUtilities: chkpnt and restart installed set-user-ID
// root. Before, chkpnt checkpointed root's processes for anyone (their
// memory then lay in a file of the caller's), and restart restored, as
// root, whatever credentials an image of the caller's said: an image of
// the caller's own sleep, its uids edited to 0 and its CRCs recomputed,
// came back as a root process (root's own restart still does that, with
// the CONVEX caution: root may restore any image). Both now refuse to run
// with more rights than their caller, before they read anything.
func TestRedteamSetuidUtilities(t *testing.T) {
	t.Parallel()
	user := nobody(t)
	batchNeedRoot(t)
	work := t.TempDir()
	for d := work; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(binDir, 0o755)
	dir := filepath.Join(work, "nobody")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(user.Uid), int(user.Gid))

	// The user's forged image: their own sleep, as root.
	sleeper := exec.Command("sleep", "300")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: user, Setsid: true}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	image := filepath.Join(dir, "sleep.img")
	if r := runAs(t, user, dir, bin("chkpnt"), "-f", image, strconv.Itoa(sleeper.Process.Pid)); r.code != 0 {
		t.Fatalf("chkpnt of nobody's own sleep, by nobody: %v", r)
	}
	orig, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprintf(`"uid":[%d,%d,%d,%d]`, user.Uid, user.Uid, user.Uid, user.Uid)
	gid := fmt.Sprintf(`"gid":[%d,%d,%d,%d]`, user.Gid, user.Gid, user.Gid, user.Gid)
	pad := func(s, to string) string { return s + strings.Repeat(" ", len(to)-len(s)) }
	f := bytes.Replace(orig, []byte(uid), []byte(pad(`"uid":[0,0,0,0]`, uid)), 1)
	f = bytes.Replace(f, []byte(gid), []byte(pad(`"gid":[0,0,0,0]`, gid)), 1)
	forged := filepath.Join(dir, "forged.img")
	if err := os.WriteFile(forged, resum(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(forged, int(user.Uid), int(user.Gid))
	sleeper.Process.Kill()
	sleeper.Wait()

	// What the forged image is worth to whoever restores it as root
	// without an owner: a root process.
	r := runAs(t, nil, dir, bin("restart"), "-F", "-W", forged)
	if pid, err := strconv.Atoi(strings.TrimSpace(r.stdout)); err == nil {
		got := procUID(pid)
		syscall.Kill(pid, syscall.SIGKILL)
		if got != "0 0 0 0" || !strings.Contains(r.stderr, "caution") {
			t.Errorf("root's restart of the forged image: uids %q, %v; want root's, with the caution", got, r)
		}
	} else {
		t.Errorf("root's restart of the forged image: %v", r)
	}

	// A process of root's, which nobody may not trace.
	rootSleep := exec.Command("sleep", "300")
	rootSleep.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := rootSleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rootSleep.Process.Kill(); rootSleep.Wait() })

	suidRestart, suidChkpnt := setuidCopy(t, "restart"), setuidCopy(t, "chkpnt")
	stolen := filepath.Join(dir, "root.img")
	for _, c := range []struct {
		name string
		path string
		args []string
	}{
		{"set-uid restart of the forged image", suidRestart, []string{"-F", "-W", forged}},
		{"set-uid chkpnt of root's process", suidChkpnt, []string{"-f", stolen, strconv.Itoa(rootSleep.Process.Pid)}},
	} {
		r := runAs(t, user, dir, c.path, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, "more rights than its caller") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s, by nobody: %v; want one line of refusal", c.name, r)
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(r.stdout)); err == nil {
			t.Errorf("%s: process %d restored, uids %s", c.name, pid, procUID(pid))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Errorf("set-uid chkpnt wrote an image of root's process for nobody")
	}
	// Without the set-user-ID bit, nobody's forced restart of the forged
	// image gives nobody's process (CONVEX's -F: the caller's identity,
	// with a warning), and chkpnt of root's process fails.
	r = runAs(t, user, dir, bin("restart"), "-F", "-W", forged)
	if pid, err := strconv.Atoi(strings.TrimSpace(r.stdout)); err == nil {
		got := procUID(pid)
		syscall.Kill(pid, syscall.SIGKILL)
		if want := strings.Repeat(strconv.Itoa(int(user.Uid))+" ", 4); got != want[:len(want)-1] {
			t.Errorf("nobody's restart of the forged image: uids %q; want nobody's", got)
		}
	}
	if r := runAs(t, user, dir, bin("chkpnt"), "-f", stolen, strconv.Itoa(rootSleep.Process.Pid)); r.code == 0 {
		t.Errorf("nobody's chkpnt of root's process: %v", r)
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Errorf("chkpnt wrote an image of root's process for nobody")
	}
}

// rawAs sends one request line as uid/gid over a connection of its own and
// returns the reply (the error of a connection closed without one).
func rawAs(t *testing.T, b *batch, cred *syscall.Credential, line []byte) (proto.Response, error) {
	t.Helper()
	uid, gid := uint32(0), uint32(0)
	if cred != nil {
		uid, gid = cred.Uid, cred.Gid
	}
	conns, _ := dialAs(t, b, uid, gid, 1)
	if len(conns) != 1 {
		t.Fatalf("cannot connect to lazarusd as uid %d", uid)
	}
	c := conns[0]
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(append(line, '\n')); err != nil {
		return proto.Response{}, err
	}
	return readReply(c)
}

// request encodes a request line.
func request(t *testing.T, op string, body any) []byte {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(proto.Request{Version: proto.Version, Op: op, Body: raw})
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// refused reports whether a reply is an error of one line, with a code.
func refused(resp proto.Response) bool {
	return !resp.OK && resp.Error != nil && resp.Error.Code != "" && resp.Error.Message != "" &&
		!strings.Contains(resp.Error.Message, "\n")
}

// TestRedteamJobFlood: an ordinary user submits without end, each job
// holding its script (up to 16 MiB) in the state directory until it is
// purged, a week after it ends: the spool, which is everyone's, fills.
// Was a hole (no limit): max_user_jobs now refuses the user's next job,
// naming the setting, while root and other users still submit, and the
// user submits again once a job of theirs is deleted.
func TestRedteamJobFlood(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "max_user_jobs = 3\n")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("f.sh", "#!/bin/sh\ntrue\n")
	var mine []uint64
	for range 3 {
		mine = append(mine, b.qsubWith(as, "-h", s))
	}
	r := b.runWith(as, "qsub", "-h", s)
	if r.code == 0 || !strings.Contains(r.stderr, "max_user_jobs") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("nobody's 4th job: %v; want one line naming max_user_jobs", r)
	}
	// An array is one job; qrestart -f is a submission too.
	if r := b.runWith(as, "qsub", "-h", "-J", "1-3", s); r.code == 0 || !strings.Contains(r.stderr, "max_user_jobs") {
		t.Errorf("nobody's array over the limit: %v", r)
	}
	if r := b.runWith(as, "qrestart", "-f", filepath.Join(b.work, "none.img")); r.code == 0 || !strings.Contains(r.stderr, "max_user_jobs") {
		t.Errorf("nobody's qrestart -f over the limit: %v", r)
	}
	if n := len(b.jobs()); n != 3 {
		t.Errorf("%d jobs after the flood, want nobody's 3", n)
	}
	for range 4 {
		b.qsub("-h", s) // root has no limit
	}
	b.mustRun("qdel", jobArg(mine[0]))
	b.qsubWith(as, "-h", s)
}

// TestRedteamDependBeforeOthersJob: "-W depend=beforeok:ID" puts a
// condition on job ID (it waits for the new job): on root's job, nobody
// would hold it at will. Refused; root's job is as it was and runs.
func TestRedteamDependBeforeOthersJob(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	root := b.qsub("-h", b.script("r.sh", "#!/bin/sh\ntrue\n"))
	s := b.script("n.sh", "#!/bin/sh\nsleep 300\n")
	for _, dep := range []string{"beforeok", "before", "beforeany", "beforenotok"} {
		r := b.runWith(as, "qsub", "-W", "depend="+dep+":"+jobArg(root), s)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "belongs to root") {
			t.Errorf("qsub -W depend=%s:<root's job> by nobody: %v; want one line of refusal", dep, r)
		}
	}
	if j := b.job(root); j.Depend != "" || j.State != "held" {
		t.Errorf("root's job after nobody's depend=before: depend %q, state %s", j.Depend, j.State)
	}
	if n := len(b.jobs()); n != 1 {
		t.Errorf("%d jobs, want root's only", n)
	}
	b.mustRun("qrls", jobArg(root))
	if j := b.waitState(root, "finished", "failed"); j.State != "finished" {
		t.Errorf("root's job: %+v", j)
	}
}

// TestRedteamOthersArraySubjobs: every command that changes a job, on one
// subjob of root's array, on the array, and on a subjob index past its
// end: refused, and the array's subjobs are as they were.
func TestRedteamOthersArraySubjobs(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	arr := b.qsubID("-h", "-J", "0-3", b.script("a.sh", "#!/bin/sh\ntrue\n"))
	before := b.status(true, arr)
	sub := func(i int) string { return strings.TrimSuffix(arr.String(), "[]") + "[" + strconv.Itoa(i) + "]" }
	for _, c := range [][]string{
		{"qdel", sub(1)}, {"qhold", sub(2)}, {"qrls", sub(0)}, {"qrls", arr.String()}, {"qdel", arr.String()},
		{"qalter", "-N", "mine", arr.String()}, {"qsig", "-s", "KILL", sub(3)}, {"qrun", sub(1)},
		{"qmove", "batch", sub(1)}, {"qdel", sub(99)},
	} {
		r := b.runWith(as, c[0], c[1:]...)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("%s by nobody: %v; want one line of refusal", strings.Join(c, " "), r)
		}
	}
	after := b.status(true, arr)
	if len(after) != len(before) {
		t.Fatalf("root's array: %d entries, was %d", len(after), len(before))
	}
	for i := range after {
		if after[i].State != before[i].State || after[i].Name != before[i].Name {
			t.Errorf("root's array entry %d: %s %q, was %s %q", i, after[i].State, after[i].Name, before[i].State, before[i].Name)
		}
	}
	b.mustRun("qdel", arr.String())
}

// TestRedteamSubmitKeyReplay: a submission key makes a retried qsub get
// the job the first try made; nobody sends root's key (seen in a process
// listing, a log) hoping to be answered with root's job, and so to act on
// it. Keys are per user: nobody gets a new job of nobody's.
func TestRedteamSubmitKeyReplay(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	key := proto.NewKey()
	req := proto.SubmitRequest{Script: []byte("#!/bin/sh\ntrue\n"), Workdir: b.work, Hold: true, Key: key}
	resp, err := rawAs(t, b, nil, request(t, proto.OpSubmit, req))
	if err != nil || !resp.OK {
		t.Fatalf("root's submission: %+v %v", resp, err)
	}
	var rootReply proto.SubmitReply
	json.Unmarshal(resp.Body, &rootReply)
	resp, err = rawAs(t, b, cred, request(t, proto.OpSubmit, req))
	if err != nil || !resp.OK {
		t.Fatalf("nobody's submission with root's key: %+v %v", resp, err)
	}
	var reply proto.SubmitReply
	json.Unmarshal(resp.Body, &reply)
	if reply.ID == rootReply.ID {
		t.Fatalf("nobody was answered with root's job %d", reply.ID)
	}
	if j := b.job(reply.ID); j.User != "nobody" {
		t.Errorf("the job of nobody's submission belongs to %s", j.User)
	}
	if j := b.job(rootReply.ID); j.User != "root" || j.State != "held" {
		t.Errorf("root's job: %+v", j)
	}
}

// TestRedteamSubmitBodyIdentity: a hand-made submission that names an
// owner in its body (fields the protocol does not have, and -u root): the
// owner is the connection's peer, never the body's.
func TestRedteamSubmitBodyIdentity(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	script, _ := json.Marshal([]byte("#!/bin/sh\nid -u\n"))
	body := fmt.Sprintf(`{"script":%s,"workdir":%q,"hold":true,"uid":0,"gid":0,"owner":{"uid":0,"gid":0,"name":"root"},"user":"root","groups":[0]}`,
		script, b.work)
	line := fmt.Sprintf(`{"version":%d,"op":%q,"uid":0,"user":"root","body":%s}`, proto.Version, proto.OpSubmit, body)
	resp, err := rawAs(t, b, cred, []byte(line))
	if err != nil || !resp.OK {
		t.Fatalf("nobody's submission: %+v %v", resp, err)
	}
	var reply proto.SubmitReply
	json.Unmarshal(resp.Body, &reply)
	j := b.job(reply.ID)
	if j.User != "nobody" || j.UID != cred.Uid || j.GID != cred.Gid {
		t.Errorf("the job of nobody's submission naming root: user %s uid %d gid %d", j.User, j.UID, j.GID)
	}
	req := proto.SubmitRequest{Script: []byte("#!/bin/sh\ntrue\n"), Workdir: b.work, Hold: true, UserList: "root"}
	if resp, err := rawAs(t, b, cred, request(t, proto.OpSubmit, req)); err != nil || !refused(resp) || resp.Error.Code != proto.CodePermission {
		t.Errorf("nobody's submission with -u root: %+v %v", resp, err)
	}
}

// TestRedteamDuplicateOpKeys: a request line with "op" twice. The daemon
// reads the first to choose the line's limit and its policy, the JSON
// decoder keeps the last: an ordinary user's line that looks like a
// status request and is a shutdown, a server change, a maintenance or a
// queue's removal. Each is refused as the operation it is; the daemon
// goes on, its queue and settings as they were.
func TestRedteamDuplicateOpKeys(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	for _, c := range []struct{ op, body string }{
		{proto.OpShutdown, `{}`},
		{proto.OpServerSet, `{"name":"operators","value":"nobody"}`},
		{proto.OpMaintain, `{"shutdown":true,"immediate":true}`},
		{proto.OpQueueDelete, `{"name":"batch"}`},
		{proto.OpScheduling, `{"on":false}`},
	} {
		line := fmt.Sprintf(`{"version":%d,"op":%q,"op":%q,"body":%s}`, proto.Version, proto.OpStatus, c.op, c.body)
		resp, err := rawAs(t, b, cred, []byte(line))
		if err != nil || !refused(resp) || resp.Error.Code != proto.CodePermission {
			t.Errorf("%s behind a status op, by nobody: %+v %v; want permission refused", c.op, resp, err)
		}
	}
	if !b.running() {
		t.Fatal("lazarusd stopped")
	}
	if r := b.run("qmgr", "-c", "list server"); !strings.Contains(r.stdout, "operators = root") && strings.Contains(r.stdout, "nobody") {
		t.Errorf("server settings changed: %v", r)
	}
	if r := b.run("qstat", "-Q"); !strings.Contains(r.stdout, "batch") {
		t.Errorf("queue batch is gone: %v", r)
	}
	id := b.qsub(b.script("s.sh", "#!/bin/sh\ntrue\n"))
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("a job after the attack: %+v (scheduling stopped?)", j)
	}
}

// TestRedteamMalformedLines: lines a parser may choke on, each sent by
// nobody on a connection of its own: nesting deeper than any decoder's
// stack, invalid UTF-8, NULs, numbers past uint64, an id of 0, a body
// that is not an object, no version. Each gets one error line; the daemon
// answers everyone afterwards.
func TestRedteamMalformedLines(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	v := proto.Version
	deep := strings.Repeat("[", 500000)
	for _, line := range []string{
		deep,
		fmt.Sprintf(`{"version":%d,"op":"status","body":%s}`, v, strings.Repeat(`{"a":`, 200000)),
		fmt.Sprintf(`{"version":%d,"op":"st\xffatus","body":{}}`, v),
		fmt.Sprintf("{\"version\":%d,\"op\":\"status\x00\",\"body\":{}}", v),
		fmt.Sprintf(`{"version":%d,"op":"delete","body":{"id":184467440737095516160}}`, v),
		fmt.Sprintf(`{"version":%d,"op":"delete","body":{"id":-1}}`, v),
		fmt.Sprintf(`{"version":%d,"op":"signal","body":{"id":0,"signal":"KILL"}}`, v),
		fmt.Sprintf(`{"version":%d,"op":"signal","body":[1,2,3]}`, v),
		fmt.Sprintf(`{"version":%d,"op":"restart","body":"x"}`, v),
		`{"op":"shutdown"}`,
		`{"version":1e999,"op":"status"}`,
		`null`, `"x"`, `{}`,
	} {
		resp, err := rawAs(t, b, cred, []byte(line))
		if err != nil || !refused(resp) {
			t.Errorf("%.60q by nobody: %+v %v; want one error line", line, resp, err)
		}
	}
	if r := b.runWith(cmdOpts{dir: b.work, cred: cred}, "qstat"); r.code != 0 {
		t.Errorf("nobody's qstat afterwards: %v", r)
	}
	if id := b.qsub(b.script("s.sh", "#!/bin/sh\ntrue\n")); b.waitState(id, "finished", "failed").State != "finished" {
		t.Errorf("root's job afterwards did not finish")
	}
	if strings.Contains(b.log(), "panicked") {
		t.Errorf("a handler panicked:\n%s", b.log())
	}
}
