package ckpt

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pseudo terminals inside the tree. A master (/dev/ptmx) held by a member
// and the slaves of its pair held by members come back as a new pair: the
// restorer opens /dev/ptmx, unlocks it, gives the slave the checkpointed
// termios, window size, owner and mode, and opens each slave description
// through the master (TIOCGPTPEER); the processes take copies as they do
// of every description. The slave's number is the kernel's choice: a
// program that stored the old name (ttyname) has a name that is no longer
// its terminal (the CONVEX caution); restart warns when the number changed.
//
// The bytes buffered in both directions are read at checkpoint, which
// consumes them, and given back at once, so the running tree finds them
// as they were:
//   - output (written by the slave, not yet read from the master): read
//     from the master with the tree frozen, and given back with TIOCSTI on
//     the master, which puts each byte straight into the master's line
//     discipline (raw: its termios are the driver's and cannot be changed
//     from user space, TCSETS on a master sets the slave's) without going
//     through the slave's output processing again (ONLCR...) or its flow
//     control;
//   - input (written to the master, not yet read by the slave): read
//     through a slave description of the checkpointer's own (TIOCGPTPEER,
//     O_NONBLOCK), one read per line in canonical mode (n_tty returns at
//     most one line per read; a line ended by VEOF comes without it), then
//     the unfinished line once ICANON is off; given back with TIOCSTI on
//     the slave (synchronous: the flip buffer is not involved) with echo,
//     signals, input mapping, erase and kill off and every byte that would
//     end a line or be taken as flow control escaped with VLNEXT, each
//     complete line ended as it was, then the termios put back without
//     toggling ICANON (which would clear the line marks).
//
// What cannot be read back faithfully is refused at checkpoint: a holder
// of either end outside the tree, a session leader outside, EXTPROC, a
// packet-mode status not yet read, a master whose line discipline is full
// (more may wait in the flip buffers than TIOCSTI can give back), and a
// slave that was never opened (its input can only be read by opening it,
// and closing it again would hang up the master: TTY_OTHER_CLOSED). Not
// kept: the output column n_tty tracks for tab expansion (XTABS) and
// ONOCR, which starts at 0 again, and an escape (VLNEXT) typed but not yet
// followed by its character.

// ptyState is a descriptor of a pty of the tree.
type ptyState struct {
	Index  int  `json:"index"` // /dev/pts/N at checkpoint time
	Master bool `json:"master,omitempty"`
	// Pair is the pair's state, on one master descriptor of the tree.
	Pair *ptyPair `json:"pair,omitempty"`
}

// ptyPair is the state of a pty pair, as the slave side sees it.
type ptyPair struct {
	Termios terminal `json:"termios"` // with the window size's rows and columns
	XPixel  uint16   `json:"xpixel,omitempty"`
	YPixel  uint16   `json:"ypixel,omitempty"`
	Packet  bool     `json:"packet,omitempty"` // TIOCPKT on the master
	// Status is the packet mode status byte not read yet (ptystatus.go).
	Status uint8 `json:"status,omitempty"`
	Locked bool  `json:"locked,omitempty"` // TIOCSPTLCK: the slave cannot be opened
	// SlaveClosed: every slave was closed (the master reads the rest,
	// then EIO).
	SlaveClosed bool `json:"slave_closed,omitempty"`
	// Output is what the slave wrote that the master had not read.
	Output []byte `json:"output,omitempty"`
	// Input is what was written to the master that the slave had not
	// read: complete lines (canonical mode), then Partial.
	Input   []ptyLine `json:"input,omitempty"`
	Partial []byte    `json:"partial,omitempty"`
	// Session is the pid of the session leader whose control terminal the
	// slave is, Foreground its foreground process group; 0: none.
	Session    int    `json:"session,omitempty"`
	Foreground int    `json:"foreground,omitempty"`
	UID        int    `json:"uid"` // the slave device's owner and mode
	GID        int    `json:"gid"`
	Mode       uint32 `json:"mode"`
}

// ptyLine is a complete line waiting in the slave's canonical input.
type ptyLine struct {
	Data []byte `json:"data,omitempty"` // with its newline (or VEOL, VEOL2)
	EOF  bool   `json:"eof,omitempty"`  // ended by VEOF, which read does not return
}

