package ckpt

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Choices are the item-by-item decisions of an interactive chkpnt or
// restart (CONVEX -i): which processes of a tree are saved or restored, and
// what becomes of each of their descriptors. The zero value decides
// nothing: every process and descriptor is handled as without -i.
type Choices struct {
	// Skip: pids (as they were at the checkpoint, for restart) left out.
	// The root cannot be left out. A left-out process's children that are
	// kept come back as children of its nearest kept ancestor; the guide's
	// caution applies (a tree split this way may not work as before).
	Skip map[int]bool
	// FDs: per pid, per descriptor.
	FDs map[int]map[int]FDChoice
}

// FDAction is what becomes of one descriptor.
type FDAction int

const (
	FDDefault FDAction = iota // as without -i
	FDSave                    // chkpnt: save the descriptor (not the file's data); restart: use it
	FDCopy                    // chkpnt: also copy the file beside the image (a regular file)
	FDIgnore                  // not saved / not restored: the descriptor is closed
	FDModify                  // restart: open Path instead of the saved path
)

// FDChoice is the decision for one descriptor.
type FDChoice struct {
	Action FDAction
	Path   string // FDModify: the file to open instead
}

func (c *Choices) skip(pid int) bool { return c != nil && c.Skip[pid] }

func (c *Choices) fd(pid, fd int) FDChoice {
	if c == nil {
		return FDChoice{}
	}
	return c.FDs[pid][fd]
}

// ProcView describes a process for an interactive session: of a running
// tree (Survey) or of the images of one (SurveyImage).
type ProcView struct {
	PID, PGID, PPID int
	Comm            string
	FDs             []FDView
}

// FDView describes one descriptor the way the guide's prompts show it.
type FDView struct {
	FD      int
	Mode    os.FileMode // type and permissions (ls -l's first column)
	Owner   string      // user name (or uid)
	ModTime time.Time
	Size    int64  // bytes
	Offset  int64  // the descriptor's file offset
	Rdev    uint64 // device number, for devices
	Path    string
	// Regular: a regular file with a name, which chkpnt -i may copy.
	Regular bool
}

// String is the guide's descriptor line, without the prompt:
// "fd 3 -rw-r--r-- root Apr 11 16:39:17 1990 6872/0 /etc/ttys" (size/offset),
// "fd 0 crw--w---- cash May 17 10:38:46 1990 4 9 /dev/tty4" (major minor).
func (v FDView) String() string {
	size := fmt.Sprintf("%d/%d", v.Size, v.Offset)
	if v.Mode&os.ModeDevice != 0 {
		size = fmt.Sprintf("%d %d", unix.Major(v.Rdev), unix.Minor(v.Rdev))
	}
	date := "-"
	if !v.ModTime.IsZero() {
		date = v.ModTime.Format("Jan _2 15:04:05 2006")
	}
	return fmt.Sprintf("fd %d %s %s %s %s %s", v.FD, modeString(v.Mode), v.Owner, date, size, v.Path)
}

// String is the guide's process line: "loop - pid = 5120 pgrp = 5120 ppid = 5026".
func (v ProcView) String() string {
	return fmt.Sprintf("%s - pid = %d pgrp = %d ppid = %d", v.Comm, v.PID, v.PGID, v.PPID)
}

// modeString is ls -l's mode column: the type letter then rwx triplets.
func modeString(m os.FileMode) string {
	t := byte('-')
	switch {
	case m&os.ModeDir != 0:
		t = 'd'
	case m&os.ModeCharDevice != 0:
		t = 'c'
	case m&os.ModeDevice != 0:
		t = 'b'
	case m&os.ModeNamedPipe != 0:
		t = 'p'
	case m&os.ModeSocket != 0:
		t = 's'
	case m&os.ModeSymlink != 0:
		t = 'l'
	}
	return string(t) + m.Perm().String()[1:]
}

// Survey lists the process pid, and with tree its descendants (parents
// before children, as Checkpoint walks them), with their descriptors, as
// they are now: the process keeps running.
func Survey(pid int, tree bool) ([]ProcView, error) {
	if _, err := readStat(pid); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return nil, err
	}
	pids := []int{pid}
	seen := map[int]bool{pid: true, os.Getpid(): true}
	var out []ProcView
	for i := 0; i < len(pids) && i < maxTreeMembers; i++ {
		st, err := readStat(pids[i])
		if err != nil {
			continue // gone meanwhile
		}
		v := ProcView{PID: pids[i], PGID: st.PGID, PPID: st.PPID, Comm: st.Comm}
		v.FDs = liveFDs(pids[i])
		out = append(out, v)
		if tree {
			for _, c := range childrenOf(pids[i]) {
				if !seen[c] {
					seen[c] = true
					pids = append(pids, c)
				}
			}
		}
	}
	return out, nil
}

