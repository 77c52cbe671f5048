package ckpt

import (
	"fmt"
	"os"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// Files opened before a privilege drop. A process may open a file as root
// and then set its uid to a user's (CONVEX: "File Permission and
// Communication Problems after Changed uid or gid"): its descriptor works,
// but the user could not open the file. The restart opens every open file
// description with the identity of whoever restarts it, not with the
// process's: root's for root's restart (which therefore opens it, as
// CONVEX's root restart does), the Owner's when one is given (the job's
// owner in the batch system), never more; an authentic image (see
// RestartOptions.Key) as recorded, with the process's own identity. With
// an Owner a description the owner may not open is refused before
// anything starts, naming it.
//
// Root opens with its own rights only the file the process had open: if
// the name leads to another file now (a symbolic link put in its place, a
// file replaced), that one is opened with the process's own rights, so an
// image cannot make root open for it what its user could not.

// openCreds is the identity p's open file descriptions are opened with
// (asFileUser): the Owner's if one was given, the process's own for an
// authentic image, else the restorer's own (the zero creds: root stays
// root, another user is itself already).
func (r *restorer) openCreds(p *rproc) creds {
	o := r.opts.Owner
	switch {
	case o == nil:
		return creds{}
	case p.authentic:
		return p.meta.Creds
	}
	return creds{UID: [4]int{o.UID, o.UID, o.UID, o.UID}, GID: [4]int{o.GID, o.GID, o.GID, o.GID}, Groups: o.Groups}
}

// exceedsOwner reports whether p's files are opened with more than the
// Owner has: p is a process of an authentic image that ran with another
// file system identity than the owner's (a set-user-ID program of the
// owner's job: passwd waiting for a password, as root). Its descriptions
// are reopened by path with that identity, and the owner may have
// replaced what is at the path since the checkpoint (a symbolic link to
// /etc/shadow): such a process gets back only the very files it had open
// (their device and inode), anything else is opened as the owner.
func (r *restorer) exceedsOwner(p *rproc) bool {
	o := r.opts.Owner
	if o == nil || o.UID == 0 || !p.authentic || os.Geteuid() != 0 {
		return false
	}
	c := p.meta.Creds
	if c.UID[3] != o.UID || c.GID[3] != o.GID {
		return true
	}
	for _, g := range c.Groups {
		if g != o.GID && !slices.Contains(o.Groups, g) {
			return true
		}
	}
	return false
}

// ownerCreds is the Owner's identity.
func (r *restorer) ownerCreds() creds {
	o := r.opts.Owner
	return creds{UID: [4]int{o.UID, o.UID, o.UID, o.UID}, GID: [4]int{o.GID, o.GID, o.GID, o.GID}, Groups: o.Groups}
}

// checkpointedAt reports whether f's path leads to the file f had open
// (false when the image does not say which file that was).
func checkpointedAt(f fileDesc) bool {
	if f.File == nil || f.File.Ino == 0 {
		return false
	}
	var st unix.Stat_t
	stat := unix.Stat
	if f.Flags&unix.O_NOFOLLOW != 0 {
		stat = unix.Lstat
	}
	return stat(f.Path, &st) == nil && st.Ino == f.File.Ino && st.Dev == f.File.Dev
}

// checkOpenable tells, before anything starts, whether f may be opened
// as it was (read, write or both) with the identity of openCreds (the
// Owner's for a file that replaced the one a process with more rights
// than the Owner had open). As root it has nothing to say.
func (r *restorer) checkOpenable(p *rproc, f fileDesc) error {
	c := r.openCreds(p)
	if r.exceedsOwner(p) && !checkpointedAt(f) {
		c = r.ownerCreds()
	}
	if os.Geteuid() != 0 || c.UID[3] == 0 && c.GID[3] == 0 {
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
	err := asFileUser(c, func() error { return unix.Faccessat2(unix.AT_FDCWD, f.Path, mode, flags) })
	runtime.UnlockOSThread()
	if err == nil {
		return nil
	}
	return &OwnerError{Path: p.img.Path, Comm: p.comm(), PID: p.meta.PID, UID: c.UID[3],
		Msg: fmt.Sprintf("fd %d %s: the owner may not open it (%v): opened before a change of uid?", f.FD, f.Path, err)}
}

// openFile opens the description f by its path with flags: as openCreds
// (see openDescriptions), and, when that is root's and the file opened is
// not the one checkpointed, again with the process's own rights. For a
// process with more rights than the Owner (exceedsOwner), a file that is
// not the one checkpointed is opened as the Owner, and is not even opened
// with the process's rights first (opening a device can act).
func (r *restorer) openFile(p *rproc, f fileDesc, flags int) (int, error) {
	exceeds := r.exceedsOwner(p)
	fallback := p.meta.Creds
	if exceeds {
		fallback = r.ownerCreds()
	}
	open := func() (int, error) {
		var fd int
		err := asFileUser(fallback, func() error {
			var err error
			fd, err = unix.Open(f.Path, flags, 0)
			return err
		})
		return fd, err
	}
	if exceeds && !checkpointedAt(f) {
		return open()
	}
	fd, err := unix.Open(f.Path, flags, 0)
	if err != nil || !exceeds && (r.opts.Owner != nil || os.Geteuid() != 0) || f.File == nil || f.File.Ino == 0 {
		return fd, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Ino == f.File.Ino && st.Dev == f.File.Dev {
		return fd, nil
	}
	unix.Close(fd) // replaced between the look and the open
	return open()
}
