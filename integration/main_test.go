// Package integration holds end-to-end tests that drive the built binaries
// (chkpnt, restart, lazarusd, q*) on real processes.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// binDir holds every command of ./cmd, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lazarus-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "lazarus/cmd/...")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build commands:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	binDir = dir
	// Descriptors this test binary inherited (from a shell, a CI runner)
	// would be inherited by the test programs and make them
	// uncheckpointable; none of them is ours to pass on.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bin returns the path of a built command.
func bin(name string) string { return filepath.Join(binDir, name) }
