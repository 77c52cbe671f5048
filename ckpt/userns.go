package ckpt

// User namespaces made in the tree. A process that unshared
// CLONE_NEWUSER (`unshare -U`, `unshare -r`, a sandbox that maps its own
// uid) is in a user namespace of its own, with the uid and gid maps
// written to it and its setgroups setting; its descendants are in it too.
// Such a process is saved with the namespace (imageMeta.UserNS: its
// owner, maps and setgroups, and whether it made it or inherited it) and
// comes back the same way: once its memory and descriptors are in place,
// while it is still one thread and still root outside, it takes its
// credentials as they are seen from outside (supplementary groups, gids,
// real and saved uids) with the namespace's owner as effective uid, then
// one that made the namespace unshares CLONE_NEWUSER again (the owner is
// the effective uid at that moment, as it was) and the restorer writes the
// same setgroups, uid_map and gid_map; one that inherited it enters its
// parent's (setns: the owner has every capability in the namespaces it
// owns). From there on it is what it was: full capabilities in the
// namespace, which the restore of its credentials (the same ids seen from
// inside, setresuid through the map) and of its capability sets brings
// down to the saved ones. Its children were cloned before, while it was
// still root outside: a clone with a chosen pid (set_tid) needs
// CAP_CHECKPOINT_RESTORE where the PID namespace belongs, outside.
//
// Its threads are cloned once it is inside, where set_tid is refused:
// their tids are set through ns_last_pid (lastpid.go). A mount or UTS
// namespace made inside the user namespace is made again inside it, after
// it is entered (unshare, or setns into its parent's): the mount
// namespace a copy of the one the restart made outside (mountns.go), the
// UTS one with its names (utsns.go).
//
// A network namespace made with the user namespace (`unshare -rn`) is made
// with it by a helper before the children are cloned (usernsnet.go); the
// maker then enters the helper's user namespace here instead of making
// one.
//
// Refused at checkpoint, naming the process: a user namespace inside
// another one (the restorer could not write its maps), a namespace of
// another kind owned by it (an IPC, PID, time, cgroup namespace made
// inside it would come back owned by the restart's user namespace, where
// the process has no capability over it), a network namespace made inside
// one its maker did not make, a process with threads in one
// inside a PID namespace made in the tree (ns_last_pid sets one level),
// an effective uid the namespace does not map other than its owner, and
// a descriptor table or working directory shared in one (the process
// enters it with its own: sharedtables.go).
//
// An Owner-enforced restart (the batch system's) takes a namespace only
// if it maps nothing but the owner's uid and gid and the owner made it:
// written by root, a map is a way to any uid.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ioctls of namespace descriptors (linux/nsfs.h).
const (
	nsGetUserns   = 0xb701
	nsGetParent   = 0xb702
	nsGetOwnerUID = 0xb704
)

// userNS is imageMeta.UserNS.
type userNS struct {
	// Made: the process made the namespace (its parent is outside it;
	// the root: the checkpointer is); else it is its parent's.
	Made      bool       `json:"made,omitempty"`
	Owner     int        `json:"owner"` // its owner's uid, outside
	UIDMap    []idMapRun `json:"uid_map"`
	GIDMap    []idMapRun `json:"gid_map"`
	SetGroups string     `json:"setgroups"` // "allow" or "deny"
	// Owns: the kinds of the process's namespaces that belong to it,
	// made inside it: "mnt", "uts", "net".
	Owns []string `json:"owns,omitempty"`
}

// userNSOwnable are the namespaces a user namespace of the tree may own:
// the restart makes them again inside it.
var userNSOwnable = map[string]int{"mnt": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS}

// owns tells whether the process's namespace of kind belongs to its user
// namespace.
func (u *userNS) owns(kind string) bool {
	return u != nil && slices.Contains(u.Owns, kind)
}

// idMapRun is one line of uid_map or gid_map: Count ids from Inside on
// are the ids from Outside on outside.
type idMapRun struct {
	Inside  uint32 `json:"inside"`
	Outside uint32 `json:"outside"`
	Count   uint32 `json:"count"`
}

// maxIDMapRuns: the kernel's limit of lines in a map.
const maxIDMapRuns = 340

