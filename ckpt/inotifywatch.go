package ckpt

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Inotify watches on removed files. The kernel keeps a watch on a file
// whose last name was removed for as long as the file lives (open, or
// mapped); its file handle then opens a file with no name, and a path
// cannot find it again. When the tree has the file open, the checkpoint
// saves it as one of its unlinked files (unlinked.go) and the watch names
// it by inode; the restart, once that file is made again, adds the watch
// through the restorer's descriptor of it (/proc/self/fd/N, which
// inotify_add_watch follows to the file). A removed file still linked by
// another name (the handle then opens it, but the name it shows can be
// the removed one, or a name without its directory) is saved by its file
// handle, and the restart watches what open_by_handle_at opens, the same
// file. A removed file the tree does not have open (only mapped, or open
// elsewhere) is refused.

// isInode tells whether path is the file ino of kernel device sdev.
func isInode(path string, sdev uint32, ino uint64) bool {
	var st unix.Stat_t
	return path != "" && !strings.HasSuffix(path, " (deleted)") && unix.Stat(path, &st) == nil &&
		st.Ino == ino && unix.Major(st.Dev) == sdev>>20 && unix.Minor(st.Dev) == sdev&0xfffff
}

// removedWatch is the watch of a file its handle's name does not find:
// by handle if the file still has a name, else by inode.
func removedWatch(wd int, mask, sdev uint32, ino uint64, htype int32, h []byte) inotifyWatch {
	w := inotifyWatch{WD: wd, Mask: mask}
	if fd, err := openHandle(sdev, htype, h); err == nil {
		var st unix.Stat_t
		err := unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Nlink > 0 {
			w.Handle, w.HandleType, w.Sdev = hex.EncodeToString(h), htype, sdev
			return w
		}
	}
	w.Inode = fmt.Sprintf("%x:%x:%d", sdev>>20, sdev&0xfffff, ino)
	return w
}

// openHandle opens (O_PATH) the file of handle h on a mount of kernel
// device sdev.
func openHandle(sdev uint32, typ int32, h []byte) (int, error) {
	major, minor := sdev>>20, sdev&0xfffff
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return -1, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[2] != fmt.Sprintf("%d:%d", major, minor) {
			continue
		}
		mfd, err := unix.Open(f[4], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(typ, h), unix.O_PATH|unix.O_CLOEXEC)
		unix.Close(mfd)
		if err == nil {
			return fd, nil
		}
	}
	return -1, fmt.Errorf("no file for handle on device %d:%d", major, minor)
}

// linkRemovedWatches refuses every watch on a removed file that is not
// one of the tree's unlinked files.
func (t *dumpTree) linkRemovedWatches() error {
	unlinked := map[string]bool{}
	for _, d := range t.procs {
		for _, f := range d.meta.Files {
			if f.Kind == fdFile && f.Unlinked && f.Unl != nil {
				unlinked[f.Unl.Inode] = true
			}
		}
	}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			f := &d.meta.Files[i]
			if !watchesRemoved(*f) {
				continue
			}
			for _, w := range f.Anon.Inotify {
				if w.Inode == "" || unlinked[w.Inode] {
					continue
				}
				msg := fmt.Sprintf(": inotify watch %d is on a file that was removed (inode %s) and that no process of the tree has open: it cannot be restored", w.WD, w.Inode)
				if err := d.uncheckpointable(f.FD, msg); err != nil {
					return err
				}
				f.Kind, f.Reason = fdClosed, strings.TrimPrefix(msg, ": ")
				break
			}
		}
	}
	return nil
}

// watchesRemoved tells whether f is an inotify instance with a watch on a
// removed file.
func watchesRemoved(f fileDesc) bool {
	if f.Kind != fdAnon || f.Anon == nil || f.Anon.Type != "inotify" {
		return false
	}
	for _, w := range f.Anon.Inotify {
		if w.Inode != "" {
			return true
		}
	}
	return false
}

// removedWatchPaths returns a with each watch on a removed file pointed
// at the restorer's descriptor of that file, made again, or at the file
// its handle opens; done closes what it opened, once the watches are made.
func (r *restorer) removedWatchPaths(a *anonFile) (_ *anonFile, done func(), retErr error) {
	b := *a
	b.Inotify = append([]inotifyWatch(nil), a.Inotify...)
	var opened []int
	done = func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
	}
	defer func() {
		if retErr != nil {
			done()
		}
	}()
	for i, w := range b.Inotify {
		if w.Handle != "" {
			h, err := hex.DecodeString(w.Handle)
			if err != nil || len(h) > 128 {
				return nil, nil, fmt.Errorf("%w: inotify watch %d: handle %q", ErrCorrupt, w.WD, w.Handle)
			}
			fd, err := openHandle(w.Sdev, w.HandleType, h)
			if err != nil {
				return nil, nil, fmt.Errorf("inotify watch %d: the file it watched, removed under one name and linked by another, is gone: %w", w.WD, err)
			}
			opened = append(opened, fd)
			b.Inotify[i].Path = fmt.Sprintf("/proc/self/fd/%d", fd)
			continue
		}
		if w.Inode == "" {
			continue
		}
		fd, ok := r.unlinked[w.Inode]
		if !ok {
			return nil, nil, fmt.Errorf("inotify watch %d: the removed file it watched (inode %s) is not among the tree's files", w.WD, w.Inode)
		}
		b.Inotify[i].Path = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	return &b, done, nil
}
