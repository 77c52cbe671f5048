package ckpt

// Time namespaces. A process that unshared CLONE_NEWTIME made a time
// namespace for its children (/proc/PID/ns/time_for_children), with the
// CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets it then wrote to
// /proc/PID/timens_offsets; its children are in it, and so is the
// process itself once it ran execve or entered it with setns (what
// `unshare --time` does). Such a process is saved with the offsets
// (imageMeta.TimeNS) and comes back the same way: before its children are
// cloned it unshares CLONE_NEWTIME again, the restorer writes the same
// offsets, and one that was in the namespace enters it (setns, while it
// is still one thread). Its children are then cloned into it, and see
// the clocks they saw before: the offsets are kept, not the clock
// readings, so processes inside and outside the namespace keep the
// difference between their clocks.
//
// Refused at checkpoint (naming the process): a process in a time
// namespace that is neither its parent's for children nor one it made (a
// child forked before its parent unshared, one that entered another's),
// one in one namespace that made another for its children, and a thread
// in another time namespace than its process's main thread.
//
// Making the namespace and writing its offsets need CAP_SYS_ADMIN and
// CAP_SYS_TIME: without root the restart warns and the process gets the
// restart's clocks.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// timeNS is imageMeta.TimeNS.
type timeNS struct {
	// Entered: the process itself was in the namespace it made; else
	// only its children were.
	Entered bool `json:"entered,omitempty"`
	// Open: no process had entered the namespace yet, so that its
	// offsets could still be written: no twin may be forked into it
	// (dumpwrite.go), and the restart leaves it so.
	Open      bool     `json:"open,omitempty"`
	Monotonic [2]int64 `json:"monotonic"` // seconds, nanoseconds
	Boottime  [2]int64 `json:"boottime"`
}

// recordTimeNS sets d.meta.TimeNS for a process that made a time
// namespace, and refuses one in a time namespace the restart could not
// make again (see above).
func (d *dumper) recordTimeNS() error {
	own, err1 := nsInode(d.pid, "time")
	fc, err2 := nsInode(d.pid, "time_for_children")
	if err1 != nil || err2 != nil {
		return nil // a kernel without time namespaces, or a zombie
	}
	refuse := func(msg string) error {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: msg}
	}
	for _, tid := range d.tids[1:] {
		town, _ := nsInode(tid, "time")
		tfc, _ := nsInode(tid, "time_for_children")
		if town != own || tfc != fc {
			return refuse(fmt.Sprintf("thread %d is in another time namespace than its main thread (it unshared CLONE_NEWTIME on its own): not checkpointable", tid))
		}
	}
	var parentOwn, parentFC uint64
	if d.parent != nil {
		parentOwn, _ = nsInode(d.parent.pid, "time")
		parentFC, _ = nsInode(d.parent.pid, "time_for_children")
	} else {
		// The root is cloned out of the restart: into its namespace for
		// children.
		parentOwn, _ = selfNSInode("time")
		parentFC, _ = selfNSInode("time_for_children")
	}
	if own == parentFC && fc == own {
		return nil
	}
	tn := &timeNS{}
	switch {
	case own == parentFC:
		// It made one for its children (unshare CLONE_NEWTIME).
	case fc != own:
		return refuse(fmt.Sprintf("is in a time namespace (time:[%d]) and made another for its children (time:[%d]): not checkpointable", own, fc))
	case d.parent != nil && own == parentOwn:
		return refuse(fmt.Sprintf("was forked before its parent %d made a time namespace for its children (time:[%d]): not checkpointable", d.parent.pid, parentFC))
	default:
		// Its own, entered (execve or setns after the unshare) — or one
		// it joined with setns, which cannot be told apart: saved as made.
		tn.Entered = true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/timens_offsets", d.pid))
	if err != nil {
		return fmt.Errorf("%s(%d): timens_offsets: %w", d.comm, d.pid, err)
	}
	if tn.Monotonic, tn.Boottime, err = parseTimeOffsets(data); err != nil {
		return fmt.Errorf("%s(%d): timens_offsets: %w", d.comm, d.pid, err)
	}
	if !tn.Entered {
		// Writing the offsets it has changes nothing, and succeeds only
		// while no process has entered the namespace.
		// (EPERM: not ours to know, taken as open.)
		err := os.WriteFile(fmt.Sprintf("/proc/%d/timens_offsets", d.pid), formatTimeOffsets(tn), 0)
		tn.Open = err == nil || errors.Is(err, unix.EPERM)
	}
	d.meta.TimeNS = tn
	return nil
}

