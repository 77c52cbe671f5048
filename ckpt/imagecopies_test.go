package ckpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The copies of files beside an image (copies.go) against kills, power
// cuts and tampering: the restart point is the old one whole, the new one
// whole, or refused; never a mix.

// Environment of the checkpointer the tests run as a process of its own
// (TestCopiesCheckpointer), to kill it.
const (
	envCopiesPID    = "LAZARUS_COPIES_PID"
	envCopiesImage  = "LAZARUS_COPIES_IMAGE"
	envCopiesKillAt = "LAZARUS_COPIES_KILL_AT"
	envCopiesTree   = "LAZARUS_COPIES_TREE"
)

// TestCopiesCheckpointer is not a test: it is the checkpointer process of
// TestCopiesKilledCheckpoint (and does nothing when run by go test). It
// checkpoints LAZARUS_COPIES_PID to LAZARUS_COPIES_IMAGE with -F -C,
// prints each step of the publication, and kills itself with SIGKILL as
// step LAZARUS_COPIES_KILL_AT (1, 2...) is reached.
func TestCopiesCheckpointer(t *testing.T) {
	pidS := os.Getenv(envCopiesPID)
	if pidS == "" {
		return
	}
	pid, _ := strconv.Atoi(pidS)
	killAt, _ := strconv.Atoi(os.Getenv(envCopiesKillAt))
	n := 0
	copyPublishHook = func(step string) {
		n++
		fmt.Printf("step %d: %s\n", n, step)
		if n == killAt {
			os.Stdout.Sync()
			unix.Kill(os.Getpid(), unix.SIGKILL)
			select {}
		}
	}
	_, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: os.Getenv(envCopiesImage), Force: true, CopyFiles: true, Tree: os.Getenv(envCopiesTree) != ""})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("done")
}

// runCheckpointer runs TestCopiesCheckpointer on pid, killed at step
// killAt; it returns the steps it printed and whether it was killed.
func runCheckpointer(t *testing.T, pid int, img string, killAt int, tree bool) (steps []string, killed bool) {
	t.Helper()
	steps, killed, out, failed := runCheckpointerAs(t, nil, pid, img, killAt, tree)
	if failed {
		t.Fatalf("checkpointer failed:\n%s", out)
	}
	return steps, killed
}

// runCheckpointerAs is runCheckpointer as the user cred (nil: ours); it
// also returns what the checkpointer printed, and whether it failed.
func runCheckpointerAs(t *testing.T, cred *syscall.Credential, pid int, img string, killAt int, tree bool) (steps []string, killed bool, output string, failed bool) {
	t.Helper()
	exe := os.Args[0]
	if cred != nil {
		exe = testBinaryForAll(t)
	}
	cmd := exec.Command(exe, "-test.run=^TestCopiesCheckpointer$", "-test.count=1")
	cmd.Dir = filepath.Dir(img)
	cmd.Env = append(os.Environ(), envCopiesPID+"="+strconv.Itoa(pid), envCopiesImage+"="+img, envCopiesKillAt+"="+strconv.Itoa(killAt))
	if tree {
		cmd.Env = append(cmd.Env, envCopiesTree+"=1")
	}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	output = out.String()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == unix.SIGKILL:
		killed = true
	case err != nil && strings.Contains(output, "error: "):
		failed = true
	case err != nil:
		t.Fatalf("checkpointer: %v\n%s", err, output)
	case !strings.Contains(output, "done"):
		t.Fatalf("checkpointer neither killed nor done:\n%s", output)
	}
	for _, l := range strings.Split(output, "\n") {
		if _, s, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(l, "step ") {
			steps = append(steps, s)
		}
	}
	return steps, killed, output, failed
}

var testBinary struct {
	once sync.Once
	path string
	err  error
}

// testBinaryForAll is a copy of this test binary that every user may run
// (go test's own is in a private directory).
func testBinaryForAll(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			testBinary.path = filepath.Join(progDir, "ckpt.test")
			err = os.WriteFile(testBinary.path, b, 0o755)
		}
		testBinary.err = err
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

