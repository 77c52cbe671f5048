package ckpt

import "golang.org/x/sys/unix"

// The executable of a restored child.
//
// Only the first stub of a restart exec's a program (the root's); every
// other process is cloned from its parent's stub and so starts with the
// root's mm->exe_file: /proc/PID/exe, and what a program reads there to
// find itself (Open MPI's and MPICH's launchers, whose ranks run another
// program), would name the root's executable. PR_SET_MM_MAP takes an
// exe_fd to set it, allowed to a process with CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE (the stubs still have root's capabilities when
// setMM runs; the process's own credentials come later), for a regular
// file it may execute.

// exeFD opens the process's executable inside it, with the file identity
// of its owner (fileIdentity), and returns the descriptor for
// PR_SET_MM_MAP's exe_fd, or ^uint32(0) (keep) for the root, whose stub
// exec'd its file, or when the file cannot be opened (deleted since: the
// process keeps the root's, as before). close releases the descriptor.
func (b *builder) exeFD() (fd uint32, close func()) {
	keep := func() {}
	if b.p == b.r.root || b.p.meta.Exe.Path == "" {
		return ^uint32(0), keep
	}
	path, err := b.putString(scratchData+2048, b.p.meta.Exe.Path)
	if err != nil {
		return ^uint32(0), keep
	}
	got, err := b.call("open", unix.SYS_OPENAT, atFDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ^uint32(0), keep
	}
	return uint32(got), func() { b.call("close", unix.SYS_CLOSE, got) }
}
