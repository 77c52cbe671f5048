package ckpt

// PID namespaces made inside the checkpointed tree: `unshare -fp`, a
// program that unshares CLONE_NEWPID and forks its init, or clones one
// with CLONE_NEWPID, and their descendants.
//
// A member below the root's namespace is saved with its pid at every
// level from the root's namespace down to its own (imageMeta.NSPids,
// from /proc/PID/status NSpid), and the restart clones it with all of
// them (clone3's set_tid array), so that every process sees every other
// under the pid it saw before. How each namespace came about is saved
// with the process that made it (pidNS):
//   - Unshared: the process called unshare(CLONE_NEWPID). Its children
//     forked before that are in its own namespace, the others in the new
//     one, whose init (pid 1) is the first of them. The restart clones the
//     first, unshares, then clones the init and the rest. One that has not
//     forked since (pid_for_children shows no namespace yet) unshares too,
//     and its next fork makes the init, as it would have.
//   - Cloned: the process was cloned with CLONE_NEWPID, the init of a new
//     namespace below its parent's, and is cloned so again.
//   - Proc: the init of a namespace below the root's whose mount namespace
//     shows that namespace at /proc (unshare --mount-proc); it mounts a
//     /proc of the new namespace again.
//
// Pids the restart hands to a process (a process group to join, a child
// to wait for, a terminal's foreground group) are translated to the
// level of the process that uses them (rproc.pidIn). Refused, naming the
// process: a member of a namespace that is neither its parent's nor one
// its parent made (its maker exited and it was reparented), a namespace
// for children whose init has exited (a fork there fails), a /proc of
// the namespace in a mount namespace that propagates mounts.

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// maxPIDNSLevels is the kernel's MAX_PID_NS_LEVEL.
const maxPIDNSLevels = 32

// pidNS is imageMeta.PIDNS (see above).
type pidNS struct {
	Unshared bool `json:"unshared,omitempty"`
	Cloned   bool `json:"cloned,omitempty"`
	Proc     bool `json:"proc,omitempty"`
}

// nsInode is the inode of /proc/PID/ns/KIND, 0 if it cannot be read
// (a zombie has none; ENOENT for pid_for_children before the namespace
// has an init).
func nsInode(pid int, kind string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// rootNSLevel is the level of the tree root's PID namespace below ours:
// len(NSpid)-1 of the root.
func (t *dumpTree) rootNSLevel() (int, error) {
	if t.rootLevel == 0 {
		st, err := readStatus(t.rootPID)
		if err != nil {
			return 0, err
		}
		t.rootLevel = len(st.NSpid) // stored +1: 0 means not read yet
	}
	return t.rootLevel - 1, nil
}

// nsLevelOf is the level below ours of the root's namespace for d.
func (d *dumper) nsLevelOf() (int, error) {
	if d.tree != nil {
		return d.tree.rootNSLevel()
	}
	st, err := readStatus(d.pid)
	if err != nil {
		return 0, err
	}
	return len(st.NSpid) - 1, nil
}

// nsPidsBelow is a task's NSpid from level on, when it is deeper: nil
// for a task in the root's namespace.
func nsPidsBelow(tid, level int) ([]int, error) {
	st, err := readStatus(tid)
	if err != nil {
		return nil, err
	}
	if len(st.NSpid) <= level+1 {
		return nil, nil
	}
	return append([]int(nil), st.NSpid[level:]...), nil
}

// recordPIDNamespace saves d's pids at each level and how its namespace
// came about, once d and its threads are frozen (see above).
func (d *dumper) recordPIDNamespace() error {
	level, err := d.nsLevelOf()
	if err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	m := &d.meta
	if m.NSPids, err = nsPidsBelow(d.pid, level); err != nil {
		return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
	}
	for i := range m.Threads {
		th := &m.Threads[i]
		if th.NSTIDs, err = nsPidsBelow(th.TID, level); err != nil {
			return fmt.Errorf("%s(%d) thread %d: %w", d.comm, d.pid, th.TID, err)
		}
	}
	if d.zombie {
		return nil // no namespace links: its depth says enough
	}
	own, err := nsInode(d.pid, "pid")
	if err != nil {
		return nil // a kernel without namespaces
	}
	forChildren, ferr := nsInode(d.pid, "pid_for_children")
	switch {
	case errors.Is(ferr, unix.ENOENT):
		// Unshared, no child since: the namespace has no init yet.
		m.PIDNS = &pidNS{Unshared: true}
	case ferr == nil && forChildren != own:
		m.PIDNS = &pidNS{Unshared: true}
		if !d.hasChildIn(forChildren) {
			return d.refusePIDNS("made a PID namespace for its children (unshare CLONE_NEWPID) whose init has exited: its next fork would fail, a restarted one would not")
		}
	}
	if d.parent != nil {
		if err := d.pidNSFromParent(own); err != nil {
			return err
		}
	}
	if len(m.NSPids) > 0 && m.NSPids[len(m.NSPids)-1] == 1 {
		return d.recordProcMount(own)
	}
	return nil
}

func (d *dumper) refusePIDNS(msg string) error {
	return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: msg}
}

