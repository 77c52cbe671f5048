package ckpt

// fanotify groups. fdinfo shows a group's fanotify_init flags and event
// file flags, and each mark: an inode mark with the file handle of its
// inode, a mount mark with its mount id, a filesystem mark with its
// device, each with its mark flags (FAN_MARK_EVICTABLE,
// FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_IGNORE), mask and ignore mask.
// The restart makes the group with fanotify_init and adds every mark with
// fanotify_mark on the path found from the handle (open_by_handle_at),
// mount id or device, in the order that gives the same list (the kernel
// puts a new mark first). Events not read yet cannot be saved without
// taking them from the program (refused, as for inotify, fdowner.go); a
// permission event read and not answered holds the task that caused it
// and cannot be seen: groups of the permission classes are refused.
// fanotify_init needs CAP_SYS_ADMIN: restored for root only.

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// fanotifyGroup is anonFile.Fanotify.
type fanotifyGroup struct {
	Flags      uint32         `json:"flags"`       // fanotify_init flags
	EventFlags uint32         `json:"event_flags"` // its event_f_flags
	Marks      []fanotifyMark `json:"marks,omitempty"`
}

type fanotifyMark struct {
	Kind    string `json:"kind"` // inode, mount, filesystem
	Path    string `json:"path"`
	MFlags  uint32 `json:"mflags,omitempty"`
	Mask    uint32 `json:"mask"`
	Ignored uint32 `json:"ignored,omitempty"`
}

const (
	fanClassMask   = 0x0c // FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT
	fanMarkAdd     = 0x01
	fanMarkMount   = 0x10
	fanMarkFS      = 0x100
	fanMarkIgnMask = 0x20  // FAN_MARK_IGNORED_MASK
	fanMarkSurvive = 0x40  // FAN_MARK_IGNORED_SURV_MODIFY
	fanMarkEvict   = 0x200 // FAN_MARK_EVICTABLE
	fanMarkIgnore  = 0x400 // FAN_MARK_IGNORE
)

// parseFanotify reads one "fanotify ..." line of pid's fdinfo (key is what
// precedes the first colon, v the rest) into g.
func parseFanotify(pid int, g *fanotifyGroup, key, v string) error {
	f := strings.Fields(v)
	if len(f) == 0 {
		return fmt.Errorf("parse fanotify fdinfo %q", v)
	}
	kv := map[string]string{}
	for _, x := range f[1:] {
		if k, val, ok := strings.Cut(x, ":"); ok {
			kv[k] = val
		}
	}
	hexField := func(s string) uint32 {
		n, _ := strconv.ParseUint(s, 16, 32)
		return uint32(n)
	}
	if key == "fanotify flags" {
		g.Flags, g.EventFlags = hexField(f[0]), hexField(kv["event-flags"])
		if g.Flags&fanClassMask != 0 {
			return fmt.Errorf("a group of permission events (FAN_CLASS_CONTENT, FAN_CLASS_PRE_CONTENT) is not checkpointable: an event read and not answered yet holds the task that caused it, and cannot be seen")
		}
		return nil
	}
	m := fanotifyMark{MFlags: hexField(kv["mflags"]), Mask: hexField(kv["mask"]), Ignored: hexField(kv["ignored_mask"])}
	switch key {
	case "fanotify ino":
		m.Kind = "inode"
		hb, err := hex.DecodeString(kv["f_handle"])
		if err != nil {
			return fmt.Errorf("parse fanotify fdinfo %q: %w", v, err)
		}
		htype, _ := strconv.ParseInt(kv["fhandle-type"], 16, 32)
		path, err := pathOfHandle(hexField(kv["sdev"]), int32(htype), hb)
		if err != nil {
			return fmt.Errorf("mark on inode %s is on a file that was removed or cannot be found (%v): it cannot be restored", f[0], err)
		}
		m.Path = path
	case "fanotify mnt_id":
		m.Kind = "mount"
		id := hexField(f[0])
		path, err := mountPath(pid, func(fields []string) bool { return fields[0] == strconv.FormatUint(uint64(id), 10) })
		if err != nil {
			return fmt.Errorf("mark on mount %d: %w", id, err)
		}
		m.Path = path
	case "fanotify sdev":
		m.Kind = "filesystem"
		sdev := hexField(f[0])
		dev := fmt.Sprintf("%d:%d", sdev>>20, sdev&0xfffff)
		path, err := mountPath(pid, func(fields []string) bool { return fields[2] == dev })
		if err != nil {
			return fmt.Errorf("mark on filesystem %s: %w", dev, err)
		}
		m.Kind, m.Path = "filesystem", path
	default:
		return fmt.Errorf("fanotify fdinfo %q: %w", key, ErrUnsupported)
	}
	g.Marks = append(g.Marks, m)
	return nil
}

