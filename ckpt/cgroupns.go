package ckpt

// Cgroup namespaces made in the tree. A process that unshared
// CLONE_NEWCGROUP (`unshare -C`, a container runtime) sees the cgroups it
// was in at that moment as the root of every hierarchy: /proc/self/cgroup
// says "0::/", and a cgroup2 mount shows that subtree. Restored without
// it, the process would see the restart's full paths instead, a
// look-alike. The process that made the namespace is saved with it
// (imageMeta.CgroupNS) and unshares CLONE_NEWCGROUP again before its
// children are cloned: the restart's cgroups (a batch job's own) become
// the roots it sees, and its descendants are in it.
//
// That is the same view only while every process of the namespace is in
// the cgroups the namespace was made in: one in a cgroup below them
// ("0::/worker") or beside them ("0::/../other") is refused at
// checkpoint, naming the line, as are a process in another cgroup
// namespace than its parent's that did not make it (setns, or forked
// before its parent unshared) and a thread in another one than its main
// thread. The restart does not move processes between cgroups.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupNS is imageMeta.CgroupNS.
type cgroupNS struct {
	ID   uint64 `json:"id"`             // the namespace's inode at the checkpoint
	Made bool   `json:"made,omitempty"` // its parent (the root: the checkpointer) is in another
}

// recordCgroupNS sets d.meta.CgroupNS, or refuses a cgroup namespace the
// restart could not make again (see above).
func (d *dumper) recordCgroupNS() error {
	own, made, ours, err := d.nsMember("cgroup")
	if err != nil || ours {
		return err
	}
	cn := &cgroupNS{ID: own, Made: made}
	var view []byte
	err = inNSOf(d.pid, "cgroup", unix.CLONE_NEWCGROUP, func() error {
		var err error
		view, err = os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", d.pid))
		return err
	})
	if err != nil {
		return fmt.Errorf("%s(%d): its cgroups as its cgroup namespace shows them: %w", d.comm, d.pid, err)
	}
	if line := offRoot(view); line != "" {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf("is in a cgroup other than the root of its cgroup namespace (cgroup:[%d]): %q: not checkpointable (the restart makes the namespace at the cgroups it restores the process in)", own, line)}
	}
	d.meta.CgroupNS = cn
	return nil
}

// offRoot is the first line of a /proc/PID/cgroup that does not say "/".
func offRoot(view []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(view))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) == 3 && f[2] != "/" {
			return sc.Text()
		}
	}
	return ""
}

// inNSOf runs f on a thread of its own in pid's namespace of kind (flag:
// its CLONE_NEW* flag); the thread ends with its goroutine.
func inNSOf(pid int, kind string, flag int, f func() error) error {
	ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(ns)
	return onNSThread(ns, flag, f)
}

// checkCgroupNS is checkMeta's part for CgroupNS.
func checkCgroupNS(m *imageMeta) error {
	if c := m.CgroupNS; c != nil && c.ID == 0 {
		return fmt.Errorf("%w: cgroup namespace %+v", ErrCorrupt, *c)
	}
	return nil
}

// restoreCgroupNS makes p's cgroup namespace again, before its children
// are cloned (see above).
func (r *restorer) restoreCgroupNS(p *rproc) error {
	c := p.meta.CgroupNS
	if c == nil || !c.Made {
		return nil
	}
	if _, err := p.b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP); err != nil {
		return r.forceable(r.fail(p, fmt.Errorf("its cgroup namespace (cgroup:[%d]) cannot be made again (unshare CLONE_NEWCGROUP needs root; -F restores it in restart's): %w", c.ID, err)))
	}
	return nil
}
