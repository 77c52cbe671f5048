package ckpt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTCPPending: a listener with a connection waiting to be accepted from
// a client of the process itself, that carried nothing, is checkpointed
// (-k KILL) and restarted: accept gets that client's connection, and bytes
// go both ways. A waiting connection that carried data, or two waiting,
// are refused naming the listener and the clients, and the refused process
// goes on as if no checkpoint had been tried.
func TestTCPPending(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "tcppending")
	for _, tc := range []struct{ mode, refused string }{
		{"one", ""},
		{"data", "has carried data, which waits in its server end"},
		{"two", "the order accept would return them in cannot be read"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			out, gofile := filepath.Join(dir, "out"), filepath.Join(dir, "go")
			cmd := start(t, dir, prog, tc.mode, out, gofile)
			waitFor(t, "set up", func() bool { return lines(out) >= 1 })
			img := filepath.Join(dir, "img")
			if tc.refused != "" {
				_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img})
				if err == nil || !strings.Contains(err.Error(), "TCP 127.0.0.1:") || !strings.Contains(err.Error(), "connections waiting to be accepted") || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("checkpoint: %v, want a refusal naming the listener and %q", err, tc.refused)
				}
				os.WriteFile(gofile, nil, 0o644)
				cmd.Wait()
			} else {
				checkpointKill(t, cmd, img)
				p, err := Restart(context.Background(), img, RestartOptions{})
				if err != nil {
					t.Fatalf("restart: %v", err)
				}
				os.WriteFile(gofile, nil, 0o644)
				if ws := waitProc(t, p); ws.ExitStatus() != 0 {
					t.Fatalf("restarted: %v", ws)
				}
			}
			if b, _ := os.ReadFile(out); string(b) != "ready\nok\n" {
				t.Fatalf("%s: wrote %q, want ok", tc.mode, b)
			}
		})
	}
}
