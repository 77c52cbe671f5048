package ckpt

// What the kernel keeps in an open file description for signals: its
// owner (F_SETOWN, F_SETOWN_EX: the process, thread or process group that
// gets SIGIO and SIGURG), the signal sent instead of SIGIO (F_SETSIG), and
// a lease (F_SETLEASE). They belong to the description, not the
// descriptor, so the checkpoint reads them through a copy of it
// (pidfd_getfd) and the restore sets them on the description the
// restorer opened. An owner is a pid: it must be a member of the tree,
// and becomes that member's pid after the restart.

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileSignals is fileDesc.Signals.
type fileSignals struct {
	// OwnerType is F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP.
	OwnerType int `json:"owner_type,omitempty"`
	// Owner is the owning pid, tid or process group at checkpoint time
	// (as the checkpoint saw it, like imageMeta.PID); 0: none.
	Owner int `json:"owner,omitempty"`
	Sig   int `json:"sig,omitempty"`
	// Lease is F_RDLCK or F_WRLCK; absent: none.
	Lease *int `json:"lease,omitempty"`
}

const (
	fOwnerTID  = 0 // F_OWNER_TID
	fOwnerPID  = 1
	fOwnerPGRP = 2
)

// fOwnerEx is struct f_owner_ex.
type fOwnerEx struct {
	Type int32
	PID  int32
}

// collectOwners reads the owner, signal and lease of every saved
// descriptor of the tree, and refuses an owner outside the tree.
func (t *dumpTree) collectOwners() error {
	members := map[int]bool{}
	for _, d := range t.procs {
		members[d.pid] = true
		for _, tid := range d.tids {
			members[tid] = true
		}
	}
	for _, d := range t.procs {
		if d.zombie {
			continue
		}
		if err := d.collectOwners(members); err != nil {
			return err
		}
	}
	return nil
}

func (d *dumper) collectOwners(members map[int]bool) error {
	pidfd, err := unix.PidfdOpen(d.pid, 0)
	if err != nil {
		return fmt.Errorf("%s(%d): pidfd_open: %w", d.comm, d.pid, err)
	}
	defer unix.Close(pidfd)
	for i := range d.meta.Files {
		f := &d.meta.Files[i]
		if f.Kind == fdClosed || f.Flags&unix.O_PATH != 0 {
			// An O_PATH description has no owner, signal or lease
			// (fcntl refuses it with EBADF).
			continue
		}
		if err := d.checkPidfd(f, members); err != nil {
			return err
		}
		fd, err := unix.PidfdGetfd(pidfd, f.FD, 0)
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d: pidfd_getfd: %w", d.comm, d.pid, f.FD, err)
		}
		queued, qerr := queuedEvents(f, fd)
		s, err := descSignals(fd)
		unix.Close(fd)
		if qerr != nil {
			return fmt.Errorf("%s(%d) fd %d: %w", d.comm, d.pid, f.FD, qerr)
		}
		if queued > 0 {
			// The IN_IGNORED events of removed watches, one for each gap
			// in the watch descriptors, are queued again by the restore
			// as it fills the gaps (openInotify); any other event is not.
			if queued != inotifyEventSize*inotifyGaps(f.Anon.Inotify) {
				if err := d.uncheckpointable(f.FD, fmt.Sprintf(": %s has %d bytes of events not read yet: they cannot be saved without taking them from the program", f.Anon.Type, queued)); err != nil {
					return err
				}
			}
			f.Anon.Queued = queued
		}
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d: %w", d.comm, d.pid, f.FD, err)
		}
		if s == (fileSignals{}) {
			continue
		}
		if f.Kind == fdDir && s.Owner != 0 {
			// fcntl(F_NOTIFY) makes the process the owner of the
			// directory's description; its dnotify marks show nowhere
			// (not in fdinfo), so they could not be made again: a
			// directory with an owner is taken as watched so.
			if err := d.uncheckpointable(f.FD, fmt.Sprintf(": directory %s has a signal owner: directory notifications (fcntl F_NOTIFY, dnotify) cannot be seen by a checkpoint and would be lost", f.Path)); err != nil {
				return err
			}
		}
		if s.Owner != 0 && !members[s.Owner] {
			what := map[int]string{fOwnerTID: "thread", fOwnerPID: "process", fOwnerPGRP: "process group"}[s.OwnerType]
			if err := d.uncheckpointable(f.FD, fmt.Sprintf(": signal owner (F_SETOWN) is %s %d, outside the checkpointed tree", what, s.Owner)); err != nil {
				return err
			}
			s.Owner, s.OwnerType = 0, 0
		}
		f.Signals = &s
	}
	return nil
}

// descSignals reads owner, signal and lease of the description fd.
func descSignals(fd int) (fileSignals, error) {
	var s fileSignals
	var o fOwnerEx
	if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETOWN_EX, uintptr(unsafe.Pointer(&o))); e != 0 {
		return s, fmt.Errorf("fcntl F_GETOWN_EX: %w", e)
	}
	if o.PID != 0 {
		s.OwnerType, s.Owner = int(o.Type), int(o.PID)
	}
	sig, err := unix.FcntlInt(uintptr(fd), unix.F_GETSIG, 0)
	if err != nil {
		return s, fmt.Errorf("fcntl F_GETSIG: %w", err)
	}
	s.Sig = sig
	// F_GETLEASE answers EINVAL... never: F_UNLCK for no lease, and for
	// descriptions that cannot have one.
	if l, err := unix.FcntlInt(uintptr(fd), unix.F_GETLEASE, 0); err == nil && l != unix.F_UNLCK {
		s.Lease = &l
	}
	return s, nil
}

