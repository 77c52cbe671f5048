package ckpt

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What an unlinked file's copy (unlinked.go) does not carry of it: its
// extended attributes, its times, and the blocks allocated to it that
// hold no data yet (fallocate, unwritten extents: zeros to read, holes to
// SEEK_DATA, but counted in st_blocks, and past the end of file with
// FALLOC_FL_KEEP_SIZE). They are read at checkpoint time and given to the
// file the restart makes, once its bytes are in.

// unlinkedExtra is the part of unlinkedFile of this file.
type unlinkedExtra struct {
	// Xattrs are the extended attributes but those of "security." (the
	// kernel's and its modules' labels, which the restart's own policy
	// gives).
	Xattrs map[string][]byte `json:"xattrs,omitempty"`
	// Atime and Mtime are seconds and nanoseconds.
	Atime [2]int64 `json:"atime,omitempty"`
	Mtime [2]int64 `json:"mtime,omitempty"`
	// Unwritten are the ranges [offset, length] allocated and not written.
	Unwritten [][2]int64 `json:"unwritten,omitempty"`
}

// readXattrs reads the extended attributes of the file open as fd.
func readXattrs(fd int) (map[string][]byte, error) {
	n, err := unix.Flistxattr(fd, nil)
	if err != nil || n == 0 {
		if err == unix.ENOTSUP {
			err = nil
		}
		return nil, err
	}
	buf := make([]byte, n)
	if n, err = unix.Flistxattr(fd, buf); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "security.") {
			continue
		}
		sz, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		v := make([]byte, sz)
		if sz, err = unix.Fgetxattr(fd, name, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v[:sz]
	}
	return out, nil
}

// FIEMAP (linux/fiemap.h).
const (
	fsIocFiemap        = 0xc020660b
	fiemapFlagSync     = 1
	fiemapExtentLast   = 1
	fiemapExtentUnwrit = 0x800
	fiemapBatch        = 128
)

type fiemapExtent struct {
	Logical, Physical, Length uint64
	_                         [2]uint64
	Flags                     uint32
	_                         [3]uint32
}

type fiemapReq struct {
	Start, Length                  uint64
	Flags, Mapped, Count, Reserved uint32
	Extents                        [fiemapBatch]fiemapExtent
}

// unwrittenRanges lists the unwritten extents of the file open as fd
// (after writing back its dirty pages: bytes written into an unwritten
// extent are data once on disk). A filesystem without FIEMAP (tmpfs)
// has none to tell: nil.
func unwrittenRanges(fd int) [][2]int64 {
	var out [][2]int64
	var start uint64
	for {
		req := fiemapReq{Start: start, Length: ^uint64(0) - start, Flags: fiemapFlagSync, Count: fiemapBatch}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocFiemap, uintptr(unsafe.Pointer(&req))); e != 0 {
			return out
		}
		if req.Mapped == 0 {
			return out
		}
		for _, x := range req.Extents[:req.Mapped] {
			if x.Flags&fiemapExtentUnwrit != 0 {
				if n := len(out); n > 0 && out[n-1][0]+out[n-1][1] == int64(x.Logical) {
					out[n-1][1] += int64(x.Length)
				} else {
					out = append(out, [2]int64{int64(x.Logical), int64(x.Length)})
				}
			}
			start = x.Logical + x.Length
			if x.Flags&fiemapExtentLast != 0 {
				return out
			}
		}
	}
}

// readUnlinkedExtra reads what the copy of the unlinked file open as fd
// of pid (with stat st) does not carry.
func readUnlinkedExtra(pid, fd int, st *unix.Stat_t) (unlinkedExtra, error) {
	x := unlinkedExtra{Atime: [2]int64{st.Atim.Sec, st.Atim.Nsec}, Mtime: [2]int64{st.Mtim.Sec, st.Mtim.Nsec}}
	mine, err := grabFD(pid, fd)
	if err != nil {
		return x, err
	}
	defer unix.Close(mine)
	if x.Xattrs, err = readXattrs(mine); err != nil {
		return x, fmt.Errorf("extended attributes: %w", err)
	}
	x.Unwritten = unwrittenRanges(mine)
	return x, nil
}

// applyUnlinkedAttrs gives the file fd, filled with its bytes, its
// extended attributes and allocated ranges.
func applyUnlinkedAttrs(fd int, x *unlinkedExtra) error {
	for name, v := range x.Xattrs {
		if err := unix.Fsetxattr(fd, name, v, 0); err != nil {
			return fmt.Errorf("extended attribute %s: %w", name, err)
		}
	}
	for _, r := range x.Unwritten {
		if err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, r[0], r[1]); err != nil {
			return fmt.Errorf("fallocate %d+%d: %w", r[0], r[1], err)
		}
	}
	return nil
}

// applyUnlinkedTimes gives the file fd its times, last: writing it, and
// setting its attributes, changed them.
func applyUnlinkedTimes(fd int, x *unlinkedExtra) error {
	if x.Mtime == [2]int64{} {
		return nil // an image of before the times were saved
	}
	ts := []unix.Timespec{{Sec: x.Atime[0], Nsec: x.Atime[1]}, {Sec: x.Mtime[0], Nsec: x.Mtime[1]}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), ts, 0); err != nil {
		return fmt.Errorf("times: %w", err)
	}
	return nil
}
