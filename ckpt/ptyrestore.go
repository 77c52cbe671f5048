package ckpt

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// ptyOpen is a pty pair made again by the restorer (see pty.go).
type ptyOpen struct {
	p      *rproc // the process whose master descriptor carried the pair
	f      fileDesc
	pair   *ptyPair
	master int
	ctl    int // a slave description of ours: TIOCSCTTY goes through it; -1 once closed
	index  int // the new pair's number
}

// openPTYs makes every pty pair of the tree again, before any process is
// created (a session leader takes its control terminal before it forks the
// members of its session, which inherit it): master opened as the
// process's owner (devpts gives the slave the opener's fsuid), slave owner
// and mode as they were, window size, the bytes in transit, packet mode.
func (r *restorer) openPTYs() error {
	r.ptys = map[int]*ptyOpen{}
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			if f.Kind != fdPTY || f.Pty == nil || f.Pty.Pair == nil || p.closed[f.FD] || r.ptys[f.Pty.Index] != nil {
				continue
			}
			po := &ptyOpen{p: p, f: f, pair: f.Pty.Pair, master: -1, ctl: -1}
			r.ptys[f.Pty.Index] = po
			if err := r.openPTY(po); err != nil {
				return r.fail(p, fmt.Errorf("fd %d: pseudo terminal /dev/pts/%d: %w", f.FD, f.Pty.Index, err))
			}
			if po.index != f.Pty.Index {
				r.warn("%s(%d) fd %d: pseudo terminal /dev/pts/%d is now /dev/pts/%d (a program that kept its name, from ttyname or ptsname, has the old one)",
					p.comm(), p.meta.PID, f.FD, f.Pty.Index, po.index)
			}
		}
	}
	return nil
}

