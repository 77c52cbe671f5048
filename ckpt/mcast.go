package ckpt

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Multicast group memberships of UDP sockets.
//
// The kernel lists no socket's memberships, but it lists the groups of
// each interface of a network namespace (/proc/PID/net/igmp and igmp6,
// read in the namespace of the process), and getsockopt(MCAST_MSFILTER)
// of one (interface index, group) on a socket answers its filter mode and
// sources when the socket is a member, EADDRNOTAVAIL when it is not: a
// read-only probe, made on the engine's copy of the descriptor (the same
// socket; the index is looked up in the socket's namespace, not ours). So
// every group listed is probed on every UDP socket, except the groups the
// kernel joins by itself on every interface (all-hosts, all-nodes...) while
// nobody else has: a process without memberships costs one small read
// (two with an IPv6 socket) and no probe.
//
// A membership is saved with its interface's name: a namespace made again
// (a batch job's, fresh at each restart) or an interface made again gives
// new indexes, so the restart looks the name up in the new socket's
// namespace, and an interface that is no longer there fails the restart
// naming it, rather than the program silently receiving nothing. The
// restart joins before the socket is bound, so no datagram a filter
// refuses can be queued in between: an INCLUDE membership joins with its
// first source (MCAST_JOIN_SOURCE_GROUP), an EXCLUDE one with none
// (MCAST_JOIN_GROUP), then MCAST_MSFILTER sets the exact source list.
//
// IP_MULTICAST_IF of an IPv4 socket is saved as the address getsockopt
// gives back; an interface chosen by index alone (struct ip_mreqn) is not
// visible to getsockopt and comes back as the default.

// mcastState is what a UDP socket keeps of multicast.
type mcastState struct {
	Groups []mcastGroup `json:"groups,omitempty"`
	// IfAddr is IP_MULTICAST_IF (an IPv4 address); IfName
	// IPV6_MULTICAST_IF, by interface name.
	IfAddr string `json:"if_addr,omitempty"`
	IfName string `json:"if_name,omitempty"`
}

// mcastGroup is one membership: group on interface Iface, with its source
// filter (MCAST_EXCLUDE with no sources: any source).
type mcastGroup struct {
	Iface   string   `json:"iface"`
	Index   int      `json:"index"` // at checkpoint, for messages
	Group   string   `json:"group"`
	Mode    string   `json:"mode"` // mcastInclude, mcastExclude
	Sources []string `json:"sources,omitempty"`
}

const (
	mcastInclude = "include"
	mcastExclude = "exclude"
)

// ifGroup is a group an interface of the namespace has joined.
type ifGroup struct {
	index int
	iface string
	group netip.Addr
}

// mcastTable is what a dumper reads once of its namespace's groups: the
// IPv4 ones, and the IPv6 ones only for a process with an IPv6 socket.
type mcastTable struct {
	v4, v6       []ifGroup
	err4, err6   error
	read4, read6 bool
}

// kernelGroups are joined by the kernel itself on every interface (with
// one user): all-hosts, all-nodes (interface- and link-local), all-routers.
var kernelGroups = map[netip.Addr]bool{
	netip.MustParseAddr("224.0.0.1"): true,
	netip.MustParseAddr("ff01::1"):   true,
	netip.MustParseAddr("ff02::1"):   true,
	netip.MustParseAddr("ff01::2"):   true,
	netip.MustParseAddr("ff02::2"):   true,
	netip.MustParseAddr("ff05::2"):   true,
}

// solicitedNode is ff02::1:ff00:0/104, the groups the kernel joins for its
// IPv6 addresses.
var solicitedNode = netip.MustParsePrefix("ff02::1:ff00:0/104")

// kernelOnly reports whether a group with users joiners is only the
// kernel's own membership: a socket's join adds a user.
func kernelOnly(g netip.Addr, users int) bool {
	return users <= 1 && (kernelGroups[g] || solicitedNode.Contains(g))
}