// selfNSInode is the inode of our (this thread's) namespace of kind.
func selfNSInode(kind string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/"+kind, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// parseTimeOffsets reads /proc/PID/timens_offsets ("monotonic  5000 0").
func parseTimeOffsets(data []byte) (mono, boot [2]int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return mono, boot, fmt.Errorf("line %q", sc.Text())
		}
		sec, err1 := strconv.ParseInt(f[1], 10, 64)
		nsec, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || nsec < 0 || nsec >= 1e9 {
			return mono, boot, fmt.Errorf("line %q", sc.Text())
		}
		switch f[0] {
		case "monotonic":
			mono = [2]int64{sec, nsec}
		case "boottime":
			boot = [2]int64{sec, nsec}
		default:
			return mono, boot, fmt.Errorf("clock %q", f[0])
		}
	}
	return mono, boot, nil
}

func formatTimeOffsets(tn *timeNS) []byte {
	return []byte(fmt.Sprintf("monotonic %d %d\nboottime %d %d\n", tn.Monotonic[0], tn.Monotonic[1], tn.Boottime[0], tn.Boottime[1]))
}

// checkTimeNS is checkMeta's part for TimeNS.
func checkTimeNS(m *imageMeta) error {
	tn := m.TimeNS
	if tn == nil {
		return nil
	}
	for _, off := range [][2]int64{tn.Monotonic, tn.Boottime} {
		if off[1] < 0 || off[1] >= 1e9 {
			return fmt.Errorf("%w: time namespace offset %d.%d", ErrCorrupt, off[0], off[1])
		}
	}
	if tn.Entered && tn.Open {
		return fmt.Errorf("%w: a time namespace both entered and open", ErrCorrupt)
	}
	return nil
}

// restoreTimeNS makes p's time namespace again, before its children are
// cloned (see above).
func (r *restorer) restoreTimeNS(p *rproc) error {
	tn := p.meta.TimeNS
	if tn == nil {
		return nil
	}
	if _, err := p.b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWTIME); err != nil {
		return p.b.attrRefused(fmt.Errorf("its time namespace (CLOCK_MONOTONIC %+d s, CLOCK_BOOTTIME %+d s) cannot be made again (unshare CLONE_NEWTIME needs root): %w", tn.Monotonic[0], tn.Boottime[0], err))
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/timens_offsets", p.pid), formatTimeOffsets(tn), 0); err != nil {
		return r.fail(p, fmt.Errorf("time namespace offsets (CLOCK_MONOTONIC %d.%09d s, CLOCK_BOOTTIME %d.%09d s): %w", tn.Monotonic[0], tn.Monotonic[1], tn.Boottime[0], tn.Boottime[1], err))
	}
	if !tn.Entered {
		return nil
	}
	path, err := p.b.putString(scratchData, "/proc/thread-self/ns/time_for_children")
	if err != nil {
		return err
	}
	fd, err := p.b.call("openat", unix.SYS_OPENAT, ^uint64(99) /* AT_FDCWD */, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return r.fail(p, fmt.Errorf("open its time namespace: %w", err))
	}
	_, err = p.b.call("setns", unix.SYS_SETNS, fd, unix.CLONE_NEWTIME)
	p.b.call("close", unix.SYS_CLOSE, fd)
	if err != nil {
		return r.fail(p, fmt.Errorf("enter its time namespace (setns): %w", err))
	}
	return nil
}
