package ckpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write-protection before the freeze. Protecting a page for a userfaultfd
// snapshot (uffdsnap_linux_amd64.go) rewrites its page-table entry: 21-29
// ms a GiB of 4 KiB pages here on two threads, 455 ms stopped for a 14
// GiB job when it was done in the freeze. So it is done before: the
// process runs on while its memory is registered and write-protected
// (the QEMU/CRIU "pre-dump" idea applied to page-table bits rather than
// pages), and a handler lets every write that meets a protected page go
// at once, noting the page (dirty). In the freeze only what changed
// since is protected: the dirty pages again, the pages that appeared
// where none were (a scan of the holes of the protected runs), and the
// regions mapped since. The stop so costs what the job wrote while its
// memory was being protected, not the size of the job.
//
// Why the runs protected before the freeze are still protected at it:
// a protected page loses its protection only by a write (which faults to
// the handler: dirty), by our own unprotect (done only for a fault, the
// page noted dirty once it is unprotected, so a page taken from the dirty
// list is never unprotected behind our back), or by leaving the
// registration: unmapped, discarded or moved away (munmap, MADV_DONTNEED
// or MADV_REMOVE, mremap), which the kernel reports (UFFD_EVENT_UNMAP,
// REMOVE, REMAP) and makes the job wait until we have read it, so every
// such event is read before the job is frozen (a thread waiting for its
// event to be read cannot be stopped). Those ranges are gone from what
// is taken as protected. Swap, migration and mprotect keep the bit; a
// THP collapse refuses protected entries. An exec gives the process
// another mm: the auxiliary vector (saved per mm) and the AT_RANDOM bytes
// it points to are compared at the freeze, and the work is done again in
// it if they differ.
//
// The userfaultfd is made by the process (newUffd): one of its threads
// is stopped for five injected calls (a few milliseconds) and let go, the
// rest of the process running on. If the checkpointer dies before the
// freeze, the kernel drops the registration when our descriptor closes
// and wakes any thread waiting on a fault, as for the snapshot.

// preProtectChunk: the memory is protected this much at a time, two
// threads taking chunks in turn (each call holds the job's mmap lock for
// reading: an mmap or munmap of the job waits at most one chunk).
const preProtectChunk = 32 << 20

// preDirtyGap: dirty pages this close (in pages) are protected again in
// one call (the extra entries cost less than another call).
const preDirtyGap = 16

// preSnap is the write-protection of one process before the freeze.
type preSnap struct {
	pid  int
	comm string
	fd   int // our userfaultfd, the only descriptor of it
	wake int // ends the handler (an eventfd)
	auxv []byte

	regs [][2]uint64 // registered ranges, sorted
	runs [][2]uint64 // protected runs, sorted

	mu     sync.Mutex
	dirty  []uint64    // pages unprotected for a write
	gone   [][2]uint64 // ranges unmapped, discarded or moved away
	err    error
	faults int
	wg     sync.WaitGroup
	// unprotect: pages the handler is to unprotect (its own).
	unprotect []uint64
	// redo: ranges whose protection the kernel refused before the
	// freeze (ENOENT), protected in it.
	redo [][2]uint64
	took time.Duration
}

// preSnapshots: processes are write-protected before the freeze where they
// can (tests turn it off to exercise protection in the freeze).
var preSnapshots = true

// preFreezeHook, if set, runs between the write-protection and the freeze
// (tests change the process there).
var preFreezeHook func()

// preProtect write-protects, before the freeze, the memory of every
// process of the tree that will have a userfaultfd snapshot; what cannot
// be done is left to the freeze (makeSnap).
func (t *dumpTree) preProtect() {
	o := t.opts
	if !uffdSnapshots || !preSnapshots || o.noSnap || o.Track || o.Parent != "" || o.Signal != 0 || o.CheckOnly || t.vmas == nil {
		return
	}
	for _, pid := range t.scanTree() {
		v, ok := t.vmas[pid]
		if !ok {
			continue
		}
		anon, fileAnon := smapsAnon(v.data, v.noFork)
		if anon < snapMin || fileAnon > snapFrozenMax {
			continue // a twin (makeSnap would refuse)
		}
		p, err := t.newPreSnap(pid, v)
		if err != nil {
			t.log.Debug(fmt.Sprintf("pid %d: no write-protection before the freeze: %v", pid, err))
			continue
		}
		if t.pre == nil {
			t.pre = map[int]*preSnap{}
		}
		t.pre[pid] = p
	}
}

