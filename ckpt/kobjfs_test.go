package ckpt

import (
	"os"
	"strings"
	"testing"
)

// kobjfsCases are the file side of the kobj programs (kobj_fs*.c): each
// holds one kind of descriptor or file and checks, after the restart, the
// attribute itself, through the kernel's own interfaces.
var kobjfsCases = []kobjCase{
	{name: "fstmpfile"},
	{name: "fsdelname"},
	{name: "fstfdcount"},
	{name: "fsmprotect"},
	{name: "fssparse"},
	{name: "fsunlshare", args: []string{unlshareDir}},
	{name: "fsopath"},
	{name: "fsdevs"},
	{name: "fsflockfork"},
	{name: "fsepollgone"},
	{name: "fsepollgone", args: []string{"child"}, refuse: "epoll watch of fd 4: that descriptor was closed and its file is open under no other number"},
	{name: "fspipeeof"},
	{name: "fsmemfdmode"},
	{name: "fslease"},
	{name: "fsnewline"},
	{name: "fsowner"},
}

// unlshareDir is where kobj_fsunlshare makes its files: on tmpfs, another
// filesystem than the test's directory.
const unlshareDir = "/dev/shm/lazarus-kobjfs-unlshare"

// TestKobjFS runs the kobj_fs programs as TestKobj does.
func TestKobjFS(t *testing.T) {
	needRoot(t)
	os.RemoveAll(unlshareDir)
	t.Cleanup(func() { os.RemoveAll(unlshareDir) })
	for _, c := range kobjfsCases {
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