// hasChildIn reports whether a child of d is in the namespace ns (one
// below d's: d's unshare made it), or is a zombie below d's namespace (the
// init of a namespace that ended, which a restart ends again).
func (d *dumper) hasChildIn(ns uint64) bool {
	own, err := readStatus(d.pid)
	if err != nil {
		return false
	}
	for _, c := range childrenOf(d.pid) {
		if in, err := nsInode(c, "pid"); err == nil && in == ns {
			return true
		}
		st, err := readStat(c)
		if err != nil || st.State != 'Z' && st.State != 'X' {
			continue
		}
		if cs, err := readStatus(c); err == nil && len(cs.NSpid) > len(own.NSpid) {
			return true
		}
	}
	return false
}

// pidNSFromParent sees how d came into its namespace when it is not its
// parent's: the parent unshared it (its pid_for_children), or d was
// cloned into a new one, as its init.
func (d *dumper) pidNSFromParent(own uint64) error {
	p := d.parent
	theirs, err := nsInode(p.pid, "pid")
	if err != nil || theirs == own {
		return nil
	}
	depth, pdepth := len(d.meta.NSPids), len(p.meta.NSPids)
	if pdepth == 0 {
		pdepth = 1
	}
	if depth != pdepth+1 {
		return d.refusePIDNS(fmt.Sprintf("is in a PID namespace %d levels below the one of its parent %d: only a namespace its parent made is checkpointable", depth-pdepth, p.pid))
	}
	forChildren, ferr := nsInode(p.pid, "pid_for_children")
	switch {
	case ferr == nil && forChildren == own:
		return nil // the parent's unshare (Unshared on the parent)
	case ferr == nil && forChildren == theirs && d.meta.NSPids[depth-1] == 1:
		if d.meta.PIDNS == nil {
			d.meta.PIDNS = &pidNS{}
		}
		d.meta.PIDNS.Cloned = true
		return nil
	}
	return d.refusePIDNS(fmt.Sprintf("is in a PID namespace its parent %d neither is in nor made (it was reparented when the process that made it exited): not checkpointable", p.pid))
}

// recordProcMount sets Proc on the init of a namespace below the root's
// whose mount namespace has a /proc of its own showing that namespace.
func (d *dumper) recordProcMount(own uint64) error {
	tables := &mountTables{}
	if d.tree != nil {
		tables = &d.tree.mounts
	}
	theirs, have, err := tables.get(d.pid)
	if err != nil || theirs == nil {
		return err
	}
	for _, e := range theirs {
		if e.point != "/proc" || e.fstype != "proc" || have[e.key()] {
			continue
		}
		// The init of the namespace this /proc shows is its pid 1.
		var shown unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/root/proc/1/ns/pid", d.pid), &shown) != nil || shown.Ino != own {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", d.pid))
		if err != nil {
			return fmt.Errorf("%s(%d): mountinfo: %w", d.comm, d.pid, err)
		}
		if !mountInfoPrivate(data) {
			return d.refusePIDNS("mounted a /proc of its PID namespace in a mount namespace that propagates mounts: mounting it again at restart would show it elsewhere")
		}
		if d.meta.PIDNS == nil {
			d.meta.PIDNS = &pidNS{}
		}
		d.meta.PIDNS.Proc = true
		return nil
	}
	return nil
}

