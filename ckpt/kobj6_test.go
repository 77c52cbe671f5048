package ckpt

import "testing"

// kobj6Cases are the sixth round of the kernel-object suite: each program
// of testdata/kobj6_NAME.c sets up one object and checks it after the
// checkpoint (the job runs on unharmed) and after the restart.
var kobj6Cases = []kobjCase{
	{name: "mountns"},
	{name: "mountns", args: []string{"root"}},
	{name: "mountns", args: []string{"tmpfs"}, refuse: "is on a mount of its own mount namespace (tmpfs on"},
	{name: "netns"},
	{name: "netns", args: []string{"down"}},
	{name: "netns", args: []string{"wasup"}},
	{name: "netns", args: []string{"mtu"}},
	{name: "netns", args: []string{"addr"}, refuse: "has address 10.9.8.7/8 on lo"},
	{name: "netns", args: []string{"thread"}, refuse: "is in another network namespace"},
	{name: "netns", args: []string{"forked"}, refuse: "is in the network namespace of the checkpoint"},
	{name: "netns", args: []string{"userns"}},
	{name: "netns", args: []string{"userns-inner"}, refuse: "inside a user namespace it did not make"},
	{name: "dropmap"},
	{name: "ghost", args: []string{"session"}},
	{name: "ghost", args: []string{"group"}},
	{name: "ghost", args: []string{"inner"}},
	{name: "flightread"},
	{name: "flightread", args: []string{"packet"}},
	{name: "cgroupns"},
	{name: "cgroupns", args: []string{"thread"}, refuse: "is in another cgroup namespace"},
	{name: "cgroupns", args: []string{"forked"}, refuse: "is in the cgroup namespace of the checkpoint"},
}

// TestKobj6 runs each program as TestKobj does.
func TestKobj6(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj6_", kobj6Cases)
}
