package ckpt

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// writeImages writes every member's image under its temporary name
// (d.tmp). Unless a signal is to be sent after the checkpoint (which needs
// the tree frozen to the end), each process is cloned, frozen, into a
// copy-on-write twin (twin.go); what a twin does not hold as it was
// (shared memory, MADV_DONTFORK and MADV_WIPEONFORK regions) is copied
// from the frozen process into a buffer allocated before the freeze; then
// the tree is let go, the pages to save are found in the twins (their
// pagemap: a page-table walk, 20 ms a GiB here, out of the freeze) and the
// images are written from the twins and the buffer. When that memory does
// not fit the buffer it is written from the frozen process, and the pages
// are found in the freeze. Without twins (a signal to send, a clone
// refused: the job's pids limit, RLIMIT_NPROC, strict overcommit) the tree
// stays frozen until every image is written; the memory taken is the same
// (the buffers), only the stop is longer.
func (t *dumpTree) writeImages(ctx context.Context, res *CheckpointResult) (retErr error) {
	writers := make([]*imageWriter, len(t.procs))
	defer func() {
		if retErr != nil {
			for _, w := range writers {
				if w != nil {
					w.abort()
				}
			}
		}
	}()
	defer t.endTwins(res)
	twins := t.vmas != nil
	var twinsAt time.Duration
	if twins {
		t.log.Debug(fmt.Sprintf("state collected %.1f ms after the freeze began", time.Since(t.frozenAt).Seconds()*1e3))
		ts := stopProf.start()
		err := t.makeTwins()
		stopProf.since("st:twins", ts)
		twinsAt = time.Since(t.frozenAt)
		if err != nil {
			t.log.Info(fmt.Sprintf("copy-on-write twins: %v; the tree stays stopped while its images are written", err))
			t.endTwins(res)
			twins = false
		}
	}
	// In the freeze: copy what the twins do not hold into the buffer, or
	// write it (after finding the pages) if it does not fit.
	copied := twins && t.copyFrozen()
	for i, d := range t.procs {
		if copied && (d.twin != nil || d.snap != nil || d.inFreeze) {
			continue // after the freeze
		}
		if d.deferPlan {
			src := d.pid
			if d.twin != nil {
				src = d.twin.pid
			}
			if err := d.planDeferred(src); err != nil {
				return err
			}
		}
		w, err := d.newImageWriter(t.pool)
		if err != nil {
			return err
		}
		writers[i] = w
		if err := w.write(ctx, d.segments(false), liveSource{d}, nil, nil); err != nil {
			return err
		}
	}
	if twins {
		th := t.newThrottle()
		if why := th.short(); why != "" {
			// Its copies would push the job into its limit at once.
			t.log.Info(fmt.Sprintf("%s: the tree stays stopped while its images are written", why))
			th.since = time.Now()
		} else {
			res.Frozen = time.Since(t.frozenAt)
			t.log.Debug(fmt.Sprintf("stopped %.1f ms (twins made %.1f ms after the freeze began)", res.Frozen.Seconds()*1e3, twinsAt.Seconds()*1e3))
			if p := stopProf.take(); p != "" {
				t.log.Debug("in the freeze, count/total: " + p)
			}
			t.release(true)
			t.log.Debug(fmt.Sprintf("the tree runs again (monotonic clock %.3f ms)", monoMS()))
			if err := th.check(); err != nil {
				return err
			}
		}
		for i, d := range t.procs {
			if d.snap != nil {
				if err := t.writeSnap(ctx, d, &writers[i]); err != nil {
					return err
				}
				continue
			}
			if d.inFreeze && writers[i] == nil {
				w, err := d.newImageWriter(t.pool)
				if err != nil {
					return err
				}
				writers[i] = w
				if err := w.write(ctx, d.segments(false), copySource(d.copied), nil, nil); err != nil {
					return err
				}
			}
			if d.twin == nil {
				continue
			}
			if err := d.checkTwin(); err != nil {
				return err
			}
			if writers[i] == nil {
				if err := d.planDeferred(d.twin.pid); err != nil {
					return err
				}
				w, err := d.newImageWriter(t.pool)
				if err != nil {
					return err
				}
				writers[i] = w
				if err := w.write(ctx, d.segments(false), copySource(d.copied), nil, nil); err != nil {
					return err
				}
			}
			if err := writers[i].write(ctx, d.segments(true), twinSource{d.twin}, d.twinDropper(), th.check); err != nil {
				return err
			}
			d.twin.kill() // its memory goes back at once
		}
		if res.Frozen != 0 {
			res.Paused += th.paused()
		}
	}
	for i, d := range t.procs {
		tmp, err := writers[i].finish()
		writers[i] = nil
		if err != nil {
			os.Remove(tmp)
			return err
		}
		d.tmp = tmp
	}
	return nil
}

