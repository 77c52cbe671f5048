package ckpt

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// POSIX message queues (mq_open). A queue is a file of the mqueue
// filesystem of an IPC namespace, named like a path ("/name"); a
// descriptor is an open file description of it (its own O_NONBLOCK, the
// mq_flags of mq_getattr). The checkpoint saves each queue a member has
// open once, in the root's image beside the SysV objects (sysvIPC.Mqueue):
// name, maxmsg and msgsize, owner and mode, the messages in queue order
// with their priorities, and an mq_notify registration; each descriptor
// names its queue by inode. The restart makes the queue again in the
// tree's IPC namespace (a new one for a job that had its own, see
// sysvipc.go), fills it, and opens every description from it.
//
// The messages can only be read by taking them (mq_timedreceive), so the
// checkpoint takes them through a description of its own, while the tree
// is frozen, and sends them back at once in the order it took them:
// mq_timedsend puts a message after those of its priority, so the queue
// is as it was. No member waits in mq_timedreceive or mq_timedsend
// meanwhile (the freeze interrupted those waits; they are restarted when
// the tree goes on). A registration fires, and is removed, when a message
// arrives in the empty queue (__do_notify: mq_curmsgs becomes 1), so a
// queue with a registration is read without ever being left empty
// (mqReadKeeping), and refused when it is full (that needs a free slot).
//
// What the kernel shows of a registration (reading the queue file:
// "QSIZE: NOTIFY: SIGNO: NOTIFY_PID:") is its kind, signal and owner, not
// its sigev_value, which the checkpoint reads by firing the registration
// and registering again (mqnotifyvalue.go). SIGEV_THREAD (glibc's netlink socket) and an
// owner outside the tree are refused. Named queues of a job's own IPC
// namespace that no member has open are found by mounting the
// namespace's mqueue filesystem in a mount namespace of the checkpointer's
// own (mqueuens.go) and saved as well.

const mqueueMagic = 0x19800202 // MQUEUE_MAGIC

const (
	sigevSignal = 0
	sigevNone   = 1
	sigevThread = 2
	mqPrioMax   = 32768    // MQ_PRIO_MAX
	mqMsgMax    = 65536    // HARD_MSGMAX
	mqSizeMax   = 16 << 20 // HARD_MSGSIZEMAX
	mqBytesMax  = 64 << 20 // what an image may hold of one queue's messages
	mqQueuesMax = 1024     // HARD_QUEUESMAX: the most queues a namespace can hold
)

// posixMq is one queue, in sysvIPC.Mqueue.
type posixMq struct {
	Ino      uint64      `json:"ino"`  // the queue's inode: descriptors name it (fileDesc.Ino)
	Name     string      `json:"name"` // "/name"
	Unlinked bool        `json:"unlinked,omitempty"`
	Mode     uint32      `json:"mode"`
	UID      int         `json:"uid"`
	GID      int         `json:"gid"`
	MaxMsg   int64       `json:"maxmsg"`
	MsgSize  int64       `json:"msgsize"`
	Messages []mqMessage `json:"messages,omitempty"` // in queue order
	Notify   *mqNotify   `json:"notify,omitempty"`
}

type mqMessage struct {
	Prio uint32 `json:"prio"`
	Data []byte `json:"data"`
}

// mqNotify is an mq_notify registration.
type mqNotify struct {
	Kind  int `json:"kind"` // SIGEV_SIGNAL or SIGEV_NONE
	Signo int `json:"signo,omitempty"`
	Owner int `json:"owner"` // the registering process, its pid at checkpoint
	// Value is the sigev_value of a SIGEV_SIGNAL registration, read by
	// firing it (mqnotifyvalue.go); opaque to us, any value is valid.
	Value uint64 `json:"value,omitempty"`
}

// mqAttr is struct mq_attr.
type mqAttr struct {
	Flags, MaxMsg, MsgSize, CurMsgs int64
	_                               [4]int64
}

