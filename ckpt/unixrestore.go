package ckpt

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uent is one unix socket of the tree being restored.
type uent struct {
	p  *rproc
	f  fileDesc
	fd int
	// other is the spare end of a pair whose peer was closed: it sends the
	// queue, then goes.
	other int
}

// sockaddr is a sockaddr_un of name as the kernel takes it, and its
// length: an abstract name ("\x00..." in the image) may fill all 108
// bytes of sun_path (sizeof of it, as programs often pass), which
// x/sys's SockaddrUnix refuses; a path ends with a NUL.
func sockaddr(name string) (unsafe.Pointer, uintptr, error) {
	var sa unix.RawSockaddrUnix
	if len(name) > len(sa.Path) || (name != "" && name[0] != 0 && len(name) == len(sa.Path)) {
		return nil, 0, unix.EINVAL
	}
	sa.Family = unix.AF_UNIX
	for i := 0; i < len(name); i++ {
		sa.Path[i] = int8(name[i])
	}
	n := 2 + len(name)
	if name != "" && name[0] != 0 {
		n++ // a path's NUL
	}
	return unsafe.Pointer(&sa), uintptr(n), nil
}

// bindUnix and connectUnix bind and connect a unix socket to name.
func bindUnix(fd int, name string) error {
	sa, n, err := sockaddr(name)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(sa), n); e != 0 {
		return e
	}
	return nil
}

func connectUnix(fd int, name string) error {
	sa, n, err := sockaddr(name)
	if err != nil {
		return err
	}
	for {
		_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(sa), n)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// sendmsgTo is sendmsg(2) of p with ancillary data oob, to name (""
// on a connected socket), as unix.SendmsgN sends it (a byte of nothing
// carries oob on a stream).
func sendmsgTo(fd int, p, oob []byte, to string, flags int) (int, error) {
	var msg unix.Msghdr
	if to != "" {
		sa, n, err := sockaddr(to)
		if err != nil {
			return 0, err
		}
		msg.Name = (*byte)(sa)
		msg.Namelen = uint32(n)
	}
	var iov unix.Iovec
	var dummy byte
	empty := false
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
	} else if len(oob) > 0 {
		if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
			return 0, err
		} else if typ != unix.SOCK_DGRAM {
			iov.Base = &dummy
			iov.SetLen(1)
			empty = true
		}
	}
	msg.Iov = &iov
	msg.Iovlen = 1
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	runtime.KeepAlive(p)
	runtime.KeepAlive(oob)
	if e != 0 {
		return 0, e
	}
	if empty {
		return 0, nil
	}
	return int(n), nil
}

// restoreUnix makes the unix sockets of the tree again, after every other
// description is open (descriptors in flight refer to them), and records
// them in r.descs. See unixsock.go for the order of the steps.
//
// Names may be relative to the cwd of the process that bound them: the
// work runs on a thread of its own with a private cwd (unshare CLONE_FS),
// which moves to each process's cwd; the thread is never unlocked, so it
// ends with its goroutine and the rest of the restorer keeps its cwd.
func (r *restorer) restoreUnix() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		errc <- r.restoreUnixSockets()
	}()
	return <-errc
}

// cwdOf moves this thread (whose cwd is its own) to p's cwd.
func cwdOf(p *rproc) error {
	if err := unix.Chdir(p.meta.Cwd); err != nil {
		return fmt.Errorf("chdir %s: %w", p.meta.Cwd, err)
	}
	return nil
}

