package ckpt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Images are attacked the way issue 9 says: forged, damaged, edited,
// mixed, by a user who can write them. Real processes are checkpointed;
// the forged images are restarted by the engine as root.

// nobody is the identity the test programs run as.
var nobody = &Owner{UID: 65534, GID: 65534, Groups: []int{100}}

// startNobody runs prog as uid/gid 65534 with groups 65534 and 100, in a
// directory it may write.
func startNobody(t *testing.T, dir string, prog string, args ...string) *exec.Cmd {
	t.Helper()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is private
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 100}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// ourChildren lists the processes whose parent is this test process and
// whose command name is comm: what a failed restore would have left.
func ourChildren(t *testing.T, comm string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		st, err := parseStat(b)
		if err == nil && st.PPID == os.Getpid() && st.Comm == comm {
			pids = append(pids, pid)
		}
	}
	return pids
}

// largestSegment returns the largest saved extent of the image at path and
// the file offset of its data.
func largestSegment(t *testing.T, path string) (extent, int64) {
	t.Helper()
	img, err := ReadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	var best extent
	for _, rg := range img.meta.Regions {
		for _, e := range rg.Extents {
			if e.Len > best.Len {
				best = e
			}
		}
	}
	return best, int64(img.dataStart + best.Off)
}

// TestCorruptSegment: 64 KiB of random bytes, or of zeros, written into the
// middle of a memory segment (the file keeps its size) is found while the
// restore reads it: ErrCorrupt naming the image and the segment, nothing of
// the tree left, and VerifyImage finds it too. The intact image restores
// with the right result.
func TestCorruptSegment(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "memhog"), "4", out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "memhog.img")
	checkpointKill(t, cmd, img)
	good, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	e, off := largestSegment(t, img)
	if e.Len < 3*65536 {
		t.Fatalf("largest segment of %d bytes: too small for the test", e.Len)
	}
	random := make([]byte, 65536)
	rand.Read(random)
	for _, c := range []struct {
		name string
		data []byte
	}{{"random", random}, {"zeros", make([]byte, 65536)}} {
		t.Run(c.name, func(t *testing.T) {
			bad := append([]byte(nil), good...)
			at := off + int64(e.Len/2)&^(pageSize-1)
			if bytes.Equal(bad[at:at+65536], c.data) {
				t.Fatal("the data written is what was there")
			}
			copy(bad[at:], c.data)
			p := forge(t, dir, "bad-"+c.name, bad)
			if _, err := VerifyImage(p, nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("VerifyImage: %v, want %v", err, ErrCorrupt)
			}
			_, err := Restart(context.Background(), p, RestartOptions{PIDRetry: time.Second})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("restart: %v, want %v", err, ErrCorrupt)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "segment") {
				t.Errorf("error %q does not name the image and the segment", err)
			}
			if left := ourChildren(t, "memhog"); len(left) > 0 {
				t.Errorf("processes left after the failed restore: %v", left)
			}
		})
	}
	if _, err := VerifyImage(img, nil); err != nil {
		t.Fatalf("VerifyImage of the intact image: %v", err)
	}
	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	ref := filepath.Join(dir, "ref.txt")
	rc := start(t, dir, cprog(t, "memhog"), "4", ref)
	waitFor(t, "ready", func() bool { return lines(ref) >= 1 })
	rc.Process.Signal(unix.SIGUSR1)
	rc.Wait()
	sameFiles(t, out, ref)
}

// TestCorruptTreeMember: a damaged segment in the last member of a tree
// fails the restore after the other members were created: all of them are
// killed and reaped.
func TestCorruptTreeMember(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "family"), out, "300")
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	img := filepath.Join(dir, "family")
	res := checkpointTreeKill(t, cmd, img)
	last := res.Images[len(res.Images)-1]
	m, err := ReadImage(last)
	if err != nil {
		t.Fatal(err)
	}
	if m.meta.Zombie != nil {
		last = res.Images[len(res.Images)-2]
	}
	e, off := largestSegment(t, last)
	b, _ := os.ReadFile(last)
	for i := int64(0); i < int64(min(e.Len, 4096)); i++ {
		b[off+i] ^= 0x5a
	}
	os.WriteFile(last, b, 0o600)
	_, err = Restart(context.Background(), img, RestartOptions{PIDRetry: time.Second})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restart: %v, want %v", err, ErrCorrupt)
	}
	if left := ourChildren(t, "family"); len(left) > 0 {
		t.Errorf("processes of the tree left after the failed restore: %v", left)
	}
}

