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
// (shared memory, MADV_DONTFORK and MADV_WIPEONFORK regions) is written
// from the frozen process; then the tree is let go and the rest is written
// from the twins. Without twins (a signal to send, a clone refused: the
// job's pids limit, RLIMIT_NPROC, strict overcommit) the tree stays frozen
// until every image is written; the memory taken is the same (writeBufs
// buffers), only the stop is longer.
func (t *dumpTree) writeImages(ctx context.Context, res *CheckpointResult) (retErr error) {
	pool, err := newBufPool()
	if err != nil {
		return err
	}
	defer pool.close()
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
	cow := make([][]int, len(t.procs)) // segments written from the twin
	twins := t.opts.Signal == 0
	if twins {
		if err := t.makeTwins(cow); err != nil {
			t.log.Info(fmt.Sprintf("copy-on-write twins: %v; the tree stays stopped while its images are written", err))
			t.endTwins(res)
			twins = false
			cow = make([][]int, len(t.procs))
		}
	}
	for i, d := range t.procs {
		w, err := d.newImageWriter(pool)
		if err != nil {
			return err
		}
		writers[i] = w
		frozen := allSegments(len(w.exts))
		if len(cow[i]) > 0 {
			frozen = without(frozen, cow[i])
		}
		if err := w.write(ctx, frozen, liveSource{d}, nil, nil); err != nil {
			return err
		}
	}
	if twins {
		res.Frozen = time.Since(t.frozenAt)
		t.release(true)
		th := t.newThrottle()
		for i, d := range t.procs {
			if d.twin == nil {
				continue
			}
			if err := writers[i].write(ctx, cow[i], twinSource{d.twin}, d.twin.drop, th.check); err != nil {
				return err
			}
			d.twin.kill() // its memory goes back at once
		}
		res.Paused += th.paused()
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

// makeTwins makes the twin of every process that has private memory to
// save, and lists in cow[i] the segments of t.procs[i] to write from it.
// On error the twins made so far are left for endTwins.
func (t *dumpTree) makeTwins(cow [][]int) error {
	for i, d := range t.procs {
		if d.zombie || d.dataLen == 0 {
			continue
		}
		noFork, err := noForkRegions(d.pid)
		if err != nil {
			return fmt.Errorf("%s(%d): smaps: %w", d.comm, d.pid, err)
		}
		seg := 0
		for _, r := range d.meta.Regions {
			for range r.Extents {
				if r.Kind != regionShmem && !noFork[r.Start] {
					cow[i] = append(cow[i], seg)
				}
				seg++
			}
		}
		if len(cow[i]) == 0 {
			continue
		}
		if d.twin, err = d.makeTwin(); err != nil {
			return err
		}
	}
	return nil
}

// endTwins kills the twins left and has their parents reap them.
func (t *dumpTree) endTwins(res *CheckpointResult) {
	for _, d := range t.procs {
		if d.twin == nil {
			continue
		}
		d.twin.kill()
		start := time.Now()
		if err := d.reapTwin(d.twin); err != nil {
			d.warn("%v", err)
		}
		res.Paused += time.Since(start)
		d.twin = nil
	}
}

// without returns the elements of all not in some (both sorted).
func without(all, some []int) []int {
	var out []int
	j := 0
	for _, x := range all {
		for j < len(some) && some[j] < x {
			j++
		}
		if j < len(some) && some[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
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

// throttleEvery: the memory is looked at every this many chunks.
const throttleEvery = 8

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
	if th.n++; th.n%throttleEvery != 0 {
		return nil
	}
	why := ""
	if avail := memAvailable(); avail < th.reserve {
		why = fmt.Sprintf("%d MiB of memory available", avail>>20)
	}
	for _, cg := range th.cgroups {
		if room, ok := cgroupRoom(cg); ok && room < cgroupReserve {
			why = fmt.Sprintf("%d MiB left in memory cgroup %s", room>>20, cg)
		}
	}
	if why == "" {
		return nil
	}
	th.t.log.Info(fmt.Sprintf("%s: the tree is stopped again until its images are written", why))
	th.since = time.Now()
	return th.t.refreeze()
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

// memCgroup returns the cgroup v2 directory of pid, "" if unknown.
func memCgroup(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return "/sys/fs/cgroup" + p
		}
	}
	return ""
}

// cgroupRoom returns how much anonymous memory the cgroup cg may still
// take: memory.max less what it holds that cannot be reclaimed without
// swap (anon) and the kernel's own. ok is false without a limit.
func cgroupRoom(cg string) (room uint64, ok bool) {
	b, err := os.ReadFile(cg + "/memory.max")
	if err != nil {
		return 0, false
	}
	limit, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, false // "max"
	}
	st, err := os.ReadFile(cg + "/memory.stat")
	if err != nil {
		return 0, false
	}
	var used uint64
	for _, line := range strings.Split(string(st), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "anon", "kernel", "shmem":
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
