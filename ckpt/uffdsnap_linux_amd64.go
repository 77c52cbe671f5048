package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A userfaultfd snapshot is the other way to let a process run on while
// its image is written (the QEMU background-snapshot technique): in the
// freeze, its private memory is registered with a userfaultfd in
// write-protect mode (synchronous: every write to a protected page stops
// the writing thread and is reported to us) and the pages to save are
// write-protected; then it is let go. A handler goroutine copies a page
// out before it unprotects it for the writer; the image is read from the
// process itself and patched with those copies. A page the image has
// already taken is unprotected in bulk after each chunk.
//
// Measured here (4 KiB pages, THP "madvise"; testdata and report of issue
// 13): write-protecting 1 GiB of touched memory costs 28 ms on one thread
// (20 ms on two), a fork 37 ms; 14 GiB 297 ms on two threads against 528
// ms for the fork. It costs nothing in the job's memory cgroup (the
// copies are ours) and its memory is bounded: when copyLimit bytes of
// copies are waiting for the writer, a thread that writes a protected
// page waits until the writer has taken some (the job is throttled, not
// stopped).
//
// The userfaultfd is made by the process (its context is the mm of its
// maker) from /dev/userfaultfd, whose descriptor we hand it over a
// socketpair it makes (SCM_RIGHTS): the userfaultfd(2) system call would
// need CAP_SYS_PTRACE or vm.unprivileged_userfaultfd for it to handle
// faults taken in the kernel (a read(2) into a protected buffer); with
// UFFD_USER_MODE_ONLY those fail with EFAULT. Once we hold a copy, the
// process closes its own: we hold the only reference. If the checkpointer
// dies, its descriptors are closed, the kernel releases the context, wakes
// every thread waiting on a fault and drops the protection: the job never
// hangs on a checkpointer that is gone. (One that is stopped, SIGSTOP,
// leaves the threads that write protected pages waiting until it runs
// again.)
//
// What it does not cover, and what makes it give way to a twin (twin.go):
//   - memory a userfaultfd cannot write-protect synchronously (private
//     file mappings, the vDSO): copied in the freeze, up to
//     snapFrozenMax; more than that, or a region already registered with
//     another userfaultfd (the program's own, or our dirty-page tracker,
//     dirty_linux_amd64.go), and the process gets a twin;
//   - a checkpoint that keeps a dirty-page tracker (Track, Parent): the
//     tracker's asynchronous registration and this synchronous one cannot
//     cover the same memory, and the tracker is armed in the freeze;
//   - memory the program unmaps, discards (MADV_DONTNEED, MADV_REMOVE) or
//     moves (mremap) before its pages are in the image: those pages are
//     lost (the kernel reports it, UFFD_EVENT_UNMAP, REMOVE, REMAP, after
//     or while it drops them): the checkpoint is taken again, with twins
//     (errSnapshotLost);
//   - an exec: the image is read through /proc/PID/mem opened in the
//     freeze, which holds the old memory; reading it after the exec fails.

// uffdSnapshots: processes get a userfaultfd snapshot where they can
// (tests turn it off to exercise the twins).
var uffdSnapshots = true

