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
	"regexp"
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

// TestRedteamArrayFlood: an ordinary user submits one array of a million
// subjobs: one job to the limit, a million to list (qstat -t took 24 s and
// the root daemon gigabytes, for each of a few such qstats at once). Was a
// hole: each subjob now counts against max_user_jobs, so the array is
// refused whole, naming the setting, and one within the limit is taken
// with every subjob counted.
func TestRedteamArrayFlood(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "max_user_jobs = 5\n")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("a.sh", "#!/bin/sh\ntrue\n")
	if r := b.runWith(as, "qsub", "-h", "-J", "0-999999", s); r.code == 0 || !strings.Contains(r.stderr, "max_user_jobs") || !strings.Contains(r.stderr, "1000000 subjobs") {
		t.Errorf("nobody's array of a million: %v; want it refused naming max_user_jobs", r)
	}
	if r := b.runWith(as, "qsub", "-h", "-J", "1-4", s); r.code != 0 {
		t.Fatalf("nobody's array of 4 within the limit of 5: %v", r)
	}
	b.qsubWith(as, "-h", s) // 4 subjobs and 1: the limit
	if r := b.runWith(as, "qsub", "-h", s); r.code == 0 || !strings.Contains(r.stderr, "has 5 jobs") {
		t.Errorf("nobody's 6th job (4 subjobs and 1 job before): %v", r)
	}
	if r := b.runWith(as, "qsub", "-h", "-J", "1-2", s); r.code == 0 || !strings.Contains(r.stderr, "max_user_jobs") {
		t.Errorf("nobody's second array past the limit: %v", r)
	}
	b.qsubID("-h", "-J", "1-20", s) // root has no limit
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
	// An array counts its subjobs; qrestart -f is a submission too.
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

// rootFile writes a file of root's, for the tests to check it untouched.
func rootFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}

// same fails the test when a file no longer holds what it held.
func same(t *testing.T, path, want string) {
	t.Helper()
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		t.Errorf("%s: %q (%v), want it untouched: %q", path, got, err, want)
	}
}

// TestRedteamWorkdirNotTheUsers: a working directory the user may not
// enter (root's, mode 0700), given as such or through a symbolic link of
// the user's: the job fails to start, saying so; nothing is created in the
// directory (the default output files are NAME.oID there).
func TestRedteamWorkdirNotTheUsers(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	private := filepath.Join(b.home, "private")
	os.Mkdir(private, 0o700)
	link := filepath.Join(b.work, "wd-link")
	os.Symlink(private, link)
	os.Lchown(link, int(cred.Uid), int(cred.Gid))
	s := b.script("w.sh", "#!/bin/sh\necho planted > planted\n")
	for _, wd := range []string{private, link} {
		id := b.qsubWith(as, "-d", wd, s)
		j := b.waitState(id, "finished", "failed")
		if j.State != "failed" || !strings.Contains(j.Reason, "working directory") || !strings.Contains(j.Reason, "permission denied") {
			t.Errorf("qsub -d %s by nobody: %s (%s)", wd, j.State, j.Reason)
		}
	}
	if entries, _ := os.ReadDir(private); len(entries) != 0 {
		t.Errorf("root's directory has %d entries after nobody's jobs ran in it", len(entries))
	}
}

// TestRedteamDirectivesAskForMore: what qsub options cannot get, #PBS
// directives in the script cannot either: -u root, a group the user is
// not in, an output file in root's directory.
func TestRedteamDirectivesAskForMore(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	private := filepath.Join(b.home, "private")
	os.Mkdir(private, 0o700)
	for _, d := range []string{"-u root", "-W group_list=root", "-W group_list=0", "-u 0"} {
		s := b.script("d.sh", "#!/bin/sh\n#PBS "+d+"\nid\n")
		r := b.runWith(as, "qsub", s)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("#PBS %s by nobody: %v; want one line of refusal", d, r)
		}
		if r := b.runWith(as, "qsub", append(strings.Fields(d), b.script("p.sh", "#!/bin/sh\nid\n"))...); r.code == 0 {
			t.Errorf("qsub %s by nobody: %v", d, r)
		}
	}
	id := b.qsubWith(as, b.script("o.sh", "#!/bin/sh\n#PBS -o "+private+"/out\n#PBS -e "+private+"/err\necho x\n"))
	if j := b.waitState(id, "finished", "failed"); j.State != "failed" || !strings.Contains(j.Reason, "permission denied") {
		t.Errorf("#PBS -o in root's directory: %s (%s)", j.State, j.Reason)
	}
	if entries, _ := os.ReadDir(private); len(entries) != 0 {
		t.Errorf("root's directory has %d entries", len(entries))
	}
	if n := len(b.jobs()); n != 1 {
		t.Errorf("%d jobs, want 1 (the one whose output was refused)", n)
	}
}

