package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A packet mode master's status byte not read yet (TIOCPKT: the next
// read gives it alone, before any data). The checkpoint reads it (there
// is no other way to know it) and makes it again, on the running pair
// and on the new one, before the bytes in transit are given back: a
// flush of the slave's queues for TIOCPKT_FLUSHREAD/FLUSHWRITE (done on
// empty queues, it loses nothing), a change of the slave's flow control
// characters for TIOCPKT_NOSTOP/DOSTOP (pty_set_termios), its output
// started and stopped again for TIOCPKT_STOP (or the other way for
// START): by its VSTART and VSTOP characters given to the slave as if
// typed, when it has them (output stopped by VSTOP is restarted only by
// VSTART, output stopped by tcflow only by tcflow), else by tcflow.
// TIOCPKT_IOCTL is of EXTPROC, refused before.

const ptyStatusKnown = unix.TIOCPKT_FLUSHREAD | unix.TIOCPKT_FLUSHWRITE | unix.TIOCPKT_STOP | unix.TIOCPKT_START |
	unix.TIOCPKT_NOSTOP | unix.TIOCPKT_DOSTOP

// readPTYStatus reads the status byte waiting on master m (in packet
// mode), or 0 if none does.
func readPTYStatus(m int) (uint8, error) {
	pfd := []unix.PollFd{{Fd: int32(m), Events: unix.POLLPRI}}
	if n, _ := unix.Poll(pfd, 0); n <= 0 || pfd[0].Revents&unix.POLLPRI == 0 {
		return 0, nil
	}
	var b [1]byte
	for {
		n, err := unix.Read(m, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read the packet status: %w", err)
		}
		if n != 1 || b[0] == 0 {
			return 0, fmt.Errorf("read the packet status: %d bytes, %#x", n, b[0])
		}
		return b[0], nil
	}
}

// makePTYStatus gives the pair of slave s, whose master is in packet mode
// and whose queues are empty, the status st; tio is the slave's termios.
func makePTYStatus(m, s int, st uint8, tio *unix.Termios) error {
	if st&^ptyStatusKnown != 0 {
		return fmt.Errorf("packet status %#x", st)
	}
	// The flow first: POLLPRI then tells whether the characters did it.
	flow := func(a, b int) error {
		if tio.Iflag&unix.IXON != 0 && tio.Cc[unix.VSTOP] != 0 && tio.Cc[unix.VSTART] != 0 {
			c := map[int]byte{unix.TCOON: tio.Cc[unix.VSTART], unix.TCOOFF: tio.Cc[unix.VSTOP]}
			if unix.IoctlSetPointerInt(s, unix.TIOCSTI, int(c[a])) == nil && unix.IoctlSetPointerInt(s, unix.TIOCSTI, int(c[b])) == nil {
				pfd := []unix.PollFd{{Fd: int32(m), Events: unix.POLLPRI}}
				if n, _ := unix.Poll(pfd, 0); n > 0 && pfd[0].Revents&unix.POLLPRI != 0 {
					return nil
				}
			}
		}
		if err := unix.IoctlSetInt(s, unix.TCXONC, a); err != nil {
			return fmt.Errorf("tcflow: %w", err)
		}
		if err := unix.IoctlSetInt(s, unix.TCXONC, b); err != nil {
			return fmt.Errorf("tcflow: %w", err)
		}
		return nil
	}
	var err error
	switch {
	case st&unix.TIOCPKT_STOP != 0:
		err = flow(unix.TCOON, unix.TCOOFF)
	case st&unix.TIOCPKT_START != 0:
		err = flow(unix.TCOOFF, unix.TCOON)
	}
	if err != nil {
		return err
	}
	flush := func(q int) error { return unix.IoctlSetInt(s, unix.TCFLSH, q) }
	if st&unix.TIOCPKT_FLUSHREAD != 0 {
		if err := flush(unix.TCIFLUSH); err != nil {
			return fmt.Errorf("TCIFLUSH: %w", err)
		}
	}
	if st&unix.TIOCPKT_FLUSHWRITE != 0 {
		if err := flush(unix.TCOFLUSH); err != nil {
			return fmt.Errorf("TCOFLUSH: %w", err)
		}
	}
	if st&(unix.TIOCPKT_NOSTOP|unix.TIOCPKT_DOSTOP) != 0 {
		// The bit follows the last change of flow-ness (IXON with ^S and
		// ^Q): away from what tio is, and back.
		other := *tio
		// (Not by IXON off, which would restart stopped output.)
		if tio.Iflag&unix.IXON != 0 && tio.Cc[unix.VSTOP] == 0o23 && tio.Cc[unix.VSTART] == 0o21 {
			other.Cc[unix.VSTOP] = 0
		} else {
			other.Iflag |= unix.IXON
			other.Cc[unix.VSTOP], other.Cc[unix.VSTART] = 0o23, 0o21
		}
		if err := unix.IoctlSetTermios(s, unix.TCSETS, &other); err != nil {
			return fmt.Errorf("tcsetattr: %w", err)
		}
		if err := unix.IoctlSetTermios(s, unix.TCSETS, tio); err != nil {
			return fmt.Errorf("tcsetattr: %w", err)
		}
	}
	return nil
}
