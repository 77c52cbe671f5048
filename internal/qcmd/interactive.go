package qcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"lazarus/config"
	"lazarus/internal/proto"
)

// The client side of interactive jobs (qsub -I, qrestart --attach): wait
// for the job's terminal, then relay between the user's terminal, put in
// raw mode, and the job's pty, through the frames of proto/term.go. The
// user's terminal settings come back on every way out (the shell's end, a
// signal, a lost connection, ~.).

// interactiveScript is the script of a qsub -I given none: the job runs
// the login shell, never a script; the directives of a script given are
// read, its commands ignored (as PBS does).
const interactiveScript = "#!/bin/sh\n# qsub -I: an interactive job; it runs your login shell on its terminal\n"

// readyWait bounds the wait for the job's supervisor once the daemon has
// handed the connection over.
const readyWait = time.Minute

// reconnectWait is how long qsub -I waits for a lazarusd that went away
// while the job waited to start.
const reconnectWait = 10 * time.Minute

// terminalOf returns the reader as a file that is a terminal, or says why
// an interactive session cannot run on it.
func terminalOf(r io.Reader, opt string) (*os.File, error) {
	f, ok := r.(*os.File)
	if ok {
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s: standard input is not a terminal: an interactive job needs one (run it from a terminal, or submit a batch job)", opt)
}

// checkX11 refuses -X: there is no X11 forwarding here.
func checkX11() error {
	if os.Getenv("DISPLAY") == "" {
		return fmt.Errorf("-X: DISPLAY is not set: there is no X display to forward (and this system forwards none to jobs)")
	}
	return fmt.Errorf("-X: X11 forwarding is not supported: this system forwards no X display to jobs")
}

// session is one interactive session: prog is the command ("qsub",
// "qrestart"), id the job's id as printed.
type session struct {
	prog, id string
	in       *os.File
	out, err io.Writer
	req      proto.AttachRequest
	// interrupted, if set, runs when the user interrupts the wait for
	// the job (qsub deletes the job, as PBS does).
	interrupted func(context.Context) string
}

// run waits for the job's terminal and relays until the run ends; it
// returns the exit status (the shell's).
func (s *session) run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)

	type attached struct {
		conn net.Conn
		r    *bufio.Reader
		err  error
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan attached, 1)
	go func() {
		var lost time.Time
		for {
			conn, r, err := proto.Attach(actx, config.StateDir(""), s.req, nil)
			// lazarusd stopped while the job waits (an upgrade, a
			// restart): wait for it to come back, for reconnectWait. A
			// restart request is not repeated: it may have been made.
			var pe *proto.Error
			if err != nil && actx.Err() == nil && !s.req.Restart &&
				(errors.Is(err, proto.ErrConnLost) || errors.Is(err, proto.ErrNotRunning) ||
					errors.As(err, &pe) && pe.Code == proto.CodeUnavailable) {
				if lost.IsZero() {
					lost = time.Now()
					fmt.Fprintf(s.err, "%s: lazarusd went away; waiting for it to come back\n", s.prog)
				}
				if time.Since(lost) < reconnectWait {
					select {
					case <-actx.Done():
					case <-time.After(time.Second):
					}
					continue
				}
			}
			done <- attached{conn, r, err}
			return
		}
	}()
	var a attached
	select {
	case a = <-done:
	case sig := <-sigs:
		cancel()
		if a = <-done; a.conn != nil {
			a.conn.Close()
		}
		msg := fmt.Sprintf("%s while waiting for job %s", sig, s.id)
		if s.interrupted != nil {
			msg += s.interrupted(context.WithoutCancel(ctx))
		}
		return cli.Exit(msg, 1)
	}
	if a.err != nil {
		return a.err
	}
	conn, r := a.conn, a.r
	defer conn.Close()

	conn.SetReadDeadline(time.Now().Add(readyWait))
	typ, b, err := proto.ReadFrame(r)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("job %s: its terminal did not answer: %w", s.id, err)
	}
	if typ == proto.FrameExit {
		var ex proto.TermExit
		json.Unmarshal(b, &ex)
		return cli.Exit(fmt.Sprintf("job %s: %s", s.id, ex.Reason), 1)
	}
	if typ != proto.FrameReady {
		return fmt.Errorf("job %s: unexpected first frame %q from its terminal", s.id, typ)
	}
	fmt.Fprintf(s.out, "%s: job %s ready\n\n", s.prog, s.id)

	restore, err := makeRaw(s.in)
	if err != nil {
		return err
	}
	defer restore()

	var wmu sync.Mutex
	send := func(typ byte, b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return proto.WriteFrame(conn, typ, b)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	sendSize := func() {
		if ws, err := unix.IoctlGetWinsize(int(s.in.Fd()), unix.TIOCGWINSZ); err == nil {
			send(proto.FrameWinsize, proto.Winsize(ws.Row, ws.Col))
		}
	}
	sendSize()

	// Why the session ended on this side, if it did: the first one wins.
	var endMu sync.Mutex
	var ended error
	end := func(err error) {
		endMu.Lock()
		if ended == nil {
			ended = err
		}
		endMu.Unlock()
		conn.Close() // the supervisor kills the job
	}
	go s.input(send, end)
	stopSigs := make(chan struct{})
	defer close(stopSigs)
	go func() {
		for {
			select {
			case <-stopSigs:
				return
			case <-winch:
				sendSize()
			case sig := <-sigs:
				end(cli.Exit(fmt.Sprintf("%s: job %s is killed with its session", sig, s.id), 128+int(sig.(syscall.Signal))))
			}
		}
	}()

	for {
		typ, b, err := proto.ReadFrame(r)
		if err != nil {
			restore()
			endMu.Lock()
			why := ended
			endMu.Unlock()
			if why != nil {
				return why
			}
			return cli.Exit(fmt.Sprintf("lost job %s's terminal (its supervisor ended); the job restarts in batch if it was checkpointed", s.id), 1)
		}
		switch typ {
		case proto.FrameData:
			s.out.Write(b)
		case proto.FrameExit:
			restore()
			var ex proto.TermExit
			if err := json.Unmarshal(b, &ex); err != nil {
				return fmt.Errorf("job %s: bad exit frame: %w", s.id, err)
			}
			switch {
			case ex.Stopped:
				fmt.Fprintf(s.err, "\n%s: %s\n", s.prog, ex.Reason)
			case ex.Reason != "":
				fmt.Fprintf(s.err, "\n%s: job %s: %s\n", s.prog, s.id, ex.Reason)
			}
			if !ex.Stopped {
				fmt.Fprintf(s.out, "\n%s: job %s completed\n", s.prog, s.id)
			}
			if ex.Status == 0 {
				return nil
			}
			return cli.Exit("", ex.Status)
		}
	}
}