func (r *restorer) openPTY(po *ptyOpen) error {
	pair, p := po.pair, po.p
	path := po.f.Path
	if path != ptyDefaultPath && path != "/dev/pts/ptmx" {
		path = ptyDefaultPath // only a ptmx is opened, whatever the image says
	}
	err := asFileUser(r.fileCreds(p), func() error {
		var err error
		po.master, err = unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil && path != ptyDefaultPath {
			po.master, err = unix.Open(ptyDefaultPath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(po.master, &st); err != nil || !isPTYMaster(st.Rdev) {
		return fmt.Errorf("%s is not a pseudo terminal master", path)
	}
	if err := unix.IoctlSetPointerInt(po.master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(po.master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("ptsname: %w", err)
	}
	po.index = int(n)
	if po.ctl, err = openSlave(po.master, false, unix.O_RDWR|unix.O_NONBLOCK); err != nil {
		return err
	}
	if err := r.ptyOwner(po); err != nil {
		return err
	}
	tio := pair.Termios.termios()
	ws := &unix.Winsize{Row: pair.Termios.Rows, Col: pair.Termios.Cols, Xpixel: pair.XPixel, Ypixel: pair.YPixel}
	if err := unix.IoctlSetWinsize(po.master, unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("window size: %w", err)
	}
	if pair.Packet && pair.Status != 0 {
		// Packet mode first, as turning it on clears the status that
		// refillPTY makes; the termios before it, as a change of flow
		// control in packet mode is a status too (pty_set_termios).
		if err := unix.IoctlSetTermios(po.ctl, unix.TCSETS, tio); err != nil {
			return fmt.Errorf("tcsetattr: %w", err)
		}
		if err := unix.IoctlSetPointerInt(po.master, unix.TIOCPKT, 1); err != nil {
			return fmt.Errorf("packet mode: %w", err)
		}
	}
	if err := refillPTY(po.master, po.ctl, pair, tio); err != nil {
		return err
	}
	if pair.Packet {
		if err := unix.IoctlSetPointerInt(po.master, unix.TIOCPKT, 1); err != nil {
			return fmt.Errorf("packet mode: %w", err)
		}
	}
	if pair.Locked {
		if err := unix.IoctlSetPointerInt(po.master, unix.TIOCSPTLCK, 1); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	return nil
}

// ptyOwner gives the new slave the owner, group and mode the old one had.
// For an Owner (a non-authentic image restored for a user) the owner is
// the Owner and the group one of the Owner's or the one devpts gave.
func (r *restorer) ptyOwner(po *ptyOpen) error {
	pair := po.pair
	uid, gid := pair.UID, pair.GID
	if o := r.opts.Owner; o != nil && !po.p.authentic {
		var st unix.Stat_t
		if err := unix.Fstat(po.ctl, &st); err != nil {
			return err
		}
		uid = o.UID
		if gid != o.GID && !slices.Contains(o.Groups, gid) {
			gid = int(st.Gid)
		}
	}
	if err := unix.Fchown(po.ctl, uid, gid); err != nil {
		return fmt.Errorf("chown %d:%d: %w", uid, gid, err)
	}
	if pair.Mode != 0 {
		if err := unix.Fchmod(po.ctl, pair.Mode&0o777); err != nil {
			return fmt.Errorf("chmod %#o: %w", pair.Mode&0o777, err)
		}
	}
	return nil
}

// ptyDescription opens the description of pty descriptor f of p: the
// master, or a new slave description (with the descriptor's access mode
// and status flags).
func (r *restorer) ptyDescription(p *rproc, f fileDesc) (int, error) {
	po := r.ptys[f.Pty.Index]
	if po == nil {
		return -1, fmt.Errorf("fd %d: pseudo terminal /dev/pts/%d: its master is not in the restored tree", f.FD, f.Pty.Index)
	}
	if f.Pty.Master {
		fd, err := unix.Dup(po.master)
		if err != nil {
			return -1, err
		}
		unix.CloseOnExec(fd)
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, f.Flags&descFlags); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("fcntl %d: %w", f.FD, err)
		}
		return fd, nil
	}
	fd, err := openSlave(po.master, po.pair.Locked, f.Flags&(unix.O_ACCMODE|descFlags))
	if err != nil {
		return -1, fmt.Errorf("fd %d: pseudo terminal /dev/pts/%d: %w", f.FD, po.index, err)
	}
	return fd, nil
}

// takePTYControl makes session leader p take the new slave as its control
// terminal, right after its setsid and before it forks the members of its
// session (a child inherits its parent's control terminal, and only a
// session leader can take one: TIOCSCTTY).
func (r *restorer) takePTYControl(p *rproc) error {
	m := p.meta
	if m.Zombie != nil || m.SID != m.PID {
		return nil
	}
	for _, po := range r.ptys {
		if po.pair.Session != m.PID || po.ctl < 0 {
			continue
		}
		// The process has the restorer's pidfd at the same number as we
		// do: it was inherited from the stub.
		got, err := p.b.call("pidfd_getfd", unix.SYS_PIDFD_GETFD, r.pidfd, uint64(po.ctl), 0)
		if err != nil {
			return r.fail(p, fmt.Errorf("pseudo terminal /dev/pts/%d: %w", po.index, err))
		}
		_, err = p.b.call("ioctl", unix.SYS_IOCTL, got, unix.TIOCSCTTY, 0)
		p.b.call("close", unix.SYS_CLOSE, got)
		if err != nil {
			return r.fail(p, fmt.Errorf("pseudo terminal /dev/pts/%d: set control terminal: %w", po.index, err))
		}
	}
	return nil
}

// ptyForeground gives each pair's slave its foreground process group
// again, once every group exists: the session leader opens its control
// terminal (/dev/tty) and calls TIOCSPGRP, which only a member of the
// session may do.
func (r *restorer) ptyForeground() error {
	byPID := map[int]*rproc{}
	for _, p := range r.procs {
		byPID[p.meta.PID] = p
	}
	for _, po := range r.ptys {
		pair := po.pair
		leader := byPID[pair.Session]
		if pair.Session == 0 || pair.Foreground == 0 || leader == nil || leader.meta.Zombie != nil {
			continue
		}
		g := byPID[pair.Foreground]
		if g == nil || g.meta.Zombie != nil || g.meta.PGID != g.meta.PID {
			r.warn("pseudo terminal /dev/pts/%d: its foreground process group %d is not in the restored tree; the session leader's group is in the foreground", po.index, pair.Foreground)
			continue
		}
		b := leader.b
		path, err := b.putString(scratchData, "/dev/tty")
		if err != nil {
			return err
		}
		fd, err := b.call("openat", unix.SYS_OPENAT, ^uint64(99) /* AT_FDCWD */, path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return r.fail(leader, fmt.Errorf("pseudo terminal /dev/pts/%d: open its control terminal: %w", po.index, err))
		}
		pg := []byte{0, 0, 0, 0}
		v := uint32(g.pidIn(leader))
		pg[0], pg[1], pg[2], pg[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		addr, err := b.put(scratchData+64, pg)
		if err == nil {
			_, err = b.call("ioctl", unix.SYS_IOCTL, fd, unix.TIOCSPGRP, addr)
		}
		b.call("close", unix.SYS_CLOSE, fd)
		if err != nil {
			return r.fail(leader, fmt.Errorf("pseudo terminal /dev/pts/%d: tcsetpgrp %d: %w", po.index, v, err))
		}
	}
	return nil
}

// closePTYControl closes our slave descriptions once every process holds
// its own: a pair whose slaves were all closed reads EIO again once its
// bytes are read.
func (r *restorer) closePTYControl() {
	for _, po := range r.ptys {
		if po.ctl >= 0 {
			unix.Close(po.ctl)
			po.ctl = -1
		}
	}
}

func (r *restorer) closePTYs() {
	r.closePTYControl()
	for _, po := range r.ptys {
		if po.master >= 0 {
			unix.Close(po.master)
		}
	}
}

// ptyCTTY tells whether p's control terminal is the slave of a pair of the
// tree.
func (r *restorer) ptyCTTY(p *rproc) bool {
	for _, po := range r.ptys {
		if po.pair.Session == p.meta.PID {
			return true
		}
	}
	return false
}