// TestRedteamDaemonFilesAsOutput: the daemon's own files as a job's -o or
// -e, directly, as a directory for NAME.oID, or through a hard link (which
// the user makes where fs.protected_hardlinks is off): the host key
// (whoever writes it can forge images), the configuration, the spool.
// Each job fails to start; every file is as it was.
func TestRedteamDaemonFilesAsOutput(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	key := filepath.Join(b.home, "host.key")
	keyData, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(b.home, "lazarus.conf")
	confData, _ := os.ReadFile(conf)
	precious := filepath.Join(b.home, "precious")
	rootFile(t, precious, "root's\n", 0o644)
	// Made by root: this machine has fs.protected_hardlinks on, where it
	// is off nobody makes it.
	hard := filepath.Join(b.work, "hard")
	if err := os.Link(precious, hard); err != nil {
		t.Fatal(err)
	}
	s := b.script("o.sh", "#!/bin/sh\necho clobbered\necho clobbered >&2\n")
	for _, args := range [][]string{
		{"-o", key}, {"-e", key}, {"-o", conf}, {"-j", "oe", "-o", hard}, {"-e", hard},
		{"-o", filepath.Join(b.home, "spool") + "/"}, {"-e", filepath.Join(b.home, "run") + "/"},
	} {
		id := b.qsubWith(as, append(args, s)...)
		if j := b.waitState(id, "finished", "failed"); j.State != "failed" || !strings.Contains(j.Reason, "permission denied") {
			t.Errorf("qsub %s by nobody: %s (%s)", strings.Join(args, " "), j.State, j.Reason)
		}
	}
	same(t, key, string(keyData))
	same(t, conf, string(confData))
	same(t, precious, "root's\n")
	if m, _ := filepath.Glob(filepath.Join(b.home, "spool", "*.o*")); len(m) > 0 {
		t.Errorf("output files in the spool: %v", m)
	}
}

// TestRedteamTmpdirLinksAtCleanup: the job's TMPDIR is removed by root
// when the job ends; the job leaves in it symbolic links to root's
// directory and file, a hard link to root's file (where
// fs.protected_hardlinks is off), and a directory with a link to /. Root's files and directory survive the removal.
func TestRedteamTmpdirLinksAtCleanup(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	precious := filepath.Join(b.home, "precious")
	os.Mkdir(precious, 0o755)
	keep := filepath.Join(precious, "keep")
	rootFile(t, keep, "root's\n", 0o644)
	id := b.qsubWith(as, "-j", "oe", b.script("t.sh", fmt.Sprintf(`#!/bin/sh
ln -s %[1]s "$TMPDIR/dir" && ln -s %[1]s/keep "$TMPDIR/file" && { ln %[1]s/keep "$TMPDIR/hard" 2>/dev/null || true; } &&
mkdir "$TMPDIR/sub" && ln -s / "$TMPDIR/sub/root" && echo "planted in $TMPDIR"
`, precious)))
	j := b.waitState(id, "finished", "failed")
	out := b.readFile(j.Stdout)
	if j.State != "finished" || !strings.Contains(out, "planted in") {
		t.Fatalf("the job: %s (%s), %q", j.State, j.Reason, out)
	}
	tmp := strings.TrimSpace(strings.TrimPrefix(out, "planted in "))
	b.waitFor("the job's TMPDIR to be removed", func() bool { _, err := os.Lstat(tmp); return err != nil })
	same(t, keep, "root's\n")
	if st, err := os.Stat(precious); err != nil || !st.IsDir() {
		t.Errorf("root's directory: %v", err)
	}
	var st syscall.Stat_t
	if syscall.Stat(keep, &st) == nil && st.Nlink != 1 {
		t.Errorf("root's file has %d links", st.Nlink)
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Errorf("/bin/sh: %v", err)
	}
}