// isMqueue tells whether descriptor fd of pid is a POSIX message queue.
func isMqueue(pid, fd int) bool {
	var st unix.Statfs_t
	return unix.Statfs(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st) == nil && st.Type == mqueueMagic
}

// mqueueEarlyRefusal refuses, as its descriptor is described, a queue
// with a SIGEV_THREAD registration: its netlink socket (the C library's)
// would be refused next, naming only a socket.
func mqueueEarlyRefusal(pid, fd int, link string) string {
	qfd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(qfd)
	if n, err := mqStatus(qfd); err == nil && n.Owner != 0 && n.Kind == sigevThread {
		return fmt.Sprintf(": POSIX message queue %s has an mq_notify SIGEV_THREAD registration (a netlink socket of the C library): not checkpointable", strings.TrimSuffix(link, " (deleted)"))
	}
	return ""
}

func mqGetattr(fd int) (mqAttr, error) {
	var a mqAttr
	_, _, e := unix.Syscall(unix.SYS_MQ_GETSETATTR, uintptr(fd), 0, uintptr(unsafe.Pointer(&a)))
	if e != 0 {
		return a, fmt.Errorf("mq_getattr: %w", e)
	}
	return a, nil
}

func mqSend(fd int, m mqMessage) error {
	var p *byte
	if len(m.Data) > 0 {
		p = &m.Data[0]
	}
	_, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDSEND, uintptr(fd), uintptr(unsafe.Pointer(p)), uintptr(len(m.Data)), uintptr(m.Prio), 0, 0)
	if e != 0 {
		return fmt.Errorf("mq_timedsend: %w", e)
	}
	return nil
}

// mqStatus parses what reading a queue file gives: the notification's
// kind, signal and owner (owner 0: no registration).
func mqStatus(fd int) (n mqNotify, err error) {
	buf := make([]byte, 256)
	k, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return n, fmt.Errorf("read queue status: %w", err)
	}
	f := strings.Fields(strings.NewReplacer(":", " ").Replace(string(buf[:k])))
	val := map[string]int{}
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.Atoi(f[i+1])
		if err != nil {
			return n, fmt.Errorf("queue status %q", buf[:k])
		}
		val[f[i]] = v
	}
	return mqNotify{Kind: val["NOTIFY"], Signo: val["SIGNO"], Owner: val["NOTIFY_PID"]}, nil
}

// collectMqueues saves every queue a member has open (see the comment at
// the top) into st, taking its messages and giving them back.
func (t *dumpTree) collectMqueues(st *sysvIPC, nsPath string) error {
	members := map[int]bool{}
	for _, d := range t.procs {
		members[d.pid] = true
	}
	seen := map[uint64]bool{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind != fdMqueue {
				continue
			}
			if seen[f.Ino] {
				continue
			}
			seen[f.Ino] = true
			q, refuse, err := d.readMqueue(f, members, t.opts.CheckOnly)
			if err != nil {
				return err
			}
			if refuse != "" {
				if err := d.uncheckpointable(f.FD, refuse); err != nil {
					return err
				}
				// Forced: every descriptor of it is restored closed.
				for _, e := range t.procs {
					for j := range e.meta.Files {
						if g := &e.meta.Files[j]; g.Kind == fdMqueue && g.Ino == f.Ino {
							g.Kind, g.Reason = fdClosed, strings.TrimPrefix(refuse, ": ")
						}
					}
				}
				continue
			}
			if q.Notify != nil && q.Notify.Kind == sigevSignal && !t.opts.CheckOnly {
				refuse, err := t.notifyValue(d, f, &q)
				if err != nil {
					return err
				}
				if refuse != "" {
					if err := d.uncheckpointable(f.FD, refuse); err != nil {
						return err
					}
					q.Notify.Value = 0 // forced: registered again without it
				}
			}
			st.Mqueue = append(st.Mqueue, q)
			t.log.Info(fmt.Sprintf("%s(%d) fd %d POSIX message queue %s: %d messages", d.comm, d.pid, f.FD, q.Name, len(q.Messages)))
		}
	}
	if !st.OwnNS {
		return nil
	}
	return t.collectUnopenedMqueues(st, nsPath, seen, members)
}