// mcastGroups returns the groups of d's network namespace that a socket
// of family may have joined, read once per process: an IPv6 socket may
// join IPv4 groups too (its SOL_IP options are those of UDP over IPv4).
func (d *dumper) mcastGroups(family int) ([]ifGroup, error) {
	if d.mcast == nil {
		d.mcast = &mcastTable{}
	}
	t := d.mcast
	if !t.read4 {
		t.v4, t.err4 = readIGMP(d.pid)
		t.read4 = true
	}
	if t.err4 != nil || family != unix.AF_INET6 {
		return t.v4, t.err4
	}
	if !t.read6 {
		t.v6, t.err6 = readIGMP6(d.pid)
		t.read6 = true
	}
	return append(t.v4[:len(t.v4):len(t.v4)], t.v6...), t.err6
}

// readIGMP parses /proc/PID/net/igmp: a header, then a line per interface
// ("Idx Device : Count Querier") followed by a tab-indented line per group
// (the address as the hex of its 32 bits in host order, then its users).
func readIGMP(pid int) ([]ifGroup, error) {
	var out []ifGroup
	path := fmt.Sprintf("/proc/%d/net/igmp", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	idx, iface := 0, ""
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		if line[0] != '\t' && line[0] != ' ' {
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %q: unexpected line", path, line)
			}
			idx, iface = n, f[1]
			continue
		}
		v, err1 := strconv.ParseUint(f[0], 16, 32)
		users, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || iface == "" {
			return nil, fmt.Errorf("%s: %q: unexpected line", path, line)
		}
		var a [4]byte
		binary.LittleEndian.PutUint32(a[:], uint32(v))
		if g := netip.AddrFrom4(a); !kernelOnly(g, users) {
			out = append(out, ifGroup{idx, iface, g})
		}
	}
	return out, nil
}

// readIGMP6 parses /proc/PID/net/igmp6: a line per group ("idx name
// group-hex users flags timer").
func readIGMP6(pid int) ([]ifGroup, error) {
	var out []ifGroup
	path := fmt.Sprintf("/proc/%d/net/igmp6", pid)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a kernel without IPv6
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		n, err1 := strconv.Atoi(f[0])
		raw, err2 := hex.DecodeString(f[2])
		users, err3 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || err3 != nil || len(raw) != 16 {
			return nil, fmt.Errorf("%s: %q: unexpected line", path, line)
		}
		if g := netip.AddrFrom16([16]byte(raw)); !kernelOnly(g, users) {
			out = append(out, ifGroup{n, f[1], g})
		}
	}
	return out, nil
}

// struct group_filter and struct group_source_req (linux/in.h) on
// 64-bit: a 32-bit index, a sockaddr_storage aligned to 8 bytes, then for
// group_filter the mode, the number of sources and the sources.
const (
	ssSize          = 128
	gfGroupOff      = 8
	gfModeOff       = gfGroupOff + ssSize
	gfNumOff        = gfModeOff + 4
	gfSourcesOff    = gfNumOff + 4
	gsrSize         = 8 + 2*ssSize
	maxProbeSources = 1 << 16
)

// putSockaddr writes a as a struct sockaddr_in or sockaddr_in6 (port 0).
func putSockaddr(b []byte, a netip.Addr) {
	if a.Is4() {
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		ip := a.As4()
		copy(b[4:], ip[:])
		return
	}
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	ip := a.As16()
	copy(b[8:], ip[:])
}

func getSockaddr(b []byte) (netip.Addr, bool) {
	switch binary.LittleEndian.Uint16(b) {
	case unix.AF_INET:
		return netip.AddrFrom4([4]byte(b[4:8])), true
	case unix.AF_INET6:
		return netip.AddrFrom16([16]byte(b[8:24])), true
	}
	return netip.Addr{}, false
}

func mcastLevel(g netip.Addr) int {
	if g.Is4() {
		return unix.IPPROTO_IP
	}
	return unix.IPPROTO_IPV6
}

