// Package testenv tells the tests what this machine lets them do. A test
// that cannot run here for want of a privilege or a tool skips, except
// under CI (CI=true): CI runs as root with every tool installed, so a skip
// there would hide a test that never ran, and it fails instead.
package testenv

import (
	"os"
	"testing"
)

// OnCI reports whether the tests run under CI.
func OnCI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test: it is skipped, or under CI failed.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if OnCI() {
		t.Fatalf("CI=true, and this test cannot run: "+format, args...)
	}
	t.Skipf(format, args...)
}

// NeedRoot ends the test unless it runs as root (see Unavailable).
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root: %s", why)
	}
}