const (
	uffdioWriteProtect = 0xc018aa06 // _IOWR(0xAA, 6, struct uffdio_writeprotect)
	userfaultfdIocNew  = 0xaa00     // _IO(0xAA, 0): /dev/userfaultfd
	uffdWPModeWP       = 1
	uffdPFFlagWP       = 1 << 1

	snapFeatures = uffdFeatWPUnpopulated | uffdFeatRemap | uffdFeatRemove | uffdFeatUnmap
	// snapMin: with less private memory than this to save, a twin: the
	// page tables take under a millisecond to copy or to protect either
	// way, and the twin takes one injected system call where the
	// userfaultfd takes five (a ptrace round trip each, milliseconds on a
	// loaded machine: BenchmarkCheckpointStop measured 27 ms stopped at
	// 256 MiB both ways, 38 against 60 ms at 1 GiB).
	snapMin = 32 << 20
	// snapCopyMin: the copies waiting for the writer may always take
	// this much (see copyLimit).
	snapCopyMin = 32 << 20
	// snapFrozenMax bounds what is copied in the freeze, of the memory a
	// userfaultfd cannot protect.
	snapFrozenMax = 16 << 20
	// snapUnregChunk: the registration is dropped this much at a time
	// (each UFFDIO_UNREGISTER holds the job's mmap lock, and the lock of
	// the mapping, for writing while it walks the page tables: 30 ms a
	// GiB; a write of the job that meets an entry being rewritten waits
	// for the whole call: 8 ms a call at 256 MiB, 1 at 32).
	snapUnregChunk = 32 << 20
)

type uffdSnap struct {
	d  *dumper
	fd int // our userfaultfd, the only descriptor of it
	// wake ends the handler (an eventfd).
	wake int
	// regions: the indexes of the regions registered; frozen: copies
	// made in the freeze of the saved pages of the others, by address of
	// run.
	regions map[int]bool
	frozen  map[uint64][]byte
	runs    [][2]uint64 // every protected run, in address order

	limit uint64 // bytes of copies at most (copyLimit)

	mu     sync.Mutex
	cond   *sync.Cond
	saved  map[uint64][]byte // page copies the handler made, by address
	used   uint64            // bytes in saved
	done   [][2]uint64       // ranges the image has taken, sorted
	err    error
	ending bool
	faults int
	waited time.Duration // that the job's writes waited for the writer
	wg     sync.WaitGroup
	// unprotect: pages the handler has saved, to unprotect (its own).
	unprotect []uint64
}

