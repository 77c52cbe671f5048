package ckpt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Socket files moved out of the directory of their bind (renamed into
// another directory, or their directory renamed): the name the kernel
// keeps (getsockname) is the bind's, the file that reaches the socket is
// elsewhere. The checkpoint finds it by the socket's inode (a file
// handle of it, which ext4 and its like open without the inode's
// generation); the restart binds the old name, making for the while the
// directories of it that are gone, renames the file to where it is, and
// removes those directories again.

// movedSocket returns the path where the socket file of inode ino on the
// filesystem of kernel device dev is now, or "".
func movedSocket(ino uint64, dev uint32) string {
	mnt := mountOfDev(dev)
	if mnt == "" {
		return ""
	}
	mfd, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) // not O_PATH: EBADF
	if err != nil {
		return ""
	}
	defer unix.Close(mfd)
	// FILEID_INO32_GEN, generation 0: not checked.
	b := make([]byte, 8)
	b[0], b[1], b[2], b[3] = byte(ino), byte(ino>>8), byte(ino>>16), byte(ino>>24)
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(1, b), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil || !filepath.IsAbs(p) {
		return ""
	}
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil || st.Ino != ino || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return ""
	}
	return p
}

// mountOfDev returns a mount point (of the checkpointer's view) of the
// filesystem of kernel device dev (MAJOR<<20|MINOR, as sock_diag gives
// it), its root mount preferred.
func mountOfDev(dev uint32) string {
	want := fmt.Sprintf("%d:%d", dev>>20, dev&0xfffff)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	found := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || fs[2] != want {
			continue
		}
		if fs[3] == "/" {
			return unescapeMount(fs[4])
		}
		if found == "" {
			found = unescapeMount(fs[4])
		}
	}
	return found
}

// bindMaking binds fd to path name (relative to the working directory)
// after making the directories of name that are missing, and returns
// them, deepest first, for removeMade.
func bindMaking(fd int, name string) ([]string, error) {
	var made []string
	for dir := filepath.Dir(name); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return made, err
		}
		made = append(made, dir)
	}
	for i := len(made) - 1; i >= 0; i-- {
		if err := unix.Mkdir(made[i], 0o700); err != nil {
			removeMade(made[i+1:])
			return nil, err
		}
	}
	if err := bindUnix(fd, name); err != nil {
		removeMade(made)
		return nil, err
	}
	return made, nil
}

// removeMade removes the directories bindMaking made (empty again once
// the socket file was moved).
func removeMade(made []string) {
	for _, d := range made {
		unix.Rmdir(d)
	}
}
