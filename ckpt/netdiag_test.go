package ckpt

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestUnixSocketsOwnNetNS: a tree in network (and PID) namespaces of its
// own, as a batch job with qsub -l net=private runs, has its unix sockets
// there, where our sock_diag does not see them: they are described in
// their namespace, saved, and come back working.
func TestUnixSocketsOwnNetNS(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd := Namespaced(exec.Command(cprog(t, "unixsocks"), "dgram", out, gofile))
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "set up", func() bool { return lines(out) >= 1 })
	self, _ := netNSIno(0)
	if ns, err := netNSIno(cmd.Process.Pid); err != nil || ns == self {
		t.Fatalf("the target's network namespace %d (%v) is ours", ns, err)
	}
	img := filepath.Join(dir, "netns.img")
	res := checkpointTreeKill(t, cmd, img)
	socks := 0
	for _, p := range res.Images {
		m, err := ReadImage(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.meta.Files {
			if f.Kind == fdSocket {
				socks++
			}
		}
	}
	if socks == 0 {
		t.Fatal("no unix socket saved")
	}
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := restartWait(t, img, RestartOptions{})
	b, _ := os.ReadFile(out)
	if ws.ExitStatus() != 0 || string(b) != "ready\nok\n" {
		t.Fatalf("restarted: %v, output %q, want ok", ws, b)
	}
}

// TestTCPAcceptedBesideListener: an accepted connection shares its port
// with the listener it came from, which has no SO_REUSEADDR (Open MPI's
// daemons keep theirs open so): restored in repair mode, the connection is
// bound over the restored listener's port (SK_FORCE_REUSE), both work.
func TestTCPAcceptedBesideListener(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
	cmd := start(t, dir, cprog(t, "tcpshared"), out, gofile)
	waitFor(t, "set up", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "shared.img")
	res := checkpointTreeKill(t, cmd, img)
	m, err := ReadImage(res.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	var listen, conn *inetSock
	for _, f := range m.meta.Files {
		if f.Kind == fdInet && f.Inet.State == inetListen {
			listen = f.Inet
		}
		if f.Kind == fdInet && f.Inet.State == inetEstablished {
			conn = f.Inet
		}
	}
	if listen == nil || conn == nil || listen.Local != conn.Local {
		t.Fatalf("saved listener %+v and connection %+v, want both on one address", listen, conn)
	}
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := restartWait(t, img, RestartOptions{})
	b, _ := os.ReadFile(out)
	if want := string(b[:len("ready ")]); ws.ExitStatus() != 0 || want != "ready " || lines(out) != 2 || string(b[len(b)-3:]) != "ok\n" {
		t.Fatalf("restarted: %v, output %q, want ok", ws, b)
	}
}
