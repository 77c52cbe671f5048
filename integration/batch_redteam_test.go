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
	"io"
	"net"
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

var _ = json.Marshal
var _ = io.EOF
var _ = net.Dial
var _ = time.Now
var _ = proto.Version
