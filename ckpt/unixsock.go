package ckpt

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// unixSock describes one end of a connected unix socket inside the tree.
type unixSock struct {
	Type int    `json:"type"` // SOCK_STREAM
	Peer uint64 `json:"peer"` // inode of the other end
	// Queued holds the bytes waiting in this end's receive queue.
	Queued []byte `json:"queued,omitempty"`
}

// unixPeer asks the kernel (sock_diag) for the type and the peer of the
// unix socket with inode ino.
func unixPeer(ino uint64) (typ int, peer uint64, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	const (
		sockDiagByFamily = 20
		udiagShowPeer    = 0x4
		unixDiagPeer     = 2
	)
	// nlmsghdr + struct unix_diag_req
	req := make([]byte, 16+24)
	le := binary.LittleEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST)
	req[16] = unix.AF_UNIX
	le.PutUint32(req[20:], 0xffffffff) // all states
	le.PutUint32(req[24:], uint32(ino))
	le.PutUint32(req[28:], udiagShowPeer)
	le.PutUint32(req[32:], 0xffffffff) // cookie: any
	le.PutUint32(req[36:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, 0, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, 0, err
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR {
			if len(m.Data) >= 4 {
				if e := int32(le.Uint32(m.Data)); e != 0 {
					return 0, 0, unix.Errno(-e)
				}
			}
			continue
		}
		d := m.Data
		if len(d) < 16 {
			continue
		}
		typ = int(d[1])
		for a := d[16:]; len(a) >= 4; {
			l := int(le.Uint16(a))
			t := le.Uint16(a[2:])
			if l < 4 || l > len(a) {
				break
			}
			if t == unixDiagPeer && l >= 8 {
				peer = uint64(le.Uint32(a[4:]))
			}
			a = a[(l+3)&^3:]
		}
		return typ, peer, nil
	}
	return 0, 0, fmt.Errorf("sock_diag: no answer for inode %d", ino)
}

// peekQueued copies the bytes waiting in the receive queue of the socket
// fd (a copy of the process's), without consuming them.
func peekQueued(fd int) ([]byte, error) {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil || n == 0 {
		return nil, err
	}
	buf := make([]byte, n)
	got, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil {
		return nil, err
	}
	return buf[:got], nil
}