// genRun is a copies_gen program in a directory of its own.
type genRun struct {
	dir, files, result, img string
	cmd                     *exec.Cmd
	tree                    bool // a parent and the child that has the files
}

func startGen(t *testing.T, dir string) *genRun { return startGenAs(t, dir, false, nil) }

func startGenTree(t *testing.T, dir string, tree bool) *genRun { return startGenAs(t, dir, tree, nil) }

// startGenAs starts copies_gen in dir, as the user cred (nil: ours).
func startGenAs(t *testing.T, dir string, tree bool, cred *syscall.Credential) *genRun {
	t.Helper()
	g := &genRun{dir: dir, files: filepath.Join(dir, "files"), result: filepath.Join(dir, "result"), img: filepath.Join(dir, "img"), tree: tree}
	if err := os.MkdirAll(g.files, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{g.files, g.result}
	if tree {
		args = append(args, "fork")
	}
	if cred == nil {
		g.cmd = start(t, dir, cprog(t, "copies_gen"), args...)
	} else {
		for _, d := range []string{dir, g.files} {
			os.Chown(d, int(cred.Uid), int(cred.Gid))
		}
		g.cmd = exec.Command(cprog(t, "copies_gen"), args...)
		g.cmd.Dir = dir
		g.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := g.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.cmd.Process.Kill(); g.cmd.Wait() })
	}
	g.waitGen(t, 'A')
	return g
}

func (g *genRun) waitGen(t *testing.T, gen byte) {
	t.Helper()
	waitFor(t, "generation "+string(gen), func() bool { _, err := os.Stat(g.result + "." + string(gen)); return err == nil })
}

// next makes the program go to its next generation.
func (g *genRun) next(t *testing.T, gen byte) {
	t.Helper()
	g.cmd.Process.Signal(unix.SIGUSR1)
	g.waitGen(t, gen)
}

// kill ends the original program and waits until its pid is free.
func (g *genRun) kill(t *testing.T) {
	t.Helper()
	pids := append(childrenOf(g.cmd.Process.Pid), g.cmd.Process.Pid)
	for _, pid := range pids[:len(pids)-1] {
		unix.Kill(pid, unix.SIGKILL)
	}
	g.cmd.Process.Kill()
	g.cmd.Wait()
	for _, pid := range pids {
		waitFor(t, "pid free", func() bool { return procState(pid) == 0 })
	}
}

// restartReport restarts img (with opts) and returns what the restored
// program says of its memory and files: "mem=G data=G unl=G".
func restartReport(t *testing.T, g *genRun, img string, opts RestartOptions) (string, error) {
	t.Helper()
	os.Remove(g.result)
	p, err := Restart(context.Background(), img, opts)
	if err != nil {
		return "", err
	}
	unix.Kill(p.PID, unix.SIGUSR2)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: status %#x", ws)
	}
	b, err := os.ReadFile(g.result)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)), nil
}

// TestCopiesKilledCheckpoint: chkpnt -F -C over an image of generation A
// of a program now at B, killed with SIGKILL at each step of its
// publication in turn (after each copy, after the images, after the
// image's rename, after each CONVEX name is relinked and each old copy
// removed), as a power cut would stop it. The restart of the name is
// then generation A whole (killed before the image's rename) or B whole
// (after), memory and both files alike, never a mix; the run that is not
// killed gives B.
func TestCopiesKilledCheckpoint(t *testing.T) {
	needRoot(t)
	for _, tree := range []bool{false, true} {
		t.Run(fmt.Sprintf("tree=%v", tree), func(t *testing.T) { killedCheckpoint(t, tree) })
	}
}

