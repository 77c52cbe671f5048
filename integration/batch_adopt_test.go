package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// qrestart -f is given what is not an image, by an ordinary user: a FIFO
// (whose open would wait for a writer forever), a symbolic link (to the
// user's own file: the daemon never follows one), a directory, a device.
// Each is refused at once with what it is, the daemon keeps answering
// everyone, and SIGTERM still stops it.
func TestBatchAdoptRefusesSpecialFiles(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	user := nobody(t)
	b := newBatch(t, "")
	dir := filepath.Join(b.work, "special")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(user.Uid), int(user.Gid))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(fifo, int(user.Uid), int(user.Gid))
	os.Chmod(binDir, 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("not an image\n"), 0o644)
	os.Chown(plain, int(user.Uid), int(user.Gid))
	link := filepath.Join(dir, "link")
	os.Symlink(plain, link)
	os.Lchown(link, int(user.Uid), int(user.Gid))

	for _, c := range []struct{ path, want string }{
		{fifo, "a FIFO, not a regular file"},
		{fifo, "a FIFO, not a regular file"}, // again: nothing was left waiting
		{link, "is a symbolic link"},
		{dir, "a directory, not a regular file"},
		{"/dev/zero", "a character device, not a regular file"},
		{plain, "not checkpoint file format"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin("qrestart"), "-f", c.path)
		cmd.Env, cmd.Dir = b.env(), dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: user}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("qrestart -f %s did not return within 30 s (the daemon waits on it?)", c.path)
		}
		if err == nil || !strings.Contains(errb.String(), c.want) {
			t.Errorf("qrestart -f %s: %v, stderr %q; want a refusal saying %q", c.path, err, errb.String(), c.want)
		}
	}
	if r := b.runWith(cmdOpts{cred: user}, "qstat"); r.code != 0 {
		t.Errorf("qstat after the refusals: %v", r)
	}
	if n := len(b.jobs()); n != 0 {
		t.Errorf("%d jobs were created", n)
	}
	b.stop() // fails the test if SIGTERM does not end it
}

// Damage in the middle of the newest generation, the file's size kept: 64
// KiB of random bytes, or of zeros over pages that held data. The damaged
// generation is refused (its checksums) and the job restarts from the
// previous one, with the answer of an uninterrupted run; qstat -f says which
// generation was refused and why.
func TestBatchCkptDamagedMiddleFallsBack(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, f *os.File, off int64)
	}{
		{"random", func(t *testing.T, f *os.File, off int64) {
			buf := make([]byte, 64<<10)
			rand.Read(buf)
			if _, err := f.WriteAt(buf, off); err != nil {
				t.Fatal(err)
			}
		}},
		{"zeros", func(t *testing.T, f *os.File, off int64) {
			if _, err := f.WriteAt(make([]byte, 64<<10), off); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Self-contained generations: the damage goes into the middle
			// of the memory of the newest (an incremental one holds little).
			b := newBatch(t, "checkpoint_full_every = 1\n")
			id, out, want := b.nbodyTwoGenerations("damaged")
			j := b.job(id)
			f, err := os.OpenFile(j.Checkpoints[0].Image, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			off := min(dataPageFrom(t, f, fi.Size()/2), (fi.Size()-64<<10)&^4095)
			c.damage(t, f, off)
			f.Close()
			if st, _ := os.Stat(j.Checkpoints[0].Image); st.Size() != fi.Size() {
				t.Fatalf("the damage changed the image's size")
			}
			b.crash()
			b.start()
			j = b.waitState(id, "finished", "failed")
			if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation != 1 {
				t.Fatalf("job after the damaged generation: %+v", j)
			}
			checkNbodyOutput(t, out, want)
			if g := j.Checkpoints[0]; g.N != 2 || !strings.Contains(g.Bad, "corrupt") {
				t.Errorf("the damaged generation: %+v, want it refused as corrupt", g)
			}
			if full := b.mustRun("qstat", "-c", "-f", jobArg(id)); !strings.Contains(full, "falling back to checkpoint 1") {
				t.Errorf("qstat -f does not say which generation was refused:\n%s", full)
			}
		})
	}
}

// dataPageFrom returns the offset of the first page at or after off (page
// aligned, within the file) that holds a non-zero byte.
func dataPageFrom(t *testing.T, f *os.File, off int64) int64 {
	t.Helper()
	off &^= 4095
	page := make([]byte, 4096)
	for ; ; off += 4096 {
		n, err := f.ReadAt(page, off)
		if n == 0 && err == io.EOF {
			t.Fatal("no data page in the second half of the image")
		}
		if !bytes.Equal(page[:n], make([]byte, n)) {
			return off
		}
	}
}

