package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TCP and UDP sockets over IPv4 and IPv6.
//
// A listening or merely bound socket is made again: same family, type,
// options, address (and backlog). A TCP connection comes back only when
// both of its ends are in the tree, through the kernel's repair mode
// (TCP_REPAIR, Linux 3.5+, needs CAP_NET_ADMIN): at checkpoint, while the
// tree is frozen, each end is put in repair mode and its sequence numbers,
// both queues (the send queue with the bytes not yet acknowledged, the
// receive queue with the bytes not yet read), window and negotiated
// options are read; at restart a socket in repair mode is bound and
// "connected" without a handshake, given the same sequence numbers,
// options and queues, and leaves repair mode only once every connection of
// the tree exists (leaving it sends a window probe, which an end not yet
// made would answer with a reset). Bytes the peer already had but not yet
// acknowledged are sent again and dropped by the peer as duplicates, as
// TCP always does.
//
// A UDP socket keeps its address, its connected peer and the datagrams
// waiting in its receive queue, with their senders.

// inetSock is the saved state of one TCP or UDP socket.
type inetSock struct {
	Family  int        `json:"family"` // AF_INET, AF_INET6
	Type    int        `json:"type"`   // SOCK_STREAM, SOCK_DGRAM
	State   string     `json:"state"`  // inetListen, inetEstablished, inetBound...
	Local   string     `json:"local,omitempty"`
	Peer    string     `json:"peer,omitempty"`
	Backlog int        `json:"backlog,omitempty"`
	Opts    []sockOpt  `json:"opts,omitempty"`
	TCP     *tcpRepair `json:"tcp,omitempty"`
	Dgrams  []datagram `json:"dgrams,omitempty"`
	// Pending: a listener's connections waiting to be accepted, each
	// from a socket of the tree (State inetPending; tcppending.go).
	Pending int `json:"pending,omitempty"`
	// Linger is SO_LINGER when it is on; Congestion the TCP congestion
	// control (TCP_CONGESTION) when it is not the system's default: the
	// options that are not integers.
	Linger     *unix.Linger `json:"linger,omitempty"`
	Congestion string       `json:"congestion,omitempty"`
	// RcvTimeo and SndTimeo are SO_RCVTIMEO and SO_SNDTIMEO when set;
	// Device is SO_BINDTODEVICE (set before bind, as it steers it).
	RcvTimeo *unix.Timeval `json:"rcvtimeo,omitempty"`
	SndTimeo *unix.Timeval `json:"sndtimeo,omitempty"`
	Device   string        `json:"device,omitempty"`
	// Mcast: a UDP socket's multicast memberships and interface
	// (mcast.go).
	Mcast *mcastState `json:"mcast,omitempty"`
}

// Socket states the engine restores.
const (
	inetUnbound     = "unbound"     // no address yet (TCP or UDP)
	inetBound       = "bound"       // bound, neither listening nor connected
	inetListen      = "listen"      // TCP listening socket
	inetEstablished = "established" // TCP connection, both ends in the tree
	inetConnected   = "connected"   // UDP socket with a default peer
	inetPending     = "pending"     // TCP client whose connection waits in a listener of the tree
)

type sockOpt struct {
	Level int `json:"level"`
	Name  int `json:"name"`
	Value int `json:"value"`
}

// tcpRepair is what TCP_REPAIR reads of an established connection.
type tcpRepair struct {
	SendSeq   uint32    `json:"send_seq"` // sequence number after the send queue
	RecvSeq   uint32    `json:"recv_seq"` // sequence number after the receive queue
	SendQ     []byte    `json:"send_queue,omitempty"`
	RecvQ     []byte    `json:"recv_queue,omitempty"`
	Window    [5]uint32 `json:"window"` // struct tcp_repair_window
	MSS       int       `json:"mss"`
	Options   uint8     `json:"options"` // tcpi_options
	WScale    uint8     `json:"wscale"`  // tcpi_snd_wscale | tcpi_rcv_wscale<<4
	Timestamp uint32    `json:"timestamp"`
}

type datagram struct {
	From string `json:"from"`
	Data []byte `json:"data"`
}

// Repair mode (linux/tcp.h).
const (
	tcpRepair_        = 19
	tcpRepairQueue    = 20
	tcpQueueSeq       = 21
	tcpRepairOptions  = 22
	tcpTimestamp      = 24
	tcpRepairWindow   = 29
	tcpRecvQueue      = 1
	tcpSendQueue      = 2
	tcpNoQueue        = 0
	tcpiOptTimestamps = 1
	tcpiOptSACK       = 2
	tcpiOptWScale     = 4
)

