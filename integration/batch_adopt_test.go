package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
