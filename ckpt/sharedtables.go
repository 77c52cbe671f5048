package ckpt

import (
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Processes that share kernel tables. clone(2) without CLONE_THREAD can
// still share the descriptor table (CLONE_FILES), the working directory,
// root and umask (CLONE_FS) or the whole address space (CLONE_VM, as a
// vfork child does until it execs) between two processes. A restore that
// made each process with tables of its own would give the program a
// look-alike: a descriptor one opens not seen by the other, a chdir no
// longer moving both.
//
// Descriptor tables and fs structs come back shared (checkSharedTables
// records, in the image of each process that shares one with its parent,
// which: imageMeta.Tables). At restart such a process is cloned from its
// parent with CLONE_FILES or CLONE_FS (restart.go createChildren); the
// parent, built first, fills the one table (descriptors, locks, epoll
// interest lists) and sets the working directory, root and umask once;
// the sharer keeps them (tableMember), using the parent's descriptor of
// the restorer's pidfd, closed by the last member built. Sharing between
// processes neither of which is the other's parent (a clone with
// CLONE_PARENT|CLONE_FILES) cannot be made again by a clone and is
// refused, as is an fs struct shared under a root directory of its own (a
// chroot: the members would be rebuilt inside it), and a shared address
// space: a clone with CLONE_VM but not CLONE_THREAD would need the
// second process made as a thread-like clone of the first, with its own
// registers, signal state and credentials rebuilt by injections that run
// on the one shared memory and stack of both, which the restore (one
// scratch area, a memory rebuilt per process) cannot do. A vfork child
// shares its parent's memory only until it execs or exits, and the
// checkpoint waits for that before it freezes the parent (waitVfork), so
// what is refused here is a long-lived CLONE_VM child. With Force such
// processes are restored with tables of their own, with a warning.

// Resources kcmp(2) compares (include/uapi/linux/kcmp.h).
const (
	kcmpVM    = 1
	kcmpFiles = 2
	kcmpFS    = 3
)

// checkSharedTables finds the processes of the tree that share a
// descriptor table, fs struct or address space. kcmp orders the kernel
// objects (0 equal, 1 less, 2 greater), so sorting the members by each
// puts the sharers side by side.
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
		{kcmpVM, "its memory (clone CLONE_VM without CLONE_THREAD)"},
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
		for i := 0; i < len(ds); {
			j := i + 1
			for j < len(ds) {
				if c, err := kcmp(ds[i].pid, ds[j].pid, res.typ); err != nil || c != 0 {
					break
				}
				j++
			}
			if j-i > 1 {
				if err := t.shareGroup(ds[i:j], res.typ, res.what); err != nil {
					return err
				}
			}
			i = j
		}
	}
	return nil
}

// shareGroup records the sharing of one table by group (two or more
// processes), or refuses it: every member but one must share it with its
// parent.
func (t *dumpTree) shareGroup(group []*dumper, typ int, what string) error {
	sort.Slice(group, func(i, j int) bool { return group[i].pid < group[j].pid })
	in := map[*dumper]bool{}
	for _, d := range group {
		in[d] = true
	}
	var leader *dumper
	for _, d := range group {
		if d.parent != nil && in[d.parent] && typ != kcmpVM {
			continue
		}
		if leader == nil {
			leader = d
			continue
		}
		return d.uncheckpointable(-1, fmt.Sprintf("shares %s with %s(%d): cannot be checkpointed", what, leader.comm, leader.pid))
	}
	if typ != kcmpVM {
		// Entering a user namespace takes a table and fs struct of
		// one's own (userns.go).
		self, _ := selfNSInode("user")
		for _, d := range group {
			if u, err := nsInode(d.pid, "user"); err == nil && u != self {
				return d.uncheckpointable(-1, fmt.Sprintf("shares %s with %s(%d) in a user namespace of its own (user:[%d]): cannot be checkpointed (a process enters one with its own)", what, leader.comm, leader.pid, u))
			}
		}
	}
	if typ == kcmpFS {
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", leader.pid)); err == nil {
			if own, _ := os.Readlink("/proc/self/root"); root != own {
				return group[1].uncheckpointable(-1, fmt.Sprintf("shares %s with %s(%d) under root directory %s: cannot be checkpointed", what, leader.comm, leader.pid, root))
			}
		}
	}
	for _, d := range group {
		if d == leader {
			continue
		}
		if d.meta.Tables == nil {
			d.meta.Tables = &sharedTables{}
		}
		if typ == kcmpFiles {
			d.meta.Tables.Files = true
		} else {
			d.meta.Tables.FS = true
		}
		d.log.Info(fmt.Sprintf("%s(%d) shares %s with its parent %s(%d)", d.comm, d.pid, what, d.parent.comm, d.parent.pid))
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

// tableFlags are the clone flags that make c share its parent's tables
// again: CLONE_FILES, CLONE_FS as recorded, when its parent in the
// restored tree is the one it shared them with (planTables).
func (c *rproc) tableFlags() uint64 {
	var flags uint64
	if c.tables.files {
		flags |= unix.CLONE_FILES
	}
	if c.tables.fs {
		flags |= unix.CLONE_FS
	}
	return flags
}

// tableState is what a process shares at restart.
type tableState struct {
	files, fs bool   // shares its parent's descriptor table, fs struct
	leader    *rproc // files: the first of the sharers, which fills the table
	left      int    // (leader) members of its table not built yet
}

// planTables decides which processes share their parent's tables: those
// recorded so whose parent is restored with them (a subtree restarted
// without the parent makes its own). An fs struct is not shared under a
// root directory (see the top of this file).
func (r *restorer) planTables() {
	for _, c := range r.procs { // parents first
		t, p := c.meta.Tables, c.parent
		if t == nil || p == nil || p.meta.PID != c.meta.PPID || p.meta.Zombie != nil || c.meta.Zombie != nil {
			continue
		}
		c.tables.files = t.Files
		if t.FS {
			if chrooted(c) || chrooted(p) {
				r.warn("%s(%d): shares its working directory, root and umask with %s(%d) under a root directory: restored with its own", c.comm(), c.meta.PID, p.comm(), p.meta.PID)
			} else {
				c.tables.fs = true
			}
		}
		if c.tables.files {
			c.tables.leader = p
			if p.tables.files {
				c.tables.leader = p.tables.leader
			}
			c.tables.leader.tables.left++
		}
	}
}

func chrooted(p *rproc) bool { return p.meta.Attrs != nil && p.meta.Attrs.Root != "" }

// tableMember sets up a process that shares its leader's descriptor table,
// filled already: it keeps every descriptor (no close_range), and uses the
// leader's descriptor of the restorer's pidfd (ours is gone from the table),
// with its own spare numbers above it.
func (b *builder) tableMember() {
	l := b.p.tables.leader.b
	b.pidfd = l.pidfd
	b.spareFD = max(b.spareFD, l.spareFD, int(l.pidfd)+1)
}

// closePidfd closes the process's descriptor of the restorer's pidfd, once
// no member of its table still needs it.
func (b *builder) closePidfd() error {
	p := b.p
	if l := p.tables.leader; l != nil {
		if l.tables.left--; l.tables.left > 0 {
			return nil
		}
	} else if p.tables.left > 0 {
		return nil
	}
	if _, err := b.call("close", unix.SYS_CLOSE, b.pidfd); err != nil {
		return fmt.Errorf("close pidfd: %w", err)
	}
	return nil
}
