package ckpt

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The receive queues of unix sockets, and the descriptors in flight in them
// (SCM_RIGHTS). A peek installs copies of those descriptors in this
// process: kcmp tells whether the tree holds each one; if not, a regular
// file, an end of a pipe of the tree, or a unix socket (itself described,
// with its own queue) held by the queue alone is saved with the message.

// maxSockQueue bounds the messages saved per socket (net.unix.max_dgram_qlen
// is far lower by default).
const maxSockQueue = 1 << 16

// maxFlightDepth bounds sockets in flight in sockets in flight...
const maxFlightDepth = 4

// rawMsg is a message peeked from a queue, with the descriptors in flight
// with it as copies in this process, not yet matched to the tree.
type rawMsg struct {
	m   sockMsg
	fds []int
}

// peekQueues reads, once, the receive queue of every unix socket of the
// tree and of every unix socket in flight in them: a message of zero bytes,
// once peeked, is skipped by the next peeks (the kernel marks it), so no
// queue is walked twice. The descriptors in flight stay open here until
// closeFlight.
func (t *dumpTree) peekQueues(socks map[uint64][]fdRef) error {
	t.unixRaw = map[uint64][]rawMsg{}
	t.unixFlight = map[uint64]bool{}
	var walk func(s int, ino uint64, sock *unixSock, depth int) error
	walk = func(s int, ino uint64, sock *unixSock, depth int) error {
		var q []rawMsg
		err := peekEach(s, sock, func(m *sockMsg, oob []byte) error {
			fds, err := controlData(m, oob)
			q = append(q, rawMsg{m: *m, fds: fds})
			return err
		})
		t.unixRaw[ino] = q
		if err != nil {
			return err
		}
		for _, rm := range q {
			for _, fd := range rm.fds {
				var st unix.Stat_t
				if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || len(socks[st.Ino]) > 0 || t.unixFlight[st.Ino] {
					continue
				}
				t.unixFlight[st.Ino] = true
				if depth+1 >= maxFlightDepth {
					continue
				}
				if family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || family != unix.AF_UNIX {
					continue
				}
				u, err := diagUnix(st.Ino)
				if err != nil || u.state == stateListen {
					continue
				}
				fs := &unixSock{Type: u.typ, Shutdown: u.shutdown}
				if fs.Opts, err = readSockOpts(fd); err != nil {
					continue
				}
				if err := walk(fd, st.Ino, fs, depth+1); err != nil {
					return fmt.Errorf("socket in flight: %w", err)
				}
			}
		}
		return nil
	}
	for ino, refs := range socks {
		r := refs[0]
		f := r.file()
		if f.Kind != fdSocket || f.Sock == nil || f.Sock.State == stateListen {
			continue
		}
		s, err := fdCopy(r.d.pid, f.FD)
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d: socket queue: %w", r.d.comm, r.d.pid, f.FD, err)
		}
		if f.Sock.Type == unix.SOCK_STREAM && oobPending(s) {
			unix.Close(s)
			return &UncheckpointableError{Comm: r.d.comm, PID: r.d.pid, FD: f.FD, Msg: "unix stream socket has an out-of-band byte (MSG_OOB) not read yet: its place in the stream cannot be restored"}
		}
		err = walk(s, ino, f.Sock, 0)
		unix.Close(s)
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d: socket queue: %w", r.d.comm, r.d.pid, f.FD, err)
		}
	}
	return nil
}

// oobPending reports whether unix stream socket s holds an out-of-band
// byte (send MSG_OOB) not read yet: a peek with MSG_OOB gets it without
// taking it (EINVAL when there is none, or with SO_OOBINLINE, where it is
// in the stream like any other byte).
func oobPending(s int) bool {
	b := make([]byte, 1)
	n, _, err := unix.Recvfrom(s, b, unix.MSG_OOB|unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n == 1
}

// closeFlight closes the copies of the descriptors in flight.
func (t *dumpTree) closeFlight() {
	for _, q := range t.unixRaw {
		for _, rm := range q {
			for _, fd := range rm.fds {
				unix.Close(fd)
			}
		}
	}
	t.unixRaw = nil
}

// unixQueues saves the receive queue of every unix socket of the tree.
// Descriptions (Desc) must be known: descriptors in flight refer to them.
func (t *dumpTree) unixQueues(socks map[uint64][]fdRef) error {
	for ino, refs := range socks {
		r := refs[0]
		f := r.file()
		if f.Kind != fdSocket || f.Sock == nil || f.Sock.State == stateListen {
			continue
		}
		q, err := t.resolveQueue(r, ino, 0)
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d: socket queue: %w", r.d.comm, r.d.pid, f.FD, err)
		}
		f.Sock.Queue = q
	}
	return nil
}

