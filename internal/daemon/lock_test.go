package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The daemon lock survives the removal of its lock file: a second daemon
// on the state directory is refused either way.
func TestLockStateDir(t *testing.T) {
	tests := []struct {
		name   string
		remove bool // rm lazarusd.lock before the second daemon tries
	}{
		{"lock file in place", false},
		{"lock file removed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			unlock, err := lockStateDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.remove {
				if err := os.Remove(filepath.Join(dir, lockFile)); err != nil {
					t.Fatal(err)
				}
			}
			if un, err := lockStateDir(dir); !errors.Is(err, ErrRunning) {
				if un != nil {
					un()
				}
				t.Fatalf("second lock: %v, want ErrRunning", err)
			}
			unlock()
			un, err := lockStateDir(dir)
			if err != nil {
				t.Fatalf("lock after unlock: %v", err)
			}
			un()
		})
	}
}
