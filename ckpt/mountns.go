package ckpt

// Mount namespaces. The restart makes no mount namespace again but the
// fresh one of a PID namespace's init, whose only mount of its own is a
// /proc of that namespace (Namespaced, builder.mountProc). A process
// whose mount namespace is not the checkpointer's (unshare -m, clone
// CLONE_NEWNS inside the tree, a service's PrivateTmp) comes back in
// a copy of the restart's, where every file it reopens by path is looked up: its
// descriptors, working and root directory, program and mapped files. A
// file on a mount the checkpointer's namespace has too (same device,
// same root within it, same mount point) is the same file there; one on
// a mount of the process's own namespace (a tmpfs it mounted) would be
// missing at restart, or worse another file of that name. Such a file is
// refused at checkpoint, naming the mount (with Force: warned, and the
// restart fails on it or opens what the path leads to).
//
// The namespace itself comes back as a copy of the restart's: a process
// that was in another mount namespace than its parent (the root: than the
// checkpointer) unshares CLONE_NEWNS before its children are cloned,
// which then share it as they shared the original, and makes its mounts
// private again if none of the original's propagated (unshare -m's
// default): a mount it makes after the restart stays its own, as before,
// instead of appearing on the host. (Two processes sharing a namespace
// that is not their parent's get a copy each.)

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountEntry is one line of a mountinfo: its device, the root of the
// mount within its filesystem, the mount point and the filesystem type.
type mountEntry struct {
	dev, root, point, fstype string
}

func (m mountEntry) key() string { return m.dev + " " + m.root + " " + m.point }

// readMountInfo parses /proc/PID/mountinfo (pid 0: ours) by mount ID.
func readMountInfo(pid int) (map[int]mountEntry, error) {
	path := "/proc/thread-self/mountinfo"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/mountinfo", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mounts := map[int]mountEntry{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		e := mountEntry{dev: f[2], root: f[3], point: f[4]}
		for i := 6; i+1 < len(f); i++ {
			if f[i] == "-" {
				e.fstype = f[i+1]
				break
			}
		}
		mounts[id] = e
	}
	return mounts, nil
}

// mountTables keeps, for the checkpoint of a tree, the mount table of
// each mount namespace met (by its inode: the members of a batch job all
// share one) and the keys of ours, so that each is read once in the
// freeze.
type mountTables struct {
	ours map[string]bool
	by   map[uint64]map[int]mountEntry
}

// get returns pid's mount table by mount ID (nil if pid is gone) and the
// set of mountEntry keys of ours.
func (t *mountTables) get(pid int) (map[int]mountEntry, map[string]bool, error) {
	if t.ours == nil {
		ours, err := readMountInfo(0)
		if err != nil {
			return nil, nil, fmt.Errorf("mountinfo: %w", err)
		}
		t.ours = map[string]bool{}
		for _, m := range ours {
			t.ours[m.key()] = true
		}
		t.by = map[uint64]map[int]mountEntry{}
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid), &st); err != nil {
		return nil, t.ours, nil
	}
	if m, ok := t.by[st.Ino]; ok {
		return m, t.ours, nil
	}
	m, err := readMountInfo(pid)
	if err != nil {
		return nil, t.ours, nil
	}
	t.by[st.Ino] = m
	return m, t.ours, nil
}

// sameNS says whether pid is in the checkpointer's namespace of kind
// (a name of /proc/PID/ns); a kernel without it counts as the same.
func sameNS(pid int, kind string) bool {
	var st, self unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), &st) != nil || unix.Stat("/proc/thread-self/ns/"+kind, &self) != nil {
		return true
	}
	return st.Ino == self.Ino && st.Dev == self.Dev
}

// mountIDOf is the mount ID of the file a /proc magic link leads to.
func mountIDOf(link string) (int, bool) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, link, 0, unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return int(stx.Mnt_id), true
}