// mountPath returns the mount point of the first mount of pid's
// mountinfo that match accepts.
func mountPath(pid int, match func([]string) bool) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && match(f) {
			return unescapeMount(f[4]), nil
		}
	}
	return "", fmt.Errorf("not in the mount table of process %d", pid)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// openFanotify makes the group g again, with its marks.
func openFanotify(g *fanotifyGroup, flags int) (int, error) {
	if g == nil {
		return -1, fmt.Errorf("fanotify: no state saved")
	}
	// The group keeps its init flags (fdinfo shows them): FAN_CLOEXEC
	// only if it had it. Ours is close-on-exec all the same, set under
	// ForkLock so that no child of ours inherits it meanwhile.
	syscall.ForkLock.RLock()
	fd, err := unix.FanotifyInit(uint(g.Flags), uint(g.EventFlags))
	if err == nil && g.Flags&unix.FAN_CLOEXEC == 0 {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, fmt.Errorf("fanotify_init(%#x, %#x): %w", g.Flags, g.EventFlags, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&unix.O_NONBLOCK); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// fdinfo lists the newest mark first.
	for i := len(g.Marks) - 1; i >= 0; i-- {
		m := g.Marks[i]
		kind := map[string]uint{"inode": 0, "mount": fanMarkMount, "filesystem": fanMarkFS}[m.Kind]
		add := fanMarkAdd | kind | uint(m.MFlags&fanMarkEvict)
		if m.Mask != 0 || m.Ignored == 0 {
			if err := unix.FanotifyMark(fd, add, uint64(m.Mask), unix.AT_FDCWD, m.Path); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("fanotify mark %#x on %s %s: %w", m.Mask, m.Kind, m.Path, err)
			}
		}
		if m.Ignored != 0 {
			ign := uint(fanMarkIgnMask)
			if m.MFlags&fanMarkIgnore != 0 {
				ign = fanMarkIgnore
			}
			if err := unix.FanotifyMark(fd, add|ign|uint(m.MFlags&fanMarkSurvive), uint64(m.Ignored), unix.AT_FDCWD, m.Path); err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("fanotify ignore mask %#x on %s %s: %w", m.Ignored, m.Kind, m.Path, err)
			}
		}
	}
	return fd, nil
}

// checkFanotify refuses, before anything starts, a fanotify group of an
// image restored for an ordinary owner (fanotify_init is root's), and
// marks the engine would not have written.
func (r *restorer) checkFanotify(p *rproc) error {
	for _, f := range p.meta.Files {
		if f.Kind != fdAnon || f.Anon == nil || (f.Anon.Type == "fanotify") != (f.Anon.Fanotify != nil) {
			if f.Anon != nil && f.Anon.Fanotify != nil {
				return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: fd %d: fanotify state of a %s", ErrCorrupt, f.FD, f.Anon.Type)}
			}
			continue
		}
		if f.Anon.Fanotify == nil {
			continue
		}
		if r.enforced(p) {
			return fmt.Errorf("%s(%d) fd %d: a fanotify group is restored for root only (fanotify_init needs CAP_SYS_ADMIN)", p.comm(), p.meta.PID, f.FD)
		}
		for _, m := range f.Anon.Fanotify.Marks {
			if m.Kind != "inode" && m.Kind != "mount" && m.Kind != "filesystem" || !strings.HasPrefix(m.Path, "/") {
				return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: fd %d: fanotify mark %q on %q", ErrCorrupt, f.FD, m.Kind, m.Path)}
			}
		}
	}
	return nil
}
