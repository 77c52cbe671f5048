package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Unix sockets. At checkpoint the kernel's sock_diag (NETLINK_SOCK_DIAG,
// UNIX_DIAG_*) tells each socket's type, state, bound name, peer, the
// connections waiting in a listener's accept queue and the shut-down
// halves; the receive queue is read without being consumed, through a copy
// of the descriptor (pidfd_getfd) with MSG_PEEK and SO_PEEK_OFF, one
// message at a time, with the sender's address and the descriptors in
// flight (SCM_RIGHTS: a peek installs copies of them, which kcmp matches
// to descriptions of the tree; see unixflight.go). At restart (restoreUnix) the sockets are
// made again in the restorer, bound, connected (through a temporary
// listener on the same name, so both ends report the same addresses),
// refilled by sending each message again from its sender, and then shut
// down as they were.

// unixSock describes a unix socket of the tree.
type unixSock struct {
	Type  int    `json:"type"`  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	State int    `json:"state"` // TCP_ESTABLISHED, TCP_LISTEN or TCP_CLOSE, as unix_diag says
	Peer  uint64 `json:"peer,omitempty"`
	// Name is the bound address as the kernel keeps it: a path, or a NUL
	// and an abstract name.
	Name     string `json:"name,omitempty"`
	Unlinked bool   `json:"unlinked,omitempty"` // Name is a path that was removed
	// Renamed is where the socket file of an Unlinked name is now, when
	// it was renamed within its directory (relative as Name), or moved
	// elsewhere (absolute, unixmoved.go): the restore binds the old name
	// and renames it so, as the program did.
	Renamed string `json:"renamed,omitempty"`
	Backlog int    `json:"backlog,omitempty"`
	// Pending lists the inodes of the connections waiting to be accepted
	// (listener), in accept order.
	Pending  []uint64  `json:"pending,omitempty"`
	Shutdown int       `json:"shutdown,omitempty"` // 1: reads shut down, 2: writes
	Queue    []sockMsg `json:"queue,omitempty"`
	Opts     sockOpts  `json:"opts"`
}

// sockMsg is a message (datagram, seqpacket record, or run of stream bytes)
// waiting in a receive queue.
type sockMsg struct {
	Data []byte `json:"data,omitempty"`
	From string `json:"from,omitempty"` // the sender's bound address (datagrams)
	// Rights are the descriptors in flight with it: descriptions of the
	// tree (Desc), or files held by nobody else (Files).
	Rights []string   `json:"rights,omitempty"`
	Files  []fileDesc `json:"files,omitempty"`
	// Creds are the sender's credentials the kernel attached to it
	// (SCM_CREDENTIALS, shown to a receiver with SO_PASSCRED).
	Creds *sockCreds `json:"creds,omitempty"`
}

