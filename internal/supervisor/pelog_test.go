package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"lazarus/internal/testenv"
)

// A prologue whose file and directory are root's, under a directory a
// user owns (who could rename it and put their own in its place), is
// refused; under root's directories it is taken.
func TestCheckPelogAncestors(t *testing.T) {
	testenv.NeedRoot(t, "chown of a test directory needs root")
	top := t.TempDir()
	os.Chmod(top, 0o755)
	user := filepath.Join(top, "user")
	dir := filepath.Join(user, "site")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prologue")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckPelog(path); err != nil {
		t.Fatalf("root's prologue under root's directories: %v", err)
	}
	if err := os.Chown(user, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := CheckPelog(path); !errors.Is(err, ErrPelogPermission) {
		t.Errorf("prologue under a user's directory: %v, want a permission error", err)
	}
	os.Chown(user, 0, 0)
	os.Chmod(user, 0o777)
	if err := CheckPelog(path); !errors.Is(err, ErrPelogPermission) {
		t.Errorf("prologue under a directory others may write: %v, want a permission error", err)
	}
	os.Chmod(user, 0o777|os.ModeSticky) // sticky, as /tmp: its entries are their owners' only
	if err := CheckPelog(path); err != nil {
		t.Errorf("prologue under a sticky directory: %v", err)
	}
}
