package supervisor

import (
	"bytes"
	"os"
	"path/filepath"
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
