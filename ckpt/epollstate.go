package ckpt

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// epoll interest lists. fdinfo shows each watch's events and data. A
// watch with EPOLLONESHOT that has fired is disarmed: the kernel keeps
// only its private bits (EPOLLONESHOT, EPOLLET, EPOLLWAKEUP,
// EPOLLEXCLUSIVE) until an EPOLL_CTL_MOD. Added again as it shows, it
// would be armed for EPOLLERR|EPOLLHUP (which EPOLL_CTL_ADD always sets):
// so it is added armed for every event, made to fire by an epoll_wait
// before any other watch is in the instance, and checked disarmed in
// fdinfo; one whose file is ready for nothing keeps the ADD's ERR|HUP.
//
// Whether an edge-triggered watch that is ready was already reported is
// seen only when the instance has nothing to report (epollreported.go);
// otherwise it is reported once more after the restart, as after a
// spurious wake-up.

const (
	epollPrivate = unix.EPOLLONESHOT | unix.EPOLLET | unix.EPOLLEXCLUSIVE | unix.EPOLLWAKEUP
	epollAll     = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLRDNORM |
		unix.EPOLLRDBAND | unix.EPOLLWRNORM | unix.EPOLLWRBAND | unix.EPOLLMSG
	epollEventLen = 12 // struct epoll_event, packed on x86-64
)

// disarmed reports whether w is a EPOLLONESHOT watch that fired.
func (w epollWatch) disarmed() bool {
	return w.Events&unix.EPOLLONESHOT != 0 && w.Events&^uint32(epollPrivate) == 0
}

// fillEpoll gives the epoll instance epfd of the process its watches.
func (b *builder) fillEpoll(epfd int, watches []epollWatch) error {
	var add func(w epollWatch, events uint32) error
	add = func(w epollWatch, events uint32) error {
		if w.Holder != nil {
			moved := w
			moved.Holder = nil
			return b.addMovedWatch(epfd, w, func() error { return add(moved, events) })
		}
		ev := make([]byte, epollEventLen)
		binary.LittleEndian.PutUint32(ev, events)
		binary.LittleEndian.PutUint64(ev[4:], w.Data)
		addr, err := b.put(scratchData, ev)
		if err != nil {
			return err
		}
		if _, err := b.call("epoll_ctl", unix.SYS_EPOLL_CTL, uint64(epfd), unix.EPOLL_CTL_ADD, uint64(w.FD), addr); err != nil {
			return fmt.Errorf("fd %d: epoll_ctl add fd %d: %w", epfd, w.FD, err)
		}
		return nil
	}
	var fired []epollWatch
	for _, w := range watches {
		if w.disarmed() {
			if err := add(w, w.Events|epollAll); err != nil {
				return err
			}
			fired = append(fired, w)
		}
	}
	if len(fired) > 0 {
		const batch = 1024
		const buf = uint64(scratchData + 64)
		for n := len(fired); n > 0; {
			k := min(n, batch)
			got, err := b.call("epoll_wait", unix.SYS_EPOLL_WAIT, uint64(epfd), b.scratch+buf, uint64(k), 0)
			if err != nil {
				return fmt.Errorf("fd %d: epoll_wait: %w", epfd, err)
			}
			if got == 0 {
				break
			}
			n -= int(got)
		}
		// One that did not fire (its file was ready for nothing) is
		// armed for ERR|HUP only, as EPOLL_CTL_ADD leaves it.
		now, err := readAnonFile(b.pid, epfd, "eventpoll")
		if err != nil {
			return fmt.Errorf("fd %d: %w", epfd, err)
		}
		for _, got := range now.Watches {
			for _, w := range fired {
				if got.FD != w.FD || got.Events == w.Events {
					continue
				}
				if _, err := b.call("epoll_ctl", unix.SYS_EPOLL_CTL, uint64(epfd), unix.EPOLL_CTL_DEL, uint64(w.FD), 0); err != nil {
					return fmt.Errorf("fd %d: epoll_ctl del fd %d: %w", epfd, w.FD, err)
				}
				if err := add(w, w.Events); err != nil {
					return err
				}
				b.r.info("%s(%d) fd %d: disarmed EPOLLONESHOT watch of fd %d restored armed for errors (its file is ready for nothing)", b.p.comm(), b.p.meta.PID, epfd, w.FD)
			}
		}
	}
	for _, w := range watches {
		if !w.disarmed() {
			if err := add(w, w.Events); err != nil {
				return err
			}
		}
	}
	return b.collectReported(epfd, watches) // epollreported.go
}