// killedCheckpoint is TestCopiesKilledCheckpoint of one process or, with
// tree, of a parent and its child that has the files: the member's image
// too is the old one whole or the new one whole.
func killedCheckpoint(t *testing.T, tree bool) {
	var total []string
	for killAt := 1; killAt <= 40; killAt++ {
		g := startGenTree(t, t.TempDir(), tree)
		if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: g.img, CopyFiles: true, Tree: tree}); err != nil {
			t.Fatalf("checkpoint A: %v", err)
		}
		g.next(t, 'B')
		steps, killed := runCheckpointer(t, g.cmd.Process.Pid, g.img, killAt, tree)
		g.kill(t)
		published := false
		for _, s := range steps {
			published = published || s == "publish img"
		}
		want := "mem=A data=A unl=A"
		if published {
			want = "mem=B data=B unl=B"
		}
		got, err := restartReport(t, g, g.img, RestartOptions{CopyBack: true})
		if err != nil {
			t.Fatalf("killed at step %d (%v): restart: %v", killAt, steps, err)
		} else if got != want {
			t.Errorf("killed at step %d (%v): the restored program says %q, want %q", killAt, steps, got, want)
		}
		if !killed {
			total = steps
			break
		}
	}
	if len(total) < 8 {
		t.Fatalf("the checkpoint went through %d steps (%v): the hook missed the copies or their publication", len(total), total)
	}
	t.Logf("steps: %v", total)
}

// twoImages checkpoints a copies_gen program at A into img1 and at B
// into img2 (-F: the CONVEX names of the copies are the same), in one
// directory; the program is then killed.
func twoImages(t *testing.T) (g *genRun, img1, img2 string) {
	t.Helper()
	g = startGen(t, t.TempDir())
	img1, img2 = filepath.Join(g.dir, "img1"), filepath.Join(g.dir, "img2")
	if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: img1, CopyFiles: true}); err != nil {
		t.Fatalf("checkpoint A: %v", err)
	}
	g.next(t, 'B')
	if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: img2, CopyFiles: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("second checkpoint under the same copy names without -F: %v, want %v", err, ErrExists)
	}
	if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: img2, CopyFiles: true, Force: true}); err != nil {
		t.Fatalf("checkpoint B: %v", err)
	}
	g.kill(t)
	return g, img1, img2
}

// copyOf is the file holding the copy of fd of img's process: its hidden
// name, or with visible its CONVEX name.
func copyOf(t *testing.T, img string, fd int, visible bool) string {
	t.Helper()
	im, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range im.meta.Files {
		if f.FD == fd && f.Copy != "" {
			if visible {
				return filepath.Join(filepath.Dir(img), f.Copy)
			}
			return filepath.Join(filepath.Dir(img), f.CopyGen)
		}
	}
	t.Fatalf("%s: no copy of fd %d", img, fd)
	return ""
}

// TestCopiesOfTwoImages: two images of one program in one directory keep
// their own copies although their CONVEX names are the same (the second
// took them over with -F): each restarts with its own generation.
func TestCopiesOfTwoImages(t *testing.T) {
	needRoot(t)
	g, img1, img2 := twoImages(t)
	for _, c := range []struct {
		img, want string
	}{{img1, "mem=A data=A unl=A"}, {img2, "mem=B data=B unl=B"}, {img1, "mem=A data=A unl=A"}} {
		got, err := restartReport(t, g, c.img, RestartOptions{CopyBack: true})
		if err != nil {
			t.Fatalf("restart %s: %v", c.img, err)
		}
		if got != c.want {
			t.Errorf("restart %s: the program says %q, want %q", c.img, got, c.want)
		}
	}
	// The CONVEX names are the newest checkpoint's.
	for _, fd := range []int{3, 4} {
		a, b := copyOf(t, img2, fd, true), copyOf(t, img2, fd, false)
		var sa, sb unix.Stat_t
		if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil || sa.Ino != sb.Ino {
			t.Errorf("fd %d: %s is not the newest checkpoint's copy %s", fd, a, b)
		}
	}
}

