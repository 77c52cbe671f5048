package ckpt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dumpTree checkpoints a process, or with opts.Tree the whole tree rooted at
// it: every process is frozen (parents first, re-scanning until no new child
// appears) before the first image is written, and stays frozen until its
// memory is copied out; the images are published children first, the root
// last, so a root image on disk means every member's image is there too.
type dumpTree struct {
	opts    CheckpointOptions
	log     *slog.Logger
	rootPID int
	// rootLevel: 1 + the level of the root's PID namespace below ours;
	// 0 until read (rootNSLevel).
	rootLevel int
	// nsMakers: the process that made each network and cgroup
	// namespace of the tree, by kind and inode (nsMember).
	nsMakers map[string]map[uint64]*dumper
	// landlock: the reference processes of the landlock probe
	// (landlockref.go).
	landlock landlockRefs
	rootPath string
	rootFile string

	procs    []*dumper   // parents before children
	mounts   mountTables // the mount tables read by checkMounts (mountns.go)
	frozenAt time.Time
	ctx      context.Context // bounds the waits of the freeze

	// The unix sockets of the tree by inode, and those in flight in
	// their queues held by nothing else (linkUnix).
	unixSocks  map[uint64][]fdRef
	unixFlight map[uint64]bool
	unixRaw    map[uint64][]rawMsg
	repair     []repairedConn // our copies of TCP connections in repair mode (linkInet)
	ipcFiles   []string       // the files of SysV segments written (sysvipc.go)
	// unlinkedCopies: the copy of each unlinked file, by inode (unlinked.go).
	unlinkedCopies map[string]copyRef
	// id: the checkpoint's id (imageMeta.Checkpoint), which names its
	// copies; copies: the copies written beside the image (copies.go).
	id     string
	copies []copyRef
	// vmas: per pid, what smaps said before the freeze (twin.go); nil:
	// no copy-on-write twins.
	vmas map[int]vmaFlags
	// small: the processes whose private memory is copied in the freeze
	// rather than held by a twin (smallCopyMax).
	small map[int]bool
	// pre: per pid, the write-protection made before the freeze
	// (uffdpre_linux_amd64.go), until its snapshot takes it.
	pre map[int]*preSnap
	// rearmed: per pid, the dirty-page tracker re-armed before the
	// freeze (rearm_linux_amd64.go), until trackDirty takes it.
	rearmed map[int]*rearmed
	pool    *bufPool // the image writer's buffers
	// parents: the parent checkpoint's images by pid (opts.Parent).
	parents map[int]*Image
}

