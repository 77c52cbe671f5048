package ckpt

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoll watches whose descriptor was closed while their file stays open
// under another number (dup2 then close, a library that moves its
// descriptors): the kernel keys a watch by file and number and keeps it
// until the file's last close, so it still reports events of the file
// with its data, under the old number. fdinfo shows the old number only;
// kcmp(KCMP_EPOLL_TFD) says which descriptor of the process now holds its
// file (Holder). The restore adds the watch with the holder's file put
// at the old number for the time of the EPOLL_CTL_ADD (fillEpoll). A
// watch whose file the process holds under no number at all (open only
// in another process, or only through the epoll) is refused at
// checkpoint time.

const kcmpEpollTFD = 7 // KCMP_EPOLL_TFD (include/uapi/linux/kcmp.h)

// kcmpEpollSlot is struct kcmp_epoll_slot.
type kcmpEpollSlot struct {
	Efd, Tfd, Toff uint32
}

// sameEpollTarget reports whether descriptor fd of pid is the file of the
// watch of epoll instance epfd (of pid) on number tfd, the toff-th such.
func sameEpollTarget(pid, fd, epfd, tfd, toff int) bool {
	slot := kcmpEpollSlot{Efd: uint32(epfd), Tfd: uint32(tfd), Toff: uint32(toff)}
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTFD, uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
	if e == unix.ENOSYS {
		return true // no kcmp (CONFIG_KCMP): taken as it shows
	}
	return e == 0 && r == 0
}

// epollTargets checks the watches of epoll instance epfd of d's process:
// each is its descriptor's file, or gets the Holder of its file. It
// returns why one cannot be restored, or "".
func (d *dumper) epollTargets(epfd int, a *anonFile) string {
	var fds []int
	seen := map[int]int{}
	for i := range a.Watches {
		w := &a.Watches[i]
		toff := seen[w.FD]
		seen[w.FD]++
		if sameEpollTarget(d.pid, w.FD, epfd, w.FD, toff) {
			continue
		}
		if fds == nil {
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.pid))
			for _, e := range ents {
				if n, err := strconv.Atoi(e.Name()); err == nil {
					fds = append(fds, n)
				}
			}
		}
		holder := -1
		for _, fd := range fds {
			if fd != w.FD && sameEpollTarget(d.pid, fd, epfd, w.FD, toff) {
				holder = fd
				break
			}
		}
		if holder < 0 {
			return fmt.Sprintf(": epoll watch of fd %d: that descriptor was closed and its file is open under no other number of the process", w.FD)
		}
		h := holder
		w.Holder = &h
		d.log.Info(fmt.Sprintf("%s(%d) fd %d: epoll watch of fd %d, closed since: its file is fd %d", d.comm, d.pid, epfd, w.FD, holder))
	}
	return ""
}

// addMovedWatch adds watch w, whose file is now descriptor *w.Holder, to
// epoll instance epfd under its old number w.FD: the holder's file is put
// at w.FD for the EPOLL_CTL_ADD, and what w.FD held put back.
func (b *builder) addMovedWatch(epfd int, w epollWatch, add func() error) error {
	holder := uint64(*w.Holder)
	saved := int64(-1)
	var cloexec uint64
	for _, f := range b.p.meta.Files {
		if f.FD == w.FD && openIn(b.p, w.FD) {
			fd, err := b.call("fcntl", unix.SYS_FCNTL, uint64(w.FD), unix.F_DUPFD_CLOEXEC, uint64(b.spareFD))
			if err != nil {
				return fmt.Errorf("fd %d: epoll watch of fd %d: keep fd %d: %w", epfd, w.FD, w.FD, err)
			}
			saved = int64(fd)
			if f.CloExec {
				cloexec = unix.O_CLOEXEC
			}
		}
	}
	if _, err := b.call("dup3", unix.SYS_DUP3, holder, uint64(w.FD), unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("fd %d: epoll watch of fd %d: dup3 fd %d: %w", epfd, w.FD, holder, err)
	}
	err := add()
	if saved >= 0 {
		if _, derr := b.call("dup3", unix.SYS_DUP3, uint64(saved), uint64(w.FD), cloexec); derr != nil && err == nil {
			err = fmt.Errorf("fd %d: epoll watch of fd %d: put fd %d back: %w", epfd, w.FD, w.FD, derr)
		}
		b.call("close", unix.SYS_CLOSE, uint64(saved))
	} else {
		b.call("close", unix.SYS_CLOSE, uint64(w.FD))
	}
	return err
}