func (r *restorer) restoreUnixSockets() (retErr error) {
	ents := map[uint64]*uent{}
	var inos []uint64
	// Sockets in flight that only a queue held come back too: the
	// restorer holds them until they are sent (and closes them after).
	var add func(p *rproc, f fileDesc)
	add = func(p *rproc, f fileDesc) {
		if f.Kind != fdSocket || f.Sock == nil || ents[f.Ino] != nil {
			return
		}
		ents[f.Ino] = &uent{p: p, f: f, fd: -1, other: -1}
		inos = append(inos, f.Ino)
		for _, m := range f.Sock.Queue {
			for _, g := range m.Files {
				add(p, g)
			}
		}
	}
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			if !p.closed[f.FD] {
				add(p, f)
			}
		}
	}
	if len(ents) == 0 {
		return nil
	}
	sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
	var temps []int
	defer func() {
		for _, fd := range temps {
			unix.Close(fd)
		}
		for _, e := range ents {
			if e.other >= 0 {
				unix.Close(e.other)
			}
			if retErr != nil && e.fd >= 0 {
				if fd, ok := r.descs[e.f.Desc]; !ok || fd != e.fd {
					unix.Close(e.fd)
				}
			}
		}
	}()
	newSock := func(e *uent) (int, error) {
		var fd int
		err := r.sockAs(e.p, func() (err error) {
			fd, err = unix.Socket(unix.AF_UNIX, e.f.Sock.Type|unix.SOCK_CLOEXEC, 0)
			return err
		})
		if err != nil {
			return -1, fmt.Errorf("fd %d: socket: %w", e.f.FD, err)
		}
		return fd, nil
	}
	made := map[*uent][]string{} // directories bind made (unixmoved.go)
	bind := func(e *uent, fd int, name string) error {
		if err := cwdOf(e.p); err != nil {
			return err
		}
		return r.sockAs(e.p, func() error {
			err := bindUnix(fd, name)
			if err == unix.ENOENT && e.f.Sock.Renamed != "" && name[0] != 0 {
				// The directory of the name was moved too: made for the
				// bind, removed once the file is moved (step 5).
				made[e], err = bindMaking(fd, name)
			}
			if err != nil {
				return fmt.Errorf("fd %d: bind %s: %w", e.f.FD, printName(name), err)
			}
			return nil
		})
	}
	// Socket files left by the checkpointed tree are in the way of bind:
	// one nobody listens on (connect is refused) is removed.
	for _, ino := range inos {
		if n := ents[ino].f.Sock.Name; n != "" && n[0] != 0 && cwdOf(ents[ino].p) == nil {
			asFileUser(r.fileCreds(ents[ino].p), func() error { removeStaleSocket(n); return nil })
		}
	}
	// Clients of connections waiting to be accepted, by the inode of their
	// pending connection.
	pendingClient := map[uint64]*uent{}
	for _, ino := range inos {
		for _, c := range ents[ino].f.Sock.Pending {
			if ents[c] != nil {
				pendingClient[c] = ents[c]
			}
		}
	}
	isPending := map[*uent]bool{}
	for _, c := range pendingClient {
		isPending[c] = true
	}
	// 1. Pairs and connections.
	tempListeners := map[string]int{}
	tempOwner := map[string]*rproc{}
	for _, ino := range inos {
		e := ents[ino]
		s := e.f.Sock
		if e.fd >= 0 || s.State == stateListen || isPending[e] {
			continue
		}
		peer := ents[s.Peer]
		switch {
		case peer != nil && peer.fd < 0 && (s.Type == unix.SOCK_DGRAM || (s.Name == "" && peer.f.Sock.Name == "")):
			if s.Name == "" && peer.f.Sock.Name == "" {
				var sp [2]int
				err := r.sockAs(e.p, func() (err error) { sp, err = unix.Socketpair(unix.AF_UNIX, s.Type|unix.SOCK_CLOEXEC, 0); return err })
				if err != nil {
					return fmt.Errorf("fd %d: socketpair: %w", e.f.FD, err)
				}
				e.fd, peer.fd = sp[0], sp[1]
				continue
			}
			// Datagram sockets with names: connected in step 4.
			for _, x := range []*uent{e, peer} {
				fd, err := newSock(x)
				if err != nil {
					return err
				}
				x.fd = fd
				if x.f.Sock.Name != "" {
					if err := bind(x, fd, x.f.Sock.Name); err != nil {
						return err
					}
				}
			}
		case peer != nil && peer.fd < 0:
			// A stream or seqpacket connection with a name: the client
			// connects to a temporary listener on the server's name, so
			// that each end reports the addresses it had.
			server, client := e, peer
			if s.Name == "" {
				server, client = peer, e
			}
			name := server.f.Sock.Name
			tl, ok := tempListeners[name]
			if !ok {
				fd, err := newSock(server)
				if err != nil {
					return err
				}
				temps = append(temps, fd)
				if err := bind(server, fd, name); err != nil {
					return err
				}
				if err := r.sockAs(server.p, func() error { return unix.Listen(fd, 128) }); err != nil {
					return fmt.Errorf("fd %d: listen: %w", server.f.FD, err)
				}
				tl, tempListeners[name], tempOwner[name] = fd, fd, server.p
			}
			cfd, err := newSock(client)
			if err != nil {
				return err
			}
			client.fd = cfd
			if n := client.f.Sock.Name; n != "" {
				if err := bind(client, cfd, n); err != nil {
					return err
				}
			}
			if err := cwdOf(server.p); err != nil {
				return err
			}
			if err := r.sockAs(client.p, func() error { return connectUnix(cfd, name) }); err != nil {
				return fmt.Errorf("fd %d: connect %s: %w", client.f.FD, printName(name), err)
			}
			var sfd int
			err = r.sockAs(server.p, func() (err error) { sfd, _, err = unix.Accept4(tl, unix.SOCK_CLOEXEC); return err })
			if err != nil {
				return fmt.Errorf("fd %d: accept: %w", server.f.FD, err)
			}
			server.fd = sfd
		case peer == nil && ((s.State == stateEstablished && s.Type != unix.SOCK_DGRAM) ||
			(s.Type == unix.SOCK_DGRAM && s.Name == "" && (s.Peer != 0 || len(s.Queue) > 0))):
			// Its peer was closed: a pair whose other end sends the
			// queue, then is closed. (An unnamed datagram socket with a
			// queue was one of a pair: nobody else can send to it.)
			var sp [2]int
			err := r.sockAs(e.p, func() (err error) { sp, err = unix.Socketpair(unix.AF_UNIX, s.Type|unix.SOCK_CLOEXEC, 0); return err })
			if err != nil {
				return fmt.Errorf("fd %d: socketpair: %w", e.f.FD, err)
			}
			e.fd, e.other = sp[0], sp[1]
		default:
			fd, err := newSock(e)
			if err != nil {
				return err
			}
			e.fd = fd
			if s.Name != "" {
				if err := bind(e, fd, s.Name); err != nil {
					return err
				}
			}
		}
	}
	// 2. The temporary listeners go, and their names with them.
	for name, fd := range tempListeners {
		unix.Close(fd)
		if name[0] != 0 && cwdOf(tempOwner[name]) == nil {
			removeSocketFile(r.fileCreds(tempOwner[name]), name)
		}
	}
	temps = temps[:0]
	// 3. Listeners, and the connections waiting in them, in accept order.
	for _, ino := range inos {
		e := ents[ino]
		s := e.f.Sock
		if s.State != stateListen {
			continue
		}
		fd, err := newSock(e)
		if err != nil {
			return err
		}
		e.fd = fd
		if err := bind(e, fd, s.Name); err != nil {
			return err
		}
		if err := r.sockAs(e.p, func() error { return unix.Listen(fd, s.Backlog) }); err != nil {
			return fmt.Errorf("fd %d: listen: %w", e.f.FD, err)
		}
		for _, pe := range s.Pending {
			c := pendingClient[pe]
			if c == nil {
				continue
			}
			cfd, err := newSock(c)
			if err != nil {
				return err
			}
			c.fd = cfd
			if n := c.f.Sock.Name; n != "" {
				if err := bind(c, cfd, n); err != nil {
					return err
				}
			}
			if err := cwdOf(e.p); err != nil {
				return err
			}
			if err := r.sockAs(c.p, func() error { return connectUnix(cfd, s.Name) }); err != nil {
				return fmt.Errorf("fd %d: connect %s: %w", c.f.FD, printName(s.Name), err)
			}
		}
	}
	// Clients of connections whose listener is restored closed, and
	// anything left, come back unconnected. Sockets are in flight too:
	// from here on they are descriptions like the others.
	for _, ino := range inos {
		e := ents[ino]
		if e.fd < 0 {
			fd, err := newSock(e)
			if err != nil {
				return err
			}
			e.fd = fd
		}
		r.descs[e.f.Desc] = e.fd
		if err := applySockBufs(e.fd, e.f.Sock.Opts); err != nil {
			return fmt.Errorf("fd %d: %w", e.f.FD, err)
		}
	}
	// 4. The queues, each message sent again by its sender, before the
	// datagram sockets connect (a connected one takes only its peer's).
	for _, ino := range inos {
		if err := cwdOf(ents[ino].p); err != nil {
			return err
		}
		if err := r.refillUnix(ents[ino], ents, &temps); err != nil {
			return err
		}
	}
	for _, ino := range inos {
		e := ents[ino]
		s := e.f.Sock
		if s.Type != unix.SOCK_DGRAM || s.Peer == 0 {
			continue
		}
		var to string
		if peer := ents[s.Peer]; peer != nil {
			to = peer.f.Sock.Name
			if err := cwdOf(peer.p); err != nil {
				return err
			}
		}
		if to == "" {
			continue // a pair, connected already; or a peer restored closed
		}
		if err := connectUnix(e.fd, to); err != nil {
			return fmt.Errorf("fd %d: connect %s: %w", e.f.FD, printName(to), err)
		}
	}
	// 5. Names that were unlinked go; options, shut-down halves and file
	// status flags come back.
	for _, ino := range inos {
		e := ents[ino]
		s := e.f.Sock
		if s.Unlinked && s.Name != "" && s.Name[0] != 0 {
			if err := cwdOf(e.p); err != nil {
				return err
			}
			if s.Renamed != "" {
				if err := renameSocketFile(r.fileCreds(e.p), s.Name, s.Renamed); err != nil {
					return fmt.Errorf("fd %d: rename %s to %s: %w", e.f.FD, s.Name, s.Renamed, err)
				}
				if d := made[e]; d != nil {
					r.sockAs(e.p, func() error { removeMade(d); return nil })
				}
			} else if err := removeSocketFile(r.fileCreds(e.p), s.Name); err != nil {
				return fmt.Errorf("fd %d: unlink %s: %w", e.f.FD, s.Name, err)
			}
		}
		if err := applySockOpts(e.fd, s.Opts); err != nil {
			return fmt.Errorf("fd %d: %w", e.f.FD, err)
		}
		how := -1
		switch s.Shutdown & 3 {
		case 1:
			how = unix.SHUT_RD
		case 2:
			how = unix.SHUT_WR
		case 3:
			how = unix.SHUT_RDWR
		}
		if how >= 0 && e.other < 0 {
			if err := unix.Shutdown(e.fd, how); err != nil && err != unix.ENOTCONN {
				return fmt.Errorf("fd %d: shutdown: %w", e.f.FD, err)
			}
		}
		if _, err := unix.FcntlInt(uintptr(e.fd), unix.F_SETFL, e.f.Flags&descFlags); err != nil {
			return fmt.Errorf("fd %d: fcntl: %w", e.f.FD, err)
		}
		r.descs[e.f.Desc] = e.fd
	}
	return nil
}