// readMqueue reads the queue of descriptor f through a description of
// its own; refuse says why it cannot be saved.
func (d *dumper) readMqueue(f *fileDesc, members map[int]bool, checkOnly bool) (q posixMq, refuse string, err error) {
	name := strings.TrimSuffix(f.Path, " (deleted)")
	q = posixMq{Ino: f.Ino, Name: name, Unlinked: name != f.Path}
	fail := func(err error) (posixMq, string, error) {
		return q, "", fmt.Errorf("%s(%d) fd %d: message queue %s: %w", d.comm, d.pid, f.FD, name, err)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	q, refuse, err = readMqueueFD(fd, q, members, checkOnly)
	if err != nil {
		return fail(err)
	}
	return q, refuse, nil
}

// readMqueueFD reads queue q (its name and inode set) through fd, a
// description of its own, and gives its messages back.
func readMqueueFD(fd int, q posixMq, members map[int]bool, checkOnly bool) (_ posixMq, refuse string, err error) {
	name := q.Name
	fail := func(err error) (posixMq, string, error) { return q, "", err }
	var s unix.Stat_t
	if err := unix.Fstat(fd, &s); err != nil {
		return fail(err)
	}
	q.Mode, q.UID, q.GID = s.Mode&0o7777, int(s.Uid), int(s.Gid)
	a, err := mqGetattr(fd)
	if err != nil {
		return fail(err)
	}
	q.MaxMsg, q.MsgSize = a.MaxMsg, a.MsgSize
	n, err := mqStatus(fd)
	if err != nil {
		return fail(err)
	}
	if n.Owner != 0 {
		switch {
		case n.Kind == sigevThread:
			return q, fmt.Sprintf(": POSIX message queue %s has an mq_notify SIGEV_THREAD registration (a netlink socket of the C library): not checkpointable", name), nil
		case n.Kind != sigevSignal && n.Kind != sigevNone:
			return q, fmt.Sprintf(": POSIX message queue %s has an mq_notify registration of kind %d: not checkpointable", name, n.Kind), nil
		case !members[n.Owner]:
			return q, fmt.Sprintf(": POSIX message queue %s has an mq_notify registration of process %d, outside the checkpointed tree", name, n.Owner), nil
		case a.CurMsgs > 0 && a.CurMsgs >= a.MaxMsg:
			return q, fmt.Sprintf(": POSIX message queue %s is full (%d messages) and has an mq_notify registration: its messages cannot be read and given back without firing it", name, a.CurMsgs), nil
		case a.CurMsgs > 0 && a.MsgSize < mqMarkMin:
			return q, fmt.Sprintf(": POSIX message queue %s has messages of at most %d bytes and an mq_notify registration: its messages cannot be read and given back without firing it", name, a.MsgSize), nil
		}
		if n.Kind == sigevNone {
			n.Signo = 0
		}
		q.Notify = &n
	}
	if a.CurMsgs == 0 || checkOnly {
		return q, "", nil
	}
	if q.Notify != nil {
		msgs, err := mqReadKeeping(fd, a)
		if err != nil {
			return fail(err)
		}
		q.Messages = msgs
		return q, "", nil
	}
	var total int64
	q.Messages, total, err = mqDrain(fd, a.MsgSize)
	// Given back before anything else, in the order taken.
	if e := mqGiveBack(fd, q.Messages); e != nil {
		return fail(e)
	}
	if err != nil {
		return fail(err)
	}
	if total > mqBytesMax {
		return q, fmt.Sprintf(": POSIX message queue %s holds %d bytes of messages, more than %d", name, total, mqBytesMax), nil
	}
	return q, "", nil
}

// mqDrain takes every message of the queue open as fd (non-blocking),
// in order, and their total size; on an error, those taken so far.
func mqDrain(fd int, msgSize int64) ([]mqMessage, int64, error) {
	var msgs []mqMessage
	var total int64
	buf := make([]byte, msgSize)
	for {
		var prio uint32
		k, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&prio)), 0, 0)
		if e == unix.EAGAIN {
			return msgs, total, nil
		}
		if e != 0 {
			return msgs, total, fmt.Errorf("mq_timedreceive: %w", e)
		}
		total += int64(k)
		msgs = append(msgs, mqMessage{Prio: prio, Data: bytes.Clone(buf[:k])})
	}
}