// An ordinary user edits the credentials in their own image to root's, in
// place or as a second metadata note (the daemon once read the first note,
// the engine the last), and gives it to qrestart -f: refused, no job, and
// no process of root's.
func TestBatchAdoptForgedCredentials(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	user := nobody(t)
	b := newBatch(t, "")
	dir := filepath.Join(b.work, "forge")
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(user.Uid), int(user.Gid))
	os.Chmod(binDir, 0o755)
	sleeper := exec.Command("sleep", "300")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: user, Setsid: true}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	image := filepath.Join(dir, "sleep.img")
	b.mustRun("chkpnt", "-f", image, strconv.Itoa(sleeper.Process.Pid))
	orig, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprintf(`"uid":[%d,%d,%d,%d]`, user.Uid, user.Uid, user.Uid, user.Uid)
	if !bytes.Contains(orig, []byte(uid)) {
		t.Fatalf("the image does not hold %s", uid)
	}
	root := `"uid":[0,0,0,0]`
	for _, c := range []struct {
		name  string
		forge func([]byte) []byte
	}{
		{"edited in place", func(b []byte) []byte {
			// Same length: the JSON is padded with spaces.
			return bytes.Replace(b, []byte(uid), []byte(root+strings.Repeat(" ", len(uid)-len(root))), 1)
		}},
		{"second note", func(b []byte) []byte { return appendMetaNote(t, b, uid, root) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			forged := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			os.WriteFile(forged, c.forge(append([]byte(nil), orig...)), 0o644)
			os.Chown(forged, int(user.Uid), int(user.Gid))
			r := b.runWith(cmdOpts{cred: user, dir: dir}, "qrestart", "-f", forged)
			if r.code == 0 || !strings.Contains(r.stderr, "corrupt") {
				t.Errorf("qrestart -f of a forged image: %v; want it refused as corrupt", r)
			}
		})
	}
	if n := len(b.jobs()); n != 0 {
		t.Errorf("%d jobs were created from forged images", n)
	}
}

// appendMetaNote appends to an ELF core file a copy of its PT_NOTE segment
// followed by a second LAZARUS metadata note in which old is replaced by
// new, and points the PT_NOTE program header at the copy.
func appendMetaNote(t *testing.T, img []byte, old, new string) []byte {
	t.Helper()
	phoff := binary.LittleEndian.Uint64(img[32:])
	phnum := int(binary.LittleEndian.Uint16(img[56:]))
	for i := 0; i < phnum; i++ {
		ph := img[phoff+uint64(i)*56:]
		if elf.ProgType(binary.LittleEndian.Uint32(ph)) != elf.PT_NOTE {
			continue
		}
		off := binary.LittleEndian.Uint64(ph[8:])
		size := binary.LittleEndian.Uint64(ph[32:])
		notes := append([]byte(nil), img[off:off+size]...)
		var meta []byte
		for b := notes; len(b) >= 12; {
			namesz := int(binary.LittleEndian.Uint32(b))
			descsz := int(binary.LittleEndian.Uint32(b[4:]))
			typ := binary.LittleEndian.Uint32(b[8:])
			name := string(bytes.TrimRight(b[12:12+namesz], "\x00"))
			desc := b[12+(namesz+3)&^3:]
			if name == "LAZARUS" && typ == 0x4c5a0001 {
				meta = []byte(strings.Replace(string(desc[:descsz]), old, new, 1))
			}
			b = desc[(descsz+3)&^3:]
		}
		if meta == nil {
			t.Fatal("no metadata note in the image")
		}
		var note []byte
		note = binary.LittleEndian.AppendUint32(note, 8)
		note = binary.LittleEndian.AppendUint32(note, uint32(len(meta)))
		note = binary.LittleEndian.AppendUint32(note, 0x4c5a0001)
		note = append(note, "LAZARUS\x00"...)
		note = append(note, meta...)
		for len(note)%4 != 0 {
			note = append(note, 0)
		}
		for len(img)%4 != 0 {
			img = append(img, 0)
		}
		at := uint64(len(img))
		img = append(append(img, notes...), note...)
		ph = img[phoff+uint64(i)*56:]
		binary.LittleEndian.PutUint64(ph[8:], at)
		binary.LittleEndian.PutUint64(ph[32:], uint64(len(notes)+len(note)))
		return img
	}
	t.Fatal("no PT_NOTE in the image")
	return nil
}