// checkNSPids refuses an image whose pids per level the kernel could not
// take.
func checkNSPids(m *imageMeta) error {
	bad := func(ids []int, what string) error {
		if len(ids) > maxPIDNSLevels {
			return fmt.Errorf("%w: %s: %d PID namespace levels, at most %d", ErrCorrupt, what, len(ids), maxPIDNSLevels)
		}
		for _, id := range ids {
			if id <= 0 || id > 1<<22 {
				return fmt.Errorf("%w: %s: pid %d in a PID namespace", ErrCorrupt, what, id)
			}
		}
		return nil
	}
	if err := bad(m.NSPids, "process"); err != nil {
		return err
	}
	for _, th := range m.Threads {
		if err := bad(th.NSTIDs, fmt.Sprintf("thread %d", th.TID)); err != nil {
			return err
		}
		if len(th.NSTIDs) != len(m.NSPids) {
			return fmt.Errorf("%w: thread %d: %d PID namespace levels, its process %d", ErrCorrupt, th.TID, len(th.NSTIDs), len(m.NSPids))
		}
	}
	return nil
}

// setTIDs is clone3's set_tid array for c: its pid in its own namespace
// first, then in each above it up to the root's (want alone for a process
// of the root's namespace).
func (c *rproc) setTIDs(want int) []int {
	return innermostFirst(c.meta.NSPids, want)
}

// innermostFirst reverses levels (outermost first, as NSpid lists them);
// no levels: just want.
func innermostFirst(levels []int, want int) []int {
	if len(levels) == 0 {
		return []int{want}
	}
	out := make([]int, len(levels))
	for i, id := range levels {
		out[len(levels)-1-i] = id
	}
	return out
}

// noteLevels reads the pids the new process pid (restoring c) got, from
// the root's namespace down (the root's level is learnt from the root).
func (r *restorer) noteLevels(c *rproc, pid int) error {
	st, err := readStatus(pid)
	if err != nil {
		return fmt.Errorf("its pids: %w", err)
	}
	if c == r.root {
		r.rootLevel = len(st.NSpid) - 1
	}
	if r.rootLevel < 0 || len(st.NSpid) <= r.rootLevel {
		return fmt.Errorf("its pids %v: not below the root's PID namespace", st.NSpid)
	}
	c.levels = append([]int(nil), st.NSpid[r.rootLevel:]...)
	if want := c.meta.NSPids; len(want) > 0 && len(want) != len(c.levels) {
		return fmt.Errorf("restored %d PID namespace levels below the root's, it had %d", len(c.levels)-1, len(want)-1)
	}
	return nil
}

// pidIn is p's pid as viewer sees it: 0 when viewer's namespace is below
// p's.
func (p *rproc) pidIn(viewer *rproc) int {
	if len(p.levels) == 0 || len(viewer.levels) == 0 {
		return p.pidInside()
	}
	i := len(viewer.levels) - 1
	if i >= len(p.levels) {
		return 0
	}
	return p.levels[i]
}

// pidDepth is how many PID namespace levels p had from the root's (1: in
// the root's).
func pidDepth(m *imageMeta) int {
	if len(m.NSPids) == 0 {
		return 1
	}
	return len(m.NSPids)
}

// unshares reports whether p unshared CLONE_NEWPID.
func unshares(m *imageMeta) bool { return m.PIDNS != nil && m.PIDNS.Unshared }