// resolveQueue turns the peeked queue of socket ino into the messages
// saved, each descriptor in flight matched to the tree or described.
func (t *dumpTree) resolveQueue(r fdRef, ino uint64, depth int) ([]sockMsg, error) {
	var q []sockMsg
	for _, rm := range t.unixRaw[ino] {
		m := rm.m
		if err := t.credsSender(r, &m); err != nil {
			return nil, err
		}
		for _, fd := range rm.fds {
			if err := t.inFlight(r, &m, fd, depth); err != nil {
				return nil, err
			}
		}
		q = append(q, m)
	}
	return q, nil
}

// peekEach walks the receive queue of socket s without consuming it: the
// socket's peek offset (SO_PEEK_OFF) moves one message at a time, and is
// put back as it was. The kernel keeps each message's sender credentials;
// SO_PASSCRED, set for the walk, shows them (and keeps stream reads from
// merging different senders). each gets the message and its control data.
func peekEach(s int, sock *unixSock, each func(m *sockMsg, oob []byte) error) error {
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0); err != nil {
		return fmt.Errorf("SO_PEEK_OFF: %w", err)
	}
	defer unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PEEK_OFF, sock.Opts.PeekOff)
	if !sock.Opts.PassCred {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
			return fmt.Errorf("SO_PASSCRED: %w", err)
		}
		defer unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PASSCRED, 0)
	}
	size := 2 * sock.Opts.RcvBuf
	if size < 1<<16 {
		size = 1 << 16
	}
	buf := make([]byte, size)
	oob := make([]byte, unix.CmsgSpace(253*4)+unix.CmsgSpace(unix.SizeofUcred))
	for count := 0; ; count++ {
		if count > maxSockQueue {
			return fmt.Errorf("more than %d messages queued", maxSockQueue)
		}
		n, oobn, flags, from, err := unix.Recvmsg(s, buf, oob, unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil {
			return err
		}
		if flags&unix.MSG_TRUNC != 0 {
			return fmt.Errorf("a message longer than %d bytes", len(buf))
		}
		if n == 0 && (sock.Type == unix.SOCK_STREAM || (oobn == 0 && sock.Type == unix.SOCK_SEQPACKET && sock.Shutdown&1 != 0)) {
			// End of file: the peer shut down, or this end for reading. A
			// stream has no message of zero bytes, and the end of file
			// of one comes with the credentials SO_PASSCRED asks for,
			// at every peek. (A record of zero bytes before it is taken
			// for it.)
			return nil
		}
		m := sockMsg{Data: append([]byte(nil), buf[:n]...)}
		if sa, ok := from.(*unix.SockaddrUnix); ok && sock.Type == unix.SOCK_DGRAM {
			m.From = sa.Name
			if strings.HasPrefix(m.From, "@") {
				m.From = "\x00" + m.From[1:]
			}
		}
		if err := each(&m, oob[:oobn]); err != nil {
			return err
		}
	}
}

// controlData parses the control data of a peeked message: the
// descriptors it installed here (the caller closes them) and the
// credentials.
func controlData(m *sockMsg, oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, cm := range cms {
		if rights, err := unix.ParseUnixRights(&cm); err == nil {
			fds = append(fds, rights...)
		}
		if uc, err := unix.ParseUnixCredentials(&cm); err == nil {
			m.Creds = &sockCreds{PID: uc.Pid, UID: uc.Uid, GID: uc.Gid}
		}
	}
	return fds, nil
}

// credsSender refuses a message whose sender credentials (kept by the
// kernel for SO_PASSCRED) name a process that has exited and is no member
// of the tree: the restore sends each message again with its sender's
// credentials, which only a live process can have (ESRCH), and the
// receiver would find the restorer's instead.
func (t *dumpTree) credsSender(r fdRef, m *sockMsg) error {
	if m.Creds == nil || m.Creds.PID == 0 {
		return nil
	}
	pid := int(m.Creds.PID)
	for _, d := range t.procs {
		if d.pid == pid {
			return nil
		}
	}
	if err := unix.Kill(pid, 0); err != unix.ESRCH {
		return nil
	}
	return r.d.uncheckpointable(r.file().FD, fmt.Sprintf("is socket (a message queued in it carries the credentials (SCM_CREDENTIALS) of pid %d, which has exited: no sender can give them again)", pid))
}