// probeGroup asks socket s whether it is a member of group ig.group on
// interface ig.index, and with which filter: nil, nil when not.
func probeGroup(s int, ig ifGroup) (*mcastGroup, error) {
	for n := 0; ; {
		buf := make([]byte, gfSourcesOff+n*ssSize)
		binary.LittleEndian.PutUint32(buf, uint32(ig.index))
		putSockaddr(buf[gfGroupOff:], ig.group)
		binary.LittleEndian.PutUint32(buf[gfNumOff:], uint32(n))
		l := uint32(len(buf))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), uintptr(mcastLevel(ig.group)), unix.MCAST_MSFILTER, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e == unix.EADDRNOTAVAIL {
			return nil, nil
		}
		if e != 0 {
			return nil, fmt.Errorf("MCAST_MSFILTER %s on %s: %w", ig.group, ig.iface, e)
		}
		count := int(binary.LittleEndian.Uint32(buf[gfNumOff:]))
		if count > n {
			// The sources did not fit: ask again with room for all.
			if count > maxProbeSources {
				return nil, fmt.Errorf("MCAST_MSFILTER %s on %s: %d sources", ig.group, ig.iface, count)
			}
			n = count
			continue
		}
		m := &mcastGroup{Iface: ig.iface, Index: ig.index, Group: ig.group.String(), Mode: mcastExclude}
		if binary.LittleEndian.Uint32(buf[gfModeOff:]) == unix.MCAST_INCLUDE {
			m.Mode = mcastInclude
		}
		for i := 0; i < count; i++ {
			a, ok := getSockaddr(buf[gfSourcesOff+i*ssSize:])
			if !ok {
				return nil, fmt.Errorf("MCAST_MSFILTER %s on %s: source %d of an unknown family", ig.group, ig.iface, i)
			}
			m.Sources = append(m.Sources, a.String())
		}
		return m, nil
	}
}

// describeMcast reads the memberships and multicast options of UDP
// socket s (the dumper's copy) into is; refuse names what cannot be read.
func (d *dumper) describeMcast(s int, is *inetSock) (refuse string) {
	ms := &mcastState{}
	groups, err := d.mcastGroups(is.Family)
	if err != nil {
		return fmt.Sprintf("is socket (UDP %s: multicast groups of its network namespace: %v)", is.Local, err)
	}
	for _, ig := range groups {
		m, err := probeGroup(s, ig)
		if err != nil {
			return fmt.Sprintf("is socket (UDP %s: %v)", is.Local, err)
		}
		if m != nil {
			ms.Groups = append(ms.Groups, *m)
		}
	}
	if is.Family == unix.AF_INET {
		if a, err := unix.GetsockoptInet4Addr(s, unix.IPPROTO_IP, unix.IP_MULTICAST_IF); err == nil && a != [4]byte{} {
			ms.IfAddr = netip.AddrFrom4(a).String()
		}
	} else if idx, err := unix.GetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF); err == nil && idx != 0 {
		name, err := ifName(s, idx)
		if err != nil {
			return fmt.Sprintf("is socket (UDP %s: IPV6_MULTICAST_IF interface %d: %v)", is.Local, idx, err)
		}
		ms.IfName = name
	}
	if len(ms.Groups) > 0 || ms.IfAddr != "" || ms.IfName != "" {
		is.Mcast = ms
	}
	return ""
}

// ifName and ifIndex translate between an interface's index and name in
// the network namespace of socket s.
func ifName(s, index int) (string, error) {
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return "", err
	}
	ifr.SetUint32(uint32(index))
	if err := unix.IoctlIfreq(s, unix.SIOCGIFNAME, ifr); err != nil {
		return "", err
	}
	return ifr.Name(), nil
}