// writeSnap writes the image of d, which has a userfaultfd snapshot,
// once the tree runs again (what a twin does below).
func (t *dumpTree) writeSnap(ctx context.Context, d *dumper, w **imageWriter) error {
	if err := d.snap.checkVMFlags(); err != nil {
		return err
	}
	if *w == nil {
		nw, err := d.newImageWriter(t.pool)
		if err != nil {
			return err
		}
		*w = nw
		if err := nw.write(ctx, d.segments(false), copySource(d.copied), nil, nil); err != nil {
			return err
		}
	}
	d.log.Debug(fmt.Sprintf("%s(%d): image written from the userfaultfd snapshot", d.comm, d.pid))
	if err := (*w).write(ctx, d.segments(true), d.snap, nil, nil); err != nil {
		return err
	}
	if err := d.snap.check(); err != nil {
		return err
	}
	d.snap.close()
	return nil
}

// segments lists the segments of d's image read from its twin (fromTwin)
// or not; without a twin, every segment is not.
func (d *dumper) segments(fromTwin bool) []int {
	var out []int
	seg := 0
	for _, r := range d.meta.Regions {
		for range r.Extents {
			if ((d.twin != nil || d.snap != nil) && d.twinBound(r)) == fromTwin {
				out = append(out, seg)
			}
			seg++
		}
	}
	return out
}

// smallCopyMax: a process with at most this much private memory (a
// shell, sleep, cat: most of a script's processes) has it copied in the
// freeze (copyFrozen), which is quicker than its twin and leaves nothing
// behind it: a twin outlives the freeze, and a process that exits before
// its twin is reaped hands the twin to the reaper of its namespace, a
// zombie of the job's process group until that reaper collects it (some
// init processes never do, and the group's next checkpoint would then
// find a member outside the tree). smallCopyTotal bounds them together
// (the arena, frozenCopyMax).
const (
	smallCopyMax   = 4 << 20
	smallCopyTotal = 24 << 20
)

// makeTwins makes the twin of every process that has private memory to
// save, but the small ones'. On error the twins made so far are left for
// endTwins.
func (t *dumpTree) makeTwins() error {
	for i, d := range t.procs {
		if _, ok := t.vmas[d.pid]; !ok || d.zombie {
			continue
		}
		need := false
		for j, r := range d.meta.Regions {
			need = need || d.twinBound(r) && (d.plan[j].deferred || len(d.plan[j].runs) > 0)
		}
		if !need {
			continue
		}
		if t.small[d.pid] && t.pre[d.pid] == nil {
			if d.deferPlan {
				if err := d.planDeferred(d.pid); err != nil {
					return err
				}
			}
			d.inFreeze = true
			continue
		}
		var err error
		if d.snap, err = d.makeSnap(); err == nil {
			continue
		}
		d.log.Debug(fmt.Sprintf("%s(%d): no userfaultfd snapshot: %v", d.comm, d.pid, err))
		if unshares(&d.meta) {
			// It forks into the PID namespace it unshared: a twin would
			// be its init, or take a pid there, and its end would end a
			// namespace with no init yet (pidns.go).
			return fmt.Errorf("%s(%d) unshared CLONE_NEWPID: no twin is made in it", d.comm, d.pid)
		}
		if tn := d.meta.TimeNS; tn != nil && tn.Open {
			// A twin would enter the time namespace it made, whose
			// offsets it may still write until a process does.
			return fmt.Errorf("%s(%d) made a time namespace no process entered yet: no twin is made in it", d.comm, d.pid)
		}
		if t.procs[i].twin, err = d.makeTwin(); err != nil {
			return err
		}
	}
	return nil
}

// copyFrozen copies, in the freeze, the saved pages of the processes with
// a twin that the twin does not hold as they are, into the buffer
// allocated for them before the freeze. It reports false, having copied
// nothing, when they do not fit.
func (t *dumpTree) copyFrozen() bool {
	var need uint64
	for _, d := range t.procs {
		if d.twin == nil && d.snap == nil && !d.inFreeze {
			continue
		}
		for j, r := range d.meta.Regions {
			if d.inFreeze || !d.twinBound(r) {
				for _, run := range d.plan[j].runs {
					need += run[1] - run[0]
				}
			}
		}
	}
	if need > uint64(len(t.pool.arena)) {
		return false
	}
	arena := t.pool.arena
	for _, d := range t.procs {
		if d.twin == nil && d.snap == nil && !d.inFreeze {
			continue
		}
		d.copied = map[uint64][]byte{}
		for j, r := range d.meta.Regions {
			if !d.inFreeze && d.twinBound(r) {
				continue
			}
			for _, run := range d.plan[j].runs {
				n := run[1] - run[0]
				b := arena[:n:n]
				arena = arena[n:]
				if err := d.readExtent(b, run[0]); err != nil {
					for _, d := range t.procs {
						d.copied = nil
					}
					return false
				}
				d.copied[run[0]] = b
			}
		}
	}
	return true
}

// endTwins kills the twins left and has their parents reap them.
//
// Every twin is killed and collected first, then each process reaps its
// own: a process of the tree may be exiting by now (the job ended while
// its images were written), and the init of a PID namespace that exits
// waits in the kernel until every process of the namespace has been
// reaped, the other processes' twins included, which it cannot reap while
// we trace them. Reaping twin by twin, a process at a time, waited on
// that init for the whole of stopWaitLimit, twice (its stop, then its
// detach), before the next twin was collected: the checkpoint, and the
// end of the job, hung for minutes.
func (t *dumpTree) endTwins(res *CheckpointResult) {
	for _, d := range t.procs {
		d.twin.kill()
		d.snap.close()
		d.snap = nil
	}
	for _, d := range t.procs {
		if d.twin == nil {
			continue
		}
		start := time.Now()
		if err := d.reapTwin(d.twin); err != nil {
			d.warn("%v", err)
		}
		res.Paused += time.Since(start)
		d.twin = nil
	}
}