// nobodyImage checkpoints compute run as nobody (killed) and returns the
// image and the output file.
func nobodyImage(t *testing.T, dir string, key []byte) (string, string) {
	t.Helper()
	out := filepath.Join(dir, "out.txt")
	cmd := startNobody(t, dir, cprog(t, "compute"), out, "150", dataFile(t, dir))
	waitFor(t, "progress", func() bool { return lines(out) >= 3 })
	img := filepath.Join(dir, "img")
	if _, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Signal: unix.SIGKILL, Key: key}); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	cmd.Wait()
	return img, out
}

// TestOwnerRules: restored for an owner who is not root, an image must ask
// for the owner's credentials exactly and for no more limits or priority
// than the owner has; edited images are refused before anything starts,
// with their checksums made right (only the owner rule can catch them).
func TestOwnerRules(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img, _ := nobodyImage(t, dir, nil)
	good, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m *imageMeta)) []byte { return parseRaw(t, good).editMeta(t, f).bytes(true, false, nil) }
	var hard unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &hard)
	// An executable only root may run.
	exe, err := os.ReadFile(cprog(t, "compute"))
	if err != nil {
		t.Fatal(err)
	}
	rootOnly := forge(t, dir, "root-only", exe)
	cases := []struct {
		name  string
		image []byte
		owner *Owner
	}{
		{"uid-of-another", edit(func(m *imageMeta) { m.Creds.UID = [4]int{1000, 1000, 1000, 1000} }), nobody},
		{"saved-uid-root", edit(func(m *imageMeta) { m.Creds.UID[2] = 0 }), nobody},
		{"fsgid-root", edit(func(m *imageMeta) { m.Creds.GID[3] = 0 }), nobody},
		{"group-root", edit(func(m *imageMeta) { m.Creds.Groups = append(m.Creds.Groups, 0) }), nobody},
		{"group-not-the-owners", good, &Owner{UID: 65534, GID: 65534}},
		{"owner-another-user", good, &Owner{UID: 1000, GID: 1000}},
		{"raised-nofile", edit(func(m *imageMeta) {
			m.Rlimits[unix.RLIMIT_NOFILE] = rlimit{Cur: hard.Max + 1, Max: hard.Max + 1}
		}), nobody},
		{"raised-nofile-infinity", edit(func(m *imageMeta) { m.Rlimits[unix.RLIMIT_NOFILE] = rlimit{Cur: 1024, Max: ^uint64(0)} }), nobody},
		{"nice-lowered", edit(func(m *imageMeta) { m.Nice = -10 }), nobody},
		{"exe-root-only", edit(func(m *imageMeta) { m.Exe.Path = rootOnly }), nobody},
	}
	if hard.Max == ^uint64(0) {
		t.Fatal("RLIMIT_NOFILE has no hard limit here: the test cannot raise it")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := forge(t, dir, c.name, c.image)
			_, err := Restart(context.Background(), p, RestartOptions{Owner: c.owner, PIDRetry: time.Second})
			var oe *OwnerError
			if !errors.As(err, &oe) || !errors.Is(err, ErrNotOwner) {
				t.Fatalf("restart: %v, want an OwnerError", err)
			}
			if oe.Comm != "compute" || !strings.Contains(err.Error(), "compute(") {
				t.Errorf("error %q does not name the process", err)
			}
			t.Log(err)
			if left := ourChildren(t, "compute"); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
		})
	}
	// Forced, a raised limit is lowered to the hard limit, with a warning.
	t.Run("raised-nofile-forced", func(t *testing.T) {
		p := forge(t, dir, "forced", edit(func(m *imageMeta) { m.Rlimits[unix.RLIMIT_NOFILE] = rlimit{Cur: hard.Max + 1, Max: hard.Max + 1} }))
		var log bytes.Buffer
		proc, err := Restart(context.Background(), p, RestartOptions{Owner: nobody, Force: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		lim, err := readLimits(proc.PID)
		if err != nil {
			t.Fatal(err)
		}
		if got := lim[unix.RLIMIT_NOFILE]; got.Max != hard.Max {
			t.Errorf("restored with RLIMIT_NOFILE %+v, want the hard limit %d", got, hard.Max)
		}
		if !strings.Contains(log.String(), "lowered to the hard limit") {
			t.Errorf("no warning of the clamp in %q", log.String())
		}
		if ws := waitProc(t, proc); ws.ExitStatus() != 0 {
			t.Fatalf("restarted: %v", ws)
		}
	})
	// The image as written restores for its owner, as the owner.
	t.Run("own-image", func(t *testing.T) {
		p := forge(t, dir, "own", good)
		proc, err := Restart(context.Background(), p, RestartOptions{Owner: nobody})
		if err != nil {
			t.Fatal(err)
		}
		st, err := readStatus(proc.PID)
		if err != nil {
			t.Fatal(err)
		}
		if st.UID != [4]int{65534, 65534, 65534, 65534} {
			t.Errorf("uids %v, want all 65534", st.UID)
		}
		if ws := waitProc(t, proc); ws.ExitStatus() != 0 {
			t.Fatalf("restarted: %v", ws)
		}
	})
	// Root restarting without an owner: the CONVEX caution.
	t.Run("root-caution", func(t *testing.T) {
		p := forge(t, dir, "root", good)
		var log bytes.Buffer
		proc, err := Restart(context.Background(), p, RestartOptions{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		waitProc(t, proc)
		if !strings.Contains(log.String(), "caution") {
			t.Errorf("no caution about uid 65534 in an image owned by root: %q", log.String())
		}
	})
}

// TestTreeConsistency: a tree whose children name an ancestor, name one
// image twice, or mix in a member of another checkpoint is refused before
// anything starts.
func TestTreeConsistency(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "family"), out, "3000")
	waitFor(t, "progress", func() bool { return lines(out) >= 5 })
	a := filepath.Join(dir, "a")
	os.Mkdir(a, 0o700)
	resA, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(a, "family"), Tree: true})
	if err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b")
	os.Mkdir(b, 0o700)
	resB, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(b, "family"), Tree: true})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	rootA, childA := read(resA.Images[0]), read(resA.Images[1])
	childName := filepath.Base(resA.Images[1])
	cases := []struct {
		name        string
		root, child []byte
		member      string // the image the error must name
	}{
		{"child-names-root", rootA, parseRaw(t, childA).editMeta(t, func(m *imageMeta) { m.Children = []string{"family"} }).bytes(true, false, nil), ""},
		{"child-names-itself", rootA, parseRaw(t, childA).editMeta(t, func(m *imageMeta) { m.Children = []string{childName} }).bytes(true, false, nil), ""},
		{"child-twice", parseRaw(t, rootA).editMeta(t, func(m *imageMeta) { m.Children = append(m.Children, childName) }).bytes(true, false, nil), childA, ""},
		{"child-dotdot", parseRaw(t, rootA).editMeta(t, func(m *imageMeta) { m.Children = []string{"..", childName} }).bytes(true, false, nil), childA, ""},
		{"member-of-another-checkpoint", rootA, read(resB.Images[1]), childName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(dir, c.name)
			os.Mkdir(d, 0o700)
			for _, p := range resA.Images[2:] {
				forge(t, d, filepath.Base(p), read(p))
			}
			forge(t, d, childName, c.child)
			root := forge(t, d, "family", c.root)
			_, err := Restart(context.Background(), root, RestartOptions{PIDRetry: time.Second})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("restart: %v, want %v", err, ErrCorrupt)
			}
			if c.member != "" && !strings.Contains(err.Error(), c.member) {
				t.Errorf("error %q does not name the member %s", err, c.member)
			}
			t.Log(err)
		})
	}
	// Unchanged, the copies load as one tree.
	if _, procs, err := loadTree(resA.Images[0], nil); err != nil || len(procs) != len(resA.Images) {
		t.Fatalf("loadTree of the intact tree: %d members, %v; want %d", len(procs), err, len(resA.Images))
	}
}