// inNewNS reports whether child c of p is in a namespace below p's: one
// p's unshare made, or (not unshared) its own, made by its clone.
func inNewNS(p, c *rproc) bool { return pidDepth(c.meta) > pidDepth(p.meta) }

// nsCloneFlags are the clone flags c needs for its PID namespace: a new
// one when it was cloned into one (its parent did not unshare).
func (c *rproc) nsCloneFlags() uint64 {
	if c.parent != nil && inNewNS(c.parent, c) && !unshares(c.parent.meta) {
		return unix.CLONE_NEWPID
	}
	return 0
}

// pidNSOrder is the order in which p's children are cloned: those of p's
// own namespace, then, once p has unshared (unsharePIDNS), those of the
// namespace it made, its init first.
func pidNSOrder(p *rproc, children []*rproc) (before, after []*rproc) {
	if !unshares(p.meta) {
		return children, nil
	}
	for _, c := range children {
		switch {
		case !inNewNS(p, c):
			before = append(before, c)
		case c.meta.NSPids[len(c.meta.NSPids)-1] == 1:
			after = append([]*rproc{c}, after...)
		default:
			after = append(after, c)
		}
	}
	return before, after
}

// unsharePIDNS makes p's children go to a new PID namespace, as they did.
func (r *restorer) unsharePIDNS(p *rproc) error {
	if !unshares(p.meta) {
		return nil
	}
	if _, err := p.b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWPID); err != nil {
		return r.fail(p, fmt.Errorf("unshare CLONE_NEWPID (a PID namespace it made for its children; it needs root): %w", err))
	}
	return nil
}

// joinGroup puts p into leader's process group: p itself when it sees the
// leader, else its parent (the group of a child its parent made in a new
// PID namespace is one of the parent's namespace), which may while p has
// not run execve.
func (r *restorer) joinGroup(p, leader *rproc) error {
	if pg := leader.pidIn(p); pg != 0 {
		_, err := p.b.call("setpgid", unix.SYS_SETPGID, 0, uint64(pg))
		return err
	}
	if st, err := readStat(p.pid); err == nil && leader.pid == st.PGID {
		return nil // inherited
	}
	q := p.parent
	if q == nil || q.b == nil || leader.pidIn(q) == 0 {
		return fmt.Errorf("its group leader %d is in a PID namespace above it and of no parent in the tree", leader.meta.PID)
	}
	_, err := q.b.call("setpgid", unix.SYS_SETPGID, uint64(p.pidIn(q)), uint64(leader.pidIn(q)))
	return err
}

// mountNSProc mounts the /proc of p's namespace again when p is the init
// of a namespace below the root's that had one (Proc), in the private
// mount namespace the restart made for it or an ancestor: never in ours,
// whatever the image says.
func (r *restorer) mountNSProc(p *rproc) error {
	m := p.meta
	if p == r.root || m.PIDNS == nil || !m.PIDNS.Proc {
		return nil
	}
	if len(m.NSPids) < 2 || m.NSPids[len(m.NSPids)-1] != 1 {
		return r.fail(p, fmt.Errorf("%w: a /proc to mount again for a process that is not the init of a PID namespace made in the tree", ErrCorrupt))
	}
	private := false
	for q := p; q != nil; q = q.parent {
		if q.meta.MountNS != nil {
			private = q.meta.MountNS.Private
			break
		}
	}
	if !private || sameNS(p.pid, "mnt") {
		return r.fail(p, fmt.Errorf("%w: a /proc to mount again outside a private mount namespace of the tree", ErrCorrupt))
	}
	if err := p.b.mountProcOnly(); err != nil {
		return r.fail(p, err)
	}
	return nil
}

// gotPIDs reports whether p got its checkpointed pids (not -F's new
// ones): its threads then get their tids.
func (p *rproc) gotPIDs() bool {
	if len(p.meta.NSPids) > 0 {
		return slices.Equal(p.levels, p.meta.NSPids)
	}
	return p.pid == p.meta.PID || p.meta.NSPID != 0
}