// checkMounts refuses the files d reopens by path that are on a mount of
// its own mount namespace (see above). It runs once the descriptors and
// memory regions are collected.
func (d *dumper) checkMounts() error {
	if sameNS(d.pid, "mnt") {
		return nil
	}
	if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", d.pid)); err != nil || root != "/" {
		// mountinfo shows mount points from the process's root: a
		// chroot's are not comparable with ours (chroot is saved and
		// checked on its own).
		return nil
	}
	tables := &mountTables{}
	if d.tree != nil {
		tables = &d.tree.mounts
	}
	theirs, have, err := tables.get(d.pid)
	if err != nil {
		return err
	}
	if theirs == nil {
		return nil // gone: the seize says
	}
	// A /proc the restart mounts again for the PID namespace it makes.
	procAgain := d.meta.NSPID != 0
	// onOwnMount says why the file a /proc magic link leads to cannot
	// be found again, or "".
	onOwnMount := func(what, link string) string {
		id, ok := mountIDOf(link)
		if !ok {
			return ""
		}
		m, ok := theirs[id]
		if !ok || have[m.key()] || procAgain && m.fstype == "proc" && m.point == "/proc" {
			return ""
		}
		return fmt.Sprintf(": %s is on a mount of its own mount namespace (%s on %s): the restart, in another mount namespace, would not find it or would open another file of that name",
			what, m.fstype, unescapeMount(m.point))
	}
	// Not a descriptor: with Force, the restart looks the path up as it is.
	refuse := func(msg string) error {
		if msg == "" {
			return nil
		}
		e := &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: msg}
		if !d.opts.Force {
			return e
		}
		d.warn("%v (forced: the restart looks it up in its own mount namespace)", e)
		return nil
	}
	for _, c := range []struct{ what, name string }{{"its working directory", "cwd"}, {"its program", "exe"}} {
		if err := refuse(onOwnMount(c.what+" "+d.procLink(c.name), fmt.Sprintf("/proc/%d/%s", d.pid, c.name))); err != nil {
			return err
		}
	}
	for i := range d.meta.Files {
		f := &d.meta.Files[i]
		switch f.Kind {
		case fdFile, fdDir, fdFifo, fdDevice, fdTTY:
		default:
			continue
		}
		msg := onOwnMount(strings.TrimSuffix(f.Path, " (deleted)"), fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD))
		if msg == "" {
			continue
		}
		if err := d.uncheckpointable(f.FD, msg); err != nil {
			return err
		}
		// Forced: restored closed, as the warning says.
		f.Kind, f.Reason = fdClosed, msg
	}
	for _, r := range d.meta.Regions {
		if r.File == nil || (r.Kind != regionFile && r.Kind != regionShared) {
			continue
		}
		link := fmt.Sprintf("/proc/%d/map_files/%x-%x", d.pid, r.Start, r.End)
		if err := refuse(onOwnMount("its mapped file "+r.File.Path, link)); err != nil {
			return err
		}
	}
	return nil
}

// mountNS is imageMeta.MountNS.
type mountNS struct {
	NS uint64 `json:"ns"` // inode of the namespace
	// Private: no mount of the namespace propagated to or from another
	// (no shared: or master: tag in its mountinfo).
	Private bool `json:"private,omitempty"`
}

// recordMountNS sets d.meta.MountNS when d's mount namespace is not its
// parent's (the root's: not ours).
func (d *dumper) recordMountNS() error {
	ref := "/proc/thread-self/ns/mnt"
	if d.parent != nil {
		ref = fmt.Sprintf("/proc/%d/ns/mnt", d.parent.pid)
	}
	var st, par unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", d.pid), &st) != nil || unix.Stat(ref, &par) != nil {
		return nil
	}
	if st.Ino == par.Ino && st.Dev == par.Dev {
		return nil
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): mountinfo: %w", d.comm, d.pid, err)
	}
	d.meta.MountNS = &mountNS{NS: st.Ino, Private: mountInfoPrivate(data)}
	return nil
}

// mountInfoPrivate reports whether no mount of a mountinfo propagates to
// or from another (no shared: or master: tag).
func mountInfoPrivate(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i := 6; i < len(f) && f[i] != "-"; i++ {
			if strings.HasPrefix(f[i], "shared:") || strings.HasPrefix(f[i], "master:") {
				return false
			}
		}
	}
	return true
}

// restoreMountNS gives p a mount namespace of its own if it had one,
// before its children are cloned (see above).
func (r *restorer) restoreMountNS(p *rproc) error {
	mn := p.meta.MountNS
	if mn == nil || p == r.root && p.meta.NSPID == 1 {
		return nil // its parent's, or made by the clone (createRoot)
	}
	if _, err := p.b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWNS); err != nil {
		// Without root: it shares the restart's (a warning).
		return p.b.attrRefused(fmt.Errorf("its mount namespace of its own cannot be made again (unshare CLONE_NEWNS needs root): %w", err))
	}
	if !mn.Private {
		return nil
	}
	root, err := p.b.putString(scratchData, "/")
	if err != nil {
		return err
	}
	if _, err := p.b.call("mount", unix.SYS_MOUNT, 0, root, 0, unix.MS_REC|unix.MS_PRIVATE, 0); err != nil {
		return r.fail(p, fmt.Errorf("make its mounts private: %w", err))
	}
	return nil
}

// procLink is where /proc/PID/name leads, for messages.
func (d *dumper) procLink(name string) string {
	p, _ := os.Readlink(fmt.Sprintf("/proc/%d/%s", d.pid, name))
	return p
}