// makeSnap gives the frozen process d a userfaultfd snapshot. It runs on
// the tracer thread, before the tree is let go; d's pages are planned
// (planDeferred) on the way. On error, nothing is left in the process.
func (d *dumper) makeSnap() (s *uffdSnap, retErr error) {
	if !uffdSnapshots || d.opts.noSnap || d.opts.Track || d.opts.Parent != "" {
		return nil, errors.New("not with a dirty-page tracker")
	}
	t0 := time.Now()
	pre := d.tree.pre[d.pid]
	delete(d.tree.pre, d.pid)
	var preProtect [][2]uint64
	var covered map[int]bool
	if pre != nil {
		var err error
		if preProtect, covered, err = d.adoptPre(pre); err != nil {
			d.log.Debug(fmt.Sprintf("%s(%d): the write-protection made before the freeze is not used: %v", d.comm, d.pid, err))
			pre.close()
			pre = nil
		}
	}
	defer func() {
		if retErr != nil && pre != nil {
			pre.close()
		}
	}()
	if d.deferPlan {
		if err := d.planDeferred(d.pid); err != nil {
			return nil, err
		}
	}
	var anon uint64
	for i, r := range d.meta.Regions {
		if r.Kind == regionAnon && d.twinBound(r) {
			for _, run := range d.plan[i].runs {
				anon += run[1] - run[0]
			}
		}
	}
	if anon < snapMin {
		return nil, fmt.Errorf("%d KiB to protect: a twin is as quick", anon>>10)
	}
	t1 := time.Now()
	var fd int
	if pre != nil {
		fd = pre.fd
	} else {
		var err error
		if fd, err = d.newUffd(); err != nil {
			return nil, err
		}
	}
	s = &uffdSnap{d: d, fd: fd, wake: -1, regions: map[int]bool{}, frozen: map[uint64][]byte{}, saved: map[uint64][]byte{}, limit: copyLimit(len(d.tree.procs))}
	s.cond = sync.NewCond(&s.mu)
	if pre != nil {
		pre.fd = -1 // ours now
		pre = nil
	}
	defer func() {
		if retErr != nil {
			s.close()
		}
	}()
	if covered == nil {
		api := struct{ api, features, ioctls uint64 }{uffdAPI, snapFeatures, 0}
		if err := uffdIoctl(fd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
			return nil, fmt.Errorf("UFFDIO_API: %w", err)
		}
	}
	var frozen uint64
	toProtect := preProtect
	for i, r := range d.meta.Regions {
		if !d.twinBound(r) || len(d.plan[i].runs) == 0 {
			continue
		}
		if r.Kind == regionAnon {
			// Registered before the freeze (covered) or not: a
			// registration of ours again changes nothing.
			err := uffdRange(fd, uffdioRegister, r.Start, r.End, uffdRegWP)
			if err == nil {
				s.regions[i] = true
				s.runs = append(s.runs, d.plan[i].runs...)
				if !covered[i] {
					toProtect = append(toProtect, d.plan[i].runs...)
				}
				continue
			}
			if errors.Is(err, unix.EBUSY) {
				return nil, fmt.Errorf("region %#x-%#x has a userfaultfd of its own", r.Start, r.End)
			}
		}
		for _, run := range d.plan[i].runs {
			frozen += run[1] - run[0]
		}
	}
	if frozen > snapFrozenMax {
		return nil, fmt.Errorf("%d MiB of memory a userfaultfd cannot protect", frozen>>20)
	}
	if len(s.regions) == 0 {
		return nil, errors.New("no memory a userfaultfd can protect")
	}
	for i, r := range d.meta.Regions {
		if s.regions[i] || !d.twinBound(r) {
			continue
		}
		for _, run := range d.plan[i].runs {
			b := make([]byte, run[1]-run[0])
			if err := d.readExtent(b, run[0]); err != nil {
				return nil, err
			}
			s.frozen[run[0]] = b
		}
	}
	sort.Slice(s.runs, func(i, j int) bool { return s.runs[i][0] < s.runs[j][0] })
	t2 := time.Now()
	if failed, err := protectRuns(fd, sortedUnion(toProtect), snapUnregChunk); err != nil {
		return nil, err
	} else if len(failed) > 0 {
		return nil, fmt.Errorf("UFFDIO_WRITEPROTECT %#x-%#x: %w", failed[0][0], failed[0][1], unix.ENOENT)
	}
	t3 := time.Now()
	var err error
	if s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	s.wg.Add(1)
	go s.handle()
	d.log.Info(fmt.Sprintf("%s(%d): userfaultfd snapshot of %d regions, %d of them protected before the freeze", d.comm, d.pid, len(s.regions), len(covered)))
	d.log.Debug(fmt.Sprintf("%s(%d): pages planned in %.1f ms, userfaultfd made and registered in %.1f ms, %d KiB write-protected in %.1f ms (%d regions protected before the freeze)", d.comm, d.pid, t1.Sub(t0).Seconds()*1e3, t2.Sub(t1).Seconds()*1e3, runsPages(sortedUnion(toProtect))*4, t3.Sub(t2).Seconds()*1e3, len(covered)))
	return s, nil
}

// copyLimit is how much the copies of one of n snapshots may take: what
// a twin's copies would (the pages the job writes while its image is
// written), as long as the machine, and our memory cgroup, keep the
// reserve the throttle keeps for twins; at least snapCopyMin. Past it
// the job's writes wait for the image to catch up.
func copyLimit(n int) uint64 {
	reserve := max(memTotal()/16, 256<<20)
	room := memAvailable()
	if cg := memCgroup(os.Getpid()); cg != "" {
		if r, ok := cgroupRoom(cg); ok {
			room = min(room, r)
			reserve = max(reserve, cgroupReserve)
		}
	}
	if room < reserve {
		return snapCopyMin
	}
	return max(snapCopyMin, (room-reserve)/uint64(max(n, 1))/2)
}