const (
	nTTYBufSize    = 4096    // N_TTY_BUF_SIZE: n_tty's read buffer
	maxPTYOutput   = 1 << 17 // the master's read buffer and its flip buffers (64 KiB) fit
	maxPTYSlaves   = 1 << 20 // NR_UNIX98_PTY_MAX
	termiosCC      = 19      // NCCS of struct termios
	ptyDefaultPath = "/dev/ptmx"
)

// isPTYMaster tells whether a character device number is /dev/ptmx (the
// devpts ptmx node has the same).
func isPTYMaster(rdev uint64) bool { return unix.Major(rdev) == 5 && unix.Minor(rdev) == 2 }

// ptyIndex is the number N of slave /dev/pts/N.
func ptyIndex(rdev uint64) int { return int(unix.Minor(rdev)) + int(unix.Major(rdev)-136)*256 }

// masterIndex is the tty-index fdinfo shows for a ptmx descriptor; -1 if
// none.
func masterIndex(pid int, fd string) int {
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd))
	if err != nil {
		return -1
	}
	for k, v := range keyValues(info) {
		if k == "tty-index" {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// describePTY makes fd a pty descriptor of the tree if it is a master, or
// a slave whose master a member holds; otherwise (a terminal outside)
// describeFD goes on as for any terminal.
func (d *dumper) describePTY(fd int, f *fileDesc, rdev uint64) bool {
	var index int
	master := isPTYMaster(rdev)
	switch {
	case master:
		if index = masterIndex(d.pid, strconv.Itoa(fd)); index < 0 {
			return false
		}
	case isPTYSlave(rdev):
		index = ptyIndex(rdev)
		if d.tree == nil {
			return false
		}
		in := false
		for _, o := range d.tree.procs {
			in = in || (!o.zombie && holdsPTYMaster(o.pid, index))
		}
		if !in {
			return false
		}
	default:
		return false
	}
	f.Kind, f.CTTY, f.Pty = fdPTY, false, &ptyState{Index: index, Master: master}
	return true
}

// linkPTYs saves the state of every pty pair of the tree, or refuses the
// pairs that cannot come back as they are (with -F their descriptors are
// restored closed).
func (t *dumpTree) linkPTYs() error {
	pairs := map[int][]fdRef{}
	for _, d := range t.procs {
		for i := range d.meta.Files {
			if f := &d.meta.Files[i]; f.Kind == fdPTY && f.Pty != nil {
				pairs[f.Pty.Index] = append(pairs[f.Pty.Index], fdRef{d, i})
			}
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	outside := t.ptysOutside(pairs)
	indexes := make([]int, 0, len(pairs))
	for i := range pairs {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	for _, index := range indexes {
		refs := pairs[index]
		why := outside[index]
		if why == "" {
			var err error
			if why, err = t.savePTY(index, refs); err != nil {
				return err
			}
		}
		if why == "" {
			continue
		}
		for _, r := range refs {
			f := r.file()
			msg := fmt.Sprintf("is pseudo terminal /dev/pts/%d (%s)", index, why)
			if err := r.d.uncheckpointable(f.FD, msg); err != nil {
				return err
			}
			f.Kind, f.Reason, f.Pty = fdClosed, msg, nil
		}
	}
	return nil
}

// ptysOutside names, by pty number, a process outside the tree that holds
// an end of the pair or has its slave as control terminal.
func (t *dumpTree) ptysOutside(pairs map[int][]fdRef) map[int]string {
	out := map[int]string{}
	t.outsideFDs(func(pid int, fd string) {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd))
		if err != nil {
			return
		}
		index := -1
		switch {
		case l == ptyDefaultPath || strings.HasSuffix(l, "/ptmx"):
			index = masterIndex(pid, fd)
		case strings.HasPrefix(l, "/dev/pts/"):
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, fd), &st) == nil && isPTYSlave(st.Rdev) {
				index = ptyIndex(st.Rdev)
			}
		}
		if _, ok := pairs[index]; ok && out[index] == "" {
			out[index] = fmt.Sprintf("%s is held by %s(%d) fd %s, outside of selected processes", l, procComm(pid), pid, fd)
		}
	})
	in := map[int]bool{}
	for _, d := range t.procs {
		in[d.pid] = true
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || in[pid] {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.TTYNr == 0 || !isPTYSlave(ttyDev(st.TTYNr)) {
			continue
		}
		if index := ptyIndex(ttyDev(st.TTYNr)); out[index] == "" {
			if _, ok := pairs[index]; ok {
				out[index] = fmt.Sprintf("it is the control terminal of %s(%d), outside of selected processes", st.Comm, pid)
			}
		}
	}
	return out
}

func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// savePTY reads the state of pair index through the first master
// descriptor of refs and records it there. The bytes in transit are read
// and given back before it returns. It returns why the pair cannot be
// checkpointed, if it cannot.
func (t *dumpTree) savePTY(index int, refs []fdRef) (string, error) {
	var mref *fdRef
	slaveHeld := false
	for i := range refs {
		if refs[i].file().Pty.Master {
			if mref == nil {
				mref = &refs[i]
			}
		} else {
			slaveHeld = true
		}
	}
	if mref == nil {
		return "its master is outside of selected processes", nil
	}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("%s(%d) fd %d: pseudo terminal /dev/pts/%d: %w", mref.d.comm, mref.d.pid, mref.file().FD, index, err)
	}
	m, err := fdCopy(mref.d.pid, mref.file().FD)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(m)
	// On a master, the termios and window size ioctls reach the slave
	// (tty_mode_ioctl and tty_ioctl use the pair's other end).
	tio, err := unix.IoctlGetTermios(m, unix.TCGETS)
	if err != nil {
		return fail(fmt.Errorf("tcgetattr: %w", err))
	}
	ws, err := unix.IoctlGetWinsize(m, unix.TIOCGWINSZ)
	if err != nil {
		return fail(fmt.Errorf("window size: %w", err))
	}
	pkt, err := unix.IoctlGetInt(m, unix.TIOCGPKT)
	if err != nil {
		return fail(fmt.Errorf("TIOCGPKT: %w", err))
	}
	lck, err := unix.IoctlGetInt(m, unix.TIOCGPTLCK)
	if err != nil {
		return fail(fmt.Errorf("TIOCGPTLCK: %w", err))
	}
	if !canTIOCSTI() {
		return "giving back the bytes buffered in a pseudo terminal (TIOCSTI on a terminal that is not the checkpointer's own) needs CAP_SYS_ADMIN", nil
	}
	if tio.Lflag&unix.EXTPROC != 0 {
		return "external line processing (EXTPROC) is not checkpointable", nil
	}
	if inq, err := unix.IoctlGetInt(m, unix.TIOCINQ); err == nil && inq >= nTTYBufSize-1 {
		return fmt.Sprintf("the master has not read %d bytes of output, and more may wait behind them than can be given back", inq), nil
	}
	pair := &ptyPair{
		Termios: terminalOf(tio, ws), XPixel: ws.Xpixel, YPixel: ws.Ypixel,
		Packet: pkt != 0, Locked: lck != 0,
	}
	// Every slave closed: the master polls POLLHUP (TTY_OTHER_CLOSED).
	// Never opened: no slave held and no hang-up.
	pfd := []unix.PollFd{{Fd: int32(m), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n > 0 && pfd[0].Revents&unix.POLLHUP != 0 {
		pair.SlaveClosed = true
	}
	if !slaveHeld && !pair.SlaveClosed {
		return "its slave was never opened, and what waits for it cannot be read without opening it (closing it again would hang up the master)", nil
	}
	s, err := openSlave(m, pair.Locked, unix.O_RDWR|unix.O_NONBLOCK)
	if err != nil {
		return fail(fmt.Errorf("open the slave: %w", err))
	}
	defer unix.Close(s)
	var st unix.Stat_t
	if err := unix.Fstat(s, &st); err == nil {
		pair.UID, pair.GID, pair.Mode = int(st.Uid), int(st.Gid), st.Mode&0o7777
	}
	// The slave's input first: reading it has the line discipline process
	// what the master wrote last, whose echo then goes to the master,
	// which is read after, so the output keeps its order.
	var derr error
	if pair.Packet {
		// A status byte waiting comes before the bytes (ptystatus.go).
		pair.Status, derr = readPTYStatus(m)
	}
	var lines []ptyLine
	var partial []byte
	if derr == nil {
		lines, partial, derr = drainSlave(s, tio)
	}
	pair.Input, pair.Partial = lines, partial
	// (Our slave is open: the master reads EAGAIN once empty, never EIO.)
	var merr error
	if derr == nil {
		pair.Output, _, merr = drainMaster(m, pair.Packet)
	}
	// Given back whatever happened: the running tree must find its bytes.
	if err := refillPTY(m, s, pair, tio); err != nil {
		return fail(fmt.Errorf("give the buffered bytes back: %w", err))
	}
	if derr != nil {
		return fail(derr)
	}
	if merr != nil {
		return fail(merr)
	}
	if sid, err := unix.IoctlGetInt(m, unix.TIOCGSID); err == nil && sid > 0 {
		pair.Session = sid
		leader := false
		for _, d := range t.procs {
			leader = leader || (d.pid == sid && !d.zombie)
		}
		if !leader {
			return fmt.Sprintf("it is the control terminal of session %d, whose leader is outside of selected processes", sid), nil
		}
		if pg, err := unix.IoctlGetInt(m, unix.TIOCGPGRP); err == nil && pg > 0 {
			pair.Foreground = pg
		}
	}
	mref.file().Pty.Pair = pair
	return "", nil
}

// canTIOCSTI tells whether this process may inject input into a terminal
// that is not its control terminal: TIOCSTI then needs CAP_SYS_ADMIN
// (tiocsti), which is what gives the buffered bytes back.
func canTIOCSTI() bool {
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return false
	}
	for k, v := range keyValues(b) {
		if k == "CapEff" {
			eff, err := strconv.ParseUint(v, 16, 64)
			return err == nil && eff&(1<<unix.CAP_SYS_ADMIN) != 0
		}
	}
	return false
}

func terminalOf(tio *unix.Termios, ws *unix.Winsize) terminal {
	return terminal{Iflag: tio.Iflag, Oflag: tio.Oflag, Cflag: tio.Cflag, Lflag: tio.Lflag, Line: tio.Line,
		Cc: append([]uint8(nil), tio.Cc[:]...), Rows: ws.Row, Cols: ws.Col}
}

func (t terminal) termios() *unix.Termios {
	tio := &unix.Termios{Iflag: t.Iflag, Oflag: t.Oflag, Cflag: t.Cflag, Lflag: t.Lflag, Line: t.Line}
	copy(tio.Cc[:], t.Cc)
	return tio
}

// openSlave opens a new description of the pair's slave through master m
// (TIOCGPTPEER), unlocking the pair for the time of the open if it is
// locked. The open never makes it a control terminal.
func openSlave(m int, locked bool, flags int) (int, error) {
	if locked {
		if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
			return -1, fmt.Errorf("unlock: %w", err)
		}
		defer unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 1)
	}
	// TIOCGPTPEER takes the open flags as its argument and, unlike open,
	// keeps O_CLOEXEC in the description's flags, where fdinfo shows it
	// whatever the descriptor's own flag: a later checkpoint would read
	// every descriptor of this description as close-on-exec. So the flag
	// is set on the descriptor afterwards, under ForkLock so that no fork
	// of this process inherits it in between.
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, uintptr(flags&^unix.O_CLOEXEC|unix.O_NOCTTY))
	if e != 0 {
		return -1, fmt.Errorf("TIOCGPTPEER: %w", e)
	}
	unix.CloseOnExec(int(r))
	return int(r), nil
}