// TestKeyedImages: an image written with a key restores as recorded with
// that key, whatever the owner; without it, or with another key, it is
// the owner's own file; data changed behind the key is refused.
func TestKeyedImages(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	key := []byte("the host's key, 32 bytes long...")
	img, _ := nobodyImage(t, dir, key)
	if ok, err := VerifyImage(img, key); err != nil || !ok {
		t.Fatalf("VerifyImage with the key: %v, %v; want authentic", ok, err)
	}
	for _, k := range [][]byte{nil, []byte("another key")} {
		if ok, err := VerifyImage(img, k); err != nil || ok {
			t.Errorf("VerifyImage with key %q: %v, %v; want not authentic, no error", k, ok, err)
		}
	}
	root, _, err := loadTree(img, key)
	if err != nil || !root.authentic {
		t.Fatalf("loadTree with the key: authentic %v, %v", root != nil && root.authentic, err)
	}
	good, _ := os.ReadFile(img)
	someone := &Owner{UID: 1000, GID: 1000}
	// Not authentic (another key): the owner rules refuse it.
	if _, err := Restart(context.Background(), img, RestartOptions{Owner: someone, Key: []byte("another key")}); !errors.Is(err, ErrNotOwner) {
		t.Errorf("restart for uid 1000 with another key: %v, want %v", err, ErrNotOwner)
	}
	// Data changed, its CRC made right, the HMAC not: refused with the key.
	e, off := largestSegment(t, img)
	bad := append([]byte(nil), good...)
	for i := int64(0); i < int64(min(e.Len, 8192)); i++ {
		bad[off+i] ^= 0xff
	}
	r := parseRaw(t, bad)
	tampered := forge(t, dir, "tampered", r.bytes(true, true, nil))
	if _, err := VerifyImage(tampered, nil); err != nil {
		t.Fatalf("VerifyImage without key of the tampered image: %v (its CRCs were made right)", err)
	}
	if _, err := VerifyImage(tampered, key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("VerifyImage with the key of the tampered image: %v, want %v", err, ErrCorrupt)
	}
	if _, err := Restart(context.Background(), tampered, RestartOptions{Key: key, PIDRetry: time.Second}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("restart with the key of the tampered image: %v, want %v", err, ErrCorrupt)
	}
	if left := ourChildren(t, "compute"); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	// Metadata changed (uid 1000), its CRC made right: not authentic any
	// more, so the owner rules apply.
	edited := forge(t, dir, "edited", parseRaw(t, good).editMeta(t, func(m *imageMeta) { m.Creds.UID = [4]int{0, 0, 0, 0} }).bytes(true, false, nil))
	if ok, err := VerifyImage(edited, key); err != nil || ok {
		t.Errorf("VerifyImage of edited metadata: %v, %v; want not authentic", ok, err)
	}
	if _, err := Restart(context.Background(), edited, RestartOptions{Key: key, Owner: nobody}); !errors.Is(err, ErrNotOwner) {
		t.Errorf("restart of edited metadata for nobody: %v, want %v", err, ErrNotOwner)
	}
	// Authentic: restored as recorded (uid 65534) although the owner
	// given is someone else.
	p, err := Restart(context.Background(), img, RestartOptions{Key: key, Owner: someone})
	if err != nil {
		t.Fatal(err)
	}
	st, err := readStatus(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.UID != [4]int{65534, 65534, 65534, 65534} {
		t.Errorf("authentic image restored with uids %v, want its own 65534", st.UID)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
}
