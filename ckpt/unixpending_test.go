package ckpt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnixPendingWithData: a connection waiting in a listener's accept
// queue whose client already sent bytes (still open, or closed since) is
// refused at checkpoint, naming the listener: no kernel interface reads
// those bytes without accepting the connection, which would take it from
// the program (CRIU refuses them too). The refused process then accepts
// the connection with its bytes, as if no checkpoint had been tried.
func TestUnixPendingWithData(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "unixpending")
	for _, tc := range []struct{ mode, want string }{
		{"data", "a connection waiting to be accepted on pend.sock from unixpending("},
		{"closed", "a connection waiting to be accepted on pend.sock comes from a socket already closed"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
			cmd := start(t, dir, prog, tc.mode, out, gofile)
			waitFor(t, "set up", func() bool { return lines(out) >= 1 })
			_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(dir, "img")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkpoint: %v, want a refusal with %q", err, tc.want)
			}
			if err := os.WriteFile(gofile, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(out); string(b) != "ready\ngot 5 hello\n" {
				t.Fatalf("after the refused checkpoint: %q", b)
			}
		})
	}
}
