package proto

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRunning is returned by Dial when no daemon listens on the socket.
var ErrNotRunning = errors.New("lazarusd is not running")

// ErrConnLost is wrapped by the error of a request whose connection broke
// before the reply: the daemon may or may not have carried it out.
var ErrConnLost = errors.New("lazarusd closed the connection")

// NewKey returns a random submission key (128 bits, hex).
func NewKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Client is a connection to lazarusd. It is not safe for concurrent use;
// open one per goroutine.
type Client struct {
	conn     net.Conn
	r        *bufio.Reader
	stateDir string
	// Progress, if set, gets the progress lines of long operations.
	Progress func(string)
}

// Dial connects to the daemon of a state directory.
func Dial(ctx context.Context, stateDir string) (*Client, error) {
	path := SocketPath(stateDir)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("%w (nothing listens on %s; is LAZARUS_HOME set to its state directory?)", ErrNotRunning, path)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to lazarusd: %w", err)
	}
	return &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), stateDir: stateDir}, nil
}

// closedByPeer reports whether the daemon has closed the connection (it
// does so with idle connections), without consuming anything: a peek that
// finds end of file.
func (c *Client) closedByPeer() bool {
	uc, ok := c.conn.(*net.UnixConn)
	if !ok || c.r.Buffered() > 0 {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	eof := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		eof = n == 0 && err == nil
	})
	return eof
}

// CallRetry runs one request on a connection of its own and, when the
// connection is lost before the reply, once more on a new one. Only
// requests that are safe to repeat may use it: a submission with a Key.
// A request refused as busy (the caller's connections at their limit, the
// daemon's request memory spent) was not carried out: it is sent again a
// few times, after a growing pause, before the refusal is returned.
func CallRetry(ctx context.Context, stateDir, op string, body, reply any) error {
	var lost error // of the try whose connection was lost
	busy := 0
	for {
		c, err := Dial(ctx, stateDir)
		if err != nil && lost != nil {
			// Lost, and the daemon gone (stopping, restarting): whether
			// that try was carried out is unknown.
			return fmt.Errorf("%w, and could not send the request again, so it may or may not have been carried out: %w", lost, err)
		}
		if err != nil {
			return err
		}
		err = c.Call(ctx, op, body, reply)
		c.Close()
		var pe *Error
		switch {
		case errors.Is(err, ErrConnLost) && lost == nil:
			lost = err
		case errors.As(err, &pe) && pe.Code == CodeBusy && busy < busyRetries:
			select {
			case <-time.After(busyPause << busy):
			case <-ctx.Done():
				return err
			}
			busy++
		default:
			return err
		}
	}
}

// A busy refusal is tried again busyRetries times, after busyPause, then
// twice as long each time (some 4 seconds in all).
const (
	busyRetries = 4
	busyPause   = 250 * time.Millisecond
)

// noDeadline clears a connection's deadline.
var noDeadline time.Time

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Call sends one request and decodes the reply's body into reply (which
// may be nil). A failed request returns an *Error.
func (c *Client) Call(ctx context.Context, op string, body, reply any) error {
	req := Request{Version: Version, Op: op}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req.Body = b
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// A connection left idle (qmgr waiting for its user) may have been
	// closed by the daemon meanwhile: nothing was sent on it, so a new one
	// is safe.
	if c.stateDir != "" && c.closedByPeer() {
		nc, err := Dial(ctx, c.stateDir)
		if err != nil {
			return err
		}
		c.conn.Close()
		c.conn, c.r = nc.conn, nc.r
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_, werr := c.conn.Write(append(line, '\n'))
	var data []byte
	for {
		// Even when the write failed: a daemon that refuses a connection
		// (too many of this user's) writes why before closing it.
		data, err = c.r.ReadBytes('\n')
		if err != nil {
			if werr != nil {
				err = werr
			}
			return c.connErr(ctx, err)
		}
		var p struct {
			Progress string `json:"progress"`
		}
		// Cheap test first: a reply listing every job is large.
		if !bytes.Contains(data, []byte(`"progress":`)) || json.Unmarshal(data, &p) != nil || p.Progress == "" {
			break
		}
		if c.Progress != nil {
			c.Progress(p.Progress)
		}
	}
	// The body is decoded straight into reply: a large reply (qstat of
	// every job) is scanned once, not once as the envelope and once more.
	var resp struct {
		Version int    `json:"version"`
		OK      bool   `json:"ok"`
		Body    any    `json:"body"`
		Error   *Error `json:"error"`
	}
	if reply != nil {
		resp.Body = reply
	}
	err = json.Unmarshal(data, &resp)
	if err != nil && resp.Version == 0 {
		return fmt.Errorf("bad reply from lazarusd: %w", err)
	}
	if resp.Version != Version {
		return fmt.Errorf("lazarusd speaks protocol version %d, this command %d", resp.Version, Version)
	}
	if err != nil {
		return fmt.Errorf("bad reply from lazarusd: %w", err)
	}
	if !resp.OK {
		if resp.Error == nil {
			return &Error{Code: CodeInternal, Message: "lazarusd failed without saying why"}
		}
		return resp.Error
	}
	return nil
}

func (c *Client) connErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %w", ErrConnLost, err)
}
