package ckpt

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Edge-triggered watches whose edge was collected: a file ready (a pipe
// with bytes left after a partial read) under EPOLLET reports nothing
// more until it is ready again, but added to a new instance it reports
// at once. The ready list shows nowhere; but when the instance has
// nothing to report (poll of the epoll file, which walks its ready list
// without taking anything, says not readable), every watch whose file is
// ready has been reported: those are marked Reported. The restart, once
// the watches are back, collects what the new instance reports with one
// epoll_wait and puts back (EPOLL_CTL_MOD, which queues a ready watch
// again) every edge-triggered or one-shot watch that is not Reported:
// a file that became ready since the checkpoint still wakes the program.

// markReported sets Reported on the edge-triggered watches of epoll
// instance fd of pid (watches a) whose edge was collected.
func markReported(pid, fd int, a *anonFile) {
	ep, err := grabFD(pid, fd)
	if err != nil {
		return
	}
	defer unix.Close(ep)
	if pollReady(ep, unix.POLLIN) {
		return // something waits to be reported: which is not known
	}
	for i := range a.Watches {
		w := &a.Watches[i]
		if w.Events&unix.EPOLLET == 0 || w.disarmed() {
			continue
		}
		t, err := grabFD(pid, w.FD)
		if err != nil {
			continue
		}
		w.Reported = pollReady(t, int16(w.Events&epollAll))
		unix.Close(t)
	}
}

// pollReady tells whether fd is ready now for one of events.
func pollReady(fd int, events int16) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
	n, _ := unix.Poll(pfd, 0)
	return n > 0 && pfd[0].Revents&events != 0
}

// collectReported takes from the instance epfd of the process, just
// filled with watches, the reports of its Reported watches (see above).
// Watches of files held elsewhere (Holder), or two with one data, leave
// it as it is: a report cannot be told from another.
func (b *builder) collectReported(epfd int, watches []epollWatch) error {
	byData := map[uint64]*epollWatch{}
	any := false
	for i := range watches {
		w := &watches[i]
		if w.Holder != nil || byData[w.Data] != nil {
			return nil
		}
		byData[w.Data] = w
		any = any || w.Reported
	}
	if !any || len(watches) > 1024 {
		return nil // (1024: what the scratch page holds, as in fillEpoll)
	}
	const buf = uint64(scratchData + 64)
	k := len(watches)
	got, err := b.call("epoll_wait", unix.SYS_EPOLL_WAIT, uint64(epfd), b.scratch+buf, uint64(k), 0)
	if err != nil {
		return fmt.Errorf("fd %d: epoll_wait: %w", epfd, err)
	}
	evs := b.read(b.scratch+buf, int(got)*epollEventLen)
	for i := 0; i < int(got); i++ {
		data := binary.LittleEndian.Uint64(evs[i*epollEventLen+4:])
		w := byData[data]
		if w == nil || w.Reported || w.Events&(unix.EPOLLET|unix.EPOLLONESHOT) == 0 {
			continue // level-triggered: queued again by the wait itself
		}
		ev := make([]byte, epollEventLen)
		binary.LittleEndian.PutUint32(ev, w.Events)
		binary.LittleEndian.PutUint64(ev[4:], w.Data)
		addr, err := b.put(scratchData, ev)
		if err != nil {
			return err
		}
		if _, err := b.call("epoll_ctl", unix.SYS_EPOLL_CTL, uint64(epfd), unix.EPOLL_CTL_MOD, uint64(w.FD), addr); err != nil {
			return fmt.Errorf("fd %d: epoll_ctl mod fd %d: %w", epfd, w.FD, err)
		}
	}
	return nil
}
