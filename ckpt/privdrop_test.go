package ckpt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenedBeforePrivilegeDrop: a program opens a file only root may
// open, then becomes nobody, and is checkpointed. Root's restart opens
// the file as root (the program reads and writes it through its old
// descriptor); a restart for the owner nobody refuses, naming the file,
// before anything starts.
func TestOpenedBeforePrivilegeDrop(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("secret data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result")
	cmd := start(t, "/", cprog(t, "privdrop"), secret, result)
	waitFor(t, "privileges dropped", func() bool { b, _ := os.ReadFile(result); return string(b) == "dropped\n" })
	img := filepath.Join(dir, "img")
	checkpointKill(t, cmd, img)

	_, err := Restart(context.Background(), img, RestartOptions{Owner: &Owner{UID: 65534, GID: 65534}})
	var oe *OwnerError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "fd 3 "+secret) || !strings.Contains(err.Error(), "may not open it") {
		t.Fatalf("restart for nobody: %v, want an OwnerError naming fd 3 %s", err, secret)
	}
	if left := ourChildren(t, "privdrop"); len(left) > 0 {
		t.Fatalf("processes left: %v", left)
	}

	p, err := Restart(context.Background(), img, RestartOptions{})
	if err != nil {
		t.Fatalf("root's restart: %v", err)
	}
	st, err := readStatus(p.PID)
	if err != nil || st.UID != [4]int{65534, 65534, 65534, 65534} {
		t.Errorf("restarted with uids %v (%v), want nobody's", st.UID, err)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted program: status %#x", ws)
	}
	if b, _ := os.ReadFile(result); string(b) != "ok\n" {
		t.Fatalf("after root's restart the program says %q", b)
	}
	if b, _ := os.ReadFile(secret); !strings.HasPrefix(string(b), "SECRET") {
		t.Fatalf("the file after the program's write: %q", b)
	}
}
