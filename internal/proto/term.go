package proto

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Interactive jobs (qsub -I, qrestart --attach). The client sends an
// attach request; the daemon waits until the job's run has a terminal
// (a pseudo terminal whose master the job's supervisor holds, outside
// the job's tree), answers OK, and hands the connection itself to the
// supervisor (SCM_RIGHTS on the supervisor's socket in the run
// directory). From then on the connection carries frames between the
// client and the supervisor, not JSON lines: the daemon is no longer in
// the way, so a restart of lazarusd leaves the session alone.
//
// A frame is a type byte, a big-endian uint32 length and that many bytes
// (at most MaxFrame). The client sends FrameData (keyboard input, written
// to the pty master) and FrameWinsize (rows, cols as two big-endian
// uint16: TIOCSWINSZ on the master, which sends SIGWINCH to the job's
// foreground group). The supervisor sends FrameReady (TermReady, JSON)
// once, then FrameData (what the job wrote to its terminal) and, last,
// FrameExit (TermExit, JSON) when the run has ended; a refusal is a
// FrameExit with Refused set. The client's end of file ends the session:
// the supervisor kills the job, as PBS does when qsub goes away.

// Frame types.
const (
	FrameData    = 'd'
	FrameWinsize = 'w'
	FrameReady   = 'r'
	FrameExit    = 'x'
)

// MaxFrame bounds a frame's payload.
const MaxFrame = 64 << 10

// AttachRequest asks for a job's terminal: the job of a qsub -I, or, with
// Restart, a checkpointed interactive job that qrestart --attach restarts
// from its checkpoint Gen (0: the newest good one) with a new terminal.
type AttachRequest struct {
	ID      uint64 `json:"id"`
	Restart bool   `json:"restart,omitempty"`
	Gen     int    `json:"gen,omitempty"`
}

// AttachReply says that the connection now carries frames.
type AttachReply struct {
	ID uint64 `json:"id"`
}

// TermReady is the supervisor's first frame: the job runs on its terminal.
type TermReady struct {
	ID      uint64 `json:"id"`
	TTY     string `json:"tty,omitempty"` // the job's side, /dev/pts/N
	Restart bool   `json:"restart,omitempty"`
}

// TermExit is the supervisor's last frame: how the run ended. Status is
// the shell's exit status (128+N when signal N ended it); Stopped says the
// job did not end but was stopped to be resumed from its checkpoint
// (qhold, qchkpnt -k, maintenance); Refused that the terminal was not
// taken (another is attached).
type TermExit struct {
	Status  int    `json:"status"`
	Signal  int    `json:"signal,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Stopped bool   `json:"stopped,omitempty"`
	Refused bool   `json:"refused,omitempty"`
}

// ErrFrameTooLong is a frame longer than MaxFrame.
var ErrFrameTooLong = errors.New("terminal frame too long")

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return ErrFrameTooLong
	}
	buf := make([]byte, 5+len(payload))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, ErrFrameTooLong
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// Winsize encodes a FrameWinsize payload.
func Winsize(rows, cols uint16) []byte {
	var b [4]byte
	binary.BigEndian.PutUint16(b[0:], rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return b[:]
}

// ParseWinsize decodes a FrameWinsize payload.
func ParseWinsize(b []byte) (rows, cols uint16, err error) {
	if len(b) != 4 {
		return 0, 0, fmt.Errorf("window size frame of %d bytes, want 4", len(b))
	}
	return binary.BigEndian.Uint16(b[0:]), binary.BigEndian.Uint16(b[2:]), nil
}

// Attach sends an attach request on a connection of its own and, once the
// daemon accepts it, returns the connection, which then carries frames,
// and its reader. progress gets the daemon's progress lines (waiting for
// the job to start).
func Attach(ctx context.Context, stateDir string, req AttachRequest, progress func(string)) (net.Conn, *bufio.Reader, error) {
	c, err := Dial(ctx, stateDir)
	if err != nil {
		return nil, nil, err
	}
	c.Progress = progress
	var reply AttachReply
	if err := c.Call(ctx, OpAttach, req, &reply); err != nil {
		c.Close()
		return nil, nil, err
	}
	// The deadline Call set for its context is not the session's.
	c.conn.SetDeadline(noDeadline)
	return c.conn, c.r, nil
}