type sockCreds struct {
	PID int32  `json:"pid"`
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// sockOpts are the socket options a program can observe.
type sockOpts struct {
	SndBuf    int      `json:"sndbuf,omitempty"` // as getsockopt reports it (twice what was set)
	RcvBuf    int      `json:"rcvbuf,omitempty"`
	ReuseAddr bool     `json:"reuseaddr,omitempty"`
	PassCred  bool     `json:"passcred,omitempty"`
	PeekOff   int      `json:"peekoff"` // -1: off
	RcvTimeo  [2]int64 `json:"rcvtimeo,omitempty"`
	SndTimeo  [2]int64 `json:"sndtimeo,omitempty"`
	// Filter is an attached classic BPF filter (SO_GET_FILTER); an eBPF
	// one (SO_ATTACH_BPF) cannot be read back and makes the socket
	// uncheckpointable.
	Filter       []unix.SockFilter `json:"filter,omitempty"`
	FilterLocked bool              `json:"filter_locked,omitempty"`
	// More are the integer options of unixMoreOpts that differ from what
	// a new socket has, in that order.
	More []sockOpt `json:"more,omitempty"`
}

// unixMoreOpts are integer options of SOL_SOCKET a unix socket keeps,
// with the value of a new socket: saved only when they differ (SO_MARK
// needs CAP_NET_ADMIN even to be set to 0). SO_TIMESTAMP before
// SO_TIMESTAMPNS: turning either off turns both off, and at most one
// reads 1.
var unixMoreOpts = []struct{ name, def int }{
	{unix.SO_PRIORITY, 0},
	{unix.SO_MARK, 0},
	{unix.SO_RCVLOWAT, 1},
	{unix.SO_TIMESTAMP, 0},
	{unix.SO_TIMESTAMPNS, 0},
	{unix.SO_PASSSEC, 0},
	{unix.SO_RXQ_OVFL, 0},
	{unix.SO_KEEPALIVE, 0},
	{unix.SO_DONTROUTE, 0},
	{unix.SO_BUSY_POLL, 0},
}

// maxFilter is BPF_MAXINSNS.
const maxFilter = 4096

// getFilter reads the classic BPF filter attached to s.
func getFilter(s int) ([]unix.SockFilter, error) {
	n := uint32(0)
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.SOL_SOCKET, unix.SO_GET_FILTER, 0, uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return nil, e
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxFilter {
		return nil, fmt.Errorf("a filter of %d instructions", n)
	}
	prog := make([]unix.SockFilter, n)
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s), unix.SOL_SOCKET, unix.SO_GET_FILTER, uintptr(unsafe.Pointer(&prog[0])), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return nil, e
	}
	return prog[:n], nil
}

// unix_diag constants (linux/unix_diag.h).
const (
	sockDiagByFamily = 20
	udiagShowName    = 0x1
	udiagShowVFS     = 0x2
	udiagShowPeer    = 0x4
	udiagShowIcons   = 0x8
	udiagShowRQLen   = 0x10
	unixDiagName     = 0
	unixDiagVFS      = 1
	unixDiagPeer     = 2
	unixDiagIcons    = 3
	unixDiagRQLen    = 4
	unixDiagShutdown = 6

	stateEstablished = 1 // TCP_ESTABLISHED
	stateListen      = 10
)

// unixDiag is what sock_diag says of one unix socket.
type unixDiag struct {
	typ, state int
	name       string
	vfsIno     uint64
	vfsDev     uint32
	peer       uint64
	icons      []uint64
	rqueue     uint32
	wqueue     uint32
	shutdown   int
}