func (t *dumpTree) run(ctx context.Context, res *CheckpointResult) (retErr error) {
	t.ctx = ctx
	t.id = rand.Text()
	defer t.landlock.close()
	defer func() {
		// A failed checkpoint leaves none of its copies beside the image
		// (copies.go); once the root is published they are its.
		if retErr != nil {
			for _, d := range t.procs {
				for _, p := range d.made {
					os.Remove(p)
				}
			}
		}
	}()
	if t.opts.Parent != "" && !t.opts.CheckOnly {
		var err error
		if t.parents, err = parentTree(t.opts.Parent, t.opts.Key); err != nil {
			return err
		}
	}
	if !t.opts.CheckOnly {
		// Before the freeze: what costs memory the first time it is
		// touched (~15 us a page here), and smaps, which walks every page
		// table (see twin.go).
		var frozen uint64
		if t.opts.Signal == 0 {
			t.vmas = map[int]vmaFlags{}
			t.small = map[int]bool{}
			var small uint64
			for _, pid := range t.scanTree() {
				if v, err := readVMAFlags(pid); err == nil {
					t.vmas[pid] = v
					frozen += v.frozen
					if v.private <= smallCopyMax && small+v.private <= smallCopyTotal {
						t.small[pid] = true
						small += v.private
					}
				}
			}
			frozen += small
		}
		var err error
		if t.pool, err = newBufPool(frozen); err != nil {
			return err
		}
		defer t.pool.close()
		t.preProtect()
		t.preRearm() // rearm_linux_amd64.go
		t.landlock.prepare(t.scanTree(), t.log)
		defer func() {
			for _, p := range t.pre {
				p.close()
			}
		}()
		if preFreezeHook != nil {
			preFreezeHook()
		}
	}
	t.frozenAt = time.Now()
	t.log.Debug(fmt.Sprintf("the freeze begins (monotonic clock %.3f ms)", monoMS()))
	if p := stopProf.take(); p != "" {
		t.log.Debug("before the freeze, count/total: " + p)
	}
	defer t.release(false)
	killed := false
	defer func() { t.endRepair(killed && retErr == nil) }()
	ts := stopProf.start()
	if err := t.freeze(); err != nil {
		return err
	}
	stopProf.since("st:freeze", ts)
	defer diagNamespaces(t.pids())()
	defer func() {
		if retErr != nil {
			for _, d := range t.procs {
				d.dropTracker() // dirty_linux_amd64.go
			}
		}
	}()
	if err := t.checkGroups(); err != nil {
		return err
	}
	if err := t.checkSharedTables(); err != nil {
		return err
	}
	t.log.Debug(fmt.Sprintf("frozen %.1f ms after the freeze began", time.Since(t.frozenAt).Seconds()*1e3))
	for _, d := range t.procs {
		_, twins := t.vmas[d.pid]
		d.deferPlan = twins && !d.zombie
		if p := t.parentOf(d); p != nil && p.meta.Comm == d.comm {
			d.parentImg = p
		}
		if err := d.collect(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	t.log.Debug(fmt.Sprintf("processes described %.1f ms after the freeze began", time.Since(t.frozenAt).Seconds()*1e3))
	// The landlock probes are over: their references go now. One left in
	// a job's PID namespace until the release would hold up the end of a
	// tree killed after its checkpoint (-k KILL, a batch system's stop):
	// the namespace's init ends only once every process in it is reaped
	// (zap_pid_ns_processes), and the reference's parent reaps it only
	// when it is told to.
	t.landlock.close()
	ts = stopProf.start()
	if !t.opts.CheckOnly {
		if err := t.findCowShared(); err != nil {
			return err
		}
	}
	if err := t.linkFiles(); err != nil {
		return err
	}
	if err := t.linkRemovedWatches(); err != nil { // inotifywatch.go
		return err
	}
	if err := t.linkEpollWatches(); err != nil { // epollmoved.go
		return err
	}
	defer func() {
		if retErr != nil {
			t.removeIPCFiles()
		}
	}()
	if err := t.collectIPC(); err != nil {
		return err
	}
	if err := t.collectOwners(); err != nil {
		return err
	}
	// Connections read in repair mode stay in it only if the whole tree
	// is killed after the images are written (endRepair).
	killed = !t.opts.CheckOnly && t.opts.Signal == unix.SIGKILL && (t.opts.SignalAll || len(t.procs) == 1)
	if !killed {
		t.endRepair(false)
	}
	t.name()
	t.nameCowParents()
	if t.opts.CheckOnly {
		return nil
	}
	stopProf.since("st:tree", ts)
	if err := t.linkParents(res); err != nil {
		return err
	}
	// The images are written (copy-on-write twins let the tree go
	// before, see writeImages); on error no temporary file is left.
	if err := t.writeImages(ctx, res); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			for _, d := range t.procs {
				if d.tmp != "" {
					os.Remove(d.tmp)
				}
			}
		}
	}()
	// The copies' names are durable before any image names them; the
	// root's rename is the commit point (copies.go).
	if len(t.copies) > 0 {
		if err := syncDir(filepath.Dir(t.rootPath)); err != nil {
			return err
		}
	}
	replaced := t.copiesReplaced()
	publishStep("images written")
	// The members under names of this checkpoint only, then the root:
	// until its rename the old tree is whole; after it the new one is,
	// its members found under those names until they have their own.
	for i := len(t.procs) - 1; i >= 0; i-- {
		d := t.procs[i]
		if d.parent == nil {
			if err := publish(d.tmp, d.path, t.overwrite()); err != nil {
				return err
			}
			publishStep("publish " + filepath.Base(d.path))
			continue
		}
		if !t.overwrite() && !isAbsent(d.path) {
			return fmt.Errorf("%s: %w", d.path, ErrExists)
		}
		hidden := memberPath(d.path, t.id)
		if err := publish(d.tmp, hidden, false); err != nil {
			return err
		}
		d.made = append(d.made, hidden)
		publishStep("publish " + filepath.Base(hidden))
	}
	for _, d := range t.procs {
		d.made = nil // the published images' own
	}
	t.ipcFiles = nil
	t.linkCopies(replaced)
	if t.opts.Signal != 0 {
		// Sent while the tree is still frozen: nothing it does after the
		// images can be lost (CONVEX -k KILL).
		var reap []int
		for _, d := range t.procs {
			if d.zombie || (!t.opts.SignalAll && d.pid != t.rootPID) {
				continue
			}
			if err := unix.Kill(d.pid, t.opts.Signal); err != nil {
				return fmt.Errorf("%s(%d): kill %d: %w", d.comm, d.pid, t.opts.Signal, err)
			}
			if t.opts.Signal == unix.SIGKILL && d.seized {
				// Its threads die traced: collect the end of each but the
				// leader as their tracer, so the process's exit reaches
				// its parent (which may be our own caller) now.
				reap = append(reap, d.tids[1:]...)
				if d.stat.PPID != os.Getpid() {
					// Nor is its parent ours: collect its end as its
					// tracer too, which hands it to its parent. A tracee
					// left to the end of our tracer thread stays a zombie
					// nobody can reap if that thread never ends (the Go
					// runtime keeps a main thread that exits locked).
					reap = append(reap, d.tids[0])
				}
				d.seized = false
			}
		}
		if res.Frozen == 0 {
			res.Frozen = time.Since(t.frozenAt)
		}
		// All in one wait, not process by process: the init of a PID
		// namespace ends only once every other process of it has been
		// collected, by us first as their tracer (zap_pid_ns_processes);
		// waiting for it first cost the whole timeout.
		if left := reapAll(reap, 10*time.Second); len(left) > 0 {
			t.log.Warn(fmt.Sprintf("killed after the checkpoint, tasks %v have not ended 10 s later", left))
		}
	}
	if res.Frozen == 0 {
		res.Frozen = time.Since(t.frozenAt)
	}
	t.release(true)
	for _, d := range t.procs {
		res.Images = append(res.Images, d.path)
		res.Copies = append(res.Copies, d.copies...)
		res.Memory += d.dataLen
		if fi, err := os.Stat(d.path); err == nil {
			res.Apparent += fi.Size()
			if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
				res.Disk += sys.Blocks * 512
			}
		}
	}
	return nil
}