// TCP states of tcpi_state (include/net/tcp_states.h).
var tcpStates = []string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// savedOpts are the options a program can observe that a new socket would
// not have by default. Buffer sizes are saved halved (the kernel doubles
// what setsockopt asks for) and only when they differ from the default.
var savedOpts = []struct {
	level, name int
	stream      bool // TCP only
	v6          bool // IPv6 only
}{
	// IP_TOS first: setting it sets SO_PRIORITY too (rt_tos2priority),
	// which comes after it.
	{unix.IPPROTO_IP, unix.IP_TOS, false, false},
	{unix.SOL_SOCKET, unix.SO_REUSEADDR, false, false},
	{unix.SOL_SOCKET, unix.SO_REUSEPORT, false, false},
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE, false, false},
	{unix.SOL_SOCKET, unix.SO_BROADCAST, false, false},
	{unix.SOL_SOCKET, unix.SO_OOBINLINE, false, false},
	{unix.SOL_SOCKET, unix.SO_PRIORITY, false, false},
	{unix.SOL_SOCKET, unix.SO_RCVBUF, false, false},
	{unix.SOL_SOCKET, unix.SO_SNDBUF, false, false},
	{unix.IPPROTO_TCP, unix.TCP_NODELAY, true, false},
	{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, true, false},
	{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, true, false},
	{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, true, false},
	{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, false, true},
	{unix.SOL_SOCKET, unix.SO_RCVLOWAT, false, false},
	{unix.SOL_SOCKET, unix.SO_MARK, false, false},
	{unix.IPPROTO_TCP, unix.TCP_CORK, true, false},
	{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, true, false},
	{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, true, false},
	{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, true, false},
	// IPv4 header fields and receive options: of IPv4 sockets only, the
	// multicast ones of UDP only (optSaved).
	{unix.IPPROTO_IP, unix.IP_TTL, false, false},
	{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, false, false},
	{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, false, false},
	{unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, false, false},
	{unix.IPPROTO_IP, unix.IP_RECVTOS, false, false},
	{unix.IPPROTO_IP, unix.IP_RECVTTL, false, false},
	{unix.IPPROTO_IP, unix.IP_PKTINFO, false, false},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, false, true},
	// Receive and path options of any IP socket. SO_TIMESTAMP and
	// SO_TIMESTAMPNS are saved only when on (savedWhenOn).
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false, false},
	{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, false, false},
	{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, false, false},
	{unix.SOL_SOCKET, unix.SO_BUSY_POLL, false, false},
	{unix.SOL_SOCKET, unix.SO_DONTROUTE, false, false},
	{unix.SOL_SOCKET, unix.SO_SELECT_ERR_QUEUE, false, false},
	{unix.SOL_SOCKET, unix.SO_ZEROCOPY, false, false},
	{unix.IPPROTO_IP, unix.IP_RECVERR, false, false},
	{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, false, false},
	{unix.IPPROTO_IP, unix.IP_FREEBIND, false, false},
	{unix.IPPROTO_IP, unix.IP_RECVOPTS, false, false},
	{unix.IPPROTO_IP, unix.IP_RETOPTS, false, false},
	{unix.IPPROTO_IP, unix.IP_RECVORIGDSTADDR, false, false},
	{unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, false, false},
	{unix.IPPROTO_IPV6, unix.IPV6_RECVERR, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false, true},
	{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, false, true},
	// TCP_FASTOPEN is the queue of a listener; TCP_MAXSEG is saved only
	// as set before a connection (savedOpts loop), TCP_SYNCNT only when
	// set (0 is refused).
	{unix.IPPROTO_TCP, unix.TCP_FASTOPEN, true, false},
	{unix.IPPROTO_TCP, unix.TCP_THIN_LINEAR_TIMEOUTS, true, false},
	{unix.IPPROTO_TCP, unix.TCP_INQ, true, false},
	{unix.IPPROTO_TCP, unix.TCP_SYNCNT, true, false},
	{unix.IPPROTO_TCP, unix.TCP_MAXSEG, true, false},
	// UDP's own (getsockopt fails on TCP: skipped).
	{unix.IPPROTO_UDP, unix.UDP_CORK, false, false},
	{unix.IPPROTO_UDP, unix.UDP_SEGMENT, false, false},
	{unix.IPPROTO_UDP, unix.UDP_GRO, false, false},
}

// savedWhenOn are the options of savedOpts saved only when not 0:
// setting SO_TIMESTAMP or SO_TIMESTAMPNS to 0 turns both off, and
// TCP_SYNCNT refuses 0 (the sysctl's count).
var savedWhenOn = map[[2]int]bool{
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP}:   true,
	{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}: true,
	{unix.IPPROTO_TCP, unix.TCP_SYNCNT}:    true,
}

// tcpMSSDefault is what TCP_MAXSEG reads on a socket not connected with
// no TCP_MAXSEG set (TCP_MSS_DEFAULT).
const tcpMSSDefault = 536

// optSaved reports whether an option of savedOpts is one of a socket of
// family and typ. setsockopt refuses IP_MULTICAST_TTL on a stream socket
// (EINVAL), and the IPPROTO_IP options are left to IPv4 sockets but for
// the multicast ones, which are of UDP only.
func optSaved(level, name int, stream, v6 bool, family, typ int) bool {
	switch {
	case stream && typ != unix.SOCK_STREAM, v6 && family != unix.AF_INET6:
		return false
	case level == unix.IPPROTO_IP && (name == unix.IP_MULTICAST_TTL || name == unix.IP_MULTICAST_LOOP || name == unix.IP_MULTICAST_ALL):
		// IPv6 sockets included: their IPv4 groups follow these (SOL_IP
		// of an IPv6 UDP socket is that of UDP over IPv4).
		return typ == unix.SOCK_DGRAM
	case level == unix.IPPROTO_IP && family != unix.AF_INET:
		return false
	case level == unix.IPPROTO_IPV6 && (name == unix.IPV6_MULTICAST_HOPS || name == unix.IPV6_MULTICAST_LOOP || name == unix.IPV6_MULTICAST_ALL):
		return typ == unix.SOCK_DGRAM
	}
	return true
}