// smapsAnon sums, from smaps, the resident memory of the private
// anonymous writable mappings (but noFork ones) and the anonymous pages of
// private file mappings (copied on write).
func smapsAnon(data []byte, noFork map[uint64]bool) (anon, fileAnon uint64) {
	var start uint64
	kind := 0 // 1 anonymous, 2 private file
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '-'); i > 0 && !strings.Contains(line[:i], ":") {
			mp, err := parseMaps([]byte(line))
			if err != nil || len(mp) != 1 {
				kind = 0
				continue
			}
			m := mp[0]
			start, kind = m.Start, 0
			switch {
			case m.shared() || len(m.Perms) < 2 || m.Perms[1] != 'w':
			case preAnon(m):
				kind = 1
			case m.Inode != 0:
				kind = 2
			}
			continue
		}
		key := "Rss:"
		if kind == 2 {
			key = "Anonymous:"
		}
		if v, ok := strings.CutPrefix(line, key); ok && kind != 0 {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if kind == 1 && !noFork[start] {
				anon += kb << 10
			} else if kind == 2 {
				fileAnon += kb << 10
			}
		}
	}
	return anon, fileAnon
}

// preAnon reports whether m is private anonymous memory (regionAnon).
func preAnon(m mapping) bool {
	n := m.Path
	return !m.shared() && m.Inode == 0 && (n == "" || n == "[heap]" || n == "[stack]" || strings.HasPrefix(n, "[anon:"))
}

// newPreSnap makes the userfaultfd of process pid (one thread stopped for
// it), registers its private anonymous memory and protects the pages
// present, while it runs. It runs on the tracer thread.
func (t *dumpTree) newPreSnap(pid int, v vmaFlags) (p *preSnap, retErr error) {
	t0 := time.Now()
	st, err := readStat(pid)
	if err != nil {
		return nil, err
	}
	if st.State != 'R' && st.State != 'S' && st.State != 'D' {
		return nil, fmt.Errorf("state %c", st.State)
	}
	d := &dumper{pid: pid, comm: st.Comm, stat: st, opts: t.opts, log: t.log, tree: t}
	seized := monoMS()
	if err := d.seizeTask(pid); err != nil {
		return nil, err
	}
	detach := func() { d.letGo(pid) } // procmisc.go
	if err := interruptUnlessStopped(pid); err != nil {
		detach()
		return nil, err
	}
	if err := d.waitFrozen(pid); err != nil {
		detach()
		return nil, err
	}
	stopped := monoMS()
	fd, auxv, err := d.preUffd()
	detach()
	t.log.Debug(fmt.Sprintf("%s(%d): one thread stopped before the freeze to make its userfaultfd: seized at monotonic clock %.3f ms, stopped at %.3f, let go at %.3f", st.Comm, pid, seized, stopped, monoMS()))
	if err != nil {
		return nil, err
	}
	p = &preSnap{pid: pid, comm: st.Comm, fd: fd, wake: -1, auxv: auxv}
	defer func() {
		if retErr != nil {
			p.close()
		}
	}()
	api := struct{ api, features, ioctls uint64 }{uffdAPI, snapFeatures, 0}
	if err := uffdIoctl(fd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
		return nil, fmt.Errorf("UFFDIO_API: %w", err)
	}
	if p.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	// The handler first: an unmap of a registered range waits until its
	// event is read.
	p.wg.Add(1)
	go p.handle()
	t1 := time.Now()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return nil, err
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	for _, m := range maps {
		if !preAnon(m) || len(m.Perms) < 2 || m.Perms[1] != 'w' || v.noFork[m.Start] {
			continue
		}
		if err := uffdRange(fd, uffdioRegister, m.Start, m.End, uffdRegWP); errors.Is(err, unix.EBUSY) {
			// The program's own userfaultfd: makeSnap gives way to a
			// twin, better without our registration to undo in the
			// freeze.
			return nil, fmt.Errorf("region %#x-%#x has a userfaultfd of its own", m.Start, m.End)
		} else if err != nil {
			continue // changed meanwhile: the freeze sees
		}
		p.regs = append(p.regs, [2]uint64{m.Start, m.End})
		// Found once registered: what appears later is a write the
		// handler sees, or found in the holes at the freeze.
		runs, err := scanSaved(pm, m.Start, m.End, false, anonGapMerge)
		if err != nil {
			return nil, err
		}
		p.runs = append(p.runs, runs...)
	}
	if len(p.runs) == 0 {
		return nil, errors.New("no memory registered")
	}
	t2 := time.Now()
	failed, err := protectRuns(fd, p.runs, preProtectChunk)
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	// Once more for what was written meanwhile (in what is still
	// registered): the freeze does the rest, and what failed.
	p.mu.Lock()
	regs := subtractRuns(p.regs, sortedUnion(p.gone))
	p.mu.Unlock()
	again := intersectRuns(p.takeDirty(), regs)
	failed2, err := protectRuns(fd, again, preProtectChunk)
	if err != nil {
		return nil, err
	}
	p.redo = sortedUnion(append(failed, failed2...))
	p.took = time.Since(t0)
	var n uint64
	for _, r := range p.runs {
		n += r[1] - r[0]
	}
	t.log.Debug(fmt.Sprintf("%s(%d): %d MiB write-protected before the freeze in %.1f ms (userfaultfd %.1f ms, registered and scanned %.1f ms, protected %.1f ms, %d pages written meanwhile protected again in %.1f ms)",
		p.comm, pid, n>>20, p.took.Seconds()*1e3, t1.Sub(t0).Seconds()*1e3, t2.Sub(t1).Seconds()*1e3, t3.Sub(t2).Seconds()*1e3, runsPages(again), time.Since(t3).Seconds()*1e3))
	return p, nil
}

