package ckpt

// Network namespaces that belong to a user namespace of the tree. An
// ordinary user's `unshare -rn`, bubblewrap's --unshare-user
// --unshare-net, a rootless container: one unshare (or clone) of
// CLONE_NEWUSER|CLONE_NEWNET makes the user namespace first and the
// network namespace inside it, so that the process has CAP_NET_ADMIN over
// its network (it brings its loopback up) and none over the host's. Made
// in the restart's user namespace (netns.go alone) the namespace would
// belong to the wrong one: the process, once in its user namespace again,
// could no longer touch its own interfaces.
//
// The restart makes the two together, as they were made, in a helper: a
// process of ours (/proc/self/exe, traced and stopped at its exec, so that
// none of its code runs) that takes the maker's ids as they were seen from
// outside with the namespace's owner as effective uid, unshares
// CLONE_NEWUSER|CLONE_NEWNET, and gets the saved setgroups, uid_map and
// gid_map written to it by the restorer. The restorer keeps a descriptor
// of each namespace and the helper is killed. The maker, still root
// outside, enters the network namespace before its children are cloned
// (setns: they are then in it too) and its sockets are made in it as in
// netns.go; once its memory and descriptors are in place it enters the
// user namespace (userns.go) instead of making a new one. The other
// processes of the namespaces inherit both, as before.
//
// Only root can do this: entering a network namespace needs CAP_SYS_ADMIN
// in the caller's own user namespace too. A restart that is not root
// fails (with -F the process gets the restart's network, and a warning).
// Refused at checkpoint (userns.go): a network namespace made inside a
// user namespace by a process that did not make the user namespace.

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// makeUserNetNS makes p's user and network namespaces in a helper (see
// above) and returns a descriptor of each.
func (r *restorer) makeUserNetNS(p *rproc) (userNS, netNS int, err error) {
	u := p.meta.UserNS
	userNS, netNS = -1, -1
	h, err := os.StartProcess("/proc/self/exe", []string{"lazarus-userns-maker"}, &os.ProcAttr{
		Dir: "/", Env: []string{}, Sys: &syscall.SysProcAttr{Ptrace: true}})
	if err != nil {
		return -1, -1, fmt.Errorf("start a helper: %w", err)
	}
	defer func() {
		h.Kill()
		h.Wait()
	}()
	if _, err := waitStop(h.Pid); err != nil {
		return -1, -1, fmt.Errorf("the helper's exec: %w", err)
	}
	if err := unix.PtraceSetOptions(h.Pid, unix.PTRACE_O_EXITKILL); err != nil {
		return -1, -1, wrapPtrace("setoptions", h.Pid, err)
	}
	b, err := newBuilder(&restorer{}, &rproc{meta: &imageMeta{Comm: "lazarus-userns-maker"}}, h.Pid, 0)
	if err != nil {
		return -1, -1, err
	}
	defer b.mem.Close()
	// The owner of a user namespace is the effective uid of its maker.
	c := p.meta.Creds
	if err := b.setIDs(c.Groups, c.GID[0], c.GID[1], c.GID[2], c.UID[0], u.Owner, c.UID[2]); err != nil {
		return -1, -1, err
	}
	if _, err := b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWUSER|unix.CLONE_NEWNET); err != nil {
		return -1, -1, fmt.Errorf("unshare CLONE_NEWUSER|CLONE_NEWNET: %w", err)
	}
	if err := writeUserNSMaps(h.Pid, u); err != nil {
		return -1, -1, err
	}
	if userNS, err = unix.Open(fmt.Sprintf("/proc/%d/ns/user", h.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return -1, -1, fmt.Errorf("the helper's user namespace: %w", err)
	}
	if netNS, err = unix.Open(fmt.Sprintf("/proc/%d/ns/net", h.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		unix.Close(userNS)
		return -1, -1, fmt.Errorf("the helper's network namespace: %w", err)
	}
	return userNS, netNS, nil
}

// writeUserNSMaps writes u's setgroups, uid_map and gid_map to the user
// namespace pid has just made.
func writeUserNSMaps(pid int, u *userNS) error {
	for _, w := range []struct {
		file string
		data []byte
	}{{"setgroups", []byte(u.SetGroups)}, {"uid_map", formatIDMap(u.UIDMap)}, {"gid_map", formatIDMap(u.GIDMap)}} {
		if w.file == "setgroups" && u.SetGroups == "allow" || len(w.data) == 0 {
			continue // as it is made
		}
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, w.file), w.data, 0); err != nil {
			return fmt.Errorf("write %s: %w", w.file, err)
		}
	}
	return nil
}

// enterUserNetNS puts p, before its children are cloned, into the
// network namespace of its user namespace, made by makeUserNetNS; it
// returns our descriptor of the network namespace.
func (r *restorer) enterUserNetNS(p *rproc) (int, error) {
	n := p.meta.NetNS
	if os.Geteuid() != 0 {
		return -1, r.forceable(r.fail(p, fmt.Errorf("its network namespace (net:[%d]), made inside its user namespace, cannot be made again (entering it needs root; -F restores it in restart's)", n.ID)))
	}
	user, net, err := r.makeUserNetNS(p)
	if err != nil {
		return -1, r.fail(p, fmt.Errorf("its user and network namespaces (net:[%d]): %w", n.ID, err))
	}
	if r.userNetNS == nil {
		r.userNetNS = map[uint64]int{}
	}
	if old, ok := r.userNetNS[n.ID]; ok {
		unix.Close(old)
	}
	r.userNetNS[n.ID] = user
	// Its descriptors are not built yet: the namespace goes at any free
	// number, through the pidfd of ours it inherited.
	fd, err := p.b.call("pidfd_getfd", unix.SYS_PIDFD_GETFD, r.pidfd, uint64(net), 0)
	if err != nil {
		unix.Close(net)
		return -1, r.fail(p, fmt.Errorf("its network namespace (pidfd_getfd): %w", err))
	}
	_, err = p.b.call("setns", unix.SYS_SETNS, fd, unix.CLONE_NEWNET)
	p.b.call("close", unix.SYS_CLOSE, fd)
	if err != nil {
		unix.Close(net)
		return -1, r.fail(p, fmt.Errorf("enter its network namespace (setns): %w", err))
	}
	return net, nil
}