// mqGiveBack sends msgs back to the queue open as fd, in order.
func mqGiveBack(fd int, msgs []mqMessage) error {
	for i, m := range msgs {
		if e := mqSend(fd, m); e != nil {
			return fmt.Errorf("message %d of %d could not be given back (the running program lost them): %w", i, len(msgs), e)
		}
	}
	return nil
}

// mqMarkMin: the marker messages mqReadKeeping sends are told from the
// queue's by their random bytes, at least this many.
const mqMarkMin = 8

// mqReadKeeping reads the messages of a queue that has an mq_notify
// registration without ever leaving it empty (a message arriving in an
// empty queue fires the registration), and leaves them as they were. A
// message goes after those of its priority; the one at the tail, Mn, can
// only be read once everything before it is taken, so something must be
// behind it then: a marker M of its very priority pn, which can later be
// taken off the head with original messages behind it. pn is found by
// sending markers of decreasing priority from the lowest priority of the
// messages before Mn: one of a priority above pn goes ahead of Mn and is
// the next taken; the first that goes behind has pn. Then, with the queue
// holding only M, every message is sent back: those of a priority above
// pn (H) go ahead of M, the rest (pn) behind it; H and M are taken and H
// sent back. The queue holds at most one message more than before: a
// full queue is refused by the caller.
func mqReadKeeping(fd int, a mqAttr) ([]mqMessage, error) {
	n := int(a.CurMsgs)
	buf := make([]byte, a.MsgSize)
	recv := func() (mqMessage, error) {
		var prio uint32
		k, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&prio)), 0, 0)
		if e != 0 {
			return mqMessage{}, fmt.Errorf("mq_timedreceive: %w", e)
		}
		return mqMessage{Prio: prio, Data: bytes.Clone(buf[:k])}, nil
	}
	mark := mqMessage{Data: make([]byte, min(a.MsgSize, 32))}
	if _, err := rand.Read(mark.Data); err != nil {
		return nil, err
	}
	isMark := func(m mqMessage) bool { return m.Prio == mark.Prio && bytes.Equal(m.Data, mark.Data) }
	var msgs []mqMessage
	for range n - 1 {
		m, err := recv()
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	// The queue holds Mn alone.
	p := uint32(mqPrioMax - 1)
	if len(msgs) > 0 {
		p = msgs[len(msgs)-1].Prio
	}
	for {
		mark.Prio = p
		if err := mqSend(fd, mark); err != nil {
			return nil, err
		}
		m, err := recv()
		if err != nil {
			return nil, err
		}
		if !isMark(m) {
			msgs = append(msgs, m) // Mn; the marker, of its priority, stays
			break
		}
		if p == 0 {
			return nil, fmt.Errorf("the last message's priority was not found")
		}
		p--
	}
	h := 0
	for _, m := range msgs {
		if m.Prio > mark.Prio {
			h++
		}
		if err := mqSend(fd, m); err != nil {
			return nil, err
		}
	}
	for i := range h + 1 {
		m, err := recv()
		if err != nil {
			return nil, err
		}
		if (i < h) != !isMark(m) {
			return nil, fmt.Errorf("the queue changed while it was read (message %d)", i)
		}
	}
	for _, m := range msgs[:h] {
		if err := mqSend(fd, m); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// checkMqueues checks the queues of an image against the bounds.
func checkMqueues(st *sysvIPC) error {
	if len(st.Mqueue) > mqQueuesMax {
		return fmt.Errorf("%w: %d POSIX message queues, more than %d", ErrCorrupt, len(st.Mqueue), mqQueuesMax)
	}
	inos := map[uint64]bool{}
	for _, q := range st.Mqueue {
		bad := inos[q.Ino] || len(q.Name) < 2 || q.Name[0] != '/' || strings.ContainsAny(q.Name[1:], "/\x00") || len(q.Name) > 256 ||
			q.MaxMsg <= 0 || q.MaxMsg > mqMsgMax || q.MsgSize <= 0 || q.MsgSize > mqSizeMax || int64(len(q.Messages)) > q.MaxMsg
		inos[q.Ino] = true
		if bad {
			return fmt.Errorf("%w: POSIX message queue %q: maxmsg %d msgsize %d, %d messages", ErrCorrupt, q.Name, q.MaxMsg, q.MsgSize, len(q.Messages))
		}
		var total int64
		for _, m := range q.Messages {
			total += int64(len(m.Data))
			if int64(len(m.Data)) > q.MsgSize || m.Prio >= mqPrioMax {
				return fmt.Errorf("%w: POSIX message queue %s: a message of %d bytes, priority %d", ErrCorrupt, q.Name, len(m.Data), m.Prio)
			}
		}
		if total > mqBytesMax {
			return fmt.Errorf("%w: POSIX message queue %s: %d bytes of messages", ErrCorrupt, q.Name, total)
		}
		if n := q.Notify; n != nil && (n.Kind != sigevSignal && n.Kind != sigevNone || n.Signo < 0 || n.Signo > 64 || n.Kind == sigevSignal && n.Signo == 0 || n.Owner <= 0) {
			return fmt.Errorf("%w: POSIX message queue %s: notification %+v", ErrCorrupt, q.Name, *n)
		}
	}
	return nil
}

// makeMqueues makes the queues again, filled, in the IPC namespace of the
// calling thread (createIPC). A queue that was unlinked is made under a
// name of its own and unlinked once its descriptions are open
// (finishMqueues).
func (r *restorer) makeMqueues() error {
	for _, q := range r.ipc.st.Mqueue {
		name := q.Name
		if q.Unlinked {
			name = fmt.Sprintf("/.lazarus-restart-%d-%d", os.Getpid(), q.Ino)
		}
		fd, err := r.mqCreate(name, q)
		if errors.Is(err, unix.EEXIST) && r.opts.Force {
			// -F: the queue of that name now (the one the tree left,
			// killed after its checkpoint, or another) is unlinked and
			// the saved one made in its place; whoever has the old one
			// open keeps it.
			r.warn("%s(%d): POSIX message queue %s: file exists; replaced by the saved queue (forced)", r.root.comm(), r.root.meta.PID, name)
			if err = mqUnlink(name); err == nil {
				fd, err = r.mqCreate(name, q)
			}
		}
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("POSIX message queue %s: file exists", name)
		}
		if err != nil {
			return fmt.Errorf("POSIX message queue %s: %w", name, err)
		}
		r.ipc.mq[q.Ino] = fd
		r.ipc.mqMade = append(r.ipc.mqMade, name)
		if q.Unlinked {
			r.ipc.mqTemp = append(r.ipc.mqTemp, name)
		}
		if err := unix.Fchown(fd, q.UID, q.GID); err != nil {
			return fmt.Errorf("POSIX message queue %s: chown %d:%d: %w", name, q.UID, q.GID, err)
		}
		if err := unix.Fchmod(fd, q.Mode); err != nil {
			return fmt.Errorf("POSIX message queue %s: chmod %#o: %w", name, q.Mode, err)
		}
		for i, m := range q.Messages {
			if err := mqSend(fd, m); err != nil {
				return fmt.Errorf("POSIX message queue %s: message %d of %d bytes: %w", name, i, len(m.Data), err)
			}
		}
	}
	return nil
}

// mqCreate creates queue name with q's sizes. Sizes above the namespace's
// msg_max or msgsize_max need CAP_SYS_RESOURCE (which root lacks on some
// machines): the namespace's limits are raised for the creation and put
// back.
func (r *restorer) mqCreate(name string, q posixMq) (int, error) {
	open := func() (int, error) {
		p, err := unix.BytePtrFromString(name[1:])
		if err != nil {
			return -1, err
		}
		a := mqAttr{MaxMsg: q.MaxMsg, MsgSize: q.MsgSize}
		fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), uintptr(unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NONBLOCK|unix.O_CLOEXEC), 0o600, uintptr(unsafe.Pointer(&a)), 0, 0)
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
	fd, err := open()
	if !errors.Is(err, unix.EINVAL) {
		return fd, err
	}
	for _, l := range []struct {
		file string
		want int64
	}{{"msg_max", q.MaxMsg}, {"msgsize_max", q.MsgSize}} {
		path := "/proc/sys/fs/mqueue/" + l.file
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return -1, err
		}
		old, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if old >= l.want {
			continue
		}
		if werr := os.WriteFile(path, []byte(strconv.FormatInt(l.want, 10)), 0); werr != nil {
			return -1, fmt.Errorf("%w (maxmsg %d msgsize %d above the namespace's %s %d, which could not be raised: %v)", err, q.MaxMsg, q.MsgSize, l.file, old, werr)
		}
		defer os.WriteFile(path, b, 0)
	}
	return open()
}