// TestCopiesTampered: a copy truncated, bit-flipped, swapped with the copy
// of another image of the same program, replaced by a symlink, a hard
// link or a FIFO is refused with ErrWrongCopy, before anything is
// restored; with restart -C the file it would be copied back over is left
// alone; with restart -F the unlinked file is restored closed, never
// with the wrong content. A checkpoint moved with its CONVEX names only
// restarts.
func TestCopiesTampered(t *testing.T) {
	needRoot(t)
	const dataFD, unlFD = 3, 4
	swap := func(t *testing.T, img1, img2 string, fd int) {
		if err := os.Rename(copyOf(t, img2, fd, false), copyOf(t, img1, fd, false)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		fd     int
		tamper func(t *testing.T, img1, img2 string)
	}{
		{"truncated", unlFD, func(t *testing.T, img1, _ string) {
			p := copyOf(t, img1, unlFD, false)
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()-1); err != nil {
				t.Fatal(err)
			}
		}},
		{"bit flipped", unlFD, func(t *testing.T, img1, _ string) {
			f, err := os.OpenFile(copyOf(t, img1, unlFD, false), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := []byte{0}
			f.ReadAt(b, 1234)
			b[0] ^= 0x10
			f.WriteAt(b, 1234)
		}},
		{"swapped", unlFD, func(t *testing.T, img1, img2 string) { swap(t, img1, img2, unlFD) }},
		{"swapped -C copy", dataFD, func(t *testing.T, img1, img2 string) { swap(t, img1, img2, dataFD) }},
		{"symlink", unlFD, func(t *testing.T, img1, img2 string) {
			p := copyOf(t, img1, unlFD, false)
			os.Remove(p)
			if err := os.Symlink(copyOf(t, img2, unlFD, false), p); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link", unlFD, func(t *testing.T, img1, img2 string) {
			p := copyOf(t, img1, unlFD, false)
			os.Remove(p)
			if err := os.Link(copyOf(t, img2, unlFD, false), p); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", unlFD, func(t *testing.T, img1, _ string) {
			p := copyOf(t, img1, unlFD, false)
			os.Remove(p)
			if err := unix.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, img1, img2 := twoImages(t)
			c.tamper(t, img1, img2)
			// The file -C would copy back over, as it is now.
			before, _ := os.ReadFile(filepath.Join(g.files, "data"))
			got, err := restartReport(t, g, img1, RestartOptions{CopyBack: true})
			if !errors.Is(err, ErrWrongCopy) {
				t.Fatalf("restart: %v (the program says %q), want %v", err, got, ErrWrongCopy)
			}
			t.Logf("refused: %v", err)
			if after, _ := os.ReadFile(filepath.Join(g.files, "data")); !bytes.Equal(after, before) {
				t.Errorf("restart -C refused, yet %s was overwritten", filepath.Join(g.files, "data"))
			}
			if c.fd != unlFD {
				return
			}
			got, err = restartReport(t, g, img1, RestartOptions{CopyBack: true, Force: true})
			if err != nil {
				t.Fatalf("restart -F: %v", err)
			}
			if want := "mem=A data=A unl=?"; got != want {
				t.Errorf("restart -F: the program says %q, want %q (the unlinked file closed)", got, want)
			}
		})
	}
	t.Run("moved with its CONVEX names", func(t *testing.T) {
		g := startGen(t, t.TempDir())
		if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: g.img, CopyFiles: true}); err != nil {
			t.Fatal(err)
		}
		g.kill(t)
		moved := filepath.Join(g.dir, "moved")
		os.Mkdir(moved, 0o755)
		for _, p := range []string{g.img, copyOf(t, g.img, dataFD, true), copyOf(t, g.img, unlFD, true)} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(moved, filepath.Base(p)), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := restartReport(t, g, filepath.Join(moved, "img"), RestartOptions{CopyBack: true})
		if err != nil {
			t.Fatalf("restart: %v", err)
		}
		if want := "mem=A data=A unl=A"; got != want {
			t.Errorf("the program says %q, want %q", got, want)
		}
	})
}