// uffdWPRetry is uffdWP that retries while the kernel says EAGAIN: an
// event (an unmap, a discard) is being delivered, which the handler
// reads. Only for others than the handler.
func uffdWPRetry(fd int, addr, n, mode uint64) error {
	for {
		err := uffdWP(fd, addr, n, mode)
		if !errors.Is(err, unix.EAGAIN) {
			return err
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func uffdWP(fd int, addr, n, mode uint64) error {
	var b [24]byte
	le := binary.LittleEndian
	le.PutUint64(b[:], addr)
	le.PutUint64(b[8:], n)
	le.PutUint64(b[16:], mode)
	return uffdIoctl(fd, uffdioWriteProtect, unsafe.Pointer(&b[0]))
}

// newUffd has the frozen process d make a userfaultfd from
// /dev/userfaultfd (see the top of this file) and returns our copy of it;
// the process keeps none of the descriptors it made.
func (d *dumper) newUffd() (int, error) {
	dev, err := unix.Open("/dev/userfaultfd", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open /dev/userfaultfd", err)
	}
	defer unix.Close(dev)
	ours := -1
	err = d.withInjection(func(t *task, scratch uint64) error {
		var opened []uint64
		defer func() {
			// One injected call where they are one range (new
			// descriptors take the lowest free numbers, so they
			// usually are): each injection is a ptrace round trip,
			// milliseconds on a loaded machine.
			lo, hi := slices.Min(append(opened, ^uint64(0))), slices.Max(append(opened, 0))
			if len(opened) > 1 && hi-lo+1 == uint64(len(opened)) {
				if _, err := t.call("close_range", unix.SYS_CLOSE_RANGE, lo, hi, 0); err == nil {
					return
				}
			}
			for _, fd := range opened {
				t.call("close", unix.SYS_CLOSE, fd)
			}
		}()
		if _, err := t.call("socketpair", unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, scratch); err != nil {
			return err
		}
		var sv [8]byte
		if _, err := d.mem.ReadAt(sv[:], int64(scratch)); err != nil {
			return err
		}
		s0, s1 := uint64(binary.LittleEndian.Uint32(sv[:])), uint64(binary.LittleEndian.Uint32(sv[4:]))
		opened = append(opened, s0, s1)
		c, err := d.copyFD(int(s1))
		if err != nil {
			return err
		}
		_, err = unix.SendmsgN(c, []byte{0}, unix.UnixRights(dev), nil, 0)
		unix.Close(c)
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		// struct msghdr at +64, its iovec at +128, the control buffer
		// at +192, the byte at +256.
		le := binary.LittleEndian
		msg := make([]byte, 264)
		le.PutUint64(msg[64+16:], scratch+128) // msg_iov
		le.PutUint64(msg[64+24:], 1)           // msg_iovlen
		le.PutUint64(msg[64+32:], scratch+192) // msg_control
		le.PutUint64(msg[64+40:], 64)          // msg_controllen
		le.PutUint64(msg[128:], scratch+256)   // iov_base
		le.PutUint64(msg[136:], 1)             // iov_len
		if _, err := d.mem.WriteAt(msg[64:], int64(scratch)+64); err != nil {
			return err
		}
		if _, err := t.call("recvmsg", unix.SYS_RECVMSG, s0, scratch+64, unix.MSG_CMSG_CLOEXEC); err != nil {
			return err
		}
		cm := make([]byte, 20)
		if _, err := d.mem.ReadAt(cm, int64(scratch)+192); err != nil {
			return err
		}
		if le.Uint64(cm) != 20 || le.Uint32(cm[8:]) != unix.SOL_SOCKET || le.Uint32(cm[12:]) != unix.SCM_RIGHTS {
			return errors.New("no descriptor received")
		}
		devIn := uint64(le.Uint32(cm[16:]))
		opened = append(opened, devIn)
		u, err := t.call("ioctl", unix.SYS_IOCTL, devIn, userfaultfdIocNew, unix.O_CLOEXEC|unix.O_NONBLOCK)
		if err != nil {
			return err
		}
		opened = append(opened, u)
		ours, err = d.copyFD(int(u))
		return err
	})
	if err != nil {
		if ours >= 0 {
			unix.Close(ours)
		}
		return -1, fmt.Errorf("make a userfaultfd: %w", err)
	}
	return ours, nil
}

// handle serves the faults and events of the snapshot until close.
func (s *uffdSnap) handle() {
	defer s.wg.Done()
	buf := make([]byte, 64*uffdMsgSize)
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	for {
		// The pages saved are unprotected (waking their writers) once
		// the kernel lets us: EAGAIN while an event is pending, which is
		// read first.
		for len(s.unprotect) > 0 {
			p := s.unprotect[0]
			if err := uffdWP(s.fd, p, pageSize, 0); errors.Is(err, unix.EAGAIN) {
				break
			}
			s.unprotect = s.unprotect[1:]
		}
		timeout := -1
		if len(s.unprotect) > 0 {
			timeout = 1
		}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			s.fail(os.NewSyscallError("poll", err))
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		for {
			n, err := unix.Read(s.fd, buf)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				break
			}
			if err != nil || n <= 0 {
				s.fail(fmt.Errorf("read userfaultfd: %v", err))
				return
			}
			for m := buf[:n]; len(m) >= uffdMsgSize; m = m[uffdMsgSize:] {
				s.event(m[:uffdMsgSize])
			}
		}
	}
}

func (s *uffdSnap) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// event handles one uffd_msg.
func (s *uffdSnap) event(m []byte) {
	le := binary.LittleEndian
	switch m[0] {
	case uffdEventFault:
		if le.Uint64(m[8:])&uffdPFFlagWP == 0 {
			return
		}
		page := le.Uint64(m[16:]) &^ (pageSize - 1)
		s.mu.Lock()
		if s.used+pageSize > s.limit {
			t0 := time.Now()
			for s.used+pageSize > s.limit && !s.isDone(page) && s.err == nil && !s.ending {
				s.cond.Wait() // the job waits for the writer (see the top)
			}
			s.waited += time.Since(t0)
		}
		if !s.isDone(page) && s.saved[page] == nil && s.err == nil {
			b := make([]byte, pageSize)
			if _, err := s.d.mem.ReadAt(b, int64(page)); err != nil {
				s.mu.Unlock()
				s.fail(fmt.Errorf("save page %#x: %w", page, err))
				s.unprotect = append(s.unprotect, page)
				return
			}
			s.saved[page] = b
			s.used += pageSize
			s.faults++
		}
		s.mu.Unlock()
		s.unprotect = append(s.unprotect, page)
	case uffdEventRemove, uffdEventUnmap:
		s.lost(le.Uint64(m[8:]), le.Uint64(m[16:]))
	case uffdEventRemap:
		from, n := le.Uint64(m[8:]), le.Uint64(m[24:])
		s.lost(from, from+n)
	}
}

// lost fails the snapshot if [start, end) held pages the image has not
// taken (and no copy holds).
func (s *uffdSnap) lost(start, end uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		lo, hi := max(r[0], start), min(r[1], end)
		for p := lo; p < hi; p += pageSize {
			if !s.isDone(p) && s.saved[p] == nil {
				if s.err == nil {
					s.err = fmt.Errorf("%w (%#x-%#x)", errSnapshotLost, start, end)
				}
				s.cond.Broadcast()
				return
			}
		}
	}
}

// isDone reports whether the image has taken page p (s.mu held).
func (s *uffdSnap) isDone(p uint64) bool {
	i := sort.Search(len(s.done), func(i int) bool { return s.done[i][1] > p })
	return i < len(s.done) && s.done[i][0] <= p
}

// markDone records [start, end) as taken (s.mu held).
func (s *uffdSnap) markDone(start, end uint64) {
	i := sort.Search(len(s.done), func(i int) bool { return s.done[i][1] >= start })
	j := i
	for j < len(s.done) && s.done[j][0] <= end {
		start, end = min(start, s.done[j][0]), max(end, s.done[j][1])
		j++
	}
	s.done = append(s.done[:i], append([][2]uint64{{start, end}}, s.done[j:]...)...)
}

// read is the memSource of the image: the process's memory as of the
// freeze.
func (s *uffdSnap) read(b []byte, e extent, off uint64) error {
	addr := e.Addr + off
	for start, c := range s.frozen {
		if addr >= start && addr+uint64(len(b)) <= start+uint64(len(c)) {
			copy(b, c[addr-start:])
			return nil
		}
	}
	if _, err := s.d.mem.ReadAt(b, int64(addr)); err != nil {
		return fmt.Errorf("read %s(%d) va %#x c %d: %w", s.d.comm, s.d.pid, addr, len(b), err)
	}
	end := addr + uint64(len(b))
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return fmt.Errorf("%s(%d): %w", s.d.comm, s.d.pid, err)
	}
	if s.used > 0 {
		for p := addr &^ (pageSize - 1); p < end; p += pageSize {
			if c := s.saved[p]; c != nil {
				lo, hi := max(p, addr), min(p+pageSize, end)
				copy(b[lo-addr:hi-addr], c[lo-p:hi-p])
				delete(s.saved, p)
				s.used -= pageSize
			}
		}
	}
	s.markDone(addr, end)
	s.mu.Unlock()
	s.cond.Broadcast()
	// Written: the job may write these pages freely again.
	lo, hi := addr&^(pageSize-1), alignPage(end)
	if err := uffdWPRetry(s.fd, lo, hi-lo, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s(%d): unprotect %#x-%#x: %w", s.d.comm, s.d.pid, lo, hi, err)
	}
	return nil
}