// openMqueue opens the description of descriptor f from the queue made
// by makeMqueues.
func (r *restorer) openMqueue(f fileDesc) (int, error) {
	var qfd int
	ok := r.ipc != nil
	if ok {
		qfd, ok = r.ipc.mq[f.Ino]
	}
	if !ok {
		return -1, fmt.Errorf("fd %d: POSIX message queue %s: %w", f.FD, f.Path, errIPCNotSaved)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", qfd), f.Flags&(unix.O_ACCMODE|unix.O_NONBLOCK)|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("fd %d: open POSIX message queue %s: %w", f.FD, f.Path, err)
	}
	return fd, nil
}

// finishMqueues unlinks the queues that had no name, and closes the
// restorer's descriptors of them (in the IPC namespace of the calling
// thread).
func (r *restorer) finishMqueues() error {
	for _, name := range r.ipc.mqTemp {
		if err := mqUnlink(name); err != nil {
			return fmt.Errorf("POSIX message queue %s: mq_unlink: %w", name, err)
		}
	}
	r.ipc.mqTemp = nil
	r.ipc.mqMade = nil
	for ino, fd := range r.ipc.mq {
		unix.Close(fd)
		delete(r.ipc.mq, ino)
	}
	return nil
}

func mqUnlink(name string) error {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return e
	}
	return nil
}