// preUffd makes the userfaultfd in the process d, one thread of which is
// stopped, and reads its auxiliary vector and AT_RANDOM bytes (see exec
// at the top).
func (d *dumper) preUffd() (int, []byte, error) {
	if err := d.preInjectable(); err != nil {
		return -1, nil, err
	}
	defer d.mem.Close()
	auxv, err := readAuxvID(d.pid, d.mem)
	if err != nil {
		return -1, nil, err
	}
	fd, err := d.newUffd()
	return fd, auxv, err
}

// preInjectable readies d, one thread of which is stopped before the
// freeze, for withInjection: its memory open (d.mem, for the caller to
// close), its registers, signal mask and vDSO.
func (d *dumper) preInjectable() error {
	var err error
	if d.mem, err = os.OpenFile(fmt.Sprintf("/proc/%d/mem", d.pid), os.O_RDWR, 0); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			d.mem.Close()
		}
	}()
	if d.regs, err = ptraceGetRegs(d.pid); err != nil {
		return err
	}
	mask, err := ptraceGetSigMask(d.pid)
	if err != nil {
		return err
	}
	d.meta.Threads = []thread{{SigMask: mask}}
	if ts, err2 := readTaskSec(d.pid, d.pid); err2 != nil || !ts.hasSeccomp || (d.noSuspend && ts.seccomp != 0) {
		err = errors.New("under seccomp, not suspended")
		return err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", d.pid))
	if err != nil {
		return err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return err
	}
	for _, m := range maps {
		if m.Path == "[vdso]" {
			d.meta.Regions = append(d.meta.Regions, region{Start: m.Start, End: m.End, Kind: regionVDSO, Name: m.Path})
		}
	}
	return nil
}