// inside is id outside seen from inside the namespace; ok false: not
// mapped.
func inside(m []idMapRun, id int) (int, bool) {
	for _, r := range m {
		if id >= int(r.Outside) && id-int(r.Outside) < int(r.Count) {
			return int(r.Inside) + id - int(r.Outside), true
		}
	}
	return 0, false
}

// recordUserNS sets d.meta.UserNS for a process in a user namespace other
// than the checkpointer's, or refuses it (see above).
func (d *dumper) recordUserNS() error {
	own, err := nsInode(d.pid, "user")
	if err != nil {
		return nil // a zombie
	}
	self, err := selfNSInode("user")
	if err != nil || own == self {
		return nil
	}
	refuse := func(format string, args ...any) error {
		return d.uncheckpointable(-1, fmt.Sprintf(": a user namespace of its own (user:[%d]) ", own)+fmt.Sprintf(format, args...))
	}
	if len(d.tids) > 1 {
		// Its threads get their tids through ns_last_pid (lastpid.go),
		// which sets the innermost level only.
		mine, err1 := nsInode(d.pid, "pid")
		root, err2 := nsInode(d.tree.rootPID, "pid")
		if err1 != nil || err2 != nil || mine != root {
			return refuse("with %d threads, in a PID namespace made in the tree, is not checkpointable: its threads could not be given their ids back", len(d.tids))
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): its user namespace: %w", d.comm, d.pid, err)
	}
	defer f.Close()
	if parent, err := nsFDInode(f, nsGetParent); err != nil {
		return fmt.Errorf("%s(%d): the parent of its user namespace: %w", d.comm, d.pid, err)
	} else if parent != self {
		return refuse("inside another user namespace is not checkpointable: the restart could not write its maps")
	}
	var owner uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&owner))); e != 0 {
		return fmt.Errorf("%s(%d): the owner of its user namespace: %w", d.comm, d.pid, e)
	}
	u := &userNS{Owner: int(owner)}
	if d.parent == nil {
		u.Made = true
	} else if p, err := nsInode(d.parent.pid, "user"); err != nil || p != own {
		u.Made = true
	}
	for _, m := range []struct {
		file string
		to   *[]idMapRun
	}{{"uid_map", &u.UIDMap}, {"gid_map", &u.GIDMap}} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", d.pid, m.file))
		if err != nil {
			return fmt.Errorf("%s(%d): %s: %w", d.comm, d.pid, m.file, err)
		}
		if *m.to, err = parseIDMap(data); err != nil {
			return fmt.Errorf("%s(%d): %s: %w", d.comm, d.pid, m.file, err)
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/setgroups", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): setgroups: %w", d.comm, d.pid, err)
	}
	u.SetGroups = strings.TrimSpace(string(data))
	// What its effective uid is inside is set through the map; unmapped
	// it must be the one it had when it made the namespace.
	if _, ok := inside(u.UIDMap, d.meta.Creds.UID[1]); !ok && d.meta.Creds.UID[1] != u.Owner {
		return refuse("maps not its effective uid %d, which is not the namespace's owner %d: not checkpointable", d.meta.Creds.UID[1], u.Owner)
	}
	for _, kind := range []string{"mnt", "uts", "ipc", "net", "pid", "pid_for_children", "time", "time_for_children", "cgroup"} {
		ino, err := nsInode(d.pid, kind)
		if err != nil {
			continue // not in this kernel; no init yet for pid_for_children
		}
		if mine, err := selfNSInode(kind); err == nil && mine == ino {
			continue
		}
		nf, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", d.pid, kind))
		if err != nil {
			continue
		}
		by, err := nsFDInode(nf, nsGetUserns)
		nf.Close()
		if err != nil || by != own {
			continue
		}
		if _, ok := userNSOwnable[kind]; !ok && kind != "net" {
			return refuse("owns its %s namespace (%s:[%d]), made inside it: not checkpointable (the restart would make it outside, where the process has no capability over it)", kind, kind, ino)
		}
		if u.Made && d.parent != nil {
			// Made with the user namespace, or after: not its parent's.
			if p, err := nsInode(d.parent.pid, kind); err == nil && p == ino {
				return refuse("shares its %s namespace (%s:[%d]), which belongs to its user namespace, with its parent, which is outside it: not checkpointable", kind, kind, ino)
			}
		}
		if kind == "net" && !u.Made {
			// Made again with the user namespace only (usernsnet.go):
			// it must be the one its maker made.
			if p, err := nsInode(d.parent.pid, kind); err != nil || p != ino {
				return refuse("made its network namespace (net:[%d]) inside a user namespace it did not make: not checkpointable (the restart makes such a namespace only with its user namespace, by the process that made both)", ino)
			}
		}
		u.Owns = append(u.Owns, kind)
	}
	d.meta.UserNS = u
	return nil
}

