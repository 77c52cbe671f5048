package ckpt

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// Processes that share kernel tables. clone(2) without CLONE_THREAD can
// still share the descriptor table (CLONE_FILES), the working directory,
// root and umask (CLONE_FS) or the whole address space (CLONE_VM, as a
// vfork child does until it execs) between two processes. The restore
// makes each process with tables of its own, so after it a descriptor one
// opens would not be seen by the other, a chdir would no longer move both,
// a store in one's memory no longer be seen by the other: the program
// would go on with a look-alike. Such a tree is refused at checkpoint time
// (with Force, restored with tables of their own, with a warning).

// Resources kcmp(2) compares (include/uapi/linux/kcmp.h).
const (
	kcmpVM    = 1
	kcmpFiles = 2
	kcmpFS    = 3
)

// checkSharedTables refuses a tree two of whose processes share a
// descriptor table, fs struct or address space. kcmp orders the kernel
// objects (0 equal, 1 less, 2 greater), so sorting the members by each
// finds the sharers among neighbours.
func (t *dumpTree) checkSharedTables() error {
	var live []*dumper
	for _, d := range t.procs {
		if !d.zombie {
			live = append(live, d)
		}
	}
	if len(live) < 2 {
		return nil
	}
	for _, res := range []struct {
		typ  int
		what string
	}{
		{kcmpFiles, "its file descriptor table (clone CLONE_FILES)"},
		{kcmpFS, "its working directory, root and umask (clone CLONE_FS)"},
		{kcmpVM, "its memory (clone CLONE_VM, vfork)"},
	} {
		ds := append([]*dumper(nil), live...)
		var cmpErr error
		sort.Slice(ds, func(i, j int) bool {
			c, err := kcmp(ds[i].pid, ds[j].pid, res.typ)
			if err != nil && cmpErr == nil {
				cmpErr = err
			}
			return c == 1
		})
		if cmpErr != nil {
			return fmt.Errorf("kcmp: %w", cmpErr)
		}
		for i := 1; i < len(ds); i++ {
			if c, err := kcmp(ds[i-1].pid, ds[i].pid, res.typ); err == nil && c == 0 {
				a, b := ds[i-1], ds[i]
				if a.pid > b.pid {
					a, b = b, a
				}
				if err := b.uncheckpointable(-1, fmt.Sprintf("shares %s with %s(%d): cannot be checkpointed", res.what, a.comm, a.pid)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func kcmp(pid1, pid2, typ int) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), uintptr(typ), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// sharedTables: the kernel tables a process shares with its parent.
type sharedTables struct {
	Files bool `json:"files,omitempty"` // descriptor table (CLONE_FILES)
	FS    bool `json:"fs,omitempty"`    // cwd, root and umask (CLONE_FS)
}
