package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// The dead connections of a tree's previous run.
//
// A tree that is killed (a power cut of the batch system, chkpnt -K KILL,
// the crash of a host's daemon) has its TCP connections closed the ordinary
// way: the end that closes first stays a minute in TIME_WAIT, and an end
// with data still unsent lingers in FIN_WAIT or LAST_ACK. No process holds
// these any more (sock_diag reports no inode for them), but they stay in
// their port's bind bucket, and a listener restored on that port without
// SO_REUSEADDR (Open MPI's out-of-band listener, MPICH's hydra; the port is
// the one the tree's processes know, so it cannot change) is refused
// EADDRINUSE for a minute: the restart fails, and the batch system starts
// the job's script again.
//
// Such a socket is removed as ss -K removes one: SOCK_DESTROY of sock_diag
// (CONFIG_INET_DIAG_DESTROY, CAP_NET_ADMIN), which for a TIME_WAIT end only
// drops it. Only TCP ends that no process holds are removed, only those
// bound to the address and port the restored socket needs, and only when
// its bind failed with EADDRINUSE: a live socket on the port still makes
// the restart fail, as it must.

const (
	sockDestroy    = 21 // SOCK_DESTROY (SOCK_DIAG_BY_FAMILY: unixsock.go)
	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagMsgLen = 72 // struct inet_diag_msg
)

// orphanStates are the TCP states of an end its process has left: the
// FIN_WAITs, TIME_WAIT, CLOSE_WAIT, LAST_ACK and CLOSING (bit n: state n).
const orphanStates = 1<<4 | 1<<5 | 1<<6 | 1<<8 | 1<<9 | 1<<11

// orphanEnd is one such end: its sock_diag identity (struct
// inet_diag_sockid), as the dump gave it.
type orphanEnd struct {
	family uint8
	state  uint8
	id     [48]byte
}

// releaseOrphanedPort removes the TCP ends no process holds that are bound
// to local's address and port (any address, for a wildcard local). It
// returns how many it removed.
func releaseOrphanedPort(local unix.Sockaddr) (int, error) {
	want, ok := sockaddrAddrPort(local)
	if !ok {
		return 0, nil
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	var ends []orphanEnd
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		got, err := dumpOrphans(fd, family, want)
		if err != nil {
			return 0, err
		}
		ends = append(ends, got...)
	}
	n := 0
	for _, e := range ends {
		err := diagRoundTrip(fd, sockDestroy, unix.NLM_F_REQUEST|unix.NLM_F_ACK, inetDiagReq(e.family, 0xffffffff, e.id), nil)
		switch {
		case err == nil:
			n++
		case errors.Is(err, unix.ENOENT):
			// Gone by itself meanwhile.
		default:
			return n, fmt.Errorf("SOCK_DESTROY: %w", err)
		}
	}
	return n, nil
}

// sockaddrAddrPort is the address and port of an inet socket address.
func sockaddrAddrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// inetDiagReq is a struct inet_diag_req_v2 for TCP.
func inetDiagReq(family uint8, states uint32, id [48]byte) []byte {
	b := make([]byte, inetDiagReqLen)
	b[0], b[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(b[4:], states)
	copy(b[8:], id[:])
	return b
}

// dumpOrphans lists the TCP ends of family in orphanStates, bound to
// want's port and address, that no process holds.
func dumpOrphans(fd int, family uint8, want netip.AddrPort) ([]orphanEnd, error) {
	var ends []orphanEnd
	err := diagRoundTrip(fd, sockDiagByFamily, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, inetDiagReq(family, orphanStates, [48]byte{}), func(m []byte) {
		if len(m) < inetDiagMsgLen {
			return
		}
		var e orphanEnd
		e.family, e.state = m[0], m[1]
		copy(e.id[:], m[4:52])
		port := binary.BigEndian.Uint16(m[4:6])
		var addr netip.Addr
		if e.family == unix.AF_INET {
			addr = netip.AddrFrom4([4]byte(m[8:12]))
		} else {
			addr = netip.AddrFrom16([16]byte(m[8:24])).Unmap()
		}
		inode := binary.NativeEndian.Uint32(m[68:72])
		if inode != 0 || port != want.Port() {
			return
		}
		if !want.Addr().IsUnspecified() && !addr.IsUnspecified() && addr != want.Addr() {
			return
		}
		ends = append(ends, e)
	})
	return ends, err
}

// diagRoundTrip sends one sock_diag request and reads its answer: each
// message of a dump goes to each, an acknowledgement's error is returned.
func diagRoundTrip(fd int, typ uint16, flags uint16, payload []byte, each func([]byte)) error {
	msg := make([]byte, unix.NLMSG_HDRLEN+len(payload))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	copy(msg[unix.NLMSG_HDRLEN:], payload)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("short netlink error")
				}
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			default:
				if each != nil {
					each(m.Data)
				}
			}
		}
	}
}