// TestRedteamSwapFilesBeforeRestore: nobody's job has a file of theirs
// open for writing; qhold checkpoints and stops it; nobody replaces that
// file (first job), or the job's output file (second job), by a symbolic
// link to a file of root's, and releases the job. The restore (by root,
// from an image the host key authenticates) reopens both as the job's
// owner: the data file comes back closed (batch restores force), the
// output file cannot be opened and the restart fails, naming it; root's
// files are untouched.
func TestRedteamSwapFilesBeforeRestore(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	for i, swapped := range []string{"data", "out"} {
		precious := filepath.Join(b.home, "precious-"+swapped)
		rootFile(t, precious, "root's\n", 0o644)
		dir := filepath.Join(b.work, swapped)
		os.Mkdir(dir, 0o755)
		os.Chown(dir, int(cred.Uid), int(cred.Gid))
		data, out := filepath.Join(dir, "data"), filepath.Join(dir, "out")
		id := b.qsubWith(as, "-j", "oe", "-o", out, "-d", dir, b.script(fmt.Sprintf("s%d.sh", i), `#!/bin/sh
exec 5>>data
echo started
while [ ! -e go ]; do sleep 0.1; done
echo pwned >&5
echo pwned
`))
		b.waitState(id, "running")
		b.waitFor("the job's output", func() bool { got, _ := os.ReadFile(out); return strings.Contains(string(got), "started") })
		if r := b.runWith(as, "qhold", jobArg(id)); r.code != 0 {
			t.Fatalf("qhold of nobody's own job: %v", r)
		}
		if j := b.waitState(id, "held"); len(j.Checkpoints) == 0 {
			t.Fatalf("held without a checkpoint: %+v", j)
		}
		path := map[string]string{"data": data, "out": out}[swapped]
		if r := runAs(t, cred, dir, "/bin/sh", "-c", "rm -f "+path+" && ln -s "+precious+" "+path+" && touch go"); r.code != 0 {
			t.Fatalf("nobody's swap: %v", r)
		}
		if r := b.runWith(as, "qrls", jobArg(id)); r.code != 0 {
			t.Fatalf("qrls: %v", r)
		}
		j := b.waitState(id, "finished", "failed", "held")
		same(t, precious, "root's\n")
		switch swapped {
		case "data":
			// Batch restores force (CONVEX -F): the descriptor the owner
			// may no longer open comes back closed, with a warning.
			if got := b.readFile(out); !strings.Contains(got, "Bad file descriptor") {
				t.Errorf("data swapped: the job's output %q; want its write to fd 5 refused", got)
			}
		case "out":
			if len(j.Checkpoints) == 0 || !strings.Contains(j.Checkpoints[0].Bad, "permission denied") || !strings.Contains(j.Checkpoints[0].Bad, path) {
				t.Errorf("out swapped: the checkpoint's restart did not fail on %s: %+v", path, j.Checkpoints)
			}
		}
	}
}