// readAuxvID returns the auxiliary vector of pid's mm followed by the 16
// bytes at AT_RANDOM: another exec gives another.
func readAuxvID(pid int, mem *os.File) ([]byte, error) {
	auxv, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid))
	if err != nil {
		return nil, err
	}
	const atRandom = 25
	for i := 0; i+16 <= len(auxv); i += 16 {
		if binary.LittleEndian.Uint64(auxv[i:]) == atRandom {
			b := make([]byte, 16)
			if _, err := mem.ReadAt(b, int64(binary.LittleEndian.Uint64(auxv[i+8:]))); err != nil {
				return nil, err
			}
			return append(auxv, b...), nil
		}
	}
	return auxv, nil
}

// protectRuns write-protects runs on two threads, chunk bytes at a time;
// it returns the chunks the kernel refused with ENOENT (not all
// registered: unmapped meanwhile, its protection stopped at the hole).
func protectRuns(fd int, runs [][2]uint64, chunk uint64) ([][2]uint64, error) {
	var parts [][2]uint64
	for _, r := range runs {
		for a := r[0]; a < r[1]; a += chunk {
			parts = append(parts, [2]uint64{a, min(a+chunk, r[1])})
		}
	}
	var next atomic.Int64
	errs := make([]error, 2)
	failed := make([][][2]uint64, 2)
	var wg sync.WaitGroup
	for k := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(parts) {
					return
				}
				r := parts[i]
				err := uffdWPRetry(fd, r[0], r[1]-r[0], uffdWPModeWP)
				if errors.Is(err, unix.ENOENT) {
					failed[k] = append(failed[k], r)
				} else if err != nil {
					errs[k] = fmt.Errorf("UFFDIO_WRITEPROTECT %#x-%#x: %w", r[0], r[1], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return sortedUnion(append(failed[0], failed[1]...)), errors.Join(errs...)
}

func runsPages(runs [][2]uint64) uint64 {
	var n uint64
	for _, r := range runs {
		n += (r[1] - r[0]) / pageSize
	}
	return n
}

// takeDirty returns the dirty pages as runs (closer than preDirtyGap
// joined) and empties the list.
func (p *preSnap) takeDirty() [][2]uint64 {
	p.mu.Lock()
	pages := p.dirty
	p.dirty = nil
	p.mu.Unlock()
	slices.Sort(pages)
	var runs [][2]uint64
	for _, pg := range slices.Compact(pages) {
		runs = appendRun(runs, pg, pg+pageSize)
	}
	return mergeGaps(runs, preDirtyGap)
}

// handle serves the faults and events until stop: a write to a protected
// page is let go at once (the page noted dirty once unprotected), an
// event's range noted gone.
func (p *preSnap) handle() {
	defer p.wg.Done()
	buf := make([]byte, 64*uffdMsgSize)
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(p.wake), Events: unix.POLLIN}}
	ending := false
	for {
		for len(p.unprotect) > 0 {
			pg := p.unprotect[0]
			err := uffdWP(p.fd, pg, pageSize, 0)
			if errors.Is(err, unix.EAGAIN) {
				break // an event first
			}
			p.unprotect = p.unprotect[1:]
			p.mu.Lock()
			p.dirty = append(p.dirty, pg)
			p.mu.Unlock()
		}
		if ending && len(p.unprotect) == 0 {
			// Nothing left to read either (read below until EAGAIN).
			return
		}
		timeout := -1
		if len(p.unprotect) > 0 || ending {
			timeout = 1
		}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			p.fail(os.NewSyscallError("poll", err))
			return
		}
		if fds[1].Revents != 0 {
			ending = true
		}
		for {
			n, err := unix.Read(p.fd, buf)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				break
			}
			if err != nil || n <= 0 {
				p.fail(fmt.Errorf("read userfaultfd: %v", err))
				return
			}
			le := binary.LittleEndian
			for m := buf[:n]; len(m) >= uffdMsgSize; m = m[uffdMsgSize:] {
				switch m[0] {
				case uffdEventFault:
					p.faults++
					p.unprotect = append(p.unprotect, le.Uint64(m[16:])&^(pageSize-1))
				case uffdEventRemove, uffdEventUnmap:
					p.addGone(le.Uint64(m[8:]), le.Uint64(m[16:]))
				case uffdEventRemap:
					from := le.Uint64(m[8:])
					p.addGone(from, from+le.Uint64(m[24:]))
				}
			}
		}
	}
}