// grabFD takes a copy of descriptor fd of process pid (pidfd_getfd): the
// same socket, so options read or set through it are the process's.
func grabFD(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// inetFamily returns the family of a socket held by the checkpointer, or 0
// when it is not a TCP or UDP socket over IP.
func inetFamily(s int) (family, typ int) {
	family, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || (family != unix.AF_INET && family != unix.AF_INET6) {
		return 0, 0
	}
	typ, _ = unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE)
	proto, _ := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if !(typ == unix.SOCK_STREAM && proto == unix.IPPROTO_TCP) && !(typ == unix.SOCK_DGRAM && proto == unix.IPPROTO_UDP) {
		return 0, 0
	}
	return family, typ
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if a.ZoneId != 0 {
			ip = ip.WithZone(strconv.Itoa(int(a.ZoneId)))
		}
		return netip.AddrPortFrom(ip, uint16(a.Port)).String()
	}
	return ""
}

func parseSockaddr(family int, s string) (unix.Sockaddr, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	if family == unix.AF_INET {
		if !ap.Addr().Is4() {
			return nil, fmt.Errorf("address %s is not IPv4", s)
		}
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
	}
	sa := &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
	if z := ap.Addr().Zone(); z != "" {
		n, err := strconv.Atoi(z)
		if err != nil {
			return nil, fmt.Errorf("address %s: zone is not an interface index", s)
		}
		sa.ZoneId = uint32(n)
	}
	return sa, nil
}

// tcpInfoHead reads the first bytes of struct tcp_info: state, options,
// window scales (a bit field x/sys/unix does not expose) and, for a
// listening socket, the accept queue (tcpi_unacked) and backlog
// (tcpi_sacked).
func tcpInfoHead(s int) (state, options, wscale uint8, unacked, sacked uint32, err error) {
	var b [32]byte
	l := uint32(len(b))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.IPPROTO_TCP, unix.TCP_INFO, uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, 0, 0, 0, 0, e
	}
	le := binary.LittleEndian
	return b[0], b[5], b[6], le.Uint32(b[24:]), le.Uint32(b[28:]), nil
}

// describeInet fills f for a TCP or UDP socket; ok is false when the
// socket is of another family or protocol. The queues of a connection are
// read later, by dumpTree.linkInet, once it is known that its peer is in
// the tree. A socket the engine cannot restore is an error message (for
// closed).
func (d *dumper) describeInet(fd int, f *fileDesc) (ok bool, refuse string, err error) {
	s, err := grabFD(d.pid, fd)
	if err != nil {
		return false, "", nil
	}
	defer unix.Close(s)
	family, typ := inetFamily(s)
	if family == 0 {
		return false, "", nil
	}
	is := &inetSock{Family: family, Type: typ}
	proto := "UDP"
	if typ == unix.SOCK_STREAM {
		proto = "TCP"
	}
	if sa, err := unix.Getsockname(s); err == nil {
		is.Local = sockaddrString(sa)
	}
	if sa, err := unix.Getpeername(s); err == nil {
		is.Peer = sockaddrString(sa)
	}
	ap, _ := netip.ParseAddrPort(is.Local)
	bound := ap.Port() != 0
	for _, o := range savedOpts {
		if !optSaved(o.level, o.name, o.stream, o.v6, family, typ) {
			continue
		}
		v, err := unix.GetsockoptInt(s, o.level, o.name)
		if err != nil || (v == 0 && savedWhenOn[[2]int{o.level, o.name}]) {
			continue
		}
		if o.level == unix.IPPROTO_TCP && o.name == unix.TCP_MAXSEG {
			// Of a connection it is the path's MSS (the repair restores
			// it); before one, the user's (user_mss) when it is not the
			// default.
			st, _, _, _, _, err := tcpInfoHead(s)
			if err != nil || (st != unix.BPF_TCP_LISTEN && st != unix.BPF_TCP_CLOSE) || v == tcpMSSDefault {
				continue
			}
		}
		if o.level == unix.SOL_SOCKET && (o.name == unix.SO_RCVBUF || o.name == unix.SO_SNDBUF) {
			if v == defaultBuf(typ, o.name) {
				continue
			}
			v /= 2
		}
		is.Opts = append(is.Opts, sockOpt{o.level, o.name, v})
	}
	if l, err := unix.GetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER); err == nil && l.Onoff != 0 {
		is.Linger = l
	}
	for _, t := range []struct {
		name int
		to   **unix.Timeval
	}{{unix.SO_RCVTIMEO, &is.RcvTimeo}, {unix.SO_SNDTIMEO, &is.SndTimeo}} {
		if tv, err := unix.GetsockoptTimeval(s, unix.SOL_SOCKET, t.name); err == nil && (tv.Sec != 0 || tv.Usec != 0) {
			*t.to = tv
		}
	}
	if dev, err := unix.GetsockoptString(s, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err == nil {
		is.Device = dev
	}
	if typ == unix.SOCK_STREAM {
		cc, err := unix.GetsockoptString(s, unix.IPPROTO_TCP, unix.TCP_CONGESTION)
		def, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		if err == nil && cc != strings.TrimSpace(string(def)) {
			is.Congestion = cc
		}
	}
	desc := func() string {
		if is.Peer != "" {
			return fmt.Sprintf("%s %s -> %s", proto, is.Local, is.Peer)
		}
		return fmt.Sprintf("%s %s", proto, is.Local)
	}
	if typ == unix.SOCK_DGRAM {
		switch {
		case is.Peer != "":
			is.State = inetConnected
		case bound:
			is.State = inetBound
		default:
			is.State = inetUnbound
		}
		if refuse := d.describeMcast(s, is); refuse != "" {
			return true, refuse, nil
		}
		f.Kind, f.Inet = fdInet, is
		return true, "", nil
	}
	state, _, _, unacked, backlog, err := tcpInfoHead(s)
	if err != nil {
		return true, fmt.Sprintf("is socket (%s: tcp_info: %v)", desc(), err), nil
	}
	switch {
	case state == unix.BPF_TCP_LISTEN:
		// Connections waiting to be accepted: dumpTree.linkPendingTCP
		// keeps them if their clients are members, or refuses.
		is.State, is.Backlog, is.Pending = inetListen, int(backlog), int(unacked)
	case state == unix.BPF_TCP_ESTABLISHED:
		if oobPending(s) {
			// Repair mode gives back the bytes of the queue, not the
			// urgent pointer: the byte would come back in line.
			return true, fmt.Sprintf("is socket (%s: urgent data (MSG_OOB) not read yet: a restored connection has no urgent pointer)", desc()), nil
		}
		is.State = inetEstablished
	case state == unix.BPF_TCP_CLOSE && is.Peer == "" && bound:
		is.State = inetBound
	case state == unix.BPF_TCP_CLOSE && is.Peer == "":
		is.State = inetUnbound
	default:
		name := fmt.Sprint(state)
		if int(state) < len(tcpStates) && tcpStates[state] != "" {
			name = tcpStates[state]
		}
		return true, fmt.Sprintf("is socket (%s in state %s: not checkpointable)", desc(), name), nil
	}
	f.Kind, f.Inet = fdInet, is
	return true, "", nil
}

