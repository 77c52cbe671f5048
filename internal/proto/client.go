package proto

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Dial when no daemon listens on the socket.
var ErrNotRunning = errors.New("lazarusd is not running")

// Client is a connection to lazarusd. It is not safe for concurrent use;
// open one per goroutine.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
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
	return &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}, nil
}

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
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write(append(line, '\n')); err != nil {
		return c.connErr(ctx, err)
	}
	var data []byte
	for {
		data, err = c.r.ReadBytes('\n')
		if err != nil {
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
	return fmt.Errorf("lazarusd closed the connection: %w", err)
}