// refillUnix sends e's receive queue again.
func (r *restorer) refillUnix(e *uent, ents map[uint64]*uent, temps *[]int) error {
	s := e.f.Sock
	byName := func(name string) *uent {
		for _, x := range ents {
			if name != "" && x.f.Sock.Name == name && x.f.Sock.State != stateListen && x.fd >= 0 {
				return x
			}
		}
		return nil
	}
	for _, m := range s.Queue {
		rights, closeAfter, err := r.rightsOf(e, m)
		if err != nil {
			return err
		}
		var oob []byte
		if len(rights) > 0 {
			oob = unix.UnixRights(rights...)
		}
		send := func(from int, to string) error {
			err := r.sendAgain(e, from, to, m, oob)
			for _, fd := range closeAfter {
				unix.Close(fd)
			}
			if err != nil {
				return fmt.Errorf("fd %d: refill socket queue: %w", e.f.FD, err)
			}
			return nil
		}
		switch {
		case e.other >= 0:
			if err := send(e.other, ""); err != nil {
				return err
			}
		case s.Type != unix.SOCK_DGRAM || s.Name == "":
			peer := ents[s.Peer]
			if peer == nil || peer.fd < 0 {
				return fmt.Errorf("fd %d: queued data and no peer to send it", e.f.FD)
			}
			if err := send(peer.fd, ""); err != nil {
				return err
			}
		default:
			from := -1
			if x := byName(m.From); x != nil {
				from = x.fd
			} else {
				var fd int
				if err := r.inNet(e.p, func() (err error) {
					fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
					return err
				}); err != nil {
					return err
				}
				*temps = append(*temps, fd)
				if m.From != "" {
					c := r.fileCreds(e.p)
					if err := asFileUser(c, func() error { return bindUnix(fd, m.From) }); err != nil {
						r.warn("%s(%d) fd %d: a queued datagram from %s comes from an unnamed socket: bind: %v", e.p.comm(), e.p.meta.PID, e.f.FD, printName(m.From), err)
					} else if m.From[0] != 0 {
						defer removeSocketFile(c, m.From)
					}
				}
				from = fd
			}
			if err := send(from, s.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// rightsOf opens the descriptors in flight with m; closeAfter are those to
// close once sent. One restored closed (-F) is left out.
func (r *restorer) rightsOf(e *uent, m sockMsg) (rights, closeAfter []int, err error) {
	for _, d := range m.Rights {
		if fd, ok := r.descs[d]; ok {
			rights = append(rights, fd)
			continue
		}
		var f *fileDesc
		for i := range m.Files {
			if m.Files[i].Desc == d {
				f = &m.Files[i]
			}
		}
		if f == nil {
			r.warn("%s(%d) fd %d: a descriptor in flight in it is restored closed, and left out", e.p.comm(), e.p.meta.PID, e.f.FD)
			continue
		}
		if f.Kind == fdSocket {
			r.warn("%s(%d) fd %d: a socket in flight in it could not be made again, and is left out", e.p.comm(), e.p.meta.PID, e.f.FD)
			continue
		}
		if f.Kind == fdPipe {
			pp, ok := r.pipes[f.Ino]
			if !ok {
				r.warn("%s(%d) fd %d: a pipe in flight in it is restored closed, and left out", e.p.comm(), e.p.meta.PID, e.f.FD)
				continue
			}
			end := pp[1]
			if f.Flags&unix.O_ACCMODE == unix.O_RDONLY {
				end = pp[0]
			}
			rights = append(rights, end)
			continue
		}
		var fd int
		err := asFileUser(r.fileCreds(e.p), func() error {
			var err error
			fd, err = unix.Open(f.Path, f.Flags&^(unix.O_CREAT|unix.O_TRUNC|unix.O_EXCL)|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			return err
		})
		if err != nil {
			for _, fd := range closeAfter {
				unix.Close(fd)
			}
			return nil, nil, fmt.Errorf("fd %d: descriptor in flight %s: %w", e.f.FD, f.Path, err)
		}
		unix.Seek(fd, f.Pos, 0)
		rights = append(rights, fd)
		closeAfter = append(closeAfter, fd)
	}
	return rights, closeAfter, nil
}

// removeStaleSocket removes a socket file nobody listens on.
func removeStaleSocket(path string) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return
	}
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return
		}
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		if err == nil {
			return
		}
		if err == unix.EPROTOTYPE {
			continue
		}
		if err == unix.ECONNREFUSED {
			os.Remove(path)
		}
		return
	}
}

// renameSocketFile moves the socket file just bound at name to renamed,
// with the rights of the image's owner, over nothing but a socket file
// (the checkpointed run's, left there): an image names paths, and its
// restart must not replace another file.
func renameSocketFile(c creds, name, renamed string) error {
	return asFileUser(c, func() error {
		var st unix.Stat_t
		if err := unix.Lstat(renamed, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return fmt.Errorf("%s is there and is not a socket", renamed)
		}
		return unix.Rename(name, renamed)
	})
}

// removeSocketFile removes path, with the rights of the image's owner, if
// it is a socket: an image names paths, and restart must not remove
// anything else with root's rights.
func removeSocketFile(c creds, path string) error {
	return asFileUser(c, func() error {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return fmt.Errorf("not a socket")
		}
		return unix.Unlink(path)
	})
}

