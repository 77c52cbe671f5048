package ckpt

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Files opened before a privilege drop. A process may open a file as root
// and then set its uid to a user's (CONVEX: "File Permission and
// Communication Problems after Changed uid or gid"): its descriptor works,
// but the user could not open the file. The restart opens every open file
// description with the identity of whoever restarts it, not with the
// process's: root's for root's restart (which therefore opens it, as
// CONVEX's root restart does), the Owner's when one is given (the job's
// owner in the batch system), never more. With an Owner a description the
// owner may not open is refused before anything starts, naming it.

// openCreds is the identity p's open file descriptions are opened with
// (asFileUser): the Owner's if one was given, else the restorer's own (the
// zero creds: root stays root, another user is itself already).
func (r *restorer) openCreds(p *rproc) creds {
	o := r.opts.Owner
	if o == nil {
		return creds{}
	}
	return creds{UID: [4]int{o.UID, o.UID, o.UID, o.UID}, GID: [4]int{o.GID, o.GID, o.GID, o.GID}, Groups: o.Groups}
}

// checkOpenable tells, before anything starts, whether the Owner may open
// f as it was opened (read, write or both). Without an Owner it has
// nothing to say: the restorer opens with its own rights.
func (r *restorer) checkOpenable(p *rproc, f fileDesc) error {
	o := r.opts.Owner
	if o == nil || o.UID == 0 {
		return nil
	}
	mode := uint32(unix.F_OK)
	if f.Flags&unix.O_PATH == 0 {
		switch f.Flags & unix.O_ACCMODE {
		case unix.O_RDONLY:
			mode = unix.R_OK
		case unix.O_WRONLY:
			mode = unix.W_OK
		default:
			mode = unix.R_OK | unix.W_OK
		}
	}
	flags := unix.AT_EACCESS
	if f.Flags&unix.O_NOFOLLOW != 0 {
		flags |= unix.AT_SYMLINK_NOFOLLOW
	}
	runtime.LockOSThread() // asFileUser changes this thread's identity only
	err := asFileUser(r.openCreds(p), func() error { return unix.Faccessat2(unix.AT_FDCWD, f.Path, mode, flags) })
	runtime.UnlockOSThread()
	if err == nil {
		return nil
	}
	return &OwnerError{Path: p.img.Path, Comm: p.comm(), PID: p.meta.PID, UID: o.UID,
		Msg: fmt.Sprintf("fd %d %s: the owner may not open it (%v): opened before a change of uid?", f.FD, f.Path, err)}
}