// defaultBuf is the buffer size a new socket of type typ gets.
func defaultBuf(typ, name int) int {
	file := map[[2]int]string{
		{unix.SOCK_STREAM, unix.SO_RCVBUF}: "/proc/sys/net/ipv4/tcp_rmem",
		{unix.SOCK_STREAM, unix.SO_SNDBUF}: "/proc/sys/net/ipv4/tcp_wmem",
		{unix.SOCK_DGRAM, unix.SO_RCVBUF}:  "/proc/sys/net/core/rmem_default",
		{unix.SOCK_DGRAM, unix.SO_SNDBUF}:  "/proc/sys/net/core/wmem_default",
	}[[2]int{typ, name}]
	b, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(b))
	i := 0
	if len(fields) == 3 {
		i = 1 // min default max
	}
	if len(fields) <= i {
		return -1
	}
	n, err := strconv.Atoi(fields[i])
	if err != nil {
		return -1
	}
	return n
}

// linkInet pairs the TCP connections of the tree: one whose peer is not
// in the tree is refused (or closed with Force), naming both addresses.
// Then, the tree being frozen, it reads the queues of every connection in
// repair mode and the datagrams waiting in every UDP socket. The
// connections stay in repair mode while t.repair holds them, so that a
// tree killed after the checkpoint closes them without a reset or a FIN.
func (t *dumpTree) linkInet() error {
	if err := t.linkPendingTCP(); err != nil {
		return err
	}
	ends := map[string]bool{}
	for _, d := range t.procs {
		for _, f := range d.meta.Files {
			if f.Kind == fdInet && f.Inet.State == inetEstablished {
				ends[f.Inet.Local+" "+f.Inet.Peer] = true
			}
		}
	}
	// First every connection of the tree goes into repair mode, so that
	// its end sends nothing more; then each is read.
	repairing := map[uint64]int{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind != fdInet || f.Inet.State != inetEstablished {
				continue
			}
			is := f.Inet
			if !ends[is.Peer+" "+is.Local] {
				msg := fmt.Sprintf("is socket (TCP %s -> %s, peer outside the tree)", is.Local, is.Peer)
				if err := d.uncheckpointable(f.FD, msg); err != nil {
					return err
				}
				f.Kind, f.Reason, f.Inet = fdClosed, fmt.Sprintf("TCP %s -> %s, peer outside the tree", is.Local, is.Peer), nil
				continue
			}
			if _, ok := repairing[f.Ino]; ok || t.opts.CheckOnly {
				continue
			}
			s, err := t.repairOn(d, f)
			if err != nil {
				return fmt.Errorf("%s(%d) fd %d: socket %s: %w", d.comm, d.pid, f.FD, is.Local, err)
			}
			repairing[f.Ino] = s
		}
	}
	if t.opts.CheckOnly {
		return nil
	}
	done := map[uint64]bool{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind != fdInet || done[f.Ino] {
				continue
			}
			done[f.Ino] = true
			var err error
			switch {
			case f.Inet.State == inetEstablished:
				err = readConnection(repairing[f.Ino], f)
			case f.Inet.Type == unix.SOCK_DGRAM:
				f.Inet.Dgrams, err = peekDatagrams(d.pid, f.FD)
			}
			if err != nil {
				return fmt.Errorf("%s(%d) fd %d: socket %s: %w", d.comm, d.pid, f.FD, f.Inet.Local, err)
			}
		}
	}
	return nil
}