func liveFDs(pid int) []FDView {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	var out []FDView
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		v := FDView{FD: fd, Path: link}
		var st unix.Stat_t
		if unix.Stat(dir+"/"+e.Name(), &st) == nil {
			v.Mode, v.Owner, v.Rdev = fileMode(st.Mode), userName(int(st.Uid)), st.Rdev
			v.ModTime, v.Size = time.Unix(0, st.Mtim.Nano()), st.Size
			v.Regular = st.Mode&unix.S_IFMT == unix.S_IFREG && !strings.HasSuffix(link, " (deleted)") && strings.HasPrefix(link, "/")
		}
		if info, err := readFdInfo(pid, fd); err == nil {
			v.Offset = info.Pos
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FD < out[j].FD })
	return out
}

// SurveyImage lists the processes of the tree whose root image is path
// (each as it was at the checkpoint) with their descriptors. It reads the
// images as Restart does, without a key: only for showing.
func SurveyImage(path string) ([]ProcView, error) {
	root, procs, err := loadTree(path, nil)
	if err != nil {
		return nil, err
	}
	_ = root
	var out []ProcView
	for _, p := range procs {
		m := p.meta
		v := ProcView{PID: m.PID, PGID: m.PGID, PPID: m.PPID, Comm: m.Comm}
		for _, f := range m.Files {
			fv := FDView{FD: f.FD, Path: f.Path, Offset: f.Pos, Owner: "-"}
			if f.File != nil {
				fv.Mode, fv.Size = fileMode(f.File.Mode), f.File.Size
				if f.File.Mtime != 0 {
					fv.ModTime = time.Unix(0, f.File.Mtime)
				}
				fv.Regular = f.File.Mode&unix.S_IFMT == unix.S_IFREG
				var st unix.Stat_t
				if unix.Stat(f.File.Path, &st) == nil {
					fv.Owner, fv.Rdev = userName(int(st.Uid)), st.Rdev
				}
			}
			v.FDs = append(v.FDs, fv)
		}
		sort.Slice(v.FDs, func(i, j int) bool { return v.FDs[i].FD < v.FDs[j].FD })
		out = append(out, v)
	}
	return out, nil
}

// fileMode turns a stat st_mode into an os.FileMode.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		fm |= os.ModeDir
	case unix.S_IFCHR:
		fm |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		fm |= os.ModeDevice
	case unix.S_IFIFO:
		fm |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		fm |= os.ModeSocket
	case unix.S_IFLNK:
		fm |= os.ModeSymlink
	}
	return fm
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// reasonIgnored is the Reason of a descriptor chkpnt -i was told to ignore.
const reasonIgnored = "ignored at checkpoint (chkpnt -i)"

// applyChoices applies an interactive restart's decisions to the loaded
// tree: it returns the processes to restore (parents before children),
// with left-out processes' children handed to their nearest kept
// ancestor, and marks the descriptors to leave closed or open elsewhere.
func applyChoices(root *rproc, procs []*rproc, c *Choices) ([]*rproc, error) {
	if c.skip(root.meta.PID) {
		return nil, fmt.Errorf("%s(%d): the root of the tree is always restarted: %w", root.comm(), root.meta.PID, ErrUnsupported)
	}
	var kept []*rproc
	var keep func(p *rproc, parent *rproc)
	keep = func(p *rproc, parent *rproc) {
		children := p.children
		if c.skip(p.meta.PID) {
			for _, ch := range children {
				keep(ch, parent)
			}
			return
		}
		p.parent, p.children = parent, nil
		if parent != nil {
			parent.children = append(parent.children, p)
		}
		kept = append(kept, p)
		for _, ch := range children {
			keep(ch, p)
		}
	}
	keep(root, nil)
	// Parents before children, as loadTree lists them.
	sorted := []*rproc{root}
	for i := 0; i < len(sorted); i++ {
		sorted = append(sorted, sorted[i].children...)
	}
	modified := map[string]string{} // description -> new path
	for _, p := range sorted {
		for i := range p.meta.Files {
			f := &p.meta.Files[i]
			switch ch := c.fd(p.meta.PID, f.FD); ch.Action {
			case FDIgnore:
				p.closed[f.FD] = true
			case FDModify:
				switch f.Kind {
				case fdFile, fdDir, fdDevice:
				default:
					return nil, fmt.Errorf("%s(%d) fd %d %s: only a file, directory or device can be given another path (%s): %w",
						p.comm(), p.meta.PID, f.FD, f.Path, f.Kind, ErrUnsupported)
				}
				if ch.Path == "" || !filepath.IsAbs(ch.Path) {
					return nil, fmt.Errorf("%s(%d) fd %d: %q: the new path must be absolute", p.comm(), p.meta.PID, f.FD, ch.Path)
				}
				modified[f.Desc] = filepath.Clean(ch.Path)
			}
		}
	}
	// A description shared by several descriptors (dup, fork) is opened
	// once: its new path applies to all of them (CONVEX).
	for _, p := range sorted {
		for i := range p.meta.Files {
			f := &p.meta.Files[i]
			path, ok := modified[f.Desc]
			if !ok || p.closed[f.FD] {
				continue
			}
			f.Path, f.Unlinked, f.Copy = path, false, ""
			ref := &fileRef{Path: path}
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err == nil {
				ref.Dev, ref.Ino, ref.Mode, ref.Size, ref.Mtime = st.Dev, st.Ino, st.Mode, st.Size, st.Mtim.Nano()
			}
			f.File = ref
		}
	}
	return sorted, nil
}
