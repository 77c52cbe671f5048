package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func boottime(t *testing.T) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

func TestFence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fence.1")
	for _, tc := range []struct {
		name   string
		write  func()
		fenced bool
	}{
		{"deadline ahead", func() { WriteFence(path, boottime(t)+time.Hour) }, false},
		{"deadline passed", func() { WriteFence(path, boottime(t)-time.Second) }, true},
		{"no fence file", func() { os.Remove(path) }, true},
		{"garbage", func() { os.WriteFile(path, []byte("soon\n"), 0o600) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			got, _ := fenced(path)
			if got != tc.fenced {
				t.Fatalf("fenced = %v, want %v", got, tc.fenced)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