// drainMaster reads what waits in master m, the tree frozen, through its
// own description made non-blocking for the time of the reads. closed:
// the master reads EIO once empty, every slave was closed.
func drainMaster(m int, packet bool) (out []byte, closed bool, err error) {
	fl, err := unix.FcntlInt(uintptr(m), unix.F_GETFL, 0)
	if err != nil {
		return nil, false, err
	}
	if _, err := unix.FcntlInt(uintptr(m), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
		return nil, false, err
	}
	defer unix.FcntlInt(uintptr(m), unix.F_SETFL, fl)
	buf := make([]byte, 2*nTTYBufSize)
	for {
		n, err := unix.Read(m, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return out, false, nil
		case err == unix.EIO:
			return out, true, nil
		case err != nil:
			return out, false, fmt.Errorf("read the master: %w", err)
		case n == 0:
			return out, false, nil
		}
		b := buf[:n]
		if packet {
			b = b[1:] // TIOCPKT_DATA: no status waits (checked before)
		}
		out = append(out, b...)
		if len(out) > maxPTYOutput {
			return out, false, fmt.Errorf("more than %d bytes of output", maxPTYOutput)
		}
	}
}

// endsLine tells whether c ends a line of canonical input.
func endsLine(c byte, tio *unix.Termios) bool {
	return c == '\n' || (tio.Cc[unix.VEOL] != 0 && c == tio.Cc[unix.VEOL]) ||
		(tio.Lflag&unix.IEXTEN != 0 && tio.Cc[unix.VEOL2] != 0 && c == tio.Cc[unix.VEOL2])
}

