package supervisor

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The host key is made once, kept, and refused when anyone else could
// read or replace it.
func TestHostKey(t *testing.T) {
	dir := t.TempDir()
	path, err := HostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key %v, %v: want mode 0600", fi, err)
	}
	k1, err := ReadKey(path)
	if err != nil || len(k1) != keySize {
		t.Fatalf("ReadKey: %d bytes, %v", len(k1), err)
	}
	if _, err := HostKey(dir); err != nil {
		t.Fatal(err)
	}
	if k2, _ := ReadKey(path); !bytes.Equal(k1, k2) {
		t.Error("a second start made a new key")
	}
	os.Chmod(path, 0o644)
	if _, err := HostKey(dir); err == nil {
		t.Error("a key others can read was accepted")
	}
	os.Chmod(path, 0o600)
	other := filepath.Join(dir, "other")
	os.Rename(path, other)
	os.Symlink(other, path)
	if _, err := ReadKey(path); err == nil {
		t.Error("a key behind a symbolic link was accepted")
	}
	os.Remove(path)
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := ReadKey(path); err == nil {
		t.Error("a short key was accepted")
	}
}

// Nodes of a cluster create the shared key at once (one shared directory):
// every one of them gets the same key, none fails.
func TestHostKeyCreatedTogether(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		const n = 8
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var path string
				if path, errs[i] = HostKey(dir); errs[i] == nil {
					keys[i], errs[i] = ReadKey(path)
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("creator %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("creator %d got another key", i)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(dir, KeyFile+".new*")); len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	}
}