// nsFDInode is the inode of the namespace an nsfs ioctl (NS_GET_PARENT,
// NS_GET_USERNS) of f gives.
func nsFDInode(f *os.File, req uintptr) (uint64, error) {
	fd, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, 0)
	if e != 0 {
		return 0, e
	}
	defer unix.Close(int(fd))
	var st unix.Stat_t
	if err := unix.Fstat(int(fd), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// parseIDMap reads a uid_map or gid_map.
func parseIDMap(data []byte) ([]idMapRun, error) {
	var runs []idMapRun
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var v [3]uint64
		for i := range v {
			var err error
			if len(f) != 3 {
				return nil, fmt.Errorf("line %q", sc.Text())
			}
			if v[i], err = strconv.ParseUint(f[i], 10, 32); err != nil {
				return nil, fmt.Errorf("line %q", sc.Text())
			}
		}
		runs = append(runs, idMapRun{uint32(v[0]), uint32(v[1]), uint32(v[2])})
	}
	return runs, nil
}

func formatIDMap(runs []idMapRun) []byte {
	var b bytes.Buffer
	for _, r := range runs {
		fmt.Fprintf(&b, "%d %d %d\n", r.Inside, r.Outside, r.Count)
	}
	return b.Bytes()
}

// checkUserNS is checkMeta's part for UserNS.
func checkUserNS(m *imageMeta) error {
	u := m.UserNS
	if u == nil {
		return nil
	}
	if u.SetGroups != "allow" && u.SetGroups != "deny" {
		return fmt.Errorf("%w: user namespace setgroups %q", ErrCorrupt, u.SetGroups)
	}
	for _, runs := range [][]idMapRun{u.UIDMap, u.GIDMap} {
		if len(runs) > maxIDMapRuns {
			return fmt.Errorf("%w: a user namespace map of %d lines", ErrCorrupt, len(runs))
		}
		for _, r := range runs {
			if r.Count == 0 || uint64(r.Inside)+uint64(r.Count) > 1<<32-1 || uint64(r.Outside)+uint64(r.Count) > 1<<32-1 {
				return fmt.Errorf("%w: user namespace map line %d %d %d", ErrCorrupt, r.Inside, r.Outside, r.Count)
			}
		}
	}
	if u.Owner < 0 {
		return fmt.Errorf("%w: user namespace owner %d", ErrCorrupt, u.Owner)
	}
	if u.owns("net") && (m.NetNS == nil || m.NetNS.Made != u.Made) {
		return fmt.Errorf("%w: a network namespace owned by the user namespace, not made with it", ErrCorrupt)
	}
	return nil
}

// ownUserNS is checkOwner's part: what an owner who is not root may have
// made (see above).
func ownUserNS(u *userNS, uid, gid int) string {
	if u == nil {
		return ""
	}
	if u.Owner != uid {
		return fmt.Sprintf("its user namespace belongs to uid %d", u.Owner)
	}
	for _, m := range []struct {
		name string
		runs []idMapRun
		id   int
	}{{"uid_map", u.UIDMap, uid}, {"gid_map", u.GIDMap, gid}} {
		for _, r := range m.runs {
			if r.Count != 1 || int(r.Outside) != m.id {
				return fmt.Sprintf("the %s of its user namespace maps %d ids from %d, not only the owner's %d", m.name, r.Count, r.Outside, m.id)
			}
		}
	}
	return ""
}