// repairOn puts the connection of f in repair mode, through a copy of its
// descriptor that t.repair keeps.
func (t *dumpTree) repairOn(d *dumper, f *fileDesc) (int, error) {
	s, err := grabFD(d.pid, f.FD)
	if err != nil {
		return -1, err
	}
	reuse, _ := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR)
	if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepair_, 1); err != nil {
		unix.Close(s)
		return -1, fmt.Errorf("TCP_REPAIR (needs CAP_NET_ADMIN): %w", err)
	}
	t.repair = append(t.repair, repairedConn{s, reuse != 0})
	return s, nil
}

// repairedConn is a connection in repair mode and its SO_REUSEADDR before
// it: leaving repair mode clears SO_REUSEADDR (TCP_REPAIR_OFF sets
// sk_reuse to SK_NO_REUSE), so it is set again after (leaveRepair). An
// accepted end has its listener's, and one that lost it makes a listener
// restored on that port with SO_REUSEADDR fail its bind (EADDRINUSE).
type repairedConn struct {
	fd    int
	reuse bool
}

// leaveRepair lets c leave repair mode with its SO_REUSEADDR as before.
func (c repairedConn) leaveRepair() error {
	if err := unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, tcpRepair_, 0); err != nil {
		return fmt.Errorf("leave TCP_REPAIR: %w", err)
	}
	if c.reuse {
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR after TCP_REPAIR: %w", err)
		}
	}
	return nil
}

// tcpMarks are the numbers of a connection in repair mode that incoming
// segments move: read before and after its queues, they tell whether the
// queues and window read belong together.
type tcpMarks struct {
	sendSeq, recvSeq uint32
	outq, inq        int
	window           [5]uint32
}

func readMarks(s int) (m tcpMarks, err error) {
	for _, q := range []int{tcpSendQueue, tcpRecvQueue} {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, q); err != nil {
			return m, fmt.Errorf("TCP_REPAIR_QUEUE: %w", err)
		}
		seq, err := unix.GetsockoptInt(s, unix.IPPROTO_TCP, tcpQueueSeq)
		if err != nil {
			return m, fmt.Errorf("TCP_QUEUE_SEQ: %w", err)
		}
		if q == tcpSendQueue {
			m.sendSeq = uint32(seq)
		} else {
			m.recvSeq = uint32(seq)
		}
	}
	if m.outq, err = unix.IoctlGetInt(s, unix.SIOCOUTQ); err != nil {
		return m, err
	}
	if m.inq, err = unix.IoctlGetInt(s, unix.SIOCINQ); err != nil {
		return m, err
	}
	l := uint32(unsafe.Sizeof(m.window))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.IPPROTO_TCP, tcpRepairWindow, uintptr(unsafe.Pointer(&m.window[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return m, fmt.Errorf("TCP_REPAIR_WINDOW: %w", e)
	}
	return m, nil
}

// readConnection reads the connection s (in repair mode) into f. Its
// process is frozen but its kernel still takes the segments the other end
// had in flight (acknowledgments, data, window updates), so it reads until
// nothing moved while it read.
func readConnection(s int, f *fileDesc) error {
	for try := 0; ; try++ {
		before, err := readMarks(s)
		if err != nil {
			return err
		}
		tr := &tcpRepair{SendSeq: before.sendSeq, RecvSeq: before.recvSeq, Window: before.window}
		for _, q := range []struct {
			queue int
			n     int
			data  *[]byte
		}{{tcpSendQueue, before.outq, &tr.SendQ}, {tcpRecvQueue, before.inq, &tr.RecvQ}} {
			if q.n == 0 {
				continue
			}
			if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, q.queue); err != nil {
				return fmt.Errorf("TCP_REPAIR_QUEUE: %w", err)
			}
			// In repair mode a peek of the selected queue returns all of
			// it, the send queue included.
			buf := make([]byte, q.n)
			got, _, err := unix.Recvfrom(s, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err != nil {
				return fmt.Errorf("read queue: %w", err)
			}
			*q.data = buf[:got]
		}
		if tr.MSS, err = unix.GetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_MAXSEG); err != nil {
			return fmt.Errorf("TCP_MAXSEG: %w", err)
		}
		if _, tr.Options, tr.WScale, _, _, err = tcpInfoHead(s); err != nil {
			return fmt.Errorf("tcp_info: %w", err)
		}
		ts, err := unix.GetsockoptInt(s, unix.IPPROTO_TCP, tcpTimestamp)
		if err != nil {
			return fmt.Errorf("TCP_TIMESTAMP: %w", err)
		}
		tr.Timestamp = uint32(ts)
		after, err := readMarks(s)
		if err != nil {
			return err
		}
		unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, tcpNoQueue)
		if after == before && len(tr.SendQ) == before.outq && len(tr.RecvQ) == before.inq {
			f.Inet.TCP = tr
			return nil
		}
		if try == 1000 {
			return errors.New("the connection does not settle: segments keep arriving")
		}
		time.Sleep(time.Millisecond)
	}
}

