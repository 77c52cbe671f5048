package ckpt

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TCP connections waiting to be accepted. A connection in a listener's
// accept queue has no descriptor: its server end cannot be put in repair
// mode, nor its receive queue read, without accepting it, which would take
// it from the program (CRIU refuses these too, or drops them with
// --tcp-skip-in-flight). One case comes back exactly: a single connection
// waiting, whose client is a member of the tree and no byte of which has
// been carried either way (tcp_info data_segs_in and data_segs_out are 0).
// Its server end then holds nothing but the addresses, so at restart the
// client is bound to its address again and connects to the restored
// listener (a real handshake on the local host, the sequence numbers are
// new, which no program can see); the program's accept gets it. Anything
// else is refused at checkpoint, naming the listener and the clients:
// several connections waiting (the order in which accept would return them
// cannot be read), one from outside the tree, one that carried data.

// pendingConn is a client socket waiting to connect at restart.
type pendingConn struct {
	s     int
	is    *inetSock
	fd    int
	flags int // the descriptor's status flags
}

// tcpInfoSegs reads tcpi_data_segs_in and tcpi_data_segs_out of struct
// tcp_info (offsets 152 and 156, since Linux 4.6).
func tcpInfoSegs(s int) (in, out uint32, err error) {
	var b [160]byte
	l := uint32(len(b))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.IPPROTO_TCP, unix.TCP_INFO, uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return 0, 0, e
	}
	if l < 160 {
		return 0, 0, fmt.Errorf("tcp_info of %d bytes", l)
	}
	return binary.LittleEndian.Uint32(b[152:]), binary.LittleEndian.Uint32(b[156:]), nil
}

// listensFor tells whether a listener bound to local takes connections to
// peer.
func listensFor(local, peer string) bool {
	l, err1 := netip.ParseAddrPort(local)
	p, err2 := netip.ParseAddrPort(peer)
	if err1 != nil || err2 != nil || l.Port() != p.Port() {
		return false
	}
	return l.Addr().IsUnspecified() || l.Addr().Unmap() == p.Addr().Unmap()
}

// linkPendingTCP finds, for each listener of the tree with connections
// waiting, their clients among the tree's connections, and keeps the one
// case that can be restored (see above) or refuses the listener.
func (t *dumpTree) linkPendingTCP() error {
	ends := map[string]bool{}
	var conns []fdRef
	seen := map[uint64]bool{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind == fdInet && f.Inet.State == inetEstablished {
				ends[f.Inet.Local+" "+f.Inet.Peer] = true
				if !seen[f.Ino] {
					seen[f.Ino] = true
					conns = append(conns, fdRef{d, i})
				}
			}
		}
	}
	done := map[uint64]bool{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind != fdInet || f.Inet.State != inetListen || f.Inet.Pending == 0 || done[f.Ino] {
				continue
			}
			done[f.Ino] = true
			lis := f.Inet
			var clients []fdRef
			for _, c := range conns {
				ci := c.file().Inet
				if ci.State == inetEstablished && !ends[ci.Peer+" "+ci.Local] && listensFor(lis.Local, ci.Peer) {
					clients = append(clients, c)
				}
			}
			var addrs []string
			for _, c := range clients {
				addrs = append(addrs, fmt.Sprintf("%s(%d) fd %d %s", c.d.comm, c.d.pid, c.file().FD, c.file().Inet.Local))
			}
			sort.Strings(addrs)
			why := ""
			switch {
			case len(clients) < lis.Pending:
				why = fmt.Sprintf("%d of them from clients outside of selected processes, or already closed", lis.Pending-len(clients))
			case len(clients) > 1:
				why = "from " + strings.Join(addrs, ", ") + ": the order accept would return them in cannot be read"
			default:
				why = t.pendingClientCarried(clients[0])
			}
			if why == "" {
				c := clients[0]
				c.file().Inet.State = inetPending
				if t.opts.Signal == unix.SIGKILL && !t.opts.CheckOnly {
					// Closed in repair mode when the tree is killed: no FIN,
					// no TIME_WAIT left on its address for the restart.
					if _, err := t.repairOn(c.d, c.file()); err != nil {
						return fmt.Errorf("%s(%d) fd %d: socket %s: %w", c.d.comm, c.d.pid, c.file().FD, c.file().Inet.Local, err)
					}
				}
				continue
			}
			msg := fmt.Sprintf("is socket (TCP %s listening, %d connections waiting to be accepted: %s)", lis.Local, lis.Pending, why)
			if err := d.uncheckpointable(f.FD, msg); err != nil {
				return err
			}
			f.Kind, f.Reason, f.Inet = fdClosed, strings.TrimSuffix(strings.TrimPrefix(msg, "is socket ("), ")"), nil
		}
	}
	return nil
}