// joinUserNS puts p into its user namespace again (see above). It runs in
// the build while the process is one thread, before its pidfd of ours is
// closed.
func (b *builder) joinUserNS() error {
	p := b.p
	u := p.meta.UserNS
	if u == nil {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("its user namespace (owner %d, uid_map %q): %s", u.Owner, strings.TrimSpace(string(formatIDMap(u.UIDMap))), fmt.Sprintf(format, args...))
	}
	if p.tables.files || p.tables.fs {
		return fail("it shares its parent's descriptor table or working directory, and only a process with its own may enter a user namespace")
	}
	// The parent's namespaces it enters, given to it now: once inside,
	// it may no longer take descriptors of ours (pidfd_getfd).
	uts := p.meta.Attrs.utsShared(p)
	var kinds []string
	if !u.Made {
		kinds = append(kinds, "user")
	}
	if u.owns("mnt") && p.meta.MountNS == nil {
		kinds = append(kinds, "mnt")
	}
	if u.owns("uts") && uts {
		kinds = append(kinds, "uts")
	}
	fds := map[string]uint64{}
	defer func() {
		for _, fd := range fds {
			b.call("close", unix.SYS_CLOSE, fd)
		}
	}()
	for i, kind := range kinds {
		if p.parent == nil {
			return fail("its %s namespace is its parent's, and it has none", kind)
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", p.parent.pid, kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("its parent's %s namespace: %v", kind, err)
		}
		want := b.spareFD + 1 + i
		err = b.takeFD(fd, want, true)
		unix.Close(fd)
		if err != nil {
			return fail("its parent's %s namespace: %v", kind, err)
		}
		fds[kind] = uint64(want)
	}
	// A user namespace made with the network namespace in it, by a
	// helper (usernsnet.go): entered, not made.
	made := -1
	if u.Made && u.owns("net") && p.meta.NetNS != nil {
		if fd, ok := b.r.userNetNS[p.meta.NetNS.ID]; ok {
			want := b.spareFD + 1 + len(kinds)
			if err := b.takeFD(fd, want, true); err != nil {
				return fail("the user namespace made for it: %v", err)
			}
			fds["user"] = uint64(want)
			made = want
		}
	}
	if os.Geteuid() == 0 {
		// Its ids as seen from outside, the owner's as effective uid:
		// the owner makes the namespace, and may enter it.
		c := p.meta.Creds
		if err := b.setIDs(c.Groups, c.GID[0], c.GID[1], c.GID[2], c.UID[0], u.Owner, c.UID[2]); err != nil {
			return fail("%v", err)
		}
	}
	if u.Made && made < 0 {
		if _, err := b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWUSER); err != nil {
			return fail("unshare CLONE_NEWUSER: %v", err)
		}
		if err := writeUserNSMaps(b.pid, u); err != nil {
			return fail("%v", err)
		}
	} else if _, err := b.call("setns", unix.SYS_SETNS, fds["user"], unix.CLONE_NEWUSER); err != nil {
		return fail("enter it (setns): %v", err)
	}
	// Its namespaces that belonged to it, made again inside: the mount
	// namespace a copy of the one the restart made outside (mountns.go),
	// by unshare if it made it, entered if it was its parent's (the
	// working directory entered again: setns leaves it at the root); the
	// UTS namespace likewise, with its names (utsns.go).
	if u.owns("mnt") {
		if fd, ok := fds["mnt"]; ok {
			if _, err := b.call("setns", unix.SYS_SETNS, fd, unix.CLONE_NEWNS); err != nil {
				return fail("enter its parent's mount namespace (setns): %v", err)
			}
			if err := b.enterCwd(); err != nil {
				return err
			}
		} else if _, err := b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWNS); err != nil {
			return fail("its mount namespace (unshare CLONE_NEWNS): %v", err)
		}
	}
	if u.owns("uts") {
		if fd, ok := fds["uts"]; ok {
			if _, err := b.call("setns", unix.SYS_SETNS, fd, unix.CLONE_NEWUTS); err != nil {
				return fail("enter its parent's UTS namespace (setns): %v", err)
			}
		} else if err := b.makeUTS(); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

// setIDs gives the current injection thread supplementary groups, real,
// effective and saved gids and uids.
func (b *builder) setIDs(groups []int, rg, eg, sg, ru, eu, su int) error {
	if err := b.setGroups(groups); err != nil {
		return err
	}
	if _, err := b.call("setresgid", unix.SYS_SETRESGID, uint64(rg), uint64(eg), uint64(sg)); err != nil {
		return fmt.Errorf("setresgid(%d, %d, %d): %w", rg, eg, sg, err)
	}
	if _, err := b.call("setresuid", unix.SYS_SETRESUID, uint64(ru), uint64(eu), uint64(su)); err != nil {
		return fmt.Errorf("setresuid(%d, %d, %d): %w", ru, eu, su, err)
	}
	return nil
}

// setGroups gives the current injection thread supplementary groups.
func (b *builder) setGroups(groups []int) error {
	buf := make([]byte, 4*len(groups))
	for i, g := range groups {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(g))
	}
	p := b.scratch + scratchData
	if len(buf) > 0 {
		var err error
		if p, err = b.put(scratchData, buf); err != nil {
			return err
		}
	}
	if _, err := b.call("setgroups", unix.SYS_SETGROUPS, uint64(len(groups)), p); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	return nil
}