// checkSignals refuses file signal state the engine did not write.
func checkSignals(p *rproc) error {
	for _, f := range p.meta.Files {
		s := f.Signals
		if s == nil {
			continue
		}
		bad := s.OwnerType < fOwnerTID || s.OwnerType > fOwnerPGRP || s.Owner < 0 || s.Sig < 0 || s.Sig > 64 ||
			s.Lease != nil && *s.Lease != unix.F_RDLCK && *s.Lease != unix.F_WRLCK
		if bad {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: fd %d: signal state %+v", ErrCorrupt, f.FD, *s)}
		}
	}
	return nil
}

// restoreSignals sets owner and signal of every description once
// every process and thread of the tree exists (an owner may be any of
// them), from the restorer, which holds each description.
func (r *restorer) restoreSignals() error {
	now := map[int]int{} // checkpoint pid or tid -> pid now, as we see it
	for _, p := range r.procs {
		now[p.meta.PID] = p.pid
		if p.b == nil {
			continue
		}
		for i, t := range p.b.tasks {
			now[p.meta.Threads[i].TID] = t.pid
		}
	}
	done := map[string]bool{}
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			s := f.Signals
			if s == nil || f.Kind == fdClosed || p.closed[f.FD] || done[f.Desc] {
				continue
			}
			fd, ok := r.descs[f.Desc]
			if !ok {
				continue
			}
			done[f.Desc] = true
			if err := r.restoreDescSignals(p, f, fd, now); err != nil {
				return r.fail(p, fmt.Errorf("fd %d %s: %w", f.FD, f.Path, err))
			}
		}
	}
	return nil
}

func (r *restorer) restoreDescSignals(p *rproc, f fileDesc, fd int, now map[int]int) error {
	s := f.Signals
	if s.Owner != 0 {
		pid, ok := now[s.Owner]
		if !ok {
			return fmt.Errorf("signal owner %d is not in the restored tree", s.Owner)
		}
		o := fOwnerEx{Type: int32(s.OwnerType), PID: int32(pid)}
		if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETOWN_EX, uintptr(unsafe.Pointer(&o))); e != 0 {
			return fmt.Errorf("fcntl F_SETOWN_EX %d %d: %w", s.OwnerType, pid, e)
		}
	}
	if s.Sig != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETSIG, s.Sig); err != nil {
			return fmt.Errorf("fcntl F_SETSIG %d: %w", s.Sig, err)
		}
	}
	return nil
}

// restoreAsyncAndLeases is run by each process once its descriptors are
// in place, for the descriptions it is the first holder of. The kernel
// records with O_ASYNC the descriptor number it was set through (the
// si_fd of the signal: fasync_helper) and with a lease the process that
// took it (/proc/locks), so both are set again by the process itself:
// O_ASYNC cleared and set again, the lease taken with its own rights. The
// owner the lease gives it is replaced by the saved one afterwards
// (restorer.restoreSignals).
func (b *builder) restoreAsyncAndLeases() error {
	r, p := b.r, b.p
	if r.firstFD == nil {
		r.firstFD = map[string]firstHolder{}
		for _, q := range r.procs {
			for _, f := range q.meta.Files {
				if f.Kind == fdClosed || q.closed[f.FD] {
					continue
				}
				if h, ok := r.firstFD[f.Desc]; !ok || h.p == q && f.FD < h.fd {
					r.firstFD[f.Desc] = firstHolder{q, f.FD}
				}
			}
		}
	}
	for _, f := range p.meta.Files {
		if h, ok := r.firstFD[f.Desc]; !ok || h.p != p || h.fd != f.FD {
			continue
		}
		if f.Flags&unix.O_ASYNC != 0 {
			fl, err := b.call("fcntl", unix.SYS_FCNTL, uint64(f.FD), unix.F_GETFL)
			if err == nil {
				_, err = b.call("fcntl", unix.SYS_FCNTL, uint64(f.FD), unix.F_SETFL, fl&^unix.O_ASYNC)
			}
			if err == nil {
				_, err = b.call("fcntl", unix.SYS_FCNTL, uint64(f.FD), unix.F_SETFL, fl|unix.O_ASYNC)
			}
			if err != nil {
				return fmt.Errorf("fd %d %s: O_ASYNC: %w", f.FD, f.Path, err)
			}
		}
		if s := f.Signals; s != nil && s.Lease != nil {
			if _, err := b.call("fcntl", unix.SYS_FCNTL, uint64(f.FD), unix.F_SETLEASE, uint64(*s.Lease)); err != nil {
				return r.forceable(fmt.Errorf("fd %d %s: lease cannot be restored (F_SETLEASE %d): %w", f.FD, f.Path, *s.Lease, err))
			}
		}
	}
	return nil
}

// firstHolder is the process and descriptor through which a description
// gets what its holder sets (restoreAsyncAndLeases).
type firstHolder struct {
	p  *rproc
	fd int
}

// queuedEvents is the number of bytes of events an inotify instance holds
// unread (FIONREAD); 0 for other descriptors. Reading them would take
// them from the running program, and nothing puts events back in a
// queue.
func queuedEvents(f *fileDesc, fd int) (int, error) {
	if f.Kind != fdAnon || f.Anon == nil || f.Anon.Type != "inotify" && f.Anon.Type != "fanotify" {
		return 0, nil
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
	if err != nil {
		return 0, fmt.Errorf("%s FIONREAD: %w", f.Anon.Type, err)
	}
	return n, nil
}

const inotifyEventSize = 16 // struct inotify_event without a name

// inotifyGaps counts the watch descriptors below the highest one that
// have no watch (removed ones).
func inotifyGaps(ws []inotifyWatch) int {
	top := 0
	for _, w := range ws {
		top = max(top, w.WD)
	}
	return top - len(ws)
}