// throttle stops the tree again while its twins are written when memory
// runs short: every page the tree writes meanwhile is a copy (the twin
// keeps the old one), and a job that writes faster than the disk would
// fill the machine, or its memory cgroup, with them. The copies are
// charged to the job's cgroup (the writer's), so that is watched too.
type throttle struct {
	t       *dumpTree
	cgroups []string // memory cgroup directories of the tree
	reserve uint64   // MemAvailable below this: stop
	n       int
	since   time.Time // stopped again at; zero: running
}

// throttleEvery: the memory is looked at every this many chunks (reading
// memory.stat costs tens of microseconds; a chunk, milliseconds).
const throttleEvery = 1

func (t *dumpTree) newThrottle() *throttle {
	th := &throttle{t: t, reserve: max(memTotal()/16, 256<<20)}
	seen := map[string]bool{}
	for _, d := range t.procs {
		if cg := memCgroup(d.pid); cg != "" && !seen[cg] {
			seen[cg] = true
			th.cgroups = append(th.cgroups, cg)
		}
	}
	return th
}

func (th *throttle) check() error {
	if !th.since.IsZero() {
		return nil
	}
	// From the first chunk on: a job can copy tens of MiB in the time a
	// few chunks take to write.
	if th.n++; (th.n-1)%throttleEvery != 0 {
		return nil
	}
	why := th.short()
	if why == "" {
		return nil
	}
	th.t.log.Info(fmt.Sprintf("%s: the tree is stopped again until its images are written", why))
	th.since = time.Now()
	return th.t.refreeze()
}

// short says why memory is short, "" if it is not.
func (th *throttle) short() string {
	why := ""
	if avail := memAvailable(); avail < th.reserve {
		why = fmt.Sprintf("%d MiB of memory available", avail>>20)
	}
	for _, cg := range th.cgroups {
		if room, ok := cgroupRoom(cg); ok && room < cgroupReserve {
			why = fmt.Sprintf("%d MiB left in memory cgroup %s", room>>20, cg)
		}
	}
	return why
}

func (th *throttle) paused() time.Duration {
	if th.since.IsZero() {
		return 0
	}
	return time.Since(th.since)
}

// cgroupReserve: a memory cgroup with less room than this left for
// anonymous memory stops the tree (see throttle).
const cgroupReserve = 64 << 20

// refreeze stops every process of the tree again (they were let go).
func (t *dumpTree) refreeze() error {
	for _, d := range t.procs {
		if d.zombie || d.seized {
			continue
		}
		if err := d.seizeTask(d.pid); err != nil {
			continue // gone
		}
		d.seized, d.tids = true, []int{d.pid}
		if err := interruptUnlessStopped(d.pid); err != nil {
			return err
		}
		if err := d.waitFrozen(d.pid); err != nil {
			return err
		}
		if err := d.seizeThreads(); err != nil {
			return err
		}
	}
	return nil
}

// memCgroup returns the memory cgroup directory of pid, cgroup v2 or v1
// (the v1 memory hierarchy where the machine has it), "" if unknown.
func memCgroup(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup" + f[2] + "/memory.max"); err == nil {
				return "/sys/fs/cgroup" + f[2]
			}
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				return "/sys/fs/cgroup/memory" + f[2]
			}
		}
	}
	return ""
}

// cgroupRoom returns how much anonymous memory the cgroup cg may still
// take: its limit less what it holds that cannot be reclaimed without
// swap (anonymous and shared memory, and on v2 the kernel's own). ok is
// false without a limit.
func cgroupRoom(cg string) (room uint64, ok bool) {
	v2 := true
	b, err := os.ReadFile(cg + "/memory.max")
	if err != nil {
		v2 = false
		if b, err = os.ReadFile(cg + "/memory.limit_in_bytes"); err != nil {
			return 0, false
		}
	}
	limit, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || limit >= 1<<62 {
		return 0, false // "max", or v1's unlimited
	}
	st, err := os.ReadFile(cg + "/memory.stat")
	if err != nil {
		return 0, false
	}
	keys := map[string]bool{"anon": v2, "kernel": v2, "shmem": v2, "total_rss": !v2, "total_shmem": !v2}
	var used uint64
	for _, line := range strings.Split(string(st), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if keys[k] {
			n, _ := strconv.ParseUint(v, 10, 64)
			used += n
		}
	}
	if used >= limit {
		return 0, true
	}
	return limit - used, true
}

func memTotal() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for k, v := range keyValues(data) {
		if k == "MemTotal" {
			n, _ := strconv.ParseUint(strings.TrimSuffix(v, " kB"), 10, 64)
			return n * 1024
		}
	}
	return 0
}