// endRepair lets the connections read by linkInet leave repair mode,
// unless killed: their processes were killed, and closing our copies in
// repair mode drops them silently, so that nothing reaches the other end
// and no TIME_WAIT holds their addresses.
func (t *dumpTree) endRepair(killed bool) {
	for _, c := range t.repair {
		if !killed {
			c.leaveRepair()
		}
		unix.Close(c.fd)
	}
	t.repair = nil
}

// peekDatagrams copies the datagrams waiting in a UDP socket, with their
// senders, without consuming them: SO_PEEK_OFF makes each MSG_PEEK return
// the next one.
func peekDatagrams(pid, fd int) ([]datagram, error) {
	s, err := grabFD(pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(s)
	old, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PEEK_OFF)
	if err != nil {
		return nil, fmt.Errorf("SO_PEEK_OFF: %w", err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0); err != nil {
		return nil, fmt.Errorf("SO_PEEK_OFF: %w", err)
	}
	defer unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PEEK_OFF, old)
	var out []datagram
	buf := make([]byte, 65536)
	for {
		n, from, err := unix.Recvfrom(s, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			// The peek offset does not move past an empty datagram.
			return nil, errors.New("an empty datagram is queued: not checkpointable yet")
		}
		out = append(out, datagram{From: sockaddrString(from), Data: append([]byte(nil), buf[:n]...)})
	}
}

// inetRestore is the restorer's state for TCP and UDP sockets.
type inetRestore struct {
	repair []repairedConn // connections still in repair mode
	bound  map[string]int // sockets by local address
	dgrams []pendingDgrams
	ends   map[string]bool // "local peer" of every connection of the images
}

type pendingDgrams struct {
	fd int
	is *inetSock
	p  *rproc // its holder
}

// openInet makes the socket f describes, in the restorer. Connections
// stay in repair mode until finishInet.
func (r *restorer) openInet(p *rproc, f fileDesc) (fd int, retErr error) {
	is := f.Inet
	if is == nil {
		return -1, fmt.Errorf("fd %d: %s: no state saved", f.FD, f.Path)
	}
	if r.inet == nil {
		r.inet = &inetRestore{bound: map[string]int{}, ends: map[string]bool{}}
		for _, q := range r.procs {
			for _, g := range q.meta.Files {
				if g.Kind == fdInet && g.Inet != nil && g.Inet.State == inetEstablished {
					r.inet.ends[netKey(q)+g.Inet.Local+" "+g.Inet.Peer] = true
				}
			}
		}
	}
	if (is.Family != unix.AF_INET && is.Family != unix.AF_INET6) || (is.Type != unix.SOCK_STREAM && is.Type != unix.SOCK_DGRAM) {
		return -1, fmt.Errorf("fd %d: socket family %d type %d: %w", f.FD, is.Family, is.Type, ErrCorrupt)
	}
	var s int
	err := r.inNet(p, func() (err error) { s, err = unix.Socket(is.Family, is.Type|unix.SOCK_CLOEXEC, 0); return err })
	if err != nil {
		return -1, fmt.Errorf("fd %d: socket: %w", f.FD, err)
	}
	defer func() {
		if retErr != nil {
			unix.Close(s)
		}
	}()
	errorf := func(what string, err error) error {
		return fmt.Errorf("fd %d: socket %s: %s: %w", f.FD, is.Local, what, err)
	}
	reuse := false
	for _, o := range is.Opts {
		if o.Level == unix.SOL_SOCKET && o.Name == unix.SO_REUSEADDR && o.Value != 0 {
			reuse = true
		}
		if err := unix.SetsockoptInt(s, o.Level, o.Name, o.Value); err != nil {
			return -1, errorf(fmt.Sprintf("setsockopt %d/%d", o.Level, o.Name), err)
		}
	}
	if is.Linger != nil {
		if err := unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, is.Linger); err != nil {
			return -1, errorf("SO_LINGER", err)
		}
	}
	for _, t := range []struct {
		name int
		tv   *unix.Timeval
	}{{unix.SO_RCVTIMEO, is.RcvTimeo}, {unix.SO_SNDTIMEO, is.SndTimeo}} {
		if t.tv != nil {
			if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, t.name, t.tv); err != nil {
				return -1, errorf("SO_RCVTIMEO/SO_SNDTIMEO", err)
			}
		}
	}
	if is.Device != "" {
		if err := unix.BindToDevice(s, is.Device); err != nil {
			return -1, errorf("SO_BINDTODEVICE "+is.Device, err)
		}
	}
	if is.Congestion != "" {
		if err := unix.SetsockoptString(s, unix.IPPROTO_TCP, unix.TCP_CONGESTION, is.Congestion); err != nil {
			return -1, errorf("TCP_CONGESTION "+is.Congestion, err)
		}
	}
	if is.Mcast != nil {
		// Before bind: no datagram reaches the socket before its filters
		// are as they were.
		if is.Type != unix.SOCK_DGRAM {
			return -1, errorf("multicast", fmt.Errorf("%w: multicast state on a TCP socket", ErrCorrupt))
		}
		if err := restoreMcast(s, is.Mcast); err != nil {
			return -1, errorf("multicast", err)
		}
	}
	var local, peer unix.Sockaddr
	if is.State != inetUnbound {
		if local, err = parseSockaddr(is.Family, is.Local); err != nil {
			return -1, errorf("local address", fmt.Errorf("%w: %v", ErrCorrupt, err))
		}
		ap, _ := netip.ParseAddrPort(is.Local)
		if ap.Port() < 1024 && p.meta.Creds.UID[1] != 0 {
			return -1, errorf("bind", fmt.Errorf("privileged port for uid %d: %w", p.meta.Creds.UID[1], unix.EACCES))
		}
	}
	if is.Peer != "" {
		if peer, err = parseSockaddr(is.Family, is.Peer); err != nil {
			return -1, errorf("peer address", fmt.Errorf("%w: %v", ErrCorrupt, err))
		}
	}
	switch is.State {
	case inetUnbound:
	case inetBound, inetConnected:
		if err := r.bindInet(p, f, s, is, local); err != nil {
			return -1, errorf("bind", err)
		}
		if peer != nil && is.Type == unix.SOCK_DGRAM {
			if err := unix.Connect(s, peer); err != nil {
				return -1, errorf("connect "+is.Peer, err)
			}
		}
	case inetListen:
		if err := r.bindInet(p, f, s, is, local); err != nil {
			return -1, errorf("bind", err)
		}
		if err := unix.Listen(s, is.Backlog); err != nil {
			return -1, errorf("listen", err)
		}
	case inetEstablished:
		// Only a connection whose both ends are restored: repair mode
		// must not make one to an address outside (no handshake).
		if is.Type != unix.SOCK_STREAM || is.TCP == nil || peer == nil {
			return -1, errorf("connection to "+is.Peer, fmt.Errorf("%w: no connection state saved", ErrCorrupt))
		}
		if !r.inet.ends[netKey(p)+is.Peer+" "+is.Local] {
			// A subtree restarted without the other end.
			return -1, errorf("connection to "+is.Peer, errors.New("its other end is not restarted with it"))
		}
		if err := r.repairConnect(s, is, local, peer, reuse); err != nil {
			return -1, errorf("restore connection to "+is.Peer, err)
		}
	default:
		return -1, errorf("state "+is.State, ErrCorrupt)
	}
	if is.State != inetUnbound {
		r.inet.bound[netKey(p)+is.Local] = s
	}
	if len(is.Dgrams) > 0 {
		r.inet.dgrams = append(r.inet.dgrams, pendingDgrams{s, is, p})
	}
	if _, err := unix.FcntlInt(uintptr(s), unix.F_SETFL, f.Flags&descFlags); err != nil {
		return -1, err
	}
	return s, nil
}

