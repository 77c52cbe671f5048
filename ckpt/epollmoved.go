package ckpt

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoll watches whose descriptor was closed while their file stays open
// under another number (dup2 then close, a library that moves its
// descriptors): the kernel keys a watch by file and number and keeps it
// until the file's last close, so it still reports events of the file
// with its data, under the old number. An epoll instance shared by
// processes (inherited by fork) likewise holds watches of descriptors of
// one process only. fdinfo shows the number only; kcmp(KCMP_EPOLL_TFD)
// says which descriptor of the process, or else of another process of
// the tree, holds its file (Holder, HolderPID). The restore adds the watch
// with that file put at the watch's number for the time of the
// EPOLL_CTL_ADD (fillEpoll), taken from the restorer, which holds every
// description of the tree. A watch whose file no process of the tree
// holds is refused at checkpoint time.

const kcmpEpollTFD = 7 // KCMP_EPOLL_TFD (include/uapi/linux/kcmp.h)

// kcmpEpollSlot is struct kcmp_epoll_slot.
type kcmpEpollSlot struct {
	Efd, Tfd, Toff uint32
}

// sameEpollTarget reports whether descriptor fd of pid is the file of the
// watch of epoll instance epfd of epid on number tfd, the toff-th such.
func sameEpollTarget(pid, fd, epid, epfd, tfd, toff int) bool {
	slot := kcmpEpollSlot{Efd: uint32(epfd), Tfd: uint32(tfd), Toff: uint32(toff)}
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(epid), kcmpEpollTFD, uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
	if e == unix.ENOSYS {
		return true // no kcmp (CONFIG_KCMP): taken as it shows
	}
	return e == 0 && r == 0
}

// openFDs lists the descriptor numbers of pid.
func openFDs(pid int) []int {
	var fds []int
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, n)
		}
	}
	return fds
}

// epollTargets checks the watches of epoll instance epfd of d's process:
// each is its descriptor's file, or gets the Holder of its file among the
// process's descriptors, or is left for linkEpollWatches (toff set).
func (d *dumper) epollTargets(epfd int, a *anonFile) {
	var fds []int
	seen := map[int]int{}
	for i := range a.Watches {
		w := &a.Watches[i]
		toff := seen[w.FD]
		seen[w.FD]++
		if sameEpollTarget(d.pid, w.FD, d.pid, epfd, w.FD, toff) {
			continue
		}
		if fds == nil {
			fds = openFDs(d.pid)
		}
		w.toff = toff + 1
		for _, fd := range fds {
			if fd != w.FD && sameEpollTarget(d.pid, fd, d.pid, epfd, w.FD, toff) {
				h := fd
				w.Holder, w.toff = &h, 0
				d.log.Info(fmt.Sprintf("%s(%d) fd %d: epoll watch of fd %d, closed since: its file is fd %d", d.comm, d.pid, epfd, w.FD, fd))
				break
			}
		}
	}
}

// linkEpollWatches finds, among the other processes of the tree, the
// holder of the file of each epoll watch its own process does not hold,
// or refuses the watch.
func (t *dumpTree) linkEpollWatches() error {
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if f.Kind != fdAnon || f.Anon == nil || f.Anon.Type != "eventpoll" {
				continue
			}
			for j := range f.Anon.Watches {
				w := &f.Anon.Watches[j]
				if w.toff == 0 {
					continue
				}
				toff := w.toff - 1
				w.toff = 0
			search:
				for _, q := range t.procs {
					if q == d {
						continue
					}
					for _, fd := range openFDs(q.pid) {
						if sameEpollTarget(q.pid, fd, d.pid, f.FD, w.FD, toff) {
							h, hp := fd, q.pid
							w.Holder, w.HolderPID = &h, hp
							d.log.Info(fmt.Sprintf("%s(%d) fd %d: epoll watch of fd %d: its file is fd %d of %s(%d)", d.comm, d.pid, f.FD, w.FD, fd, q.comm, q.pid))
							break search
						}
					}
				}
				if w.Holder == nil {
					msg := fmt.Sprintf(": epoll watch of fd %d: that descriptor was closed and its file is open in no process of the tree", w.FD)
					if err := d.uncheckpointable(f.FD, msg); err != nil {
						return err
					}
					f.Kind, f.Reason = fdClosed, strings.TrimPrefix(msg, ": ")
					break
				}
			}
		}
	}
	return nil
}

// addMovedWatch adds watch w, whose file is now descriptor *w.Holder, to
// epoll instance epfd under its old number w.FD: the holder's file is put
// at w.FD for the EPOLL_CTL_ADD, and what w.FD held put back.
func (b *builder) addMovedWatch(epfd int, w epollWatch, add func() error) error {
	holder := uint64(*w.Holder)
	if w.HolderPID != 0 && w.HolderPID != b.p.meta.PID {
		// Another process's descriptor: its description, from the
		// restorer, at a spare number of this process.
		fd, err := b.r.holderDesc(w)
		if err != nil {
			return fmt.Errorf("fd %d: epoll watch of fd %d: %w", epfd, w.FD, err)
		}
		tmp := b.spareFD + 1
		if err := b.takeFD(fd, tmp, true); err != nil {
			return fmt.Errorf("fd %d: epoll watch of fd %d: %w", epfd, w.FD, err)
		}
		defer b.call("close", unix.SYS_CLOSE, uint64(tmp))
		holder = uint64(tmp)
	}
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

// holderDesc is the restorer's description of the file of watch w, held
// by another process of the tree as fd *w.Holder.
func (r *restorer) holderDesc(w epollWatch) (int, error) {
	for _, q := range r.procs {
		if q.meta.PID != w.HolderPID {
			continue
		}
		for _, f := range q.meta.Files {
			if f.FD == *w.Holder && f.Kind != fdClosed && !q.closed[f.FD] {
				if fd, ok := r.descs[f.Desc]; ok {
					return fd, nil
				}
			}
		}
	}
	return -1, fmt.Errorf("its file, fd %d of process %d, is not restored", *w.Holder, w.HolderPID)
}