// drainSlave reads what waits in the slave's input through s (our own
// non-blocking description): the complete lines one by one in canonical
// mode, then the rest with ICANON off. It leaves the slave in that raw mode;
// refillPTY puts its termios back.
func drainSlave(s int, tio *unix.Termios) (lines []ptyLine, rest []byte, err error) {
	buf := make([]byte, nTTYBufSize)
	if tio.Lflag&unix.ICANON != 0 {
		for i := 0; ; i++ {
			if i > nTTYBufSize {
				return lines, nil, fmt.Errorf("the slave's input does not end")
			}
			n, err := unix.Read(s, buf)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				return lines, nil, fmt.Errorf("read the slave: %w", err)
			}
			l := ptyLine{Data: append([]byte(nil), buf[:n]...)}
			l.EOF = n == 0 || !endsLine(buf[n-1], tio)
			lines = append(lines, l)
		}
	}
	// The unfinished line (or, in non-canonical mode, everything): with
	// ICANON off all of the read buffer is readable, the line marks
	// cleared (none is left: every complete line was read).
	raw := *tio
	raw.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG | unix.IEXTEN
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 0, 0
	if err := unix.IoctlSetTermios(s, unix.TCSETS, &raw); err != nil {
		return lines, nil, fmt.Errorf("tcsetattr: %w", err)
	}
	for i := 0; i <= nTTYBufSize; i++ {
		n, err := unix.Read(s, buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || (err == nil && n == 0) {
			return lines, rest, nil
		}
		if err != nil {
			return lines, rest, fmt.Errorf("read the slave: %w", err)
		}
		rest = append(rest, buf[:n]...)
	}
	return lines, rest, fmt.Errorf("the slave's input does not end")
}