// nsCreds is c seen from inside user namespace u: each id through its
// map, -1 (left as it is) where the map has none, and the groups left out
// (set from outside by joinUserNS: with setgroups denied they cannot be
// set inside).
func nsCreds(u *userNS, c creds) creds {
	var in creds
	for i := range c.UID {
		in.UID[i], in.GID[i] = -1, -1
		if v, ok := inside(u.UIDMap, c.UID[i]); ok {
			in.UID[i] = v
		}
		if v, ok := inside(u.GIDMap, c.GID[i]); ok {
			in.GID[i] = v
		}
	}
	return in
}

// restoreNSCreds is restoreThreadCreds inside user namespace u: c (as
// seen from outside) set through the maps, checked from outside.
func (b *builder) restoreNSCreds(u *userNS, c creds) error {
	in := nsCreds(u, c)
	if !slices.Equal(c.Groups, b.p.meta.Creds.Groups) {
		// A thread's groups of its own (the raw setgroups, inside: the
		// process's were set from outside by joinUserNS), set inside
		// through the map while it still has CAP_SETGID there.
		if u.SetGroups != "allow" {
			return fmt.Errorf("groups %v of its own in a user namespace whose setgroups is %q", c.Groups, u.SetGroups)
		}
		groups := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			v, ok := inside(u.GIDMap, g)
			if !ok {
				return fmt.Errorf("group %d of its own is not mapped in its user namespace", g)
			}
			groups[i] = v
		}
		if err := b.setGroups(groups); err != nil {
			return fmt.Errorf("in its user namespace: %w", err)
		}
	}
	if _, err := b.call("setresgid", unix.SYS_SETRESGID, uint64(in.GID[0]), uint64(in.GID[1]), uint64(in.GID[2])); err != nil {
		return fmt.Errorf("setresgid(%d, %d, %d) in its user namespace: %w", in.GID[0], in.GID[1], in.GID[2], err)
	}
	if _, err := b.call("setresuid", unix.SYS_SETRESUID, uint64(in.UID[0]), uint64(in.UID[1]), uint64(in.UID[2])); err != nil {
		return fmt.Errorf("setresuid(%d, %d, %d) in its user namespace: %w", in.UID[0], in.UID[1], in.UID[2], err)
	}
	if in.GID[3] >= 0 {
		b.call("setfsgid", unix.SYS_SETFSGID, uint64(in.GID[3]))
	}
	if in.UID[3] >= 0 {
		b.call("setfsuid", unix.SYS_SETFSUID, uint64(in.UID[3]))
	}
	st, err := readStatus(b.t.pid)
	if err != nil {
		return err
	}
	if st.UID != c.UID || st.GID != c.GID || !slices.Equal(st.Groups, c.Groups) {
		return fmt.Errorf("ids in its user namespace after restore: uids %v gids %v groups %v, want %v %v %v", st.UID, st.GID, st.Groups, c.UID, c.GID, c.Groups)
	}
	return nil
}
