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
	{name: "fsmprotect", args: []string{mprotectDir}},
	{name: "fssparse"},
	{name: "fsunlshare", args: []string{unlshareDir}},
	{name: "fsopath"},
	{name: "fsdevs"},
	{name: "fsflockfork"},
	{name: "fsepollgone"},
	{name: "fsepollgone", args: []string{"child"}},
	{name: "fsepollgone", args: []string{"outside"}, refuse: "epoll watch of fd 4: that descriptor was closed and its file is open in no process of the tree"},
	{name: "fspipeeof"},
	{name: "fsmemfdmode"},
	{name: "fslease"},
	{name: "fsnewline"},
	{name: "fsowner"},
	{name: "fsfifolone"},
	{name: "fssharefs"},
	{name: "fspidzombie"},
	{name: "fsunlocks"},
	{name: "fsmisc"},
	{name: "fsmemfdname"},
	{name: "fsepollshared"},
	{name: "fstmpfs", args: []string{tmpfsDir}},
	{name: "fsdnotify", refuse: "directory notifications (fcntl F_NOTIFY, dnotify)"},
	{name: "fsthreadtab", flags: []string{"-pthread"}, args: []string{"files"}, refuse: "has a descriptor table of its own"},
	{name: "fsthreadtab", flags: []string{"-pthread"}, args: []string{"fs"}, refuse: "has a working directory, root and umask of its own"},
	{name: "fsmisc", args: []string{"self"}, refuse: "status is a file of process"},
	{name: "fspacketpipe"},
	{name: "fslongpath", refuse: "its path is longer than PATH_MAX"},
}

// unlshareDir is where kobj_fsunlshare makes its files: on tmpfs, another
// filesystem than the test's directory.
const unlshareDir = "/dev/shm/lazarus-kobjfs-unlshare"

// tmpfsDir is where kobj_fstmpfs makes its files.
const tmpfsDir = "/dev/shm/lazarus-kobjfs-tmpfs"

// mprotectDir is where a kobj_fsmprotect makes its file: not under /tmp
// (whose shared mappings are saved, tmpfsmap.go), on the root filesystem.
const mprotectDir = "/var/tmp/lazarus-kobjfs-mprotect"

// TestKobjFS runs the kobj_fs programs as TestKobj does.
func TestKobjFS(t *testing.T) {
	needRoot(t)
	for _, dir := range []string{unlshareDir, mprotectDir, tmpfsDir} {
		os.RemoveAll(dir)
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	for _, c := range kobjfsCases {
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