// diagUnixOn asks the kernel (sock_diag, on netlink socket fd) about the
// unix socket with inode ino (diagUnix: in which network namespace).
func diagUnixOn(fd int, ino uint64) (*unixDiag, error) {
	// nlmsghdr + struct unix_diag_req
	req := make([]byte, 16+24)
	le := binary.LittleEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST)
	req[16] = unix.AF_UNIX
	le.PutUint32(req[20:], 0xffffffff) // all states
	le.PutUint32(req[24:], uint32(ino))
	le.PutUint32(req[28:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	le.PutUint32(req[32:], 0xffffffff) // cookie: any
	le.PutUint32(req[36:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	buf := make([]byte, 1<<16)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR {
			if len(m.Data) >= 4 {
				if e := int32(le.Uint32(m.Data)); e != 0 {
					return nil, unix.Errno(-e)
				}
			}
			continue
		}
		d := m.Data
		if len(d) < 16 {
			continue
		}
		u := &unixDiag{typ: int(d[1]), state: int(d[2])}
		for a := d[16:]; len(a) >= 4; {
			l := int(le.Uint16(a))
			t := le.Uint16(a[2:])
			if l < 4 || l > len(a) {
				break
			}
			v := a[4:l]
			switch {
			case t == unixDiagName:
				// A path carries its terminating NUL; an abstract name is
				// exactly its length.
				u.name = string(v)
				if i := strings.IndexByte(u.name, 0); i > 0 {
					u.name = u.name[:i]
				}
			case t == unixDiagVFS && len(v) >= 8:
				u.vfsIno = uint64(le.Uint32(v))
				u.vfsDev = le.Uint32(v[4:])
			case t == unixDiagPeer && len(v) >= 4:
				u.peer = uint64(le.Uint32(v))
			case t == unixDiagIcons:
				for i := 0; i+4 <= len(v); i += 4 {
					u.icons = append(u.icons, uint64(le.Uint32(v[i:])))
				}
			case t == unixDiagRQLen && len(v) >= 8:
				u.rqueue, u.wqueue = le.Uint32(v), le.Uint32(v[4:])
			case t == unixDiagShutdown && len(v) >= 1:
				u.shutdown = int(v[0])
			}
			if (l+3)&^3 >= len(a) {
				break
			}
			a = a[(l+3)&^3:]
		}
		return u, nil
	}
	return nil, fmt.Errorf("sock_diag: no answer for inode %d", ino)
}

// fdCopy takes a copy of descriptor fd of process pid.
func fdCopy(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// describeSocket describes socket descriptor fd: it dispatches on the
// socket's family.
func (d *dumper) describeSocket(fd int, f *fileDesc, ino uint64) (string, error) {
	s, err := fdCopy(d.pid, fd)
	if err != nil {
		return "is socket", nil
	}
	defer unix.Close(s)
	family, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return "is socket", nil
	}
	switch family {
	case unix.AF_UNIX:
		return d.describeUnix(s, f, ino)
	}
	return "is socket (" + socketKind(s, family) + ": not checkpointable)", nil
}

// socketKind names a socket the engine does not restore, for the message
// that refuses it: its family, type and protocol (a netlink socket's
// port, groups and queued notifications, a packet or raw socket's
// filters and rings, are the kernel's and no restart makes them again).
func socketKind(s, family int) string {
	fam := map[int]string{unix.AF_INET: "IPv4", unix.AF_INET6: "IPv6", unix.AF_NETLINK: "netlink", unix.AF_PACKET: "packet",
		unix.AF_VSOCK: "vsock", unix.AF_ALG: "AF_ALG", unix.AF_BLUETOOTH: "bluetooth", unix.AF_XDP: "XDP"}[family]
	if fam == "" {
		fam = fmt.Sprintf("family %d", family)
	}
	typ, _ := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE)
	tname := map[int]string{unix.SOCK_STREAM: "stream", unix.SOCK_DGRAM: "datagram", unix.SOCK_RAW: "raw", unix.SOCK_SEQPACKET: "seqpacket", unix.SOCK_RDM: "rdm"}[typ]
	if tname == "" {
		tname = fmt.Sprintf("type %d", typ)
	}
	proto, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return fam + " " + tname
	}
	return fmt.Sprintf("%s %s, protocol %d", fam, tname, proto)
}

// describeUnix fills f for unix socket s (a copy of the descriptor). It
// returns a reason when the socket cannot be saved.
func (d *dumper) describeUnix(s int, f *fileDesc, ino uint64) (string, error) {
	u, err := diagUnix(ino)
	if err != nil {
		return "is socket", nil
	}
	switch u.typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
	default:
		return "is socket", nil
	}
	us := &unixSock{Type: u.typ, State: u.state, Peer: u.peer, Name: u.name, Pending: u.icons, Shutdown: u.shutdown}
	if u.state == stateListen {
		us.Backlog = int(u.wqueue)
	}
	if u.name != "" && u.name[0] != 0 {
		path := u.name
		if !filepath.IsAbs(path) {
			path = filepath.Join(fmt.Sprintf("/proc/%d/cwd", d.pid), path)
		}
		var st unix.Stat_t
		us.Unlinked = unix.Stat(path, &st) != nil || st.Ino != u.vfsIno || st.Mode&unix.S_IFMT != unix.S_IFSOCK
		if us.Unlinked {
			us.Renamed = renamedSocket(path, u.name, u.vfsIno)
			if us.Renamed == "" {
				us.Renamed = movedSocket(u.vfsIno, u.vfsDev)
			}
		}
	}
	if us.Opts, err = readSockOpts(s); err != nil {
		return "", fmt.Errorf("%s(%d) fd %d: socket options: %w", d.comm, d.pid, f.FD, err)
	}
	if us.Opts.Filter, err = getFilter(s); err != nil {
		return fmt.Sprintf("is socket (its filter cannot be read back: %v)", err), nil
	}
	f.Kind, f.Ino, f.Sock = fdSocket, ino, us
	return "", nil
}