// repairConnect makes s the end of an established connection, in repair
// mode: sequence numbers first (only a closed socket takes them), then
// address, options, queues and window (which the kernel checks against
// the receive sequence the queue moved).
func (r *restorer) repairConnect(s int, is *inetSock, local, peer unix.Sockaddr, reuse bool) error {
	tr := is.TCP
	// The address may still be taken: by the old connection's socket
	// lingering, or by the listener an accepted end shares its port with.
	// Entering repair mode sets sk_reuse to SK_FORCE_REUSE, which
	// inet_csk_get_port lets bind over any owner of the port; a later
	// SO_REUSEADDR would lower it to SK_CAN_REUSE (which a listener
	// without SO_REUSEADDR refuses), so it comes first, then repair mode.
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepair_, 1); err != nil {
		return fmt.Errorf("TCP_REPAIR (needs CAP_NET_ADMIN): %w", err)
	}
	r.inet.repair = append(r.inet.repair, repairedConn{s, reuse})
	for _, q := range []struct {
		queue int
		seq   uint32
	}{{tcpSendQueue, tr.SendSeq - uint32(len(tr.SendQ))}, {tcpRecvQueue, tr.RecvSeq - uint32(len(tr.RecvQ))}} {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, q.queue); err != nil {
			return fmt.Errorf("TCP_REPAIR_QUEUE: %w", err)
		}
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpQueueSeq, int(int32(q.seq))); err != nil {
			return fmt.Errorf("TCP_QUEUE_SEQ: %w", err)
		}
	}
	if err := unix.Bind(s, local); err != nil {
		return fmt.Errorf("bind %s: %w", is.Local, err)
	}
	if err := unix.Connect(s, peer); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if !reuse {
		unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 0)
	}
	var opts []byte
	add := func(code, val uint32) {
		opts = binary.LittleEndian.AppendUint32(opts, code)
		opts = binary.LittleEndian.AppendUint32(opts, val)
	}
	const tcpoptMSS, tcpoptWindow, tcpoptSACKPerm, tcpoptTimestamp = 2, 3, 4, 8
	add(tcpoptMSS, uint32(tr.MSS))
	if tr.Options&tcpiOptWScale != 0 {
		add(tcpoptWindow, uint32(tr.WScale&0xf)|uint32(tr.WScale>>4)<<16)
	}
	if tr.Options&tcpiOptSACK != 0 {
		add(tcpoptSACKPerm, 0)
	}
	if tr.Options&tcpiOptTimestamps != 0 {
		add(tcpoptTimestamp, 0)
	}
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(s), unix.IPPROTO_TCP, tcpRepairOptions, uintptr(unsafe.Pointer(&opts[0])), uintptr(len(opts)), 0); e != 0 {
		return fmt.Errorf("TCP_REPAIR_OPTIONS: %w", e)
	}
	if tr.Options&tcpiOptTimestamps != 0 {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpTimestamp, int(int32(tr.Timestamp))); err != nil {
			return fmt.Errorf("TCP_TIMESTAMP: %w", err)
		}
	}
	for _, q := range []struct {
		queue, buf, force int
		data              []byte
	}{{tcpSendQueue, unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, tr.SendQ}, {tcpRecvQueue, unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, tr.RecvQ}} {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, q.queue); err != nil {
			return fmt.Errorf("TCP_REPAIR_QUEUE: %w", err)
		}
		if len(q.data) == 0 {
			continue
		}
		// The kernel counts a queue's memory with its overhead, so the
		// bytes that fitted in the old buffer may not fit a new one of the
		// same size: the buffer is made roomy for the refill (a socket in
		// repair mode never sends, a blocking write would wait forever),
		// then given its size back.
		old, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, q.buf)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, q.force, max(old, 4*len(q.data)+(1<<20))); err != nil {
			return fmt.Errorf("make room for the queue: %w", err)
		}
		for off := 0; off < len(q.data); {
			n, err := unix.SendmsgN(s, q.data[off:], nil, nil, unix.MSG_DONTWAIT)
			if err != nil {
				return fmt.Errorf("refill queue (%d of %d bytes): %w", off, len(q.data), err)
			}
			off += n
		}
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, q.buf, old/2); err != nil {
			return err
		}
	}
	unix.SetsockoptInt(s, unix.IPPROTO_TCP, tcpRepairQueue, tcpNoQueue)
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(s), unix.IPPROTO_TCP, tcpRepairWindow, uintptr(unsafe.Pointer(&tr.Window[0])), unsafe.Sizeof(tr.Window), 0); e != 0 {
		return fmt.Errorf("TCP_REPAIR_WINDOW: %w", e)
	}
	return nil
}