// TestRedteamAdoptNotAnImage: qrestart -f of files that are not images:
// a 1 TiB sparse file (its copy into the spool must not fill the disk), a
// program, random bytes, a hard link to a file of root's that only root
// may read (fs.protected_hardlinks off). Each is refused in one line, no job is made, and no copy is
// left in the spool.
func TestRedteamAdoptNotAnImage(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	dir := filepath.Join(b.work, "imgs")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(cred.Uid), int(cred.Gid))
	sparse := filepath.Join(dir, "sparse.img")
	random := filepath.Join(dir, "random.img")
	prog := filepath.Join(dir, "prog.img")
	secret := filepath.Join(b.home, "secret")
	rootFile(t, secret, "root's secret\n", 0o600)
	hard := filepath.Join(dir, "hard.img")
	for _, c := range [][]string{
		{"/usr/bin/truncate", "-s", "1T", sparse},
		{"/bin/sh", "-c", "head -c 65536 /dev/urandom > " + random},
		{"/bin/cp", "/bin/true", prog},
	} {
		if r := runAs(t, cred, dir, c[0], c[1:]...); r.code != 0 {
			t.Fatalf("%v: %v", c, r)
		}
	}
	// By root: the user makes it where fs.protected_hardlinks is off.
	if err := os.Link(secret, hard); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{sparse, random, prog, hard} {
		r := b.runWith(as, "qrestart", "-f", img)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, img) {
			t.Errorf("qrestart -f %s by nobody: %v; want one line naming it", filepath.Base(img), r)
		}
		if img == hard && !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("qrestart -f of a hard link to root's secret: %v", r)
		}
	}
	if n := len(b.jobs()); n != 0 {
		t.Errorf("%d jobs made of files that are not images", n)
	}
	if m, _ := filepath.Glob(filepath.Join(b.home, "spool", "*.ckpt")); len(m) > 0 {
		t.Errorf("copies left in the spool: %v", m)
	}
	var fs syscall.Statfs_t
	syscall.Statfs(b.home, &fs)
	if free := fs.Bavail * uint64(fs.Bsize); free < 1<<30 {
		t.Errorf("%d bytes free after the sparse image's copy", free)
	}
	same(t, secret, "root's secret\n")
}

// TestRedteamAttachOthersInteractiveJob: the terminal of root's
// interactive job (what root types, and a shell as root) asked for by
// nobody, as qsub -I and qrestart --attach ask: refused.
func TestRedteamAttachOthersInteractiveJob(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	req := proto.SubmitRequest{Script: []byte("#!/bin/sh\n"), Workdir: b.work, Hold: true, Interactive: true}
	resp, err := rawAs(t, b, nil, request(t, proto.OpSubmit, req))
	if err != nil || !resp.OK {
		t.Fatalf("root's interactive job: %+v %v", resp, err)
	}
	var reply proto.SubmitReply
	json.Unmarshal(resp.Body, &reply)
	for _, a := range []proto.AttachRequest{{ID: reply.ID}, {ID: reply.ID, Restart: true}} {
		resp, err := rawAs(t, b, cred, request(t, proto.OpAttach, a))
		if err != nil || !refused(resp) || resp.Error.Code != proto.CodePermission {
			t.Errorf("attach %+v by nobody: %+v %v", a, resp, err)
		}
	}
	if r := b.runWith(cmdOpts{dir: b.work, cred: cred}, "qrestart", "--attach", jobArg(reply.ID)); r.code == 0 {
		t.Errorf("qrestart --attach of root's job by nobody: %v", r)
	}
	if j := b.job(reply.ID); j.State != "held" || len(j.Segments) != 0 {
		t.Errorf("root's interactive job: %+v", j)
	}
}

// TestRedteamMailAndShellOptions: -M addresses that sendmail (run by the
// daemon as root) would take as its options, or as several addresses; a
// relative -S; control characters in -A: refused in one line.
func TestRedteamMailAndShellOptions(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("m.sh", "#!/bin/sh\ntrue\n")
	for _, c := range [][]string{
		{"-M", "-oQ/tmp/x"}, {"-M", "-C/etc/shadow"}, {"-M", "root@localhost -X/tmp/log"}, {"-M", "a\nb"},
		{"-M", "x,-bs"}, {"-S", "sh"}, {"-S", "../bin/sh"}, {"-A", "acct\x1b]0;x\a"}, {"-P", "p\nq"},
	} {
		r := b.runWith(as, "qsub", append(c, s)...)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" {
			t.Errorf("qsub %q by nobody: %v; want one line of refusal", c, r)
		}
	}
	if n := len(b.jobs()); n != 0 {
		t.Errorf("%d jobs made", n)
	}
}