// giveOutput puts out back as output of the slave waiting to be read from
// master m: into the master's line discipline with TIOCSTI as far as it
// holds, the rest written on slave s (-1: none) with OPOST off in its
// termios (the caller's business) so it is not processed twice.
func giveOutput(m, s int, out []byte) error {
	n := min(len(out), nTTYBufSize-1)
	for i := range out[:n] {
		if err := unix.IoctlSetPointerInt(m, unix.TIOCSTI, int(out[i])); err != nil {
			return fmt.Errorf("TIOCSTI on the master: %w", err)
		}
	}
	for rest := out[n:]; len(rest) > 0; {
		if s < 0 {
			return fmt.Errorf("%d bytes of output could not be given back", len(rest))
		}
		k, err := unix.Write(s, rest)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write %d bytes of output on the slave: %w", len(rest), err)
		}
		rest = rest[k:]
	}
	return nil
}

// refillPTY gives the pair (master m, slave s) the bytes in transit of
// pair and then the termios tio: at checkpoint to the running pair, whose
// bytes were just read, at restart to the new one.
func refillPTY(m, s int, pair *ptyPair, tio *unix.Termios) error {
	in, p, err := inputStream(pair, tio)
	if err != nil {
		return err
	}
	if pair.Status != 0 {
		if err := makePTYStatus(m, s, pair.Status, tio); err != nil {
			return err
		}
	}
	if err := unix.IoctlSetTermios(s, unix.TCSETS, p); err != nil {
		return fmt.Errorf("tcsetattr: %w", err)
	}
	if err := giveOutput(m, s, pair.Output); err != nil {
		return err
	}
	for _, c := range in {
		if err := unix.IoctlSetPointerInt(s, unix.TIOCSTI, int(c)); err != nil {
			return fmt.Errorf("TIOCSTI on the slave: %w", err)
		}
	}
	if err := unix.IoctlSetTermios(s, unix.TCSETS, tio); err != nil {
		return fmt.Errorf("tcsetattr: %w", err)
	}
	return nil
}