// sendAgain sends queued message m from socket from (to address to, or its
// peer), with its descriptors (oob) and its sender's credentials. A
// stream may take the bytes in several sends; the control data goes with
// the first.
func (r *restorer) sendAgain(e *uent, from int, to string, m sockMsg, oob []byte) error {
	const flags = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	// Pid 0: the message came with no credentials of its sender (neither
	// socket had SO_PASSCRED when it was sent; the receiver set it later),
	// which the kernel reports as pid 0, and which no sender can name again
	// (SCM_CREDENTIALS with pid 0 is ESRCH): it goes without, and a
	// receiver asking gets the restorer's.
	if c := m.Creds; c != nil && c.PID != 0 {
		// The sender's credentials again (root may name any that exist;
		// the tree's pids are back already, under other numbers in a new
		// PID namespace).
		pid := c.PID
		for _, q := range r.procs {
			if int32(q.meta.PID) == c.PID && q.pid > 0 {
				pid = int32(q.pid)
			}
		}
		withCreds := append(append([]byte(nil), oob...), unix.UnixCredentials(&unix.Ucred{Pid: pid, Uid: c.UID, Gid: c.GID})...)
		n, err := sendmsgTo(from, m.Data, withCreds, to, flags)
		if err == unix.ESRCH || err == unix.EPERM {
			r.warn("%s(%d) fd %d: a queued message from pid %d comes with the restorer's credentials: %v", e.p.comm(), e.p.meta.PID, e.f.FD, c.PID, err)
			n, err = sendmsgTo(from, m.Data, oob, to, flags)
		}
		if err != nil {
			return err
		}
		return r.sendRest(from, to, m.Data[n:])
	}
	n, err := sendmsgTo(from, m.Data, oob, to, flags)
	if err != nil {
		return err
	}
	return r.sendRest(from, to, m.Data[n:])
}

// sendRest sends what a stream did not take at once.
func (r *restorer) sendRest(from int, to string, rest []byte) error {
	for len(rest) > 0 {
		n, err := sendmsgTo(from, rest, nil, to, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		if err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}