// restoreMqNotify registers again, in the process that had made them, the
// mq_notify registrations of its queues (the kernel records the calling
// process as the owner), through a descriptor of the queue it holds.
func (b *builder) restoreMqNotify() error {
	st := b.r.root.meta.IPC
	if st == nil {
		return nil
	}
	for _, q := range st.Mqueue {
		n := q.Notify
		if n == nil || n.Owner != b.p.meta.PID {
			continue
		}
		fd := -1
		for _, f := range b.p.meta.Files {
			if f.Kind == fdMqueue && f.Ino == q.Ino && !b.p.closed[f.FD] {
				fd = f.FD
				break
			}
		}
		if fd < 0 {
			return fmt.Errorf("POSIX message queue %s: its mq_notify registration's process has no descriptor of it", q.Name)
		}
		var ev [64]byte // struct sigevent: value, signo, notify
		*(*uint64)(unsafe.Pointer(&ev[0])) = n.Value
		*(*int32)(unsafe.Pointer(&ev[8])) = int32(n.Signo)
		*(*int32)(unsafe.Pointer(&ev[12])) = int32(n.Kind)
		addr, err := b.put(scratchData, ev[:])
		if err != nil {
			return err
		}
		if _, err := b.call("mq_notify", unix.SYS_MQ_NOTIFY, uint64(fd), addr); err != nil {
			return fmt.Errorf("fd %d: POSIX message queue %s: mq_notify: %w", fd, q.Name, err)
		}
	}
	return nil
}
