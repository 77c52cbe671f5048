package ckpt

// Network namespaces made in the tree. A process that unshared
// CLONE_NEWNET (`unshare -n`, bubblewrap's --unshare-net, a sandbox that
// cuts a program off the network), or was cloned with it, is in a network
// namespace of its own; its descendants are in it too. Restored in the
// restart's namespace it would be a look-alike with the host's network
// in reach: a sandbox opened by its restart. Such a namespace is saved
// with the process that made it (imageMeta.NetNS: Made, the state of its
// loopback interface) and every other process in it names it (ID, its
// inode at the checkpoint). The restart makes it again: the maker
// unshares CLONE_NEWNET before its children are cloned (they are then in
// it), and the restorer brings its loopback to the state it had. The
// sockets of the processes in it (TCP, UDP, unix: an abstract name
// belongs to a network namespace) are made in it by a restorer thread
// that enters it for the moment (inNet): a socket belongs to the
// namespace of the task that made it.
//
// Only a namespace with nothing but its loopback is made again: one with
// another interface (a veth pair, a tunnel brought in, a macvlan), an
// address or a route the kernel did not put there itself is refused at
// checkpoint, naming what is there, and so is a process in another
// network namespace than its parent's that did not make it (it entered
// one with setns, or was forked before its parent unshared), and a thread
// in another one than its main thread. The fallback devices a kernel
// makes in every new namespace (sit0, tunl0, ip6tnl0... when their
// modules are loaded) come back by themselves. A batch job's own
// namespace (qsub -l net=private) is one of these: the restart makes a
// fresh one with loopback up, inside the supervisor's.
//
// Not saved: the namespace's sysctls (net.*), netfilter rules and traffic
// control; a program that changed them finds the defaults.

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// netNS is imageMeta.NetNS: set for a process whose network namespace is
// not the checkpointer's.
type netNS struct {
	ID uint64 `json:"id"` // the namespace's inode at the checkpoint
	// Made: the process made it (its parent, for the root the
	// checkpointer, is in another); the state of the loopback is saved
	// with it.
	Made bool `json:"made,omitempty"`
	LoUp bool `json:"lo_up,omitempty"`
	// LoWasUp: the loopback is down but was up (127.0.0.1 stays on it).
	LoWasUp bool `json:"lo_was_up,omitempty"`
	LoMTU   int  `json:"lo_mtu,omitempty"`
}

// freshLoMTU is the loopback MTU of a new namespace.
const freshLoMTU = 65536

// recordNetNS sets d.meta.NetNS, or refuses a network namespace the
// restart could not make again (see above).
func (d *dumper) recordNetNS() error {
	own, made, ours, err := d.nsMember("net")
	if err != nil || ours {
		return err
	}
	if !made {
		d.meta.NetNS = &netNS{ID: own}
		return nil
	}
	n := &netNS{ID: own, Made: true}
	if err := inspectNetNS(d.pid, n); err != nil {
		var ue *UncheckpointableError
		if !errors.As(err, &ue) {
			return fmt.Errorf("%s(%d): its network namespace (net:[%d]): %w", d.comm, d.pid, own, err)
		}
		msg := fmt.Sprintf("its network namespace (net:[%d], made by unshare or clone CLONE_NEWNET) %s: not checkpointable (only a namespace with its loopback alone is made again)", own, ue.Msg)
		if !d.opts.Force {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: msg}
		}
		d.warn("%s(%d): %s (forced: restored with its loopback alone)", d.comm, d.pid, msg)
	}
	d.meta.NetNS = n
	return nil
}

// nsKindNames name the kinds nsMember handles.
var nsKindNames = map[string]string{"net": "network", "cgroup": "cgroup"}