// TestRedteamSetuidProcessInCheckpoint: the job runs a set-user-ID root
// program (passwd, which waits for the old password on a pipe with
// effective uid 0) whose standard error is a file of the user's. qhold
// checkpoints the job (the image is authentic: its processes come back as
// they were, passwd as root); the user replaces the file by a symbolic
// link to a file of root's (/etc/shadow, in real life) and releases the
// job. The restore opened passwd's descriptions with passwd's identity,
// root's, by their paths, through the link: passwd then wrote its
// complaint into root's file. A process of an authentic image that has
// more rights than the job's owner gets back only the very files it had
// open; another file at their path is opened as the owner (refused here:
// the descriptor comes back closed).
func TestRedteamSetuidProcessInCheckpoint(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	const passwd = "/usr/bin/passwd"
	if st, err := os.Stat(passwd); err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Skipf("%s is not a set-user-ID program here", passwd)
	}
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	precious := filepath.Join(b.home, "precious")
	const content = "root:$6$secret:20000:0:99999:7:::\n"
	rootFile(t, precious, content, 0o600)
	dir := filepath.Join(b.work, "setuid")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(cred.Uid), int(cred.Gid))
	out := filepath.Join(dir, "out")
	id := b.qsubWith(as, "-j", "oe", "-o", out, "-d", dir, b.script("suid.sh", `#!/bin/sh
{ while [ ! -e go ]; do sleep 0.1; done; } | `+passwd+` >/dev/null 2>>evil
echo "passwd: $?"
`))
	b.waitState(id, "running")
	b.waitFor("passwd to wait as root", func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != dir {
				continue
			}
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == passwd && procUID(pid) == "65534 0 0 0" {
				return true
			}
		}
		return false
	})
	if r := b.runWith(as, "qhold", jobArg(id)); r.code != 0 {
		t.Fatalf("qhold: %v", r)
	}
	if j := b.waitState(id, "held"); len(j.Checkpoints) == 0 {
		t.Fatalf("held without a checkpoint: %+v", j)
	}
	if r := runAs(t, cred, dir, "/bin/sh", "-c", "rm -f evil && ln -s "+precious+" evil && touch go"); r.code != 0 {
		t.Fatalf("nobody's swap: %v", r)
	}
	if r := b.runWith(as, "qrls", jobArg(id)); r.code != 0 {
		t.Fatalf("qrls: %v", r)
	}
	j := b.waitState(id, "finished", "failed")
	same(t, precious, content)
	if got := b.readFile(out); j.State != "finished" || !strings.Contains(got, "passwd: ") {
		t.Errorf("the job: %s (%s), output %q", j.State, j.Reason, got)
	}
	if !strings.Contains(b.log()+supervisorLogs(b), "evil") {
		t.Errorf("no warning names the file that was replaced")
	}
}

// supervisorLogs returns the supervisors' logs of a state directory.
func supervisorLogs(b *batch) string {
	var all []byte
	logs, _ := filepath.Glob(filepath.Join(b.home, "run", "*", "supervisor.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		all = append(all, data...)
	}
	return string(all)
}

// TestRedteamOverflowingResources: resource requests whose products or
// conversions overflow (chunks times CPUs, sizes, durations, dates,
// indices): a request that wrapped to a small or negative number would
// pass the limits and take more of the machine than it has. Each is
// refused in one line or recorded as asked; no accepted job asks for
// fewer than one CPU or a negative size or time, and the daemon goes on.
func TestRedteamOverflowingResources(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("r.sh", "#!/bin/sh\ntrue\n")
	for _, c := range [][]string{
		{"-l", "select=4611686018427387904:ncpus=4"}, {"-l", "select=2:ncpus=9223372036854775807"},
		{"-l", "select=3:ncpus=1:mem=4611686018427387904b"}, {"-l", "ncpus=-1"}, {"-l", "ncpus=0"},
		{"-l", "mem=9223372036854775807kb"}, {"-l", "mem=-1gb"}, {"-l", "nodes=4611686018427387904:ppn=4"},
		{"-l", "procs=-5"}, {"-l", "walltime=2562047:47:17"}, {"-l", "walltime=-1"}, {"-l", "cput=99999999999:00:00"},
		{"-l", "select=1:ncpus=1:mpiprocs=-3"}, {"-l", "select=1:ncpus=1:ompthreads=9223372036854775807"},
		{"-a", "999912312359"}, {"-p", "-99999"}, {"-p", "9223372036854775808"},
		{"-J", "0-9223372036854775807:1"}, {"-J", "-5-3"}, {"-J", "1-3:0"}, {"-c", "-3"}, {"-c", "9999999999999999"},
		{"-W", "umask=-1"},
	} {
		r := b.runWith(as, "qsub", append(append([]string{"-h"}, c...), s)...)
		if r.code != 0 {
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stderr == "" || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("qsub %q by nobody: %v; want one line of refusal", c, r)
			}
			continue
		}
		id, err := parseSubmitted(r.stdout)
		if err != nil {
			t.Errorf("qsub %q printed %q", c, r.stdout)
			continue
		}
		for _, j := range b.jobs(id) {
			if j.NCPUs < 1 || j.NCPUs > 1<<20 || j.MemBytes < 0 || j.WalltimeSec < 0 || j.CPUTimeSec < 0 || j.Nodect < 1 {
				t.Errorf("qsub %q accepted as ncpus %d mem %d walltime %v cput %v nodect %d", c, j.NCPUs, j.MemBytes, j.WalltimeSec, j.CPUTimeSec, j.Nodect)
			}
		}
	}
	if !b.running() {
		t.Fatal("lazarusd stopped")
	}
	id := b.qsub(s)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("root's job afterwards: %+v", j)
	}
	if strings.Contains(b.log(), "panic") {
		t.Errorf("lazarusd panicked:\n%s", b.log())
	}
}