// qrestart -f of an image whose checkpoint copied file contents beside it
// (an unlinked file the program reads after the restart, and with -C an
// open file): the adopted job's copy of the image carries the copies, so
// the job restarts after the user removed the image and its copies, and
// reads what the unlinked file held. A -C copy is not put back (the
// guide's restart without -C): the job reads the file as it is now.
func TestBatchAdoptFileCopies(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	dir := filepath.Join(b.work, "copies")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `echo "unlinked content" > gone; echo "kept content" > kept
exec 3<gone 4<kept; rm gone
: > ready
while [ ! -e go ]; do sleep 0.05; done
cat <&3 > out; cat <&4 >> out`
	sh := exec.Command("/bin/sh", "-c", script)
	sh.Dir = dir
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	b.waitFor("the script's ready file", func() bool {
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err == nil
	})
	image := filepath.Join(dir, "snap")
	if r := b.runWith(cmdOpts{dir: dir}, "chkpnt", "-C", "-r", "-K", "KILL", "-f", image, strconv.Itoa(sh.Process.Pid)); r.code != 0 {
		t.Fatalf("chkpnt: %v", r)
	}
	sh.Wait()
	// The kept file changes after the checkpoint.
	if err := os.WriteFile(filepath.Join(dir, "kept"), []byte("kept content, changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := b.runWith(cmdOpts{dir: dir}, "qrestart", "-f", "snap", "-N", "copies")
	if r.code != 0 {
		t.Fatalf("qrestart -f: %v", r)
	}
	id, _ := parseJobID(r.stdout)
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	for _, f := range append(names, hidden...) {
		if base := filepath.Base(f); base != "kept" {
			os.Remove(f) // the job has its own copy of the image and its copies
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.ExitStatus == nil || *j.ExitStatus != 0 {
		t.Fatalf("the adopted job: %+v\n%s", j, b.mustRun("qstat", "-f", jobArg(id)))
	}
	if got, want := b.readFile(filepath.Join(dir, "out")), "unlinked content\nkept content, changed\n"; got != want {
		t.Errorf("the adopted job read %q, want %q (the unlinked file as it was, the other as it is)", got, want)
	}
}

// A job's checkpoint whose copy of an unlinked file is lost (removed from
// the generation's directory): the restart after a power cut fails (the
// generation is bad) and the job runs its script again, instead of coming
// back with the descriptor closed and reading nothing.
func TestBatchCkptLostUnlinkedCopy(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	dir := filepath.Join(b.work, "lost")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := b.script("lost.sh", fmt.Sprintf(`#!/bin/sh
cd %s
echo "unlinked content" > gone; exec 3<gone; rm gone
: > ready
while [ ! -e go ]; do sleep 0.05; done
cat <&3 >> out
`, dir))
	id := b.qsub(script)
	b.waitFor("the script's ready file", func() bool {
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err == nil
	})
	b.mustRun("qchkpnt", jobArg(id))
	j := b.job(id)
	if len(j.Checkpoints) != 1 {
		t.Fatalf("checkpoints: %+v", j.Checkpoints)
	}
	gen := filepath.Dir(j.Checkpoints[0].Image)
	copies, _ := filepath.Glob(filepath.Join(gen, "*.-.*"))
	hidden, _ := filepath.Glob(filepath.Join(gen, ".*"))
	if len(copies) == 0 {
		names, _ := filepath.Glob(filepath.Join(gen, "*"))
		t.Fatalf("no copy of the unlinked file in %s: %q", gen, names)
	}
	b.crash()
	for _, f := range append(copies, hidden...) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.start()
	j = b.waitState(id, "finished", "failed")
	if got, want := b.readFile(filepath.Join(dir, "out")), "unlinked content\n"; got != want {
		t.Errorf("out: got %q, want %q (from a run of the script again)", got, want)
	}
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Restart {
		t.Errorf("the job: %+v, want a second run from the beginning", j)
	}
	if full := b.mustRun("qstat", "-x", "-f", jobArg(id)); !strings.Contains(full, "restart from checkpoint 1 failed") || !strings.Contains(full, "unlinked file") {
		t.Errorf("qstat -f does not say the restart failed on the lost copy:\n%s", full)
	}
}