func ifIndex(s int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// restoreMcast joins the new socket s to the groups of ms, each with its
// filter, and sets its multicast interface; the socket is not bound yet.
func restoreMcast(s int, ms *mcastState) error {
	if ms.IfAddr != "" {
		a, err := netip.ParseAddr(ms.IfAddr)
		if err != nil || !a.Is4() {
			return fmt.Errorf("IP_MULTICAST_IF %q: %w", ms.IfAddr, ErrCorrupt)
		}
		if err := unix.SetsockoptInet4Addr(s, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, a.As4()); err != nil {
			return fmt.Errorf("IP_MULTICAST_IF %s: %w", a, err)
		}
	}
	if ms.IfName != "" {
		idx, err := ifIndex(s, ms.IfName)
		if err != nil {
			return fmt.Errorf("IPV6_MULTICAST_IF: interface %s: %w", ms.IfName, err)
		}
		if err := unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, idx); err != nil {
			return fmt.Errorf("IPV6_MULTICAST_IF %s: %w", ms.IfName, err)
		}
	}
	for _, m := range ms.Groups {
		if err := joinGroup(s, m); err != nil {
			return fmt.Errorf("multicast group %s on %s (index %d at checkpoint): %w", m.Group, m.Iface, m.Index, err)
		}
	}
	return nil
}

func joinGroup(s int, m mcastGroup) error {
	g, err := netip.ParseAddr(m.Group)
	if err != nil || !g.IsMulticast() {
		return fmt.Errorf("group: %w", ErrCorrupt)
	}
	srcs := make([]netip.Addr, len(m.Sources))
	for i, src := range m.Sources {
		if srcs[i], err = netip.ParseAddr(src); err != nil || srcs[i].Is4() != g.Is4() {
			return fmt.Errorf("source %q: %w", src, ErrCorrupt)
		}
	}
	if m.Mode != mcastInclude && m.Mode != mcastExclude || m.Mode == mcastInclude && len(srcs) == 0 {
		return fmt.Errorf("filter mode %q with %d sources: %w", m.Mode, len(srcs), ErrCorrupt)
	}
	idx, err := ifIndex(s, m.Iface)
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("interface %s does not exist here", m.Iface)
	}
	if err != nil {
		return fmt.Errorf("interface %s: %w", m.Iface, err)
	}
	level := mcastLevel(g)
	setsockopt := func(name string, opt int, b []byte) error {
		_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(s), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0)
		if e != 0 {
			return fmt.Errorf("%s: %w", name, e)
		}
		return nil
	}
	if m.Mode == mcastInclude {
		req := make([]byte, gsrSize)
		binary.LittleEndian.PutUint32(req, uint32(idx))
		putSockaddr(req[8:], g)
		putSockaddr(req[8+ssSize:], srcs[0])
		if err := setsockopt("MCAST_JOIN_SOURCE_GROUP", unix.MCAST_JOIN_SOURCE_GROUP, req); err != nil {
			return err
		}
		if len(srcs) == 1 {
			return nil
		}
	} else {
		req := make([]byte, 8+ssSize) // struct group_req
		binary.LittleEndian.PutUint32(req, uint32(idx))
		putSockaddr(req[8:], g)
		if err := setsockopt("MCAST_JOIN_GROUP", unix.MCAST_JOIN_GROUP, req); err != nil {
			return err
		}
		if len(srcs) == 0 {
			return nil
		}
	}
	gf := make([]byte, gfSourcesOff+len(srcs)*ssSize)
	binary.LittleEndian.PutUint32(gf, uint32(idx))
	putSockaddr(gf[gfGroupOff:], g)
	mode := uint32(unix.MCAST_EXCLUDE)
	if m.Mode == mcastInclude {
		mode = unix.MCAST_INCLUDE
	}
	binary.LittleEndian.PutUint32(gf[gfModeOff:], mode)
	binary.LittleEndian.PutUint32(gf[gfNumOff:], uint32(len(srcs)))
	for i, a := range srcs {
		putSockaddr(gf[gfSourcesOff+i*ssSize:], a)
	}
	return setsockopt("MCAST_MSFILTER", unix.MCAST_MSFILTER, gf)
}
