package ckpt

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel shows of an mq_notify registration its kind, signal and
// owner, never its sigev_value (mqueue_read_file). A program that told
// its queues apart by that value would get them all back as 0. So, for a
// SIGEV_SIGNAL registration of a frozen member, the checkpoint fires the
// registration itself and reads the value from the signal it sends:
//
//  1. the queue is emptied through our description (a message taken
//     fires nothing) and a marker of ours sent: the queue going from
//     empty to one message fires the registration (__do_notify), which
//     queues the signal, SI_MESGQ with the sigev_value, to the owner's
//     shared queue, and removes the registration;
//  2. the marker is taken and the messages sent back in the order taken
//     (mq_timedsend puts a message after those of its priority);
//  3. PTRACE_PEEKSIGINFO reads the signal; an injected rt_sigtimedwait
//     in the owner (every signal blocked while we inject) takes it;
//  4. an injected mq_notify in the owner, through its own descriptor of
//     the queue, registers again with the same signal and value.
//
// When the owner has that signal pending already (a standard one would
// be merged with it, a queued one could be taken in its place), or holds
// no descriptor of the queue to register again with, the value cannot be
// read without changing the running job: the checkpoint is refused.

const siMesgq = -3 // SI_MESGQ

// notifyValue reads the sigev_value of q's registration (q read through
// descriptor f of d).
func (t *dumpTree) notifyValue(d *dumper, f *fileDesc, q *posixMq) (string, error) {
	var owner *dumper
	for _, e := range t.procs {
		if e.pid == q.Notify.Owner && !e.zombie {
			owner = e
		}
	}
	if owner == nil {
		return fmt.Sprintf(": POSIX message queue %s has an mq_notify registration of process %d, outside the checkpointed tree", q.Name, q.Notify.Owner), nil
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("%s(%d) fd %d: message queue %s: %w", d.comm, d.pid, f.FD, q.Name, err)
	}
	defer unix.Close(fd)
	refuse, err := t.mqNotifyValue(fd, q, owner)
	if err != nil {
		return "", fmt.Errorf("%s(%d) fd %d: message queue %s: mq_notify value: %w", d.comm, d.pid, f.FD, q.Name, err)
	}
	return refuse, nil
}

// mqNotifyValue fills n.Value for queue q, opened as fd by us. owner is
// the dumper of the registering process.
func (t *dumpTree) mqNotifyValue(fd int, q *posixMq, owner *dumper) (refuse string, err error) {
	n := q.Notify
	ownerFD := -1
	for _, f := range owner.meta.Files {
		if f.Kind == fdMqueue && f.Ino == q.Ino {
			ownerFD = f.FD
			break
		}
	}
	if ownerFD < 0 {
		return fmt.Sprintf(": POSIX message queue %s has an mq_notify registration of process %d, which has no descriptor of it: its value cannot be read", q.Name, owner.pid), nil
	}
	switch unix.Signal(n.Signo) {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		// Sending one of these does more than queue it (prepare_signal).
		return fmt.Sprintf(": POSIX message queue %s has an mq_notify registration for signal %d (%v): its value cannot be read without sending it", q.Name, n.Signo, unix.Signal(n.Signo)), nil
	}
	if pendingSignal(owner, n.Signo) {
		return fmt.Sprintf(": POSIX message queue %s has an mq_notify registration for signal %d, already pending for process %d: its value cannot be read", q.Name, n.Signo, owner.pid), nil
	}
	a, err := mqGetattr(fd)
	if err != nil {
		return "", err
	}
	// 1, 2: fire it, the queue as it was.
	msgs, _, err := mqDrain(fd, a.MsgSize)
	giveBack := func() error { return mqGiveBack(fd, msgs) }
	if err != nil {
		if gerr := giveBack(); gerr != nil {
			return "", gerr
		}
		return "", err
	}
	mark := mqMessage{Data: make([]byte, min(int(a.MsgSize), 16))}
	rand.Read(mark.Data)
	if err := mqSend(fd, mark); err != nil {
		if gerr := giveBack(); gerr != nil {
			return "", gerr
		}
		return "", err
	}
	buf := make([]byte, a.MsgSize)
	var prio uint32
	k, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&prio)), 0, 0)
	if e != 0 || !bytes.Equal(buf[:k], mark.Data) {
		return "", fmt.Errorf("the marker message could not be taken back (%v)", e)
	}
	if err := giveBack(); err != nil {
		return "", err
	}
	// 3: the signal it sent.
	infos, err := ptracePeekSigInfo(owner.pid, true)
	if err != nil {
		return "", err
	}
	found := false
	for _, in := range infos {
		if len(in) >= 32 && int32(binary.LittleEndian.Uint32(in)) == int32(n.Signo) && int32(binary.LittleEndian.Uint32(in[8:])) == siMesgq {
			n.Value = binary.LittleEndian.Uint64(in[24:])
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("firing its mq_notify registration queued no signal %d", n.Signo)
	}
	// 3, 4: in the owner, take the signal and register again.
	return "", owner.withInjection(func(tk *task, scratch uint64) error {
		var set [8]byte
		binary.LittleEndian.PutUint64(set[:], 1<<(n.Signo-1))
		var ev [64]byte // struct sigevent: value, signo, notify
		binary.LittleEndian.PutUint64(ev[0:], n.Value)
		binary.LittleEndian.PutUint32(ev[8:], uint32(n.Signo))
		binary.LittleEndian.PutUint32(ev[12:], uint32(n.Kind))
		// scratch: the set, a zero timeout, the sigevent.
		args := make([]byte, 8+16+64)
		copy(args, set[:])
		copy(args[24:], ev[:])
		if _, err := owner.mem.WriteAt(args, int64(scratch)); err != nil {
			return fmt.Errorf("%s(%d): write scratch: %w", owner.comm, owner.pid, err)
		}
		sig, err := tk.call("rt_sigtimedwait", unix.SYS_RT_SIGTIMEDWAIT, scratch, 0, scratch+8, 8)
		if err != nil || int(sig) != n.Signo {
			return fmt.Errorf("%s(%d): take the signal of the mq_notify registration: %d, %v", owner.comm, owner.pid, sig, err)
		}
		if _, err := tk.call("mq_notify", unix.SYS_MQ_NOTIFY, uint64(ownerFD), scratch+24); err != nil {
			return fmt.Errorf("%s(%d) fd %d: POSIX message queue %s: register mq_notify again (the running program lost it): %w", owner.comm, owner.pid, ownerFD, q.Name, err)
		}
		return nil
	})
}

// pendingSignal tells whether sig is pending for process d (its shared
// queue, or its main thread's own: rt_sigtimedwait takes those first).
func pendingSignal(d *dumper, sig int) bool {
	for _, p := range d.meta.Signals.Pending {
		if len(p.Info) >= 4 && int(int32(binary.LittleEndian.Uint32(p.Info))) == sig && (p.Shared || p.TID == d.pid) {
			return true
		}
	}
	// A standard signal pending is one bit; the queue shows it too, but
	// the status is the kernel's own word.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid))
	if err != nil {
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == "ShdPnd" {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || m&(1<<(sig-1)) != 0
		}
	}
	return true
}
