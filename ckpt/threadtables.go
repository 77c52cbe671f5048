package ckpt

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Threads with tables of their own. A thread may leave its process's
// descriptor table (unshare(CLONE_FILES)) or its working directory, root
// and umask (unshare(CLONE_FS)): it then has descriptors, or a cwd, the
// other threads do not. The restart makes every thread of a process with
// the process's one table and fs struct, so such a thread would come back
// a look-alike (its descriptors gone, back in the process's directory):
// it is refused at checkpoint time, naming the thread (with Force: the
// thread gets the process's).

// checkThreadTables refuses a thread of d's process whose descriptor
// table or fs struct is not the process's (kcmp; without kcmp, the
// working directories are compared).
func (d *dumper) checkThreadTables() error {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil || tid == d.pid {
			continue
		}
		for _, c := range []struct {
			typ  int
			what string
		}{
			{kcmpFiles, "a descriptor table of its own (unshare CLONE_FILES)"},
			{kcmpFS, "a working directory, root and umask of its own (unshare CLONE_FS)"},
		} {
			r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(d.pid), uintptr(tid), uintptr(c.typ), 0, 0, 0)
			differs := errno == 0 && r != 0
			if errno == unix.ENOSYS && c.typ == kcmpFS {
				a, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", d.pid))
				b, _ := os.Readlink(fmt.Sprintf("/proc/%d/task/%d/cwd", d.pid, tid))
				differs = a != b
			}
			if !differs {
				continue
			}
			e := &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1,
				Msg: fmt.Sprintf(": thread %d has %s, which the restart cannot give a thread", tid, c.what)}
			if !d.opts.Force {
				return e
			}
			d.warn("%v (forced: it gets the process's)", e)
		}
	}
	return nil
}