// renamedSocket looks in the directory of path (name as bound) for the
// socket file of inode ino under another name, and returns that name as
// the program would give it (relative to the same directory as name).
// A socket file moved to another directory is not found: its name is
// restored as removed.
func renamedSocket(path, name string, ino uint64) string {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(filepath.Dir(path), e.Name()), &st) == nil && st.Ino == ino {
			return filepath.Join(filepath.Dir(name), e.Name())
		}
	}
	return ""
}

func readSockOpts(s int) (sockOpts, error) {
	var o sockOpts
	var err error
	get := func(opt int) int {
		v, e := unix.GetsockoptInt(s, unix.SOL_SOCKET, opt)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	o.SndBuf, o.RcvBuf = get(unix.SO_SNDBUF), get(unix.SO_RCVBUF)
	o.ReuseAddr, o.PassCred = get(unix.SO_REUSEADDR) != 0, get(unix.SO_PASSCRED) != 0
	o.PeekOff = get(unix.SO_PEEK_OFF)
	o.FilterLocked = get(unix.SO_LOCK_FILTER) != 0
	for _, m := range unixMoreOpts {
		// An option this kernel does not know is one no program set.
		if v, e := unix.GetsockoptInt(s, unix.SOL_SOCKET, m.name); e == nil && v != m.def {
			o.More = append(o.More, sockOpt{unix.SOL_SOCKET, m.name, v})
		}
	}
	for _, x := range []struct {
		opt int
		to  *[2]int64
	}{{unix.SO_RCVTIMEO, &o.RcvTimeo}, {unix.SO_SNDTIMEO, &o.SndTimeo}} {
		tv, e := unix.GetsockoptTimeval(s, unix.SOL_SOCKET, x.opt)
		if e != nil && err == nil {
			err = e
		}
		if tv != nil {
			*x.to = [2]int64{tv.Sec, tv.Usec}
		}
	}
	return o, err
}

func applySockOpts(s int, o sockOpts) error {
	if len(o.Filter) > 0 {
		prog := unix.SockFprog{Len: uint16(len(o.Filter)), Filter: &o.Filter[0]}
		if err := unix.SetsockoptSockFprog(s, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
		}
	}
	if o.FilterLocked {
		defer unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1)
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	for _, x := range []struct {
		name string
		opt  int
		v    int
	}{{"SO_REUSEADDR", unix.SO_REUSEADDR, b(o.ReuseAddr)}, {"SO_PASSCRED", unix.SO_PASSCRED, b(o.PassCred)}, {"SO_PEEK_OFF", unix.SO_PEEK_OFF, o.PeekOff}} {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, x.opt, x.v); err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
	}
	for _, m := range o.More {
		if err := unix.SetsockoptInt(s, m.Level, m.Name, m.Value); err != nil {
			return fmt.Errorf("setsockopt %d/%d = %d: %w", m.Level, m.Name, m.Value, err)
		}
	}
	for _, x := range []struct {
		name string
		opt  int
		to   [2]int64
	}{{"SO_RCVTIMEO", unix.SO_RCVTIMEO, o.RcvTimeo}, {"SO_SNDTIMEO", unix.SO_SNDTIMEO, o.SndTimeo}} {
		if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, x.opt, &unix.Timeval{Sec: x.to[0], Usec: x.to[1]}); err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
	}
	return nil
}

// applySockBufs sets the buffer sizes, before the queues are refilled: a
// queue fitted in them.
func applySockBufs(s int, o sockOpts) error {
	// The kernel doubles what is set (socket(7)); FORCE passes rmem_max.
	if o.SndBuf > 0 {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, o.SndBuf/2); err != nil {
			return fmt.Errorf("SO_SNDBUF: %w", err)
		}
	}
	if o.RcvBuf > 0 {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.RcvBuf/2); err != nil {
			return fmt.Errorf("SO_RCVBUF: %w", err)
		}
	}
	return nil
}