// nsMember is the part recordNetNS and recordCgroupNS share: the inode of
// the process's namespace of kind, whether the process made it (its
// parent, for the root the checkpointer, is in another), and ours: it is
// the checkpointer's as its parent's is (a zombie's too), nothing to save.
// Refused: a thread in another namespace than its main thread, a process
// in the checkpointer's under a parent in another, one in a namespace that
// another process of the tree made (setns, or forked before its parent
// unshared).
func (d *dumper) nsMember(kind string) (own uint64, made, ours bool, err error) {
	name := nsKindNames[kind]
	own, err = nsInode(d.pid, kind)
	if err != nil {
		return 0, false, true, nil // a zombie, or no such namespaces
	}
	self, err := selfNSInode(kind)
	if err != nil {
		return 0, false, true, nil
	}
	refuse := func(format string, args ...any) error {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(format, args...)}
	}
	for _, tid := range d.tids[1:] {
		if t, err := nsInode(tid, kind); err == nil && t != own {
			return 0, false, false, refuse("thread %d is in another %s namespace (%s:[%d]) than its main thread (%s:[%d]): not checkpointable", tid, name, kind, t, kind, own)
		}
	}
	parent := self
	if d.parent != nil {
		if parent, err = nsInode(d.parent.pid, kind); err != nil {
			return 0, false, false, fmt.Errorf("%s(%d): the %s namespace of its parent: %w", d.comm, d.pid, name, err)
		}
	}
	switch {
	case own == self && own == parent:
		return own, false, true, nil
	case own == parent:
		return own, false, false, nil
	case own == self:
		return 0, false, false, refuse("is in the %s namespace of the checkpoint (%s:[%d]) while its parent %s(%d) is in one of its own (%s:[%d]): not checkpointable (the restart makes a namespace only for the process that made it)", name, kind, own, d.parent.comm, d.parent.pid, kind, parent)
	}
	if d.tree != nil {
		if d.tree.nsMakers == nil {
			d.tree.nsMakers = map[string]map[uint64]*dumper{}
		}
		makers := d.tree.nsMakers[kind]
		if makers == nil {
			makers = map[uint64]*dumper{}
			d.tree.nsMakers[kind] = makers
		}
		if m := makers[own]; m != nil {
			return 0, false, false, refuse("is in the %s namespace %s:[%d] of %s(%d), which is not its parent's: not checkpointable (entered with setns, or forked before its parent made another)", name, kind, own, m.comm, m.pid)
		}
		makers[own] = d
	}
	return own, true, false, nil
}

// inspectNetNS reads the loopback state of pid's network namespace into
// n, and refuses (an *UncheckpointableError whose Msg says what is there)
// an interface, address or route the restart would not make.
func inspectNetNS(pid int, n *netNS) error {
	fresh, err := freshLinks()
	if err != nil {
		return fmt.Errorf("a new network namespace's interfaces: %w", err)
	}
	var links []link
	var addrs []netAddr
	var routes []netRoute
	err = inNetOf(pid, func() error {
		var err error
		if links, err = netLinks(); err != nil {
			return err
		}
		if addrs, err = netAddrs(); err != nil {
			return err
		}
		routes, err = netRoutes()
		return err
	})
	if err != nil {
		return err
	}
	var extra []string
	lo := -1
	for _, l := range links {
		switch {
		case l.name == "lo":
			lo = l.index
			n.LoUp = l.flags&unix.IFF_UP != 0
			n.LoMTU = l.mtu
		case !slices.Contains(fresh, l.name):
			extra = append(extra, "interface "+l.name)
		}
	}
	v4 := netip.MustParsePrefix("127.0.0.1/8")
	v6 := netip.MustParsePrefix("::1/128")
	for _, a := range addrs {
		switch {
		case a.index == lo && a.prefix == v4:
			if !n.LoUp {
				n.LoWasUp = true
			}
		case a.index == lo && a.prefix == v6 && n.LoUp:
		default:
			extra = append(extra, "address "+a.prefix.String()+" on "+linkName(links, a.index))
		}
	}
	for _, r := range routes {
		if r.protocol != unix.RTPROT_KERNEL {
			extra = append(extra, fmt.Sprintf("route %s (protocol %d)", r.dst, r.protocol))
		}
	}
	if n.LoUp && !slices.ContainsFunc(addrs, func(a netAddr) bool { return a.index == lo && a.prefix == v4 }) {
		extra = append(extra, "loopback up without 127.0.0.1")
	}
	if len(extra) > 0 {
		return &UncheckpointableError{Msg: "has " + strings.Join(extra, ", ")}
	}
	return nil
}

func linkName(links []link, index int) string {
	for _, l := range links {
		if l.index == index {
			return l.name
		}
	}
	return fmt.Sprintf("interface %d", index)
}

