package ckpt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Shared mappings of files on tmpfs (/dev/shm, /run, /tmp when it is
// tmpfs): Open MPI's shared-memory transport, POSIX shm_open, the JVM's
// /tmp/hsperfdata_USER/PID. Such a file does not survive a reboot, and its
// program often deletes it while it runs (the mapping stays) or at exit.
// Its content is saved with the image like shared anonymous memory (one
// copy per object, however many processes map it); at restart the file is
// mapped again if it is still there, and made again at its path with the
// saved content if it is gone.

// onTmpfs reports whether path (a /proc/PID/map_files entry) is a file on
// tmpfs.
func onTmpfs(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.TMPFS_MAGIC
}

// openTmpfsFile opens the tmpfs file of rg for its shared memory object:
// the file still at its path (kept: its content is the live one and is
// not overwritten), or a new one made there, as large as it was (only its
// mapped parts are saved: the rest comes back as zeros), for the saved
// content. A file still there that no process maps is left over by the
// checkpointed run and gets the saved content (tmpfsstale.go). It runs as
// the file user, so that the kernel's permission
// checks and the new file's owner are the process's.
func (r *restorer) openTmpfsFile(p *rproc, rg region, size int64) (fd int, kept bool, err error) {
	path := rg.File.Path
	if !filepath.IsAbs(path) {
		return -1, false, fmt.Errorf("shared mapping %#x: %w: tmpfs path %q is not absolute", rg.Start, ErrCorrupt, path)
	}
	err = asFileUser(r.fileCreds(p), func() error {
		var err error
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NOCTTY, 0)
		if err == nil {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				unix.Close(fd)
				return fmt.Errorf("%s: not a regular file", path)
			}
			if !mappedByAnyone(&st) { // tmpfsstale.go
				// Left over by the killed run: the checkpoint's content.
				return unix.Ftruncate(fd, max(size, rg.File.Size, st.Size))
			}
			kept = true
			return nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		// Gone (deleted by its program, or a reboot emptied tmpfs): made
		// again, with the directories that held it (hsperfdata_USER).
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, rg.File.Mode&0o777)
		if err != nil {
			return err
		}
		if err := unix.Ftruncate(fd, max(size, rg.File.Size)); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		return -1, false, fmt.Errorf("shared mapping of %s: %w", path, err)
	}
	if kept {
		r.info("%s(%d): shared mapping of %s: the file is still there, mapped as it is", p.comm(), p.meta.PID, path)
	} else {
		r.info("%s(%d): shared mapping of %s: the file was gone or unused, given its checkpointed content", p.comm(), p.meta.PID, path)
	}
	return fd, kept, nil
}

// tmpfsObject finds, for a descriptor f of a regular file, a shared
// mapping of the same tmpfs file in the tree whose content the images
// hold (preferably the member's that saved it): Python's
// multiprocessing.shared_memory and shm_open users keep the descriptor
// of the file they map. After a reboot (tmpfs emptied), or once the
// program's own clean-up removed the file, such a descriptor comes back
// to the file made again with the saved content (openDescriptions), as
// the mapping does, not as a refusal of the restart.
func (r *restorer) tmpfsObject(f fileDesc) (*rproc, region, bool) {
	if f.Kind != fdFile || f.Unlinked || f.File == nil || f.File.Ino == 0 {
		return nil, region{}, false
	}
	key := fmt.Sprintf("%x:%x:%d", unix.Major(f.File.Dev), unix.Minor(f.File.Dev), f.File.Ino)
	var found *rproc
	var frg region
	for _, q := range r.procs {
		for _, rg := range q.meta.Regions {
			if rg.Kind != regionShmem || !rg.Tmpfs || rg.File == nil || rg.Shm != key || rg.File.Path != f.Path {
				continue
			}
			if found == nil || len(rg.Extents) > 0 && len(frg.Extents) == 0 {
				found, frg = q, rg
			}
		}
	}
	return found, frg, found != nil
}

// tmpfsFirst makes, before descriptor f is opened by its path, the
// tmpfs file it names again if it is gone and the tree maps it
// (tmpfsObject).
func (r *restorer) tmpfsFirst(p *rproc, f fileDesc) error {
	q, rg, ok := r.tmpfsObject(f)
	if !ok {
		return nil
	}
	if _, err := os.Lstat(f.Path); !errors.Is(err, os.ErrNotExist) {
		return nil // there: opened, and mapped, as it is
	}
	if err := r.makeShmRegion(q, rg); err != nil {
		return r.fail(q, err)
	}
	if len(rg.Extents) > 0 {
		r.tmpfsKept[rg.Shm] = true // filled: not again by makeShm
	}
	r.info("%s(%d) fd %d: %s was gone: made again with the content of its shared mapping in %s(%d)", p.comm(), p.meta.PID, f.FD, f.Path, q.comm(), q.meta.PID)
	return nil
}
