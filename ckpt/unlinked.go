package ckpt

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Unlinked files: a regular file open in the tree whose name is gone
// (removed after open, O_TMPFILE, a memfd). Its bytes are copied beside
// the image (COMM.PID.-.FD, the CONVEX name), sparse: the holes stay holes.
// The restart makes one file again per inode, not per descriptor, so two
// descriptions of one unlinked file (opened twice, or in two processes)
// still write to one file; it is made in the file's own directory
// (O_TMPFILE, so it has no name there either), with its size, holes,
// mode and owner; a memfd is a memfd of the same name, with its seals. A
// shared mapping of the file is a mapping of that same file again; one
// of a file no descriptor holds any more is made the same way, from the
// mapping's saved bytes.
//
// A file removed under one name that another name still links (st_nlink
// above 0) is not copied: it is the file under that other name, found at
// checkpoint time (the kernel's other alias of the inode, or a name in the
// same directory with that inode), and reopened by it like any file.

// unlinkedFile is what a descriptor of an unlinked file records of it.
type unlinkedFile struct {
	// Inode names the file: descriptors of the tree with the same Inode
	// are descriptors of one file ("MAJOR:MINOR:INO" in hex:hex:decimal,
	// as /proc/PID/maps names a mapped file, see region.Shm).
	Inode string `json:"inode"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Memfd bool   `json:"memfd,omitempty"`
	Seals int    `json:"seals,omitempty"` // F_GET_SEALS of a memfd
	unlinkedExtra
}

// inodeKey names a file as /proc/PID/maps does (see region.Shm).
func inodeKey(dev, ino uint64) string {
	return fmt.Sprintf("%x:%x:%d", unix.Major(dev), unix.Minor(dev), ino)
}

// describeUnlinked records descriptor f of an unlinked regular file with
// stat st: by its other name if one still links it, else with its bytes
// copied once per inode.
func (d *dumper) describeUnlinked(f *fileDesc, st *unix.Stat_t) error {
	key := inodeKey(st.Dev, st.Ino)
	memfd := strings.HasPrefix(f.Path, "/memfd:")
	if !memfd && st.Nlink > 0 {
		if other := otherName(d.pid, f.FD, f.File.Path, st); other != "" {
			d.log.Info(fmt.Sprintf("%s(%d) fd %d: %s was removed; the file is still %s, reopened by that name", d.comm, d.pid, f.FD, f.File.Path, other))
			f.Path = other
			ref := statRef(other, fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD))
			f.File = &ref
			return nil
		}
		msg := fmt.Sprintf(": %s was removed while another name (of %d) still links it, and that name was not found", f.File.Path, st.Nlink)
		if err := d.uncheckpointable(f.FD, msg); err != nil {
			return err
		}
	}
	f.Unlinked = true
	f.Unl = &unlinkedFile{Inode: key, UID: int(st.Uid), GID: int(st.Gid), Memfd: memfd}
	if memfd {
		seals, err := fdSeals(d.pid, f.FD)
		if err != nil {
			return fmt.Errorf("%s(%d) fd %d %s: F_GET_SEALS: %w", d.comm, d.pid, f.FD, f.Path, err)
		}
		f.Unl.Seals = seals
	}
	if d.opts.CheckOnly {
		return nil
	}
	x, err := readUnlinkedExtra(d.pid, f.FD, st)
	if err != nil {
		return fmt.Errorf("%s(%d) fd %d %s: %w", d.comm, d.pid, f.FD, f.Path, err)
	}
	f.Unl.unlinkedExtra = x
	if c, ok := d.tree.unlinkedCopies[key]; ok {
		c.set(f) // one copy per file, not per descriptor
		return nil
	}
	if err := d.copyUnlinked(f, st.Size); err != nil {
		return err
	}
	if d.tree.unlinkedCopies == nil {
		d.tree.unlinkedCopies = map[string]copyRef{}
	}
	d.tree.unlinkedCopies[key] = copyRef{Name: f.Copy, Gen: f.CopyGen, Size: f.CopySize, Sum: f.CopySum}
	return nil
}

// fdSeals reads the seals of descriptor fd of pid (a memfd).
func fdSeals(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(pidfd)
	mine, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(mine)
	return unix.FcntlInt(uintptr(mine), unix.F_GET_SEALS, 0)
}

// otherName finds a name that still links the file open as fd of pid
// (removed as path): the alias the kernel gives a file handle of it, or
// an entry of path's directory with its inode. "" if none.
func otherName(pid, fd int, path string, st *unix.Stat_t) string {
	proc := fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
	is := func(name string) bool {
		var o unix.Stat_t
		return name != "" && unix.Stat(name, &o) == nil && o.Dev == st.Dev && o.Ino == st.Ino
	}
	if h, mnt, err := unix.NameToHandleAt(unix.AT_FDCWD, proc, 0); err == nil {
		if p := pathOfMountHandle(mnt, h); is(p) {
			return p
		}
	}
	dir := filepath.Dir(path)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if p := filepath.Join(dir, e.Name()); is(p) {
			return p
		}
	}
	return ""
}

// pathOfMountHandle opens the file of handle h on mount mnt (by
// open_by_handle_at, which root may do) and says what name it has.
func pathOfMountHandle(mnt int, h unix.FileHandle) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 5 || fs[0] != strconv.Itoa(mnt) {
			continue
		}
		// Not O_PATH: open_by_handle_at refuses such a mount fd (EBADF).
		mfd, err := unix.Open(fs[4], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return ""
		}
		defer unix.Close(mfd)
		fd, err := unix.OpenByHandleAt(mfd, h, unix.O_PATH|unix.O_CLOEXEC)
		if err != nil {
			return ""
		}
		defer unix.Close(fd)
		p, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		return p
	}
	return ""
}

// copyUnlinked copies the file open as f beside the image, sparse, as
// COMM.PID.-.FD (copies.go).
func (d *dumper) copyUnlinked(f *fileDesc, size int64) error {
	name := fmt.Sprintf("%s.%d.-.%d", d.comm, d.pid, f.FD)
	src, err := os.Open(fmt.Sprintf("/proc/%d/fd/%d", d.pid, f.FD))
	if err == nil {
		defer src.Close()
		err = d.writeCopy(f, name, src, size, 0o600)
	}
	if err != nil {
		dst := filepath.Join(filepath.Dir(d.tree.rootPath), name)
		return fmt.Errorf("%s(%d) fd %d %s copy to %s: %w", d.comm, d.pid, f.FD, f.File.Path, dst, err)
	}
	return nil
}

// copySparse copies size bytes of src to dst, only the data of src
// (SEEK_DATA, SEEK_HOLE): its holes are holes of dst.
func copySparse(dst, src *os.File, size int64) error {
	err := walkSparse(src, size, func(off int64, b []byte) error {
		_, err := dst.WriteAt(b, off)
		return err
	})
	if err != nil {
		return err
	}
	return dst.Truncate(size)
}

// openUnlinked opens a description of an unlinked file: the file itself
// is made once per inode (makeUnlinked), each description is a new open
// of it (through /proc/self/fd) with the description's flags and offset.
func (r *restorer) openUnlinked(p *rproc, f fileDesc) (int, error) {
	key := "desc:" + f.Desc // images without the inode: one file per description
	if f.Unl != nil {
		key = f.Unl.Inode
	}
	if r.unlinked == nil {
		r.unlinked = map[string]int{}
	}
	ino, ok := r.unlinked[key]
	if !ok {
		var err error
		if ino, err = r.makeUnlinked(p, f); err != nil {
			return -1, fmt.Errorf("fd %d: recreate unlinked file %s: %w", f.FD, f.Path, err)
		}
		r.unlinked[key] = ino
	}
	flags := f.Flags&(unix.O_ACCMODE|descFlags) | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", ino), flags, 0)
	if err != nil {
		return -1, fmt.Errorf("fd %d: open unlinked file %s: %w", f.FD, f.Path, err)
	}
	if _, err := unix.Seek(fd, f.Pos, 0); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fd %d: lseek %s: %w", f.FD, f.Path, err)
	}
	return fd, nil
}

// makeUnlinked makes the file of unlinked descriptor f again, filled from
// its copy: a memfd of the same name and seals, or a file with no name in
// the file's own directory, with its mode and owner.
func (r *restorer) makeUnlinked(p *rproc, f fileDesc) (int, error) {
	path := strings.TrimSuffix(f.Path, " (deleted)")
	mode := uint32(0o600)
	if f.File != nil {
		mode = f.File.Mode & 0o7777
	}
	var fd int
	var err error
	memfd := strings.HasPrefix(path, "/memfd:")
	if memfd {
		fd, err = unix.MemfdCreate(strings.TrimPrefix(path, "/memfd:"), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	} else {
		// A process with more rights than the Owner (a set-uid program of
		// the job, exceedsOwner) has its file made, and named again, as
		// the Owner: the directory is found by its path, which the owner
		// may have pointed since to one only root may write.
		err = r.asMaker(p, func() error {
			dir := filepath.Dir(path)
			fd, err = unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, mode)
			if err == unix.EOPNOTSUPP || err == unix.EISDIR {
				// No O_TMPFILE on this filesystem: a name made and removed.
				fd, err = tmpfileByName(dir, mode)
			}
			if err == unix.ENOENT {
				r.warn("%s(%d) fd %d: the directory of unlinked file %s is gone: made in %s", p.comm(), p.meta.PID, f.FD, path, os.TempDir())
				fd, err = unix.Open(os.TempDir(), unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, mode)
			}
			return err
		})
	}
	if err != nil {
		return -1, err
	}
	src, err := r.takeCopy(p, f)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err == nil {
		dst := os.NewFile(uintptr(fd), path)
		err = copySparse(dst, src, fi.Size())
		// dst owns fd now: a duplicate of it is kept.
		if fd2, derr := unix.FcntlInt(dst.Fd(), unix.F_DUPFD_CLOEXEC, 0); derr == nil {
			dst.Close()
			fd = fd2
		} else {
			return -1, derr
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fill: %w", err)
	}
	if u := f.Unl; u != nil {
		// The owner as it was, unless an Owner is enforced (the file is
		// then the owner's, who made it). A memfd too: fchmod before its
		// seals, as F_SEAL_EXEC on a memfd with execute bits adds the
		// write seals (memfd_add_seals).
		if !r.enforced(p) && os.Geteuid() == 0 {
			if err := unix.Fchown(fd, u.UID, u.GID); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("fchown %d %d: %w", u.UID, u.GID, err)
			}
		}
		if err := applyUnlinkedAttrs(fd, &u.unlinkedExtra); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if err := unix.Fchmod(fd, mode); err != nil { // after chown, which clears set-id bits
			unix.Close(fd)
			return -1, fmt.Errorf("fchmod %#o: %w", mode, err)
		}
		if err := applyUnlinkedTimes(fd, &u.unlinkedExtra); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if !memfd && !tmpfileName(path, f.File) {
		r.asMaker(p, func() error { fd = renameUnlinked(fd, path); return nil })
	}
	if u := f.Unl; u != nil && memfd && u.Seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, u.Seals); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("F_ADD_SEALS %#x: %w", u.Seals, err)
		}
	}
	return fd, nil
}

// asMaker runs fn, which makes or names p's unlinked file, as the Owner
// when p has more rights than the Owner, else as it is.
func (r *restorer) asMaker(p *rproc, fn func() error) error {
	if !r.exceedsOwner(p) {
		return fn()
	}
	return asFileUser(r.ownerCreds(), fn)
}

// tmpfileName reports whether path is the name the kernel gives a file
// made with O_TMPFILE and never linked: "DIR/#INO". Such a file is made
// again with O_TMPFILE and left so: it keeps no name of the old inode
// number, but the program may still give it a name (linkat of
// /proc/self/fd), which a file once linked and removed never takes
// again (the kernel clears I_LINKABLE at its first link). The kernel
// shows nothing of O_EXCL, which forbids that link: such a file comes
// back linkable.
func tmpfileName(path string, ref *fileRef) bool {
	return ref != nil && filepath.Base(path) == "#"+strconv.FormatUint(ref.Ino, 10)
}

// renameUnlinked gives the nameless file fd the name it had, removed: it
// is linked as path (linkat of /proc/self/fd, which O_TMPFILE without
// O_EXCL allows), opened by that name and the name removed, so its
// descriptors show "PATH (deleted)" as before. If the name is taken, or
// anything fails, fd stays as it is ("#INODE (deleted)" in the directory).
func renameUnlinked(fd int, path string) int {
	if err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW); err != nil {
		return fd
	}
	var a unix.Stat_t
	if unix.Fstat(fd, &a) != nil {
		return fd
	}
	ours := func(st *unix.Stat_t) bool { return st.Ino == a.Ino && st.Dev == a.Dev }
	defer func() {
		// The name only if it is still ours.
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && ours(&st) {
			unix.Unlink(path)
		}
	}()
	named, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fd
	}
	var b unix.Stat_t
	if unix.Fstat(named, &b) != nil || !ours(&b) {
		unix.Close(named)
		return fd
	}
	unix.Close(fd)
	return named
}

// tmpfileByName makes a file in dir under a fresh name and removes the
// name.
func tmpfileByName(dir string, mode uint32) (int, error) {
	for i := 0; ; i++ {
		name := filepath.Join(dir, fmt.Sprintf(".lazarus-unlinked-%d-%d", os.Getpid(), i))
		fd, err := unix.Open(name, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, mode)
		if err == unix.EEXIST && i < 100 {
			continue
		}
		if err != nil {
			return -1, err
		}
		unix.Unlink(name)
		return fd, nil
	}
}

// unlinkedShm gives the shared memory object key (a shared mapping, see
// region.Shm) the file of an unlinked descriptor of the same inode, if the
// tree had one open: the mapping and the descriptor are one file again.
func (r *restorer) unlinkedShm(key string) (int, bool) {
	ino, ok := r.unlinked[key]
	if !ok {
		return -1, false
	}
	fd, err := unix.FcntlInt(uintptr(ino), unix.F_DUPFD_CLOEXEC, 0)
	return fd, err == nil
}

// mappedUnlinked makes the file of a shared mapping of an unlinked file
// that no descriptor of the tree has open ("PATH (deleted)" in the maps,
// not a memfd, SysV or /dev/zero): a file with no name in PATH's
// directory, showing its old name, of size bytes, owned by the process's
// user; its bytes are the region's, from the image. false: not such a
// mapping, or the file could not be made there (a memfd then).
func (r *restorer) mappedUnlinked(p *rproc, rg region, size int64) (int, bool) {
	path, ok := strings.CutSuffix(rg.Name, " (deleted)")
	if !ok || !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/memfd:") || strings.HasPrefix(path, "/SYSV") ||
		path == "/dev/zero" || rg.Tmpfs {
		return -1, false
	}
	var fd int
	err := asFileUser(r.fileCreds(p), func() error {
		var err error
		fd, err = unix.Open(filepath.Dir(path), unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return -1, false
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		unix.Close(fd)
		return -1, false
	}
	return renameUnlinked(fd, path), true
}