func (p *preSnap) addGone(start, end uint64) {
	p.mu.Lock()
	p.gone = append(p.gone, [2]uint64{start &^ (pageSize - 1), alignPage(end)})
	p.mu.Unlock()
}

func (p *preSnap) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// stop ends the handler once every fault read is let go and nothing is
// left to read. In the freeze no thread can be waiting on a fault (a
// thread woken by the interrupt leaves the fault, and its message the
// queue, to take it again once let go).
func (p *preSnap) stop() {
	if p.wake >= 0 {
		unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		p.wg.Wait()
		unix.Close(p.wake)
		p.wake = -1
	}
}

// close drops everything: the registration, then our descriptor.
func (p *preSnap) close() {
	if p == nil {
		return
	}
	p.stop()
	if p.fd >= 0 {
		for _, r := range p.regs {
			for a := r[0]; a < r[1]; a += snapUnregChunk {
				uffdRange(p.fd, uffdioUnregister, a, min(a+snapUnregChunk, r[1]), 0)
			}
		}
		unix.Close(p.fd)
		p.fd = -1
	}
}

// sortedUnion sorts rs and joins the runs that overlap or touch.
func sortedUnion(rs [][2]uint64) [][2]uint64 {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b [2]uint64) int { return int(min(max(int64(a[0])-int64(b[0]), -1), 1)) })
	var out [][2]uint64
	for _, r := range rs {
		out = appendRun(out, r[0], r[1])
	}
	return out
}

// adoptPre takes, in the freeze, the write-protection p made before it
// for d's snapshot: it fills the plan of the regions p covers and returns
// what must still be protected in them (dirty pages, pages that appeared
// in holes), and which regions are so covered. An error: nothing of p can
// be trusted (p is then to be closed).
func (d *dumper) adoptPre(p *preSnap) (protect [][2]uint64, covered map[int]bool, err error) {
	p.stop()
	if p.err != nil {
		return nil, nil, p.err
	}
	auxv, err := readAuxvID(d.pid, d.mem)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(auxv, p.auxv) {
		return nil, nil, errors.New("the process exec'd")
	}
	gone := sortedUnion(p.gone)
	regs := subtractRuns(p.regs, gone)
	runs := subtractRuns(p.runs, gone)
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", d.pid))
	if err != nil {
		return nil, nil, err
	}
	defer pm.Close()
	covered = map[int]bool{}
	var adopted [][2]uint64
	for i, r := range d.meta.Regions {
		span := [][2]uint64{{r.Start, r.End}}
		if r.Kind != regionAnon || !d.twinBound(r) || !d.plan[i].deferred || len(subtractRuns(span, regs)) > 0 {
			continue
		}
		have := intersectRuns(runs, span)
		var found [][2]uint64
		for _, h := range subtractRuns(span, have) {
			got, err := scanSaved(pm, h[0], h[1], false, anonGapMerge)
			if err != nil {
				return nil, nil, err
			}
			found = append(found, got...)
		}
		d.plan[i].runs = sortedUnion(append(have, found...))
		d.plan[i].deferred = false
		covered[i] = true
		adopted = append(adopted, span...)
		protect = append(protect, found...)
	}
	adopted = sortedUnion(adopted)
	protect = append(protect, intersectRuns(p.takeDirty(), adopted)...)
	protect = append(protect, intersectRuns(p.redo, adopted)...)
	// Registered ranges no region takes (a region that changed kind):
	// let go of them.
	for _, r := range subtractRuns(regs, adopted) {
		uffdRange(p.fd, uffdioUnregister, r[0], r[1], 0)
	}
	return sortedUnion(protect), covered, nil
}

// monoMS is CLOCK_MONOTONIC in milliseconds, for debugging output that a
// job's own timestamps can be set against (testdata/heartbeat.c).
func monoMS() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return float64(ts.Sec)*1e3 + float64(ts.Nsec)/1e6
}