// checkVMFlags compares, once the process runs again, its VmFlags with
// those recorded from the smaps read before the freeze (collectVMFlags):
// the same now, they were the same at the freeze (but for a change undone
// in between). A change takes the checkpoint again, with twins, whose
// smaps are those of the freeze.
func (s *uffdSnap) checkVMFlags() error {
	if v, ok := s.d.tree.vmas[s.d.pid]; !ok || !v.early {
		return nil // read in the freeze
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", s.d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): smaps: %w", s.d.comm, s.d.pid, err)
	}
	if err := s.d.checkVMFlags(data, func(region) bool { return false }); err != nil {
		return fmt.Errorf("%w: %v", errSnapshotLost, err)
	}
	return nil
}

// check reports a page lost since the last read (after the last chunk).
func (s *uffdSnap) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("%s(%d): %w", s.d.comm, s.d.pid, s.err)
	}
	return nil
}

// close ends the snapshot: the handler goes, our descriptor is closed
// (the kernel drops the registration and the protection, and wakes any
// thread waiting on a fault), the copies are freed. Safe to call twice.
func (s *uffdSnap) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.ending = true
	s.mu.Unlock()
	s.cond.Broadcast()
	if s.wake >= 0 {
		unix.Write(s.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		s.wg.Wait()
		unix.Close(s.wake)
		s.wake = -1
	}
	if s.fd >= 0 {
		t0 := time.Now()
		for i := range s.regions {
			r := s.d.meta.Regions[i]
			for a := r.Start; a < r.End; a += snapUnregChunk {
				uffdRange(s.fd, uffdioUnregister, a, min(a+snapUnregChunk, r.End), 0)
			}
		}
		unix.Close(s.fd)
		s.fd = -1
		s.d.log.Debug(fmt.Sprintf("%s(%d): userfaultfd snapshot ended at monotonic clock %.3f ms in %.1f ms: %d pages copied before a write, writes held %.1f ms for the image to catch up", s.d.comm, s.d.pid, monoMS(), time.Since(t0).Seconds()*1e3, s.faults, s.waited.Seconds()*1e3))
	}
	s.saved, s.frozen = nil, nil
}
