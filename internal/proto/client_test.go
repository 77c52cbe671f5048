package proto

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
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