// socketHolder names a process outside the tree that holds socket ino, for
// messages: "comm(pid) fd N", or "" when none does.
func socketHolder(ino uint64, in map[int]bool) string {
	want := fmt.Sprintf("socket:[%d]", ino)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || in[pid] {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && l == want {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				return fmt.Sprintf("%s(%d) fd %s", strings.TrimSpace(string(comm)), pid, e.Name())
			}
		}
	}
	return ""
}

// printName shows a socket address: abstract names with a leading @.
func printName(name string) string {
	if name != "" && name[0] == 0 {
		return "@" + name[1:]
	}
	return name
}

// linkUnix checks that the peer of every connected unix socket of the tree
// is in the tree too (CONVEX: a socket to the outside is not
// checkpointable; -F closes it), naming the peer.
func (t *dumpTree) linkUnix(socks map[uint64][]fdRef) error {
	t.unixSocks = socks
	if err := t.peekQueues(socks); err != nil {
		return err
	}
	in := map[int]bool{}
	for _, d := range t.procs {
		in[d.pid] = true
	}
	// A client whose connection waits in a listener: the connection has no
	// socket yet (the kernel reports no peer); the listener lists the
	// client (UNIX_DIAG_ICONS).
	pending := map[uint64]bool{}
	for _, refs := range socks {
		for _, c := range refs[0].file().Sock.Pending {
			pending[c] = true
		}
	}
	refuse := func(refs []fdRef, why string) error {
		for _, r := range refs {
			f := r.file()
			if err := r.d.uncheckpointable(f.FD, "is socket ("+why+")"); err != nil {
				return err
			}
			f.Kind, f.Reason, f.Sock = fdClosed, "socket: "+why, nil
		}
		return nil
	}
	for _, refs := range socks {
		s := refs[0].file().Sock
		if s == nil {
			continue
		}
		if s.Peer != 0 && len(socks[s.Peer]) == 0 && !t.unixFlight[s.Peer] {
			peer := socketHolder(s.Peer, in)
			if peer == "" {
				if u, err := diagUnix(s.Peer); err == nil && u.name != "" {
					peer = "bound to " + printName(u.name)
				} else if err == nil && u.peer != 0 {
					// An accepted connection nobody holds yet.
					peer = fmt.Sprintf("socket %d waiting to be accepted", s.Peer)
				} else {
					peer = fmt.Sprintf("socket %d", s.Peer)
				}
			}
			if err := refuse(refs, "its peer "+peer+" is outside of selected processes"); err != nil {
				return err
			}
			continue
		}
		if s.Peer == 0 && s.State == stateEstablished && s.Type != unix.SOCK_DGRAM && s.Shutdown != 3 && !pending[refs[0].file().Ino] {
			// Connected, to no socket, and not shut down as a closed peer
			// leaves it: its connection waits in a listener outside.
			to := "a listener"
			if c, err := fdCopy(refs[0].d.pid, refs[0].file().FD); err == nil {
				if sa, err := unix.Getpeername(c); err == nil {
					if u, ok := sa.(*unix.SockaddrUnix); ok {
						to = u.Name
					}
				}
				unix.Close(c)
			}
			if err := refuse(refs, "its connection to "+to+" waits to be accepted outside of selected processes"); err != nil {
				return err
			}
			continue
		}
		// Connections waiting to be accepted: their client must be in the
		// tree, and the data it sent (in the connection nobody holds) cannot
		// be read.
		var keep []uint64
		for _, c := range s.Pending {
			why := ""
			if c == 0 {
				// The client closed: unix_diag shows inode 0 for it, and
				// what it sent waits in the connection nobody holds.
				why = "a connection waiting to be accepted on " + printName(s.Name) + " comes from a socket already closed: what it sent cannot be read before it is accepted"
			} else if len(socks[c]) == 0 {
				who := socketHolder(c, in)
				if who == "" {
					who = fmt.Sprintf("socket %d", c)
				}
				why = "a connection waiting to be accepted comes from " + who + ", outside of selected processes"
			} else if u, err := diagUnix(c); err != nil {
				return fmt.Errorf("sock_diag %d: %w", c, err)
			} else if u.wqueue > 0 {
				// What the client sent is charged to it until read.
				// The kernel has no way to read them (sock_diag gives no
				// queue, MSG_PEEK needs the accepted socket, and accepting
				// would take the connection from the program).
				cl := socks[c][0]
				why = fmt.Sprintf("a connection waiting to be accepted on %s from %s(%d) fd %d has %d bytes queued, which cannot be read before it is accepted",
					printName(s.Name), cl.d.comm, cl.d.pid, cl.file().FD, u.wqueue)
			}
			if why == "" {
				keep = append(keep, c)
				continue
			}
			r := refs[0]
			if err := r.d.uncheckpointable(r.file().FD, "is socket ("+why+")"); err != nil {
				return err
			}
			// -F: a client of the tree comes back connected to nobody.
		}
		s.Pending = keep
	}
	return nil
}

