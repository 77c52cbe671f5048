package ckpt

import "testing"

// kobj6Cases are the sixth round of the kernel-object suite: each program
// of testdata/kobj6_NAME.c sets up one object and checks it after the
// checkpoint (the job runs on unharmed) and after the restart.
var kobj6Cases = []kobjCase{
	{name: "mountns"},
	{name: "mountns", args: []string{"root"}},
	{name: "mountns", args: []string{"tmpfs"}, refuse: "is on a mount of its own mount namespace (tmpfs on"},
}

// TestKobj6 runs each program as TestKobj does.
func TestKobj6(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj6_", kobj6Cases)
}