// inNetOf runs f on a thread in pid's network namespace (setns changes
// the calling thread only).
func inNetOf(pid int, f func() error) error {
	return inNSOf(pid, "net", unix.CLONE_NEWNET, f)
}

// onNSThread runs f on a thread locked for it in the namespace ns (a
// descriptor, or -1: a new namespace) of type flag (CLONE_NEWNET...), and
// puts the thread back in its own namespace afterwards. A thread that
// cannot go back stays locked and ends with its goroutine; the Go runtime
// cannot end the main thread, which would be left in the namespace for
// good, where /proc/PID/ns shows it as the process's: so it goes back
// always (it is not given up).
func onNSThread(ns, flag int, f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := unix.Open("/proc/thread-self/ns/"+nsKinds[flag], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer unix.Close(back)
		if ns < 0 {
			err = unix.Unshare(flag)
		} else {
			err = unix.Setns(ns, flag)
		}
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("enter the namespace: %w", err)
			return
		}
		err = f()
		if e := unix.Setns(back, flag); e != nil {
			ch <- fmt.Errorf("back to our %s namespace: %w", nsKinds[flag], e)
			return // still locked: the thread ends with the goroutine
		}
		runtime.UnlockOSThread()
		ch <- err
	}()
	return <-ch
}

// nsKinds names the namespaces onNSThread enters under /proc/PID/ns.
var nsKinds = map[int]string{unix.CLONE_NEWNET: "net", unix.CLONE_NEWCGROUP: "cgroup"}

var fresh struct {
	sync.Once
	names []string
	err   error
}

// freshLinks are the interfaces of a new network namespace: loopback,
// and the fallback devices of the tunnel modules loaded.
func freshLinks() ([]string, error) {
	fresh.Do(func() {
		fresh.err = onNSThread(-1, unix.CLONE_NEWNET, func() error {
			links, err := netLinks()
			for _, l := range links {
				fresh.names = append(fresh.names, l.name)
			}
			return err
		})
	})
	return fresh.names, fresh.err
}

type link struct {
	index int
	name  string
	flags uint32
	mtu   int
}

type netAddr struct {
	index  int
	prefix netip.Prefix
}

type netRoute struct {
	dst      string
	protocol uint8
}

// netDump is a netlink route dump of this thread's namespace.
func netDump(req, family int) ([]syscall.NetlinkMessage, error) {
	b, err := syscall.NetlinkRIB(req, family)
	if err != nil {
		return nil, err
	}
	return syscall.ParseNetlinkMessage(b)
}