// input sends what the user types. Typed at the start of a line, "~."
// ends the session (and so the job), as PBS's qsub escape does; "~~"
// sends one "~".
func (s *session) input(send func(byte, []byte) error, end func(error)) {
	buf := make([]byte, 4096)
	lineStart, tilde := true, false
	for {
		n, err := s.in.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+1)
			for _, c := range buf[:n] {
				switch {
				case tilde && c == '.':
					end(cli.Exit(fmt.Sprintf("~.: session ended; job %s is killed with it", s.id), 1))
					return
				case tilde && c == '~':
					out = append(out, '~')
					tilde, lineStart = false, false
					continue
				case tilde:
					out = append(out, '~')
					tilde = false
				case lineStart && c == '~':
					tilde = true
					continue
				}
				out = append(out, c)
				lineStart = c == '\r' || c == '\n' || c == 3 || c == 4 || c == 21
			}
			if len(out) > 0 && send(proto.FrameData, out) != nil {
				return
			}
		}
		if err != nil {
			end(cli.Exit(fmt.Sprintf("standard input closed: job %s is killed with its session", s.id), 1))
			return
		}
	}
}

// makeRaw puts the terminal in raw mode (cfmakeraw) and returns what puts
// its settings back; calling it more than once is harmless.
func makeRaw(f *os.File) (func(), error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("read the terminal's settings: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) })
	}, nil
}

// interactiveQsub follows a qsub -I once the job is stored: PBS's "waiting
// for job N to start", the session, and the shell's exit status.
func interactiveQsub(c *cli.Context, reply proto.SubmitReply) error {
	in, err := terminalOf(c.App.Reader, "-I")
	if err != nil {
		return err
	}
	id := fullID(reply.ID, reply.Server)
	fmt.Fprintf(c.App.Writer, "qsub: waiting for job %s to start\n", id)
	s := &session{
		prog: "qsub", id: id, in: in, out: c.App.Writer, err: c.App.ErrWriter,
		req: proto.AttachRequest{ID: reply.ID},
		interrupted: func(ctx context.Context) string {
			// The daemon deletes it too when this connection ends; asked
			// here, the answer is known.
			err := call(ctx, proto.OpDelete, proto.JobRequest{ID: reply.ID}, nil)
			var pe *proto.Error
			if err != nil && !(errors.As(err, &pe) && pe.Code == proto.CodeNotFound) {
				return fmt.Sprintf("; could not delete it: %v", err)
			}
			return "; the job is deleted"
		},
	}
	return s.run(c.Context)
}

// attachRestart is qrestart --attach: the job restarts from its checkpoint
// on a terminal relayed to this one.
func attachRestart(c *cli.Context, id uint64, gen int) error {
	in, err := terminalOf(c.App.Reader, "--attach")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "qrestart: waiting for job %s to restart\n", fullID(id, ""))
	s := &session{
		prog: "qrestart", id: fullID(id, ""), in: in, out: c.App.Writer, err: c.App.ErrWriter,
		req: proto.AttachRequest{ID: id, Restart: true, Gen: gen},
	}
	return s.run(c.Context)
}
