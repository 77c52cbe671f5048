package ckpt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRestoredSocketsBelongToTheOwner: a user's process with a unix
// listener, an accepted connection, a socket pair, a FIFO and a TCP listener, restored by
// root for that user (RestartOptions.Owner, as the batch system does),
// finds every socket, its peer credentials, the socket file and the FIFO
// its own again; the test checks the socket inodes from outside too.
func TestRestoredSocketsBelongToTheOwner(t *testing.T) {
	needRoot(t)
	const uid = 65534
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd := exec.Command(cprog(t, "sockowner"), out, gofile)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "sockowner set up", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{Owner: &Owner{UID: uid, GID: uid}})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID))
	socks := 0
	for _, e := range fds {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.PID, e.Name()))
		if !strings.HasPrefix(l, "socket:") {
			continue
		}
		socks++
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%s", p.PID, e.Name()), &st); err != nil || st.Uid != uid || st.Gid != uid {
			t.Errorf("fd %s %s: owner %d:%d (%v), want %d:%d", e.Name(), l, st.Uid, st.Gid, err, uid, uid)
		}
	}
	if socks != 6 {
		t.Errorf("%d sockets restored, want 6", socks)
	}
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted sockowner: %v", ws)
	}
	if b, _ := os.ReadFile(out); string(b) != "ready\nok\n" {
		t.Fatalf("restarted sockowner wrote %q, want ok", b)
	}
}