// pendingClientCarried is why the connection of client c, waiting in a
// listener, cannot be restored: it carried data (which waits unread in the
// server end nobody holds); "" if it did not.
func (t *dumpTree) pendingClientCarried(c fdRef) string {
	f := c.file()
	s, err := grabFD(c.d.pid, f.FD)
	if err != nil {
		return fmt.Sprintf("the connection from %s cannot be looked at: %v", f.Inet.Local, err)
	}
	defer unix.Close(s)
	in, out, err := tcpInfoSegs(s)
	if err != nil {
		return fmt.Sprintf("the connection from %s cannot be looked at: %v", f.Inet.Local, err)
	}
	outq, _ := unix.IoctlGetInt(s, unix.SIOCOUTQ)
	inq, _ := unix.IoctlGetInt(s, unix.SIOCINQ)
	if in != 0 || out != 0 || outq != 0 || inq != 0 {
		return fmt.Sprintf("the connection from %s(%d) fd %d %s has carried data, which waits in its server end, unread before it is accepted",
			c.d.comm, c.d.pid, f.FD, f.Inet.Local)
	}
	return ""
}

// openPendingTCP makes the client socket of a connection that waited in a
// listener of the tree, bound to its address; it connects once every
// listener is back (connectPendingTCP).
func (r *restorer) openPendingTCP(p *rproc, f fileDesc) (fd int, retErr error) {
	is := f.Inet
	if (is.Family != unix.AF_INET && is.Family != unix.AF_INET6) || is.Type != unix.SOCK_STREAM || is.Peer == "" {
		return -1, fmt.Errorf("fd %d: waiting connection of family %d type %d: %w", f.FD, is.Family, is.Type, ErrCorrupt)
	}
	local, err := parseSockaddr(is.Family, is.Local)
	if err != nil {
		return -1, fmt.Errorf("fd %d: local address: %w: %v", f.FD, ErrCorrupt, err)
	}
	if ap, _ := netip.ParseAddrPort(is.Local); ap.Port() < 1024 && p.meta.Creds.UID[1] != 0 {
		return -1, fmt.Errorf("fd %d: bind %s: privileged port for uid %d: %w", f.FD, is.Local, p.meta.Creds.UID[1], unix.EACCES)
	}
	var s int
	err = r.inNet(p, func() (err error) { s, err = unix.Socket(is.Family, is.Type|unix.SOCK_CLOEXEC, 0); return err })
	if err != nil {
		return -1, fmt.Errorf("fd %d: socket: %w", f.FD, err)
	}
	defer func() {
		if retErr != nil {
			unix.Close(s)
		}
	}()
	for _, o := range is.Opts {
		if err := unix.SetsockoptInt(s, o.Level, o.Name, o.Value); err != nil {
			return -1, fmt.Errorf("fd %d: socket %s: setsockopt %d/%d: %w", f.FD, is.Local, o.Level, o.Name, err)
		}
	}
	if err := unix.Bind(s, local); err != nil {
		return -1, fmt.Errorf("fd %d: bind %s: %w", f.FD, is.Local, err)
	}
	r.tcpWait = append(r.tcpWait, pendingConn{s: s, is: is, fd: f.FD, flags: f.Flags & descFlags})
	return s, nil
}

// connectPendingTCP connects each waiting client to its restored listener:
// on the local host the handshake completes in the kernel, and the
// connection waits in the accept queue as it did. Then the descriptors get
// their status flags.
func (r *restorer) connectPendingTCP() error {
	for _, pc := range r.tcpWait {
		peer, err := parseSockaddr(pc.is.Family, pc.is.Peer)
		if err != nil {
			return fmt.Errorf("fd %d: peer address: %w: %v", pc.fd, ErrCorrupt, err)
		}
		if err := unix.Connect(pc.s, peer); err != nil {
			return fmt.Errorf("fd %d: socket %s: connect %s (its listener waits for it): %w", pc.fd, pc.is.Local, pc.is.Peer, err)
		}
		if _, err := unix.FcntlInt(uintptr(pc.s), unix.F_SETFL, pc.flags); err != nil {
			return fmt.Errorf("fd %d: fcntl: %w", pc.fd, err)
		}
	}
	r.tcpWait = nil
	return nil
}
