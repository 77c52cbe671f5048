package ckpt

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Descriptors and directories a restart could not open again by their
// path are refused here, at checkpoint time, with what is wrong (with
// Force: restored closed), never first at restart.

// nsLink matches the /proc/PID/fd link of a descriptor on an object of a
// pseudo filesystem that has no path: a namespace (net:[4026531833]), a
// cgroup namespace... Sockets, pipes and anonymous inodes are told apart
// before.
var nsLink = regexp.MustCompile(`^[a-z_]+:\[[0-9]+\]$`)

// procPID matches a path under /proc of one process.
var procPID = regexp.MustCompile(`^/proc/([0-9]+)(/|$)`)

// unreopenable says why the descriptor whose link is link could not be
// opened again by its path, or "".
func unreopenable(link string) string {
	if nsLink.MatchString(link) {
		return fmt.Sprintf(": %s has no path to open again (a namespace descriptor is not checkpointable yet)", link)
	}
	if m := procPID.FindStringSubmatch(link); m != nil {
		pid, _ := strconv.Atoi(m[1])
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return fmt.Sprintf(": %s belongs to process %d, which has ended", link, pid)
		}
	}
	return ""
}

// procOfTree says why a descriptor of a /proc/PID file of a process of
// the tree (the process itself, /proc/self) could not be opened again:
// the restart opens every description before it makes the processes, so
// that PID is not there yet. "" if link is no such file.
func (d *dumper) procOfTree(link string) string {
	m := procPID.FindStringSubmatch(link)
	if m == nil {
		return ""
	}
	pid, _ := strconv.Atoi(m[1])
	tgid := pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for k, v := range keyValues(b) {
			if k == "Tgid" {
				tgid, _ = strconv.Atoi(v)
			}
		}
	}
	member := tgid == d.pid
	if d.tree != nil {
		for _, q := range d.tree.procs {
			member = member || q.pid == tgid
		}
	}
	if !member {
		return ""
	}
	return fmt.Sprintf(": %s is a file of process %d of the checkpointed tree, which the restart makes anew (a /proc file of the tree is not checkpointable yet)", link, tgid)
}

// removed reports whether link, read from the /proc magic link proc,
// names a file that was removed. The kernel appends " (deleted)" to the
// path of a file whose name is gone, but a name may end so too: it is the
// file's own name if it still leads to the inode proc does.
func removed(link, proc string) bool {
	if !strings.HasSuffix(link, " (deleted)") {
		return false
	}
	var a, b unix.Stat_t
	if unix.Stat(proc, &a) != nil || unix.Lstat(link, &b) != nil {
		return true
	}
	return a.Dev != b.Dev || a.Ino != b.Ino
}

// deletedDevice says why device descriptor proc, whose link is link,
// could not be opened again: its node was removed.
func deletedDevice(link, proc string) string {
	if removed(link, proc) {
		return fmt.Sprintf(": device node %s was removed", strings.TrimSuffix(link, " (deleted)"))
	}
	return ""
}

// checkCwd refuses a working directory that was removed (restart could
// not chdir into it); with Force the process comes back in /.
func (d *dumper) checkCwd(cwd string) (string, error) {
	if !removed(cwd, fmt.Sprintf("/proc/%d/cwd", d.pid)) {
		return cwd, nil
	}
	e := &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
		Msg: fmt.Sprintf("working directory %s was removed", strings.TrimSuffix(cwd, " (deleted)"))}
	if !d.opts.Force {
		return "", e
	}
	d.warn("%v (forced: restored in /)", e)
	return "/", nil
}
