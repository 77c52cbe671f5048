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