// inputStream returns the bytes that, received by the slave's line
// discipline with the termios p it returns, leave its read buffer as the
// checkpointed one: p is tio with no echo, no signals, no input mapping and
// no erase or kill characters, and ICANON as in tio (changing it would
// clear the line marks); in canonical mode a byte of a line that would end
// it, or be taken as flow control, is escaped with VLNEXT.
func inputStream(pair *ptyPair, tio *unix.Termios) ([]byte, *unix.Termios, error) {
	p := *tio
	p.Oflag &^= unix.OPOST
	p.Iflag &^= unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IUCLC | unix.IXANY | unix.PARMRK | unix.IMAXBEL
	p.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ECHOCTL | unix.ECHOPRT | unix.ECHOKE |
		unix.ISIG | unix.EXTPROC | unix.FLUSHO | unix.PENDIN
	var out []byte
	if tio.Lflag&unix.ICANON == 0 {
		// No line marks, no escape either (n_tty has VLNEXT in canonical
		// mode only): flow control characters would be taken as such
		// with IXON, so IXON is off while they are given back (which
		// restarts output stopped by VSTOP: a character there could only
		// have come while IXON was off).
		p.Lflag &^= unix.IEXTEN
		if p.Iflag&unix.IXON != 0 && (bytes.IndexByte(pair.Partial, p.Cc[unix.VSTART]) >= 0 || bytes.IndexByte(pair.Partial, p.Cc[unix.VSTOP]) >= 0) {
			p.Iflag &^= unix.IXON
		}
		for _, l := range pair.Input {
			out = append(out, l.Data...)
		}
		return append(out, pair.Partial...), &p, nil
	}
	p.Lflag |= unix.IEXTEN // VLNEXT and VEOL2
	for _, c := range []int{unix.VERASE, unix.VKILL, unix.VWERASE, unix.VREPRINT} {
		p.Cc[c] = 0 // _POSIX_VDISABLE: n_tty never takes 0 as special
	}
	special := map[byte]bool{'\n': true}
	for _, c := range []int{unix.VEOF, unix.VEOL, unix.VEOL2} {
		if p.Cc[c] != 0 {
			special[p.Cc[c]] = true
		}
	}
	if p.Iflag&unix.IXON != 0 {
		for _, c := range []int{unix.VSTART, unix.VSTOP} {
			if p.Cc[c] != 0 {
				special[p.Cc[c]] = true
			}
		}
	}
	lnext := byte(0x16) // ^V
	for special[lnext] {
		lnext++
	}
	special[lnext] = true
	p.Cc[unix.VLNEXT] = lnext
	esc := func(b []byte) {
		for _, c := range b {
			if special[c] {
				out = append(out, lnext)
			}
			out = append(out, c)
		}
	}
	for _, l := range pair.Input {
		switch {
		case l.EOF && p.Cc[unix.VEOF] == 0:
			return nil, nil, fmt.Errorf("a line ended by VEOF, which is disabled")
		case l.EOF:
			esc(l.Data)
			out = append(out, p.Cc[unix.VEOF])
		case len(l.Data) == 0:
			return nil, nil, fmt.Errorf("an empty line without its end")
		default:
			esc(l.Data[:len(l.Data)-1])
			out = append(out, l.Data[len(l.Data)-1])
		}
	}
	esc(pair.Partial)
	if len(out) > 2*nTTYBufSize {
		return nil, nil, fmt.Errorf("%d bytes of input", len(out))
	}
	return out, &p, nil
}

// checkPTY checks the pty part of a descriptor read from an image
// (untrusted input).
func checkPTY(f fileDesc) error {
	if (f.Pty != nil) != (f.Kind == fdPTY) {
		return fmt.Errorf("%w: fd %d: pty state on a %s", ErrCorrupt, f.FD, f.Kind)
	}
	if f.Pty == nil {
		return nil
	}
	if f.Pty.Index < 0 || f.Pty.Index >= maxPTYSlaves {
		return fmt.Errorf("%w: fd %d: pty %d", ErrCorrupt, f.FD, f.Pty.Index)
	}
	pp := f.Pty.Pair
	if pp == nil {
		return nil
	}
	n := len(pp.Partial)
	for _, l := range pp.Input {
		n += len(l.Data)
	}
	switch {
	case !f.Pty.Master:
		return fmt.Errorf("%w: fd %d: pty pair state on a slave", ErrCorrupt, f.FD)
	case len(pp.Termios.Cc) > termiosCC:
		return fmt.Errorf("%w: fd %d: %d control characters", ErrCorrupt, f.FD, len(pp.Termios.Cc))
	case len(pp.Output) > maxPTYOutput || len(pp.Input) > nTTYBufSize || n > nTTYBufSize:
		return fmt.Errorf("%w: fd %d: pty queues out of bounds", ErrCorrupt, f.FD)
	case pp.Session < 0 || pp.Foreground < 0 || pp.UID < 0 || pp.GID < 0:
		return fmt.Errorf("%w: fd %d: pty session %d, group %d", ErrCorrupt, f.FD, pp.Session, pp.Foreground)
	}
	return nil
}