// parseSubmitted reads qsub's N.SERVER or N[].SERVER.
func parseSubmitted(out string) (uint64, error) {
	s, _, _ := strings.Cut(strings.TrimSpace(out), ".")
	return strconv.ParseUint(strings.TrimSuffix(s, "[]"), 10, 64)
}

// waitSetuid waits for a process running exe as root for nobody, in dir.
func waitSetuid(b *batch, dir, exe string) {
	b.t.Helper()
	b.waitFor(exe+" to wait as root", func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != dir {
				continue
			}
			if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); got == exe && procUID(pid) == "65534 0 0 0" {
				return true
			}
		}
		return false
	})
}

// TestRedteamSetuidUnlinkedFile: as TestRedteamSetuidProcessInCheckpoint,
// but passwd's standard error is a file the user removed before the
// checkpoint (the image keeps its content), and after it the user points
// the file's directory to one of root's. The restore made the file again
// in that directory as passwd, that is as root: a file of the user's
// content, linked for a moment under the name it had (ld.so.preload, in
// /etc). It is made as the job's owner now: refused, and the restart
// fails naming the file.
func TestRedteamSetuidUnlinkedFile(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	const passwd = "/usr/bin/passwd"
	if st, err := os.Stat(passwd); err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Skipf("%s is not a set-user-ID program here", passwd)
	}
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	private := filepath.Join(b.home, "private")
	os.Mkdir(private, 0o755)
	ctl, dir := filepath.Join(b.work, "ctl"), filepath.Join(b.work, "unl")
	for _, d := range []string{ctl, dir} {
		os.Mkdir(d, 0o755)
		os.Chown(d, int(cred.Uid), int(cred.Gid))
	}
	out := filepath.Join(ctl, "out")
	id := b.qsubWith(as, "-j", "oe", "-o", out, "-d", dir, b.script("unl.sh", `#!/bin/sh
echo 'planted content' > ld.so.preload
{ while [ ! -e `+ctl+`/go ]; do sleep 0.1; done; } | `+passwd+` >/dev/null 2>>ld.so.preload
echo "passwd: $?"
`))
	b.waitState(id, "running")
	waitSetuid(b, dir, passwd)
	if r := runAs(t, cred, dir, "/bin/rm", "ld.so.preload"); r.code != 0 {
		t.Fatalf("rm: %v", r)
	}
	if r := b.runWith(as, "qhold", jobArg(id)); r.code != 0 {
		t.Fatalf("qhold: %v", r)
	}
	if j := b.waitState(id, "held"); len(j.Checkpoints) == 0 {
		t.Fatalf("held without a checkpoint: %+v", j)
	}
	if r := runAs(t, cred, b.work, "/bin/sh", "-c", "mv unl unl.old && ln -s "+private+" unl && touch ctl/go"); r.code != 0 {
		t.Fatalf("nobody's swap: %v", r)
	}
	if r := b.runWith(as, "qrls", jobArg(id)); r.code != 0 {
		t.Fatalf("qrls: %v", r)
	}
	j := b.waitState(id, "finished", "failed")
	if len(j.Checkpoints) == 0 || !strings.Contains(j.Checkpoints[0].Bad, "ld.so.preload") || !strings.Contains(j.Checkpoints[0].Bad, "permission denied") {
		t.Errorf("the restart of passwd's unlinked file in root's directory: generations %+v, job %s (%s)", j.Checkpoints, j.State, j.Reason)
	}
	if entries, _ := os.ReadDir(private); len(entries) != 0 {
		t.Errorf("root's directory has %d entries", len(entries))
	}
}