// finishInet lets every connection leave repair mode, now that both ends
// of each exist, and refills the UDP queues: each datagram is sent again
// from its sender's address, by the restored socket bound there or by a
// socket of ours bound there for the time of one send.
func (r *restorer) finishInet() error {
	if r.inet == nil {
		return nil
	}
	for _, c := range r.inet.repair {
		if err := c.leaveRepair(); err != nil {
			return err
		}
	}
	r.inet.repair = nil
	for _, pd := range r.inet.dgrams {
		to, err := dgramTarget(pd.is)
		if err != nil {
			return err
		}
		for _, dg := range pd.is.Dgrams {
			if err := r.resend(pd.p, pd.is.Family, dg, to); err != nil {
				return fmt.Errorf("socket %s: datagram from %s: %w", pd.is.Local, dg.From, err)
			}
		}
	}
	r.inet.dgrams = nil
	return nil
}

// dgramTarget is the address a datagram for the UDP socket is sends to:
// its own, with loopback for a wildcard address.
func dgramTarget(is *inetSock) (unix.Sockaddr, error) {
	ap, err := netip.ParseAddrPort(is.Local)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", is.Local, ErrCorrupt)
	}
	addr := ap.Addr()
	if addr.IsUnspecified() {
		addr = netip.MustParseAddr("127.0.0.1")
		if is.Family == unix.AF_INET6 {
			addr = netip.IPv6Loopback()
		}
	}
	return parseSockaddr(is.Family, netip.AddrPortFrom(addr, ap.Port()).String())
}

func (r *restorer) resend(p *rproc, family int, dg datagram, to unix.Sockaddr) error {
	// The sender restored at its address, or bound to every address with
	// its port.
	keys := []string{dg.From}
	if ap, err := netip.ParseAddrPort(dg.From); err == nil {
		keys = append(keys, netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()).String(),
			netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port()).String())
	}
	for _, k := range keys {
		if s, ok := r.inet.bound[netKey(p)+k]; ok {
			if typ, _ := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE); typ == unix.SOCK_DGRAM {
				if err := unix.Sendto(s, dg.Data, 0, to); err == nil {
					return nil
				}
			}
		}
	}
	from, err := parseSockaddr(family, dg.From)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var s int
	if err := r.inNet(p, func() (err error) { s, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); return err }); err != nil {
		return err
	}
	defer unix.Close(s)
	unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(s, from); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return unix.Sendto(s, dg.Data, 0, to)
}

// bindInet binds s to local; a TCP port held only by the dead connections
// of the tree's previous run (inetstale.go) is freed of them first.
func (r *restorer) bindInet(p *rproc, f fileDesc, s int, is *inetSock, local unix.Sockaddr) error {
	err := unix.Bind(s, local)
	if !errors.Is(err, unix.EADDRINUSE) || is.Type != unix.SOCK_STREAM {
		return err
	}
	if p.meta.NetNS != nil {
		// A namespace made anew holds no connection of an earlier run;
		// the ones of ours are not its to remove.
		return err
	}
	n, derr := releaseOrphanedPort(local)
	if derr != nil {
		return fmt.Errorf("%w (and the connections no process holds on it could not be removed: %v)", err, derr)
	}
	if n == 0 {
		return err
	}
	r.log.Info(fmt.Sprintf("%s(%d) fd %d: port of %s: %d connection(s) of a previous run, which no process holds, removed (TIME_WAIT)", p.comm(), p.meta.PID, f.FD, is.Local, n))
	return unix.Bind(s, local)
}