// scanTree lists the pids of the tree before it is frozen (a guess: it
// may change until every member is stopped).
func (t *dumpTree) scanTree() []int {
	pids := []int{t.rootPID}
	if !t.opts.Tree {
		return pids
	}
	for i := 0; i < len(pids) && len(pids) < 4096; i++ {
		for _, c := range childrenOf(pids[i]) {
			if !t.opts.ourselves(c) {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// childrenOf lists the children of every thread of pid.
func childrenOf(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// freeze stops the root, then each frozen process's children, until no new
// process appears: a frozen parent cannot fork, so its list of children
// is final once it is stopped.
func (t *dumpTree) freeze() error {
	root, err := t.seize(t.rootPID, nil)
	if err != nil {
		return err
	}
	if root == nil {
		return fmt.Errorf("pid %d: %w", t.rootPID, ErrNoProcess)
	}
	// Never ourselves: a program checkpointing its own tree is chkpnt's
	// parent (see SelfChannel).
	seen := map[int]bool{t.rootPID: true, os.Getpid(): true}
	if t.opts.Guard > 0 {
		seen[t.opts.Guard] = true // and never our guard (chkpnt's worker)
	}
	for i := 0; i < len(t.procs) && t.opts.Tree; i++ {
		d := t.procs[i]
		if d.zombie {
			continue
		}
		for _, c := range t.keptChildren(d.pid, seen) {
			if _, err := t.seize(c, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// keptChildren lists the children of pid not seen yet, a child left out
// by Choices replaced by its own kept children (they are saved as children
// of pid, the nearest kept ancestor), and marks them seen.
func (t *dumpTree) keptChildren(pid int, seen map[int]bool) []int {
	var out []int
	for _, c := range childrenOf(pid) {
		if seen[c] {
			continue
		}
		seen[c] = true
		if t.opts.Choices.skip(c) {
			out = append(out, t.keptChildren(c, seen)...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// seize freezes pid (a zombie is recorded as it is) and adds it to the
// tree; it returns nil if the process is gone.
func (t *dumpTree) seize(pid int, parent *dumper) (*dumper, error) {
	st, err := readStat(pid)
	if err != nil {
		if parent != nil && errors.Is(err, os.ErrNotExist) {
			return nil, nil // exited and reaped meanwhile
		}
		return nil, err
	}
	d := &dumper{pid: pid, comm: st.Comm, stat: st, opts: t.opts, log: t.log, parent: parent, tree: t}
	added := false
	if st.State == 'Z' || st.State == 'X' {
		if n := exitSettled(pid); n > 0 {
			return nil, leaderExited(st.Comm, pid, n)
		}
		d.zombie = true
	} else {
		if err := d.checkSeizable(pid); err != nil { // seizecheck.go
			return nil, err
		}
		if err := d.seizeTask(pid); err != nil {
			if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EPERM) {
				// It became a zombie between the two looks.
				if st2, err2 := readStat(pid); err2 == nil && (st2.State == 'Z' || st2.State == 'X') {
					if n := exitSettled(pid); n > 0 {
						return nil, leaderExited(st.Comm, pid, n)
					}
					d.stat, d.zombie = st2, true
				}
			}
			if !d.zombie {
				if parent != nil && errors.Is(err, unix.ESRCH) {
					return nil, nil
				}
				return nil, fmt.Errorf("%s(%d): %w", st.Comm, pid, err)
			}
		} else {
			d.seized = true
			d.tids = []int{pid}
			t.procs = append(t.procs, d) // from here on, release detaches it
			added = true
			// A task in group-stop traps by itself when seized; an
			// interrupt on top would trap it again at the first
			// injected step (see jobctl.go).
			if err := interruptUnlessStopped(pid); err != nil {
				return nil, err
			}
			if err := d.waitFrozen(pid); err != nil {
				return nil, err
			}
			if err := d.seizeThreads(); err != nil {
				return nil, err
			}
			// Now it cannot change: read its stat again.
			if d.stat, err = readStat(pid); err != nil {
				return nil, err
			}
		}
	}
	if parent == nil && d.zombie {
		// It exited between Checkpoint's look and the freeze.
		return nil, &UncheckpointableError{Comm: d.comm, PID: pid, FD: -1, Msg: "process is a zombie (it exited as the checkpoint began)"}
	}
	if parent != nil {
		parent.children = append(parent.children, d)
	}
	if !added {
		t.procs = append(t.procs, d)
	}
	return d, nil
}

// seizeThreads freezes every other thread of the process, listing them
// again until no new one appears: a frozen thread creates no thread.
func (d *dumper) seizeThreads() error {
	seen := map[int]bool{d.pid: true}
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", d.pid))
		if err != nil {
			return fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		added := 0
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil || seen[tid] {
				continue
			}
			seen[tid] = true
			if err := d.checkSeizable(tid); err != nil {
				return err
			}
			if err := d.seizeTask(tid); err != nil {
				if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EPERM) {
					continue // exiting
				}
				return fmt.Errorf("%s(%d): tid %d: %w", d.comm, d.pid, tid, err)
			}
			d.tids = append(d.tids, tid)
			added++
			if err := interruptUnlessStopped(tid); err != nil {
				return err
			}
			if err := d.waitFrozen(tid); err != nil {
				return err
			}
		}
		if added == 0 {
			return nil
		}
	}
}

// release lets every frozen process go, children first. With done false
// (an error path) it also puts back anything an injection left behind.
func (t *dumpTree) release(done bool) {
	t.landlock.close() // reaped before the tree runs (landlockref.go)
	for i := len(t.procs) - 1; i >= 0; i-- {
		d := t.procs[i]
		if !d.seized {
			continue
		}
		d.seized = false
		for j := len(d.tids) - 1; j >= 0; j-- {
			err := d.letGo(d.tids[j]) // procmisc.go
			if err != nil && !errors.Is(err, unix.ESRCH) && done {
				d.warn("%s(%d): detach tid %d: %v", d.comm, d.pid, d.tids[j], err)
			}
		}
	}
}

// name gives every member its image path: the root's is rootPath; a
// member's is ROOT.LINEAGE.COMM.PID (CONVEX), where ROOT is the -f name or
// the root's command name and LINEAGE the command names between the root
// and the member, abbreviated ROOT...COMM.PID when too long.
func (t *dumpTree) name() {
	dir := filepath.Dir(t.rootPath)
	base := t.rootFile
	if base == "" {
		base = t.procs[0].comm
	}
	base = filepath.Base(base)
	for _, d := range t.procs {
		if d.parent == nil {
			d.path = t.rootPath
			continue
		}
		var lineage []string
		for a := d.parent; a != nil && a.parent != nil; a = a.parent {
			lineage = append([]string{a.comm}, lineage...)
		}
		parts := append([]string{base}, lineage...)
		name := strings.Join(append(parts, d.comm, strconv.Itoa(d.pid)), ".")
		if len(name) > 200 || len(lineage) > 6 {
			name = fmt.Sprintf("%s...%s.%d", base, d.comm, d.pid)
		}
		d.path = filepath.Join(dir, name)
	}
	// One id for every image of this checkpoint: a restart refuses a
	// tree whose members carry different ones (a crash between the
	// publication of new members and of the root leaves an old root
	// naming new members).
	for _, d := range t.procs {
		d.meta.Checkpoint = t.id
		for _, c := range d.children {
			d.meta.Children = append(d.meta.Children, filepath.Base(c.path))
		}
	}
	// A shared memory object's content is in its first holder's image;
	// the others name that image, so a subtree restarts without it too.
	owners := map[string]string{}
	for _, d := range t.procs {
		for _, r := range d.meta.Regions {
			if r.Shm != "" && len(r.Extents) > 0 {
				owners[r.Shm] = filepath.Base(d.path)
			}
		}
	}
	for _, d := range t.procs {
		for i := range d.meta.Regions {
			r := &d.meta.Regions[i]
			if r.Shm != "" && len(r.Extents) == 0 {
				r.ShmImage = owners[r.Shm]
			}
		}
	}
}

// pipesOutside lists the pipes that processes outside the tree hold.
func (t *dumpTree) pipesOutside() map[uint64]bool {
	out := map[uint64]bool{}
	t.outsideFDs(func(pid int, fd string) {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd))
		if err != nil || !strings.HasPrefix(l, "pipe:[") {
			return
		}
		if ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "pipe:["), "]"), 10, 64); err == nil {
			out[ino] = true
		}
	})
	return out
}

// outsideFDs calls f for each descriptor (its number, as in /proc) of each
// process outside the tree.
func (t *dumpTree) outsideFDs(f func(pid int, fd string)) {
	in := map[int]bool{}
	for _, d := range t.procs {
		in[d.pid] = true
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || in[pid] {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range fds {
			f(pid, e.Name())
		}
	}
}

// shmSeen reports whether the shared memory object key was met before in
// the tree, and records it.
func (t *dumpTree) shmSeen(key string) bool {
	for _, d := range t.procs {
		for _, r := range d.meta.Regions {
			if r.Shm == key && len(r.Extents) > 0 {
				return true
			}
		}
	}
	return false
}

type fdRef struct {
	d *dumper
	i int // index in d.meta.Files
}

func (r fdRef) file() *fileDesc { return &r.d.meta.Files[r.i] }

// linkFiles looks at the descriptors of the whole tree: a pipe must have
// both ends inside it (CONVEX); descriptors that share an open file
// description get the same Desc; the bytes in transit in each pipe are
// copied (with tee, so the running tree's data is not disturbed).
func (t *dumpTree) linkFiles() error {
	defer t.closeFlight() // the copies of descriptors in flight (unixflight.go)
	if err := t.linkInet(); err != nil {
		return err
	}
	pipes := map[uint64][]fdRef{}
	socks := map[uint64][]fdRef{}
	groups := map[string][]fdRef{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			switch f.Kind {
			case fdPipe:
				pipes[f.Ino] = append(pipes[f.Ino], fdRef{d, i})
				groups[fmt.Sprintf("pipe:%d", f.Ino)] = append(groups[fmt.Sprintf("pipe:%d", f.Ino)], fdRef{d, i})
			case fdSocket:
				socks[f.Ino] = append(socks[f.Ino], fdRef{d, i})
				groups[fmt.Sprintf("sock:%d", f.Ino)] = append(groups[fmt.Sprintf("sock:%d", f.Ino)], fdRef{d, i})
			case fdInet:
				k := fmt.Sprintf("inet:%d", f.Ino)
				groups[k] = append(groups[k], fdRef{d, i})
			case fdFile, fdDir, fdDevice, fdTTY, fdAnon, fdFifo, fdPTY, fdMqueue:
				k := fmt.Sprintf("%s:%d:%d", f.Kind, f.MntID, f.Ino)
				groups[k] = append(groups[k], fdRef{d, i})
			}
		}
	}
	var outside map[uint64]bool // pipes held by processes outside the tree
	for ino, refs := range pipes {
		if t.holdsSelfChannel(refs) {
			if err := t.saveSelfChannel(ino, refs); err != nil {
				return err
			}
			continue
		}
		var readers, writers int
		for _, r := range refs {
			if r.file().Flags&unix.O_ACCMODE == unix.O_RDONLY {
				readers++
			} else {
				writers++
			}
		}
		for _, r := range refs {
			f := r.file()
			reader := f.Flags&unix.O_ACCMODE == unix.O_RDONLY
			var msg string
			if (reader && writers > 0) || (!reader && readers > 0) {
				continue
			}
			if outside == nil {
				outside = t.pipesOutside()
			}
			if !outside[ino] {
				// Nobody holds the other end: it was closed, and stays
				// closed after restart (a reader gets the bytes left,
				// then end of file).
				continue
			}
			msg = ": pipe source is outside of selected processes"
			if !reader {
				msg = ": pipe destination is outside of selected processes"
			}
			if err := r.d.uncheckpointable(f.FD, msg); err != nil {
				return err
			}
			f.Kind, f.Reason = fdClosed, strings.TrimPrefix(msg, ": ")
		}
		if readers > 0 {
			if err := t.savePipe(ino, refs); err != nil {
				return err
			}
		}
	}
	if err := t.linkUnix(socks); err != nil {
		return err
	}
	if err := t.linkFifos(); err != nil {
		return err
	}
	if err := t.linkPTYs(); err != nil {
		return err
	}
	// Descriptors with the same file are the same description only if the
	// kernel says so (kcmp KCMP_FILE).
	for _, refs := range groups {
		var firsts []fdRef
		for _, r := range refs {
			f := r.file()
			if f.Kind == fdClosed {
				continue
			}
			for _, first := range firsts {
				if sameDescription(first.d.pid, first.file().FD, r.d.pid, f.FD) {
					f.Desc = first.file().Desc
					break
				}
			}
			if f.Desc == "" {
				f.Desc = fmt.Sprintf("%d:%d", r.d.pid, f.FD)
				firsts = append(firsts, r)
			}
		}
	}
	return t.unixQueues(socks)
}

func sameDescription(pid1, fd1, pid2, fd2 int) bool {
	const kcmpFile = 0
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFile, uintptr(fd1), uintptr(fd2), 0)
	return e == 0 && r == 0
}

// savePipe copies the bytes buffered in pipe ino, through a read end held
// by the tree, without consuming them: tee(2) duplicates them into a pipe
// of ours.
func (t *dumpTree) savePipe(ino uint64, refs []fdRef) error {
	var r fdRef
	for _, x := range refs {
		if x.file().Flags&unix.O_ACCMODE == unix.O_RDONLY {
			r = x
			break
		}
	}
	pidfd, err := unix.PidfdOpen(r.d.pid, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): pidfd_open: %w", r.d.comm, r.d.pid, err)
	}
	defer unix.Close(pidfd)
	src, err := unix.PidfdGetfd(pidfd, r.file().FD, 0)
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d: failed to reattach pipe: %w", r.d.comm, r.d.pid, r.file().FD, err)
	}
	defer unix.Close(src)
	pd, err := teeAll(src)
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d pipe drain: %w", r.d.comm, r.d.pid, r.file().FD, err)
	}
	pd.Ino = ino
	pd.packetMode(refs)
	r.d.meta.Pipes = append(r.d.meta.Pipes, pd)
	return nil
}
