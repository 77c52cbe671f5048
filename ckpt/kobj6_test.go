package ckpt

import (
	"strings"
	"testing"
)

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
	for _, c := range kobj6Cases {
		c.prefix = "kobj6_"
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