// sharedOther is the other user of the shared directory tests.
const sharedOther = 65533

// TestCopiesSharedDirectory: in a directory every user may write (mode
// 1777, like /tmp), another user plants symlinks under the names the
// checkpoint will take, the image's and its copies' CONVEX names, aimed
// at a file of the checkpointer's: chkpnt refuses them (file exists);
// chkpnt -F replaces the links, never writing through them; the restart
// gets the checkpoint's own copies. The hidden names of the copies are
// not known before they exist. Once they do, the other user can neither
// replace them nor the image (the sticky bit), and a copy he would link
// elsewhere is not his to link (protected_hardlinks) or not read.
func TestCopiesSharedDirectory(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.Chmod(filepath.Dir(root), 0o755) // t.TempDir's parent is private
	shared := filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(root, "precious")
	if err := os.WriteFile(precious, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	as := func(t *testing.T, script string) error {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = shared
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sharedOther, Gid: sharedOther}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	g := startGen(t, filepath.Join(root, "prog"))
	pid := g.cmd.Process.Pid
	img := filepath.Join(shared, "img")
	names := []string{"img", fmt.Sprintf("copies_gen.%d.data.3", pid), fmt.Sprintf("copies_gen.%d.-.4", pid)}
	for _, n := range names {
		if err := as(t, "ln -s "+precious+" "+n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, CopyFiles: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("checkpoint over the other user's links: %v, want %v", err, ErrExists)
	}
	if _, err := Checkpoint(context.Background(), pid, CheckpointOptions{File: img, CopyFiles: true, Force: true}); err != nil {
		t.Fatalf("checkpoint -F: %v", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "precious\n" {
		t.Fatalf("the file the links aimed at now holds %q", b)
	}
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(shared, n))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s after chkpnt -F: %v %v, want the checkpoint's own regular file", n, fi, err)
		}
	}
	g.kill(t)
	// The other user replaces what is there now: refused by the sticky bit.
	for _, p := range []string{img, copyOf(t, img, 4, false), copyOf(t, img, 4, true)} {
		if err := as(t, "rm -f "+filepath.Base(p)+" && ln -s "+precious+" "+filepath.Base(p)); err == nil {
			t.Errorf("the other user replaced %s", p)
		}
		if err := as(t, "ln "+filepath.Base(p)+" mine."+filepath.Base(p)); err == nil {
			t.Errorf("the other user made a hard link to %s", p)
		}
	}
	got, err := restartReport(t, g, img, RestartOptions{CopyBack: true})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if want := "mem=A data=A unl=A"; got != want {
		t.Errorf("the restored program says %q, want %q", got, want)
	}
}

// BenchmarkCopySum: what the sum costs the copy of a file beside the image
// (copySparse alone, copySparseSum) and the restart's check (sumSparse),
// on a 256 MiB file of which every other MiB is data, the rest holes.
func BenchmarkCopySum(b *testing.B) {
	dir := b.TempDir()
	src, err := os.Create(filepath.Join(dir, "src"))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	const size = 256 << 20
	chunk := bytes.Repeat([]byte("lazarus!"), 1<<17)
	for off := int64(0); off < size; off += 2 << 20 {
		if _, err := src.WriteAt(chunk, off); err != nil {
			b.Fatal(err)
		}
	}
	src.Truncate(size)
	dst := func(b *testing.B) *os.File {
		f, err := os.Create(filepath.Join(dir, "dst"))
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	b.Run("copySparse", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			f := dst(b)
			if err := copySparse(f, src, size); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("copySparseSum", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			f := dst(b)
			if _, err := copySparseSum(f, src, size); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("sumSparse", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if _, err := sumSparse(src, size); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestContentSumHoles: a copy's sum is that of its bytes, wherever its
// holes are: a sparse file and a dense one of the same bytes (zeros
// written) have one sum; one byte more, less or changed gives another.
func TestContentSumHoles(t *testing.T) {
	dir := t.TempDir()
	const size = 5<<20 + 123
	data := []byte("some data")
	write := func(name string, dense bool, edit func(f *os.File)) string {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if dense {
			if _, err := f.Write(make([]byte, size)); err != nil {
				t.Fatal(err)
			}
		}
		for _, off := range []int64{0, 1<<20 - 3, 3 << 20, size - int64(len(data))} {
			f.WriteAt(data, off)
		}
		f.Truncate(size)
		if edit != nil {
			edit(f)
		}
		fi, _ := f.Stat()
		sum, err := sumSparse(f, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	sparse := write("sparse", false, nil)
	if dense := write("dense", true, nil); dense != sparse {
		t.Errorf("dense %s, sparse %s: want one sum", dense, sparse)
	}
	// What copySparseSum says is what sumSparse reads of the copy.
	src, _ := os.Open(filepath.Join(dir, "sparse"))
	defer src.Close()
	dst, _ := os.Create(filepath.Join(dir, "copy"))
	defer dst.Close()
	if got, err := copySparseSum(dst, src, size); err != nil || got != sparse {
		t.Errorf("copySparseSum: %s %v, want %s", got, err, sparse)
	}
	for name, edit := range map[string]func(f *os.File){
		"longer":  func(f *os.File) { f.Truncate(size + 1) },
		"shorter": func(f *os.File) { f.Truncate(size - 1) },
		"changed": func(f *os.File) { f.WriteAt([]byte{1}, 2<<20) },
	} {
		if got := write(name, false, edit); got == sparse {
			t.Errorf("%s: the same sum as the file it differs from", name)
		}
	}
}

// TestCopiesSharedDirectoryUser: TestCopiesSharedDirectory with an
// ordinary user's chkpnt -F, who may not replace the other user's links
// (the sticky bit). Under the image's name, the checkpoint is refused
// with the reason, leaving nothing of its own; under the copies' CONVEX
// names, the image is published with its hidden copies, the names stay
// the other user's links, and the restart uses the image's own copies,
// never reading or writing through the links.
func TestCopiesSharedDirectoryUser(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.Chmod(filepath.Dir(root), 0o755)
	shared := filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	user := &syscall.Credential{Uid: 65534, Gid: 65534}
	other := &syscall.Credential{Uid: sharedOther, Gid: sharedOther}
	as := func(t *testing.T, script string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = shared
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: other}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
	}
	g := startGenAs(t, filepath.Join(root, "prog"), false, user)
	pid := g.cmd.Process.Pid
	precious := filepath.Join(g.dir, "precious")
	if err := os.WriteFile(precious, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(precious, int(user.Uid), int(user.Gid))
	intact := func(t *testing.T) {
		t.Helper()
		if b, _ := os.ReadFile(precious); string(b) != "precious\n" {
			t.Fatalf("the file the links aim at now holds %q", b)
		}
	}
	img := filepath.Join(shared, "img")
	as(t, "ln -s "+precious+" img")
	_, _, out, failed := runCheckpointerAs(t, user, pid, img, 0, false)
	if !failed || !strings.Contains(out, "operation not permitted") {
		t.Fatalf("chkpnt -F over the other user's link under the image's name: failed %v:\n%s\nwant it refused (operation not permitted)", failed, out)
	}
	intact(t)
	if names := ckptDirNames(t, shared); len(names) != 1 || names[0] != "img" {
		t.Errorf("left in the shared directory: %q, want only the other user's link", names)
	}
	as(t, "rm img")
	visible := []string{fmt.Sprintf("copies_gen.%d.data.3", pid), fmt.Sprintf("copies_gen.%d.-.4", pid)}
	for _, n := range visible {
		as(t, "ln -s "+precious+" "+n)
	}
	if _, _, out, failed := runCheckpointerAs(t, user, pid, img, 0, false); failed {
		t.Fatalf("chkpnt -F with the copies' names taken by links: %s", out)
	}
	intact(t)
	for _, n := range visible {
		if fi, err := os.Lstat(filepath.Join(shared, n)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: %v %v, want the other user's link, left as it is", n, fi, err)
		}
	}
	g.kill(t)
	// -F: the user may not take the old pid back. A copy refused would
	// still leave its descriptor closed (unl=?), never filled from the
	// link.
	got, err := restartReport(t, g, img, RestartOptions{CopyBack: true, Force: true})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if want := "mem=A data=A unl=A"; got != want {
		t.Errorf("the restored program says %q, want %q", got, want)
	}
	intact(t)
}

// ckptDirNames lists the names in dir.
func ckptDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestUserCheckpointMappedFiles: an ordinary user's checkpoint may not
// follow /proc/PID/map_files (it needs CAP_CHECKPOINT_RESTORE), yet it
// records the identity of each mapped file (the executable, libc), read
// at its name when device and inode are those of the mapping: restarted
// without -F, nothing is "changed since the checkpoint".
func TestUserCheckpointMappedFiles(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.Chmod(filepath.Dir(root), 0o755)
	user := &syscall.Credential{Uid: 65534, Gid: 65534}
	g := startGenAs(t, filepath.Join(root, "prog"), false, user)
	img := filepath.Join(g.dir, "img")
	if _, _, out, failed := runCheckpointerAs(t, user, g.cmd.Process.Pid, img, 0, false); failed {
		t.Fatalf("the user's chkpnt: %s", out)
	}
	m, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var files int
	for _, r := range m.meta.Regions {
		if r.File != nil && r.Kind == regionFile {
			files++
			if r.File.Ino == 0 {
				t.Errorf("mapped file %s recorded without its identity", r.File.Path)
			}
		}
	}
	if files == 0 {
		t.Fatal("no mapped file in the image")
	}
	g.kill(t)
	got, err := restartReport(t, g, img, RestartOptions{})
	if err != nil {
		t.Fatalf("restart without -F: %v", err)
	}
	if want := "mem=A data=A unl=A"; got != want {
		t.Errorf("the restored program says %q, want %q", got, want)
	}
}

// TestCopiesUnlinkedSecondImage: a second image of a program that holds an
// unlinked file, taken into the same directory without -F, is not refused
// because the first image's copy has the CONVEX name (an MPI launcher's
// deleted /dev/shm file made every second checkpoint fail): the second
// keeps its copy under its hidden name, and each image restarts with its
// own content.
func TestCopiesUnlinkedSecondImage(t *testing.T) {
	needRoot(t)
	g := startGen(t, t.TempDir())
	img1, img2 := filepath.Join(g.dir, "img1"), filepath.Join(g.dir, "img2")
	if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: img1}); err != nil {
		t.Fatalf("checkpoint A: %v", err)
	}
	g.next(t, 'B')
	if _, err := Checkpoint(context.Background(), g.cmd.Process.Pid, CheckpointOptions{File: img2}); err != nil {
		t.Fatalf("checkpoint B into the same directory: %v", err)
	}
	g.kill(t)
	if a, b := copyOf(t, img1, 4, false), copyOf(t, img2, 4, false); a == b {
		t.Fatalf("both images name the copy %s", a)
	}
	for _, c := range []struct{ img, want string }{{img1, "mem=A"}, {img2, "mem=B"}, {img1, "mem=A"}} {
		got, err := restartReport(t, g, c.img, RestartOptions{})
		if err != nil {
			t.Fatalf("restart %s: %v", c.img, err)
		}
		if !strings.HasPrefix(got, c.want+" ") || !strings.HasSuffix(got, " unl="+c.want[4:]) {
			t.Errorf("restart %s: the program says %q, want %s and its unlinked file's", c.img, got, c.want)
		}
	}
}
