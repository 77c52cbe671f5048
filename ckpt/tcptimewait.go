package ckpt

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A listener restored on its port can find it taken by the TIME_WAIT
// sockets of connections the checkpointed run closed after the checkpoint
// (its server's end closing first, as an ordinary server does). A
// TIME_WAIT socket keeps the SO_REUSEADDR of the socket it was (none, for
// the accepted ends of a listener without it), and inet_bind_conflict
// lets a new socket's SO_REUSEADDR pass only over owners that had it too:
// the listener of the program, restarted, would fail with EADDRINUSE for
// a minute. When every TCP socket on the port is in TIME_WAIT (nothing
// lives there), the restore removes them (sock_diag SOCK_DESTROY, which
// tcp_abort takes for a TIME_WAIT socket) and binds again. Repair mode
// (SK_FORCE_REUSE) is no way round: a listener must leave it (EPERM once
// listening), and the kernel checks the port again at listen.

const sockDestroy = 21 // SOCK_DESTROY, linux/sock_diag.h

// timeWaitSock is one line of /proc/net/tcp{,6}: its addresses as
// inet_diag_sockid wants them (ports big-endian, addresses in network
// order) and its state.
type timeWaitSock struct {
	family       uint8
	sport, dport uint16
	src, dst     [16]byte
	state        string
}

// parseProcNetAddr parses "0100007F:1F90": the address as the kernel
// prints it (32-bit words in host order) and the port.
func parseProcNetAddr(s string) (addr [16]byte, port uint16, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return addr, 0, false
	}
	h, err := hex.DecodeString(s[:i])
	if err != nil || (len(h) != 4 && len(h) != 16) {
		return addr, 0, false
	}
	for w := 0; w < len(h); w += 4 {
		// The word was printed as a host-order (little-endian) number.
		binary.LittleEndian.PutUint32(addr[w:], binary.BigEndian.Uint32(h[w:]))
	}
	p, err := strconv.ParseUint(s[i+1:], 16, 16)
	return addr, uint16(p), err == nil
}

// socketsOnPort lists the TCP sockets of this thread's network namespace
// (the one its sockets and its netlink socket are made in) whose local
// port is port.
func socketsOnPort(port int) ([]timeWaitSock, error) {
	var out []timeWaitSock
	for _, f := range []struct {
		file   string
		family uint8
	}{{"/proc/thread-self/net/tcp", unix.AF_INET}, {"/proc/thread-self/net/tcp6", unix.AF_INET6}} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fl := strings.Fields(line)
			if len(fl) < 4 {
				continue
			}
			src, sport, ok1 := parseProcNetAddr(fl[1])
			dst, dport, ok2 := parseProcNetAddr(fl[2])
			if !ok1 || !ok2 || int(sport) != port {
				continue
			}
			out = append(out, timeWaitSock{family: f.family, sport: sport, dport: dport, src: src, dst: dst, state: fl[3]})
		}
	}
	return out, nil
}

// clearTimeWait removes the TIME_WAIT sockets on the port of local when
// they are all the port has, and reports whether it removed any.
func clearTimeWait(local unix.Sockaddr) bool {
	var port int
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	socks, err := socketsOnPort(port)
	if err != nil || len(socks) == 0 {
		return false
	}
	for _, s := range socks {
		if s.state != "06" { // TCP_TIME_WAIT: anything else is a real owner
			return false
		}
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	done := false
	for _, s := range socks {
		if destroySock(fd, s) == nil {
			done = true
		}
	}
	return done
}

// destroySock sends SOCK_DESTROY for s and reads the kernel's answer.
func destroySock(fd int, s timeWaitSock) error {
	// nlmsghdr, then inet_diag_req_v2: family, protocol, ext, pad,
	// states, and inet_diag_sockid: sport, dport, src[16], dst[16], if,
	// cookie[2] (INET_DIAG_NOCOOKIE: any socket of that tuple).
	const reqLen = unix.SizeofNlMsghdr + 8 + 48
	b := make([]byte, reqLen)
	le := binary.LittleEndian
	le.PutUint32(b[0:], reqLen)
	le.PutUint16(b[4:], sockDestroy)
	le.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	r := b[unix.SizeofNlMsghdr:]
	r[0], r[1] = s.family, unix.IPPROTO_TCP
	le.PutUint32(r[4:], 1<<6) // TCPF_TIME_WAIT
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], s.sport)
	binary.BigEndian.PutUint16(id[2:], s.dport)
	copy(id[4:20], s.src[:])
	copy(id[20:36], s.dst[:])
	le.PutUint32(id[40:], ^uint32(0))
	le.PutUint32(id[44:], ^uint32(0))
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	ans := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, ans, 0)
	if err != nil {
		return err
	}
	if n < unix.SizeofNlMsghdr+4 || le.Uint16(ans[4:]) != unix.NLMSG_ERROR {
		return unix.EPROTO
	}
	if e := int32(le.Uint32(ans[unix.SizeofNlMsghdr:])); e != 0 {
		return unix.Errno(-e)
	}
	return nil
}