func netLinks() ([]link, error) {
	msgs, err := netDump(unix.RTM_GETLINK, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("interfaces: %w", err)
	}
	var out []link
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		info := (*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		l := link{index: int(info.Index), flags: info.Flags}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, err
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				l.name = strings.TrimRight(string(a.Value), "\x00")
			case unix.IFLA_MTU:
				if len(a.Value) >= 4 {
					l.mtu = int(*(*uint32)(unsafe.Pointer(&a.Value[0])))
				}
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func netAddrs() ([]netAddr, error) {
	msgs, err := netDump(unix.RTM_GETADDR, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("addresses: %w", err)
	}
	var out []netAddr
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		am := (*unix.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		for _, a := range attrs {
			if a.Attr.Type == unix.IFA_LOCAL || (a.Attr.Type == unix.IFA_ADDRESS && !ip.IsValid()) {
				if v, ok := netip.AddrFromSlice(a.Value); ok {
					ip = v
				}
			}
		}
		if ip.IsValid() {
			out = append(out, netAddr{int(am.Index), netip.PrefixFrom(ip, int(am.Prefixlen))})
		}
	}
	return out, nil
}

func netRoutes() ([]netRoute, error) {
	msgs, err := netDump(unix.RTM_GETROUTE, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	var out []netRoute
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
			continue
		}
		rt := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
		dst := "default"
		if attrs, err := syscall.ParseNetlinkRouteAttr(m); err == nil {
			for _, a := range attrs {
				if a.Attr.Type == unix.RTA_DST {
					if v, ok := netip.AddrFromSlice(a.Value); ok {
						dst = netip.PrefixFrom(v, int(rt.Dst_len)).String()
					}
				}
			}
		}
		out = append(out, netRoute{dst, rt.Protocol})
	}
	return out, nil
}

// checkNetNS is checkMeta's part for NetNS.
func checkNetNS(m *imageMeta) error {
	n := m.NetNS
	if n == nil {
		return nil
	}
	if n.ID == 0 || n.LoMTU < 0 || n.LoMTU > 1<<24 || (n.LoUp && n.LoWasUp) || (!n.Made && (n.LoUp || n.LoWasUp || n.LoMTU != 0)) {
		return fmt.Errorf("%w: network namespace %+v", ErrCorrupt, *n)
	}
	return nil
}

// restoreNetNS makes p's network namespace again, before its children are
// cloned, and remembers every namespace made (see above).
func (r *restorer) restoreNetNS(p *rproc) error {
	n := p.meta.NetNS
	if n == nil || !n.Made {
		return nil
	}
	var ns int
	if p.meta.UserNS.owns("net") {
		// Made inside its user namespace (usernsnet.go).
		var err error
		if ns, err = r.enterUserNetNS(p); err != nil || ns < 0 {
			return err
		}
	} else {
		if _, err := p.b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWNET); err != nil {
			return r.forceable(r.fail(p, fmt.Errorf("its network namespace (net:[%d]) cannot be made again (unshare CLONE_NEWNET needs root; -F restores it in restart's): %w", n.ID, err)))
		}
		var err error
		if ns, err = unix.Open(fmt.Sprintf("/proc/%d/ns/net", p.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return r.fail(p, fmt.Errorf("its network namespace: %w", err))
		}
	}
	if r.netns == nil {
		r.netns = map[uint64]int{}
	}
	if old, ok := r.netns[n.ID]; ok {
		unix.Close(old)
	}
	r.netns[n.ID] = ns
	err := onNSThread(ns, unix.CLONE_NEWNET, func() error {
		if n.LoUp || n.LoWasUp {
			if err := setLoopback(true, n.LoMTU); err != nil {
				return err
			}
		}
		if n.LoWasUp {
			return setLoopback(false, 0)
		}
		if !n.LoUp && n.LoMTU != 0 && n.LoMTU != freshLoMTU {
			return setLoopback(false, n.LoMTU)
		}
		return nil
	})
	if err != nil {
		return r.fail(p, fmt.Errorf("the loopback of its network namespace: %w", err))
	}
	return nil
}

// setLoopback sets lo of this thread's network namespace up or down, and
// its MTU (0: as it is).
func setLoopback(up bool, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if mtu != 0 && mtu != freshLoMTU {
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("mtu %d: %w", mtu, err)
		}
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	flags := ifr.Uint16()
	if up {
		flags |= unix.IFF_UP
	} else {
		flags &^= unix.IFF_UP
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set flags %#x: %w", flags, err)
	}
	return nil
}

// inNet runs f on this thread, in the network namespace p is restored in
// (its sockets are made there), and back in ours afterwards. A thread that
// could not come back stays locked to the calling goroutine.
func (r *restorer) inNet(p *rproc, f func() error) error {
	n := p.meta.NetNS
	if n == nil {
		return f()
	}
	ns, ok := r.netns[n.ID]
	if !ok {
		return f() // forced into ours (restoreNetNS)
	}
	runtime.LockOSThread()
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(back)
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the network namespace net:[%d] of the tree: %w", n.ID, err)
	}
	err = f()
	if e := unix.Setns(back, unix.CLONE_NEWNET); e != nil {
		return fmt.Errorf("back to our network namespace: %w", e)
	}
	runtime.UnlockOSThread()
	return err
}

// netKey is the part of a socket's local address key that tells the
// namespaces apart.
func netKey(p *rproc) string {
	if p.meta.NetNS == nil {
		return ""
	}
	return fmt.Sprintf("net:[%d] ", p.meta.NetNS.ID)
}

// closeNetNS closes the namespaces made.
func (r *restorer) closeNetNS() {
	for id, fd := range r.netns {
		unix.Close(fd)
		delete(r.netns, id)
	}
	for id, fd := range r.userNetNS {
		unix.Close(fd)
		delete(r.userNetNS, id)
	}
}