// inFlight records descriptor fd (a copy installed here by a peek) in flight
// with m, in a queue of r's socket.
func (t *dumpTree) inFlight(r fdRef, m *sockMsg, fd int, depth int) error {
	self := os.Getpid()
	for _, d := range t.procs {
		for _, g := range d.meta.Files {
			if g.Kind != fdClosed && sameDescription(self, fd, d.pid, g.FD) {
				m.Rights = append(m.Rights, g.Desc)
				return nil
			}
		}
	}
	add := func(g fileDesc) {
		m.Files = append(m.Files, g)
		m.Rights = append(m.Rights, g.Desc)
	}
	link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	fl &^= unix.O_CLOEXEC
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	why := "is held by no process of the tree"
	switch {
	case strings.HasPrefix(link, "pipe:["):
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "pipe:["), "]"), 10, 64)
		if t.hasPipe(n) {
			if fl&unix.O_ACCMODE == unix.O_RDONLY {
				if err := t.saveFlightPipe(r, fd, n); err != nil {
					return err
				}
			}
			add(fileDesc{FD: -1, Kind: fdPipe, Path: link, Ino: n, Flags: fl, Desc: fmt.Sprintf("flight:%d", len(m.Files))})
			return nil
		}
	case st.Mode&unix.S_IFMT == unix.S_IFREG && !strings.HasSuffix(link, " (deleted)"):
		info, err := readFdInfo(self, fd)
		if err == nil {
			ref := statRef(link, fmt.Sprintf("/proc/self/fd/%d", fd))
			add(fileDesc{FD: -1, Kind: fdFile, Path: link, Flags: info.Flags &^ unix.O_CLOEXEC, Pos: info.Pos, File: &ref, Desc: fmt.Sprintf("flight:%d", len(m.Files))})
			return nil
		}
	case st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		g, reason, err := t.flightSocket(r, fd, st.Ino, fl, depth)
		if err != nil {
			return err
		}
		if reason == "" {
			add(g)
			return nil
		}
		why = reason
	}
	f := r.file()
	return r.d.uncheckpointable(f.FD, fmt.Sprintf("is socket (descriptor %s in flight in it %s)", link, why))
}

// saveFlightPipe saves the bytes buffered in pipe ino through fd, a read
// end of it in flight, when no process of the tree holds a read end (and
// savePipe did not): the tree holds its write end only, and the reader
// that receives this one must find them.
func (t *dumpTree) saveFlightPipe(r fdRef, fd int, ino uint64) error {
	var refs []fdRef
	for _, d := range t.procs {
		for _, pd := range d.meta.Pipes {
			if pd.Ino == ino {
				return nil
			}
		}
		for i, f := range d.meta.Files {
			if f.Kind == fdPipe && f.Ino == ino {
				refs = append(refs, fdRef{d: d, i: i})
			}
		}
	}
	pd, err := teeAll(fd)
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d: the pipe whose read end is in flight in it (pipe:[%d]): %w", r.d.comm, r.d.pid, r.file().FD, ino, err)
	}
	pd.Ino = ino
	pd.packetMode(refs)
	r.d.meta.Pipes = append(r.d.meta.Pipes, pd)
	return nil
}

// flightSocket describes a unix socket in flight that only the queue holds:
// its peer must be in the tree (or in flight too).
func (t *dumpTree) flightSocket(r fdRef, fd int, ino uint64, flags, depth int) (fileDesc, string, error) {
	if family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || family != unix.AF_UNIX {
		return fileDesc{}, "is not a unix socket", nil
	}
	if depth >= maxFlightDepth {
		return fileDesc{}, fmt.Sprintf("carries sockets in flight more than %d deep", maxFlightDepth), nil
	}
	u, err := diagUnix(ino)
	if err != nil {
		return fileDesc{}, "cannot be described: " + err.Error(), nil
	}
	if u.state == stateListen {
		return fileDesc{}, "is a listener", nil
	}
	if u.peer != 0 && len(t.unixSocks[u.peer]) == 0 && !t.unixFlight[u.peer] {
		return fileDesc{}, "has its peer outside of selected processes", nil
	}
	us := &unixSock{Type: u.typ, State: u.state, Peer: u.peer, Name: u.name, Shutdown: u.shutdown}
	if u.name != "" && u.name[0] != 0 {
		var st unix.Stat_t
		us.Unlinked = !strings.HasPrefix(u.name, "/") || unix.Stat(u.name, &st) != nil || st.Ino != u.vfsIno
	}
	if us.Opts, err = readSockOpts(fd); err != nil {
		return fileDesc{}, "", fmt.Errorf("socket in flight: options: %w", err)
	}
	if us.Opts.Filter, err = getFilter(fd); err != nil {
		return fileDesc{}, "has a filter that cannot be read back", nil
	}
	if _, ok := t.unixRaw[ino]; !ok {
		return fileDesc{}, fmt.Sprintf("carries sockets in flight more than %d deep", maxFlightDepth), nil
	}
	if us.Queue, err = t.resolveQueue(r, ino, depth+1); err != nil {
		return fileDesc{}, "", fmt.Errorf("socket in flight: %w", err)
	}
	link := fmt.Sprintf("socket:[%d]", ino)
	return fileDesc{FD: -1, Kind: fdSocket, Path: link, Flags: flags, Ino: ino, Sock: us, Desc: "flight-sock:" + strconv.FormatUint(ino, 10)}, "", nil
}
