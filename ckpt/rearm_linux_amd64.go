package ckpt

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Re-arming the dirty-page tracker before the freeze. A tracked
// checkpoint's generation is the set of pages written since the parent
// checkpoint; re-arming the tracker protects those pages again, which
// rewrites their page-table entries: 20-30 ms a GiB here, all of it in
// the freeze for a job that rewrites its whole memory between two
// checkpoints. So most of it is done before, as the untracked snapshot's
// write-protection is (uffdpre_linux_amd64.go): while the job runs,
// PAGEMAP_SCAN with PM_SCAN_WP_MATCHING returns the pages written so far
// and protects them again (written); in the freeze the same scan returns
// only what was written since, and the generation is both sets: a page
// of the first set that is written again is in the second, one that is
// not holds at the freeze what it held when it was protected.
//
// The witness comes first: one thread of the process is stopped for two
// injected calls that move the tracker to another descriptor. From then
// on the parent image names no tracker of the process, and a checkpoint
// that dies or fails before its own image is published (which names the
// new descriptor) leaves the next one against the parent to save
// everything (trackerIntact): the pages taken out of the tracker here are
// never silently missing from an image.

// rearmed is a tracker re-armed before the freeze (preRearm): what
// trackDirty takes of it in the freeze.
type rearmed struct {
	fd    int    // where the tracker was moved (the witness)
	ino   uint64 // its inode
	start uint64 // the process's start time
	// written: the pages written since the parent checkpoint, protected
	// again before the freeze; lost: ranges whose scan failed midway
	// (some of their written pages may be protected again, unrecorded):
	// saved whole.
	written [][2]uint64
	lost    [][2]uint64
	// err: nothing of it can be trusted (why).
	err string
}

// preRearms: trackers are re-armed before the freeze where they can
// (tests turn it off to exercise the re-arm in the freeze).
var preRearms = true

// preRearm re-arms, before the freeze, the tracker of every process of
// the tree whose parent image names one that is intact; the others are
// left to the freeze (trackDirty).
func (t *dumpTree) preRearm() {
	o := t.opts
	if !preRearms || o.Parent == "" || o.CheckOnly || o.Signal != 0 || t.parents == nil {
		return
	}
	for _, pid := range t.scanTree() {
		r, err := t.rearmOne(pid)
		if err != nil {
			t.log.Debug(fmt.Sprintf("pid %d: tracker not re-armed before the freeze: %v", pid, err))
			continue
		}
		if r == nil {
			continue
		}
		if t.rearmed == nil {
			t.rearmed = map[int]*rearmed{}
		}
		t.rearmed[pid] = r
	}
}

// rearmOne re-arms the tracker of process pid before the freeze; nil
// with no error when it has none to re-arm. It runs on the tracer thread.
func (t *dumpTree) rearmOne(pid int) (*rearmed, error) {
	t0 := time.Now()
	st, err := readStat(pid)
	if err != nil {
		return nil, err
	}
	if st.State != 'R' && st.State != 'S' && st.State != 'D' {
		return nil, fmt.Errorf("state %c", st.State)
	}
	d := &dumper{pid: pid, comm: st.Comm, stat: st, opts: t.opts, log: t.log, tree: t}
	p := t.parentOf(d)
	if p == nil || p.meta.Comm != st.Comm {
		return nil, nil
	}
	if why := restoredTracker(p, t.opts.Key, st.StartTime); why != "" {
		return nil, errors.New(why)
	}
	rec := p.meta.Track
	if rec == nil || p.depth()+1 >= maxChain || rec.Boot != bootID() || rec.Start != st.StartTime {
		return nil, nil
	}
	var cur *trackerFD
	for _, tr := range d.findTrackers() {
		if tr.fd == rec.FD && tr.ino == rec.Ino {
			cur = &tr
		}
	}
	if cur == nil {
		return nil, nil // the freeze says why
	}
	// The witness: the tracker moved, by the process (one thread
	// stopped for it).
	if err := d.seizeTask(pid); err != nil {
		return nil, err
	}
	detach := func() { d.letGo(pid) } // procmisc.go: its syscall user dispatch back
	if err := interruptUnlessStopped(pid); err != nil {
		detach()
		return nil, err
	}
	if err := d.waitFrozen(pid); err != nil {
		detach()
		return nil, err
	}
	stopped := time.Now()
	fd := -1
	err = d.preInjectable()
	if err == nil {
		err = d.withInjection(func(tk *task, _ uint64) error {
			var err error
			fd, err = moveTracker(tk, cur.fd)
			return err
		})
		d.mem.Close()
	}
	detach()
	t1 := time.Now()
	if err != nil {
		return nil, err
	}
	r := &rearmed{fd: fd, ino: cur.ino, start: st.StartTime}
	uffd, err := d.copyFD(fd)
	if err != nil {
		r.err = err.Error()
		return r, nil
	}
	defer unix.Close(uffd)
	if err := r.scan(d, p); err != nil {
		r.err = err.Error()
	}
	t.log.Debug(fmt.Sprintf("%s(%d): tracker re-armed before the freeze in %.1f ms (one thread stopped %.1f ms to move it to fd %d, %d KiB written since %s protected again in %.1f ms)",
		st.Comm, pid, time.Since(t0).Seconds()*1e3, t1.Sub(stopped).Seconds()*1e3, fd, runsPages(r.written)*4, p.Path, time.Since(t1).Seconds()*1e3))
	return r, nil
}

// scan re-arms the tracker in every mapping of d's process that the
// parent image p says is tracked (the freeze decides which regions
// inherit), recording in r what was written.
func (r *rearmed) scan(d *dumper, p *Image) error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", d.pid))
	if err != nil {
		return err
	}
	maps, err := parseMaps(data)
	if err != nil {
		return err
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", d.pid))
	if err != nil {
		return err
	}
	defer pm.Close()
	var tracked [][2]uint64
	for _, pr := range p.meta.Regions {
		if pr.Tracked && len(pr.Inherit) == 0 {
			tracked = append(tracked, [2]uint64{pr.Start, pr.End})
		}
	}
	tracked = sortedUnion(tracked)
	for _, m := range maps {
		if m.shared() {
			continue
		}
		file := m.Inode != 0
		for _, rg := range intersectRuns(tracked, [][2]uint64{{m.Start, m.End}}) {
			w, err := scanRearm(pm, rg[0], rg[1], file)
			if err != nil {
				// Not registered (EPERM: a new mapping) is nothing
				// protected again; pages protected before an error
				// are not this generation's for sure: saved whole.
				if len(w) > 0 {
					r.lost = append(r.lost, rg)
				}
				continue
			}
			r.written = append(r.written, w...)
		}
	}
	r.written = sortedUnion(r.written)
	return nil
}
