package ckpt

import (
	"os"

	"golang.org/x/sys/unix"
)

// asSocketUser runs f, on this thread only (the unix socket restore's own
// locked thread, see restoreUnix), with the effective and filesystem
// identity of c: a socket belongs to the fsuid and fsgid that created it
// (sock_alloc gives its inode current_fsuid()), and the peer credentials
// of a stream or seqpacket connection (SO_PEERCRED) are the effective ids
// of the process that made the pair, listened or connected
// (init_peercred). So the sockets of a user's tree restored by root belong
// to that user again, as they did. The saved ids stay 0, so root's
// identity comes back afterwards (and, as for asFileUser, a thread that
// could not get it back is never reused: it ends with its goroutine).
// Setting buffer sizes beyond the limits and sending credentials again,
// which need root's capabilities, are done outside.
func asSocketUser(c creds, f func() error) error {
	uid, gid := c.UID[1], c.GID[1]
	if os.Geteuid() != 0 || (uid == 0 && gid == 0 && c.UID[3] == 0 && c.GID[3] == 0) {
		return f()
	}
	groups, err := unix.Getgroups()
	if err != nil {
		return err
	}
	// Raw system calls: the Go runtime's Setresuid changes every thread.
	if err := unix.Setgroups(c.Groups); err != nil {
		return err
	}
	defer unix.Setgroups(groups)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(gid), ^uintptr(0)); e != 0 {
		return os.NewSyscallError("setresgid", e)
	}
	defer unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), 0, ^uintptr(0))
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
		return os.NewSyscallError("setresuid", e)
	}
	// setresuid set fsuid to the euid; fsgid followed the egid. Both go
	// back with them (first the uid: root may then set the gid).
	defer unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0))
	if c.UID[3] != uid {
		unix.Setfsuid(c.UID[3])
	}
	if c.GID[3] != gid {
		unix.Setfsgid(c.GID[3])
	}
	return f()
}

// sockAs runs f with the identity p's sockets are made with (see
// asSocketUser and restorer.fileCreds).
func (r *restorer) sockAs(p *rproc, f func() error) error {
	return r.inNet(p, func() error { return asSocketUser(r.fileCreds(p), f) })
}