// TestRedteamInteractiveTerminalGroup: the terminal of nobody's
// interactive job was given the job's group, mode 0620: another user of
// that group (here uid 4242 of nobody's group) wrote into it, escape
// sequences included, and the owner saw it as the job's output. It is of
// group tty now (as login gives terminals), and the other user's write is
// refused.
func TestRedteamInteractiveTerminalGroup(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	cred := nobody(t)
	b := newBatch(t, "")
	os.Chmod(binDir, 0o755)
	s := b.startOnTTYAs(t, cred, 24, 80, "qsub", "-I")
	s.tty.expect(t, "ready")
	// m""ode, e""nd: the terminal's echo of the line is not the answer
	// awaited, whole.
	s.typeLine(`echo "tty=$(tty) m""ode=$(stat -c %a:%g $(tty)) e""nd"`)
	s.tty.expect(t, " end")
	m := regexp.MustCompile(`tty=(/dev/pts/\d+) mode=(\d+):(\d+)`).FindStringSubmatch(s.output())
	if m == nil {
		t.Fatalf("the job's terminal: %q", s.output())
	}
	if m[3] == strconv.Itoa(int(cred.Gid)) && m[2] != "600" {
		t.Errorf("the job's terminal %s has mode %s for nobody's group %s", m[1], m[2], m[3])
	}
	neighbour := &syscall.Credential{Uid: 4242, Gid: cred.Gid, Groups: []uint32{cred.Gid}}
	if r := runAs(t, neighbour, "/", "/bin/sh", "-c", "echo INJECTED-BY-4242 > "+m[1]); r.code == 0 {
		t.Errorf("uid 4242 of nobody's group wrote to nobody's job's terminal %s", m[1])
	}
	s.typeLine("echo done-$((6*7))")
	s.tty.expect(t, "done-42")
	if strings.Contains(s.output(), "INJECTED-BY-4242") {
		t.Errorf("the owner's terminal shows what uid 4242 wrote: %q", s.output())
	}
	s.typeLine("exit 0")
	if code := s.exitCode(); code != 0 {
		t.Errorf("qsub exited %d", code)
	}
}

// TestRedteamRestartOddGenerations: qrestart's request names the
// generation to restart from: negative, past any, of a job that has none,
// or of root's job. Each is refused in one line and the jobs stay held.
func TestRedteamRestartOddGenerations(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("g.sh", "#!/bin/sh\ntrue\n")
	mine := b.qsubWith(as, "-h", s)
	root := b.qsub("-h", s)
	for _, req := range []proto.RestartRequest{
		{ID: mine, Gen: -1}, {ID: mine, Gen: 1 << 40}, {ID: mine, Gen: 1}, {ID: mine},
		{ID: root, Gen: 1}, {ID: root}, {ID: 1 << 62, Gen: 1},
	} {
		resp, err := rawAs(t, b, cred, request(t, proto.OpRestart, req))
		if err != nil || !refused(resp) {
			t.Errorf("restart %+v by nobody: %+v %v; want one error line", req, resp, err)
		}
	}
	for _, id := range []uint64{mine, root} {
		if j := b.job(id); j.State != "held" || len(j.Segments) != 0 {
			t.Errorf("job %d: %s, %d runs", id, j.State, len(j.Segments))
		}
	}
}
