package proto

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// serve answers each request line on a socket in dir with the next of
// replies.
func serve(t *testing.T, dir string, replies ...string) {
	t.Helper()
	ln, err := net.Listen("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for _, reply := range replies {
			if _, err := r.ReadBytes('\n'); err != nil {
				return
			}
			conn.Write([]byte(reply + "\n"))
		}
	}()
}

func TestDialNoDaemon(t *testing.T) {
	dir := t.TempDir()
	_, err := Dial(context.Background(), dir)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), SocketPath(dir)) || !strings.Contains(err.Error(), "LAZARUS_HOME") {
		t.Errorf("Dial without a daemon: %v", err)
	}
}

func TestCall(t *testing.T) {
	dir := t.TempDir()
	serve(t, dir,
		`{"version":1,"ok":true,"body":{"id":42,"queue":"batch"}}`,
		`{"version":1,"ok":false,"error":{"code":"not_found","message":"unknown job id 7"}}`,
		`{"version":2,"ok":true,"body":{"surprise":[1,2]}}`,
		`not json`,
	)
	c, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var reply SubmitReply
	if err := c.Call(ctx, OpSubmit, SubmitRequest{}, &reply); err != nil || reply.ID != 42 || reply.Queue != "batch" {
		t.Errorf("submit: %+v, %v", reply, err)
	}
	var pe *Error
	if err := c.Call(ctx, OpDelete, JobRequest{ID: 7}, nil); !errors.As(err, &pe) || pe.Code != CodeNotFound || err.Error() != "unknown job id 7" {
		t.Errorf("failed request: %v", err)
	}
	if err := c.Call(ctx, OpPing, nil, nil); err == nil || !strings.Contains(err.Error(), "protocol version 2") {
		t.Errorf("reply of another version: %v", err)
	}
	if err := c.Call(ctx, OpPing, nil, nil); err == nil || !strings.Contains(err.Error(), "bad reply") {
		t.Errorf("malformed reply: %v", err)
	}
}

// serveConns runs handlers on the connections of a socket in dir, one
// handler for each connection in turn.
func serveConns(t *testing.T, dir string, handlers ...func(net.Conn, *bufio.Reader)) {
	t.Helper()
	ln, err := net.Listen("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for _, h := range handlers {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h(conn, bufio.NewReader(conn))
			conn.Close()
		}
	}()
}

func TestCallRetrySameRequest(t *testing.T) {
	dir := t.TempDir()
	lines := make(chan string, 2)
	serveConns(t, dir,
		func(c net.Conn, r *bufio.Reader) { // the request arrives, the reply is lost
			line, _ := r.ReadString('\n')
			lines <- line
		},
		func(c net.Conn, r *bufio.Reader) {
			line, _ := r.ReadString('\n')
			lines <- line
			c.Write([]byte(`{"version":1,"ok":true,"body":{"id":7,"queue":"batch"}}` + "\n"))
		},
	)
	req := SubmitRequest{Script: []byte("true\n"), Key: NewKey()}
	var reply SubmitReply
	if err := CallRetry(context.Background(), dir, OpSubmit, req, &reply); err != nil || reply.ID != 7 {
		t.Fatalf("CallRetry: %+v, %v", reply, err)
	}
	first, second := <-lines, <-lines
	if first != second || !strings.Contains(first, `"key":"`+req.Key+`"`) {
		t.Errorf("retried request %q differs from the first %q, or has no key", second, first)
	}
}

func TestCallRetryGivesUp(t *testing.T) {
	dir := t.TempDir()
	lost := func(c net.Conn, r *bufio.Reader) { r.ReadString('\n') }
	serveConns(t, dir, lost, lost, lost)
	err := CallRetry(context.Background(), dir, OpSubmit, SubmitRequest{Key: NewKey()}, nil)
	if !errors.Is(err, ErrConnLost) {
		t.Errorf("CallRetry with every reply lost: %v", err)
	}
}

func TestRefusalIsRead(t *testing.T) {
	dir := t.TempDir()
	serveConns(t, dir, func(c net.Conn, r *bufio.Reader) {
		// Refused at accept: the reason, then the end, before any request.
		c.Write([]byte(`{"version":1,"ok":false,"error":{"code":"busy","message":"too many connections"}}` + "\n"))
	})
	c, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The daemon may already have closed it: the request is sent on the
	// connection that has the refusal, not on a new one.
	c.stateDir = ""
	var pe *Error
	if err := c.Call(context.Background(), OpPing, nil, nil); !errors.As(err, &pe) || pe.Code != CodeBusy {
		t.Errorf("refused connection: %v", err)
	}
}

func TestIdleConnectionClosedByDaemon(t *testing.T) {
	dir := t.TempDir()
	closed := make(chan struct{})
	serveConns(t, dir,
		func(net.Conn, *bufio.Reader) { close(closed) }, // idle: the daemon closes it
		func(c net.Conn, r *bufio.Reader) {
			r.ReadString('\n')
			c.Write([]byte(`{"version":1,"ok":true,"body":{"version":1,"pid":3}}` + "\n"))
		},
	)
	c, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-closed
	// The end of file reaches our socket after the close returns.
	deadline := time.Now().Add(time.Minute)
	for !c.closedByPeer() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var reply PingReply
	if err := c.Call(context.Background(), OpPing, nil, &reply); err != nil || reply.PID != 3 {
		t.Errorf("call after the daemon closed an idle connection: %+v, %v", reply, err)
	}
}

func TestCallRetryDaemonGone(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(conn).ReadString('\n')
		ln.Close() // the daemon stops: the socket goes away with it
		conn.Close()
	}()
	err = CallRetry(context.Background(), dir, OpSubmit, SubmitRequest{Key: NewKey()}, nil)
	if !errors.Is(err, ErrConnLost) || !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "may or may not") {
		t.Errorf("CallRetry with the daemon gone after the request: %v", err)
	}
}

func TestCallRetryBusy(t *testing.T) {
	dir := t.TempDir()
	busy := func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte(`{"version":1,"ok":false,"error":{"code":"busy","message":"too many connections"}}` + "\n"))
	}
	serveConns(t, dir, busy, busy, func(c net.Conn, r *bufio.Reader) {
		r.ReadString('\n')
		c.Write([]byte(`{"version":1,"ok":true,"body":{"id":9,"queue":"batch"}}` + "\n"))
	})
	var reply SubmitReply
	if err := CallRetry(context.Background(), dir, OpSubmit, SubmitRequest{Key: NewKey()}, &reply); err != nil || reply.ID != 9 {
		t.Errorf("CallRetry after two busy refusals: %+v, %v", reply, err)
	}
}