// hasPipe reports whether a member holds an end of pipe ino.
func (t *dumpTree) hasPipe(ino uint64) bool {
	for _, d := range t.procs {
		for _, f := range d.meta.Files {
			if f.Kind == fdPipe && f.Ino == ino {
				return true
			}
		}
	}
	return false
}

// checkFileKinds checks the socket and FIFO parts of a descriptor read from
// an image (untrusted input).
func checkFileKinds(f fileDesc) error {
	if s := f.Sock; s != nil {
		switch {
		case f.Kind != fdSocket:
			return fmt.Errorf("%w: fd %d: socket state on a %s", ErrCorrupt, f.FD, f.Kind)
		case s.Type != unix.SOCK_STREAM && s.Type != unix.SOCK_DGRAM && s.Type != unix.SOCK_SEQPACKET:
			return fmt.Errorf("%w: fd %d: socket type %d", ErrCorrupt, f.FD, s.Type)
		case len(s.Name) > 108 || (s.Name != "" && s.Name[0] != 0 && strings.IndexByte(s.Name, 0) >= 0):
			return fmt.Errorf("%w: fd %d: socket name %q", ErrCorrupt, f.FD, s.Name)
		case s.State == stateListen && s.Name == "":
			return fmt.Errorf("%w: fd %d: a listener without a name", ErrCorrupt, f.FD)
		case s.Backlog < 0 || s.Backlog > 1<<20 || len(s.Pending) > 1<<20 || len(s.Queue) > maxSockQueue || len(s.Opts.Filter) > maxFilter:
			return fmt.Errorf("%w: fd %d: socket queues out of bounds", ErrCorrupt, f.FD)
		}
		for _, m := range s.Queue {
			if len(m.Rights) > 253 || len(m.From) > 108 || len(m.Files) > len(m.Rights) {
				return fmt.Errorf("%w: fd %d: a queued message out of bounds", ErrCorrupt, f.FD)
			}
			for _, g := range m.Files {
				switch {
				case g.Kind == fdSocket && g.Fifo == nil:
					if err := checkFileKinds(g); err != nil {
						return err
					}
				case (g.Kind != fdFile && g.Kind != fdPipe) || g.Sock != nil || g.Fifo != nil:
					return fmt.Errorf("%w: fd %d: a %s in flight", ErrCorrupt, f.FD, g.Kind)
				}
			}
		}
	} else if f.Kind == fdSocket {
		return fmt.Errorf("%w: fd %d: a socket without its state", ErrCorrupt, f.FD)
	}
	if f.Fifo != nil && f.Kind != fdFifo {
		return fmt.Errorf("%w: fd %d: fifo data on a %s", ErrCorrupt, f.FD, f.Kind)
	}
	if f.Kind == fdFifo && f.File == nil {
		return fmt.Errorf("%w: fd %d: a fifo without its file", ErrCorrupt, f.FD)
	}
	return nil
}
