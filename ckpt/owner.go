package ckpt

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Owner is the user a restore runs for (RestartOptions.Owner). The engine
// runs as root, so without an owner an image could ask for any identity:
// for a non-root owner the image's credentials must be exactly the
// owner's, resource limits are never raised above the owner's current hard
// limits, nice never below what the owner may set, capabilities never
// beyond the owner's, and every file is opened as the owner. An image
// authenticated with RestartOptions.Key (an HMAC written by a trusted
// checkpointer, see CheckpointOptions.Key) is restored as it was recorded.
type Owner struct {
	UID    int
	GID    int
	Groups []int // supplementary groups
}

// enforced reports whether the owner rules apply to p: an Owner other than
// root was given and p's image is not authentic.
func (r *restorer) enforced(p *rproc) bool {
	return r.opts.Owner != nil && r.opts.Owner.UID != 0 && !p.authentic
}

// fileCreds is the identity p's files and mappings are opened with: the
// Owner's, unless the image is authentic or no Owner was given (then the
// image's own).
func (r *restorer) fileCreds(p *rproc) creds {
	o := r.opts.Owner
	if o == nil || p.authentic {
		return p.meta.Creds
	}
	return creds{UID: [4]int{o.UID, o.UID, o.UID, o.UID}, GID: [4]int{o.GID, o.GID, o.GID, o.GID}, Groups: o.Groups}
}

// checkOwner applies the owner rules to p before anything is started: its
// credentials must be exactly the Owner's, its limits no higher than the
// restorer's hard limits and its nice value one the Owner may set. With
// Force, limits and nice are clamped with a warning; credentials never
// are. Without an Owner, root restores the image as recorded, with the
// CONVEX caution when its credentials are not those of the image file's
// owner.
func (r *restorer) checkOwner(p *rproc) error {
	m := p.meta
	if m.Zombie != nil {
		return nil // it only exits
	}
	if r.opts.Owner == nil {
		var st unix.Stat_t
		if os.Geteuid() == 0 && unix.Stat(p.img.Path, &st) == nil {
			c := m.Creds
			for i := range c.UID {
				if c.UID[i] != int(st.Uid) || c.GID[i] != int(st.Gid) {
					r.warn("%s: caution: %s(%d) runs as uid %s gid %s, the checkpoint file belongs to uid %d gid %d", p.img.Path, p.comm(), m.PID, idList(c.UID), idList(c.GID), st.Uid, st.Gid)
					break
				}
			}
		}
		return nil
	}
	if !r.enforced(p) {
		return nil
	}
	o := r.opts.Owner
	c := m.Creds
	refuse := func(format string, args ...any) error {
		return &OwnerError{Path: p.img.Path, Comm: p.comm(), PID: m.PID, UID: o.UID, Msg: fmt.Sprintf(format, args...)}
	}
	if c.UID != [4]int{o.UID, o.UID, o.UID, o.UID} {
		return refuse("uids %v are not all %d", c.UID, o.UID)
	}
	if c.GID != [4]int{o.GID, o.GID, o.GID, o.GID} {
		return refuse("gids %v are not all %d", c.GID, o.GID)
	}
	for _, g := range c.Groups {
		if g != o.GID && !slices.Contains(o.Groups, g) {
			return refuse("group %d is not one of the owner's (%d %v)", g, o.GID, o.Groups)
		}
	}
	// A thread with credentials of its own is held to the same rules
	// (threadcreds.go).
	err := checkThreadCreds(m, func(tc creds) error {
		if tc.UID != c.UID || tc.GID != c.GID {
			return refuse("a thread's uids %v gids %v are not all %d, %d", tc.UID, tc.GID, o.UID, o.GID)
		}
		for _, g := range tc.Groups {
			if g != o.GID && !slices.Contains(o.Groups, g) {
				return refuse("a thread's group %d is not one of the owner's (%d %v)", g, o.GID, o.Groups)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if msg := ownUserNS(m.UserNS, o.UID, o.GID); msg != "" { // userns.go
		return refuse("%s", msg)
	}
	// The restore execs the executable as root (it is replaced by the
	// image's memory at once, but /proc/PID/exe names it): the owner must
	// be able to execute it.
	runtime.LockOSThread()
	err = asFileUser(r.fileCreds(p), func() error {
		return unix.Faccessat2(unix.AT_FDCWD, m.Exe.Path, unix.X_OK, unix.AT_EACCESS)
	})
	runtime.UnlockOSThread()
	if err != nil {
		return refuse("executable %s: %v", m.Exe.Path, err)
	}
	// Limits: the restored process gets them after its credentials are
	// dropped (restoreCreds), so the kernel would refuse a raise anyway;
	// refused here, before anything starts, it is one clear error.
	have, err := readLimits(os.Getpid())
	if err != nil {
		return err
	}
	for res, l := range m.Rlimits {
		if res >= len(have) || (l.Max <= have[res].Max && l.Cur <= have[res].Max) {
			continue
		}
		if !r.opts.Force {
			return refuse("limit %q %d/%d is above the hard limit %d", limitNames[res], l.Cur, l.Max, have[res].Max)
		}
		r.warn("%s(%d): limit %q %d/%d lowered to the hard limit %d (forced)", p.comm(), m.PID, limitNames[res], l.Cur, l.Max, have[res].Max)
		m.Rlimits[res].Max = have[res].Max
		m.Rlimits[res].Cur = min(l.Cur, have[res].Max)
	}
	// An unprivileged process may raise its nice value, or lower it down
	// to what its RLIMIT_NICE allows (20 - limit).
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return os.NewSyscallError("getpriority", err)
	}
	nice := 20 - prio // the raw system call returns 20 - nice
	floor := nice
	if len(m.Rlimits) > unix.RLIMIT_NICE {
		floor = min(floor, 20-int(min(m.Rlimits[unix.RLIMIT_NICE].Cur, 40)))
	}
	if m.Nice < floor {
		if !r.opts.Force {
			return refuse("nice %d is below %d, the lowest the owner may set", m.Nice, floor)
		}
		r.warn("%s(%d): nice %d raised to %d (forced)", p.comm(), m.PID, m.Nice, floor)
		m.Nice = floor
	}
	return nil
}

// idList prints a real/effective/saved/fs id set as one number when the
// four agree, else as real/effective/saved/fs.
func idList(ids [4]int) string {
	if ids[0] == ids[1] && ids[1] == ids[2] && ids[2] == ids[3] {
		return strconv.Itoa(ids[0])
	}
	return fmt.Sprintf("%d/%d/%d/%d", ids[0], ids[1], ids[2], ids[3])
}
