package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"lazarus/config"
	"lazarus/internal/proto"
)

// submitLine returns a submit request line of about n bytes, newline
// included, as a client writes it.
func submitLine(t testing.TB, n int) []byte {
	t.Helper()
	script := bytes.Repeat([]byte("x"), n*3/4)
	line, err := json.Marshal(proto.Request{Version: proto.Version, Op: proto.OpSubmit,
		Body: mustJSON(t, proto.SubmitRequest{Script: script, Workdir: "/tmp"})})
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLineReaderLimits(t *testing.T) {
	statusLine := func(n int) []byte {
		ids := strings.Repeat("1,", n/2)
		return []byte(`{"version":1,"op":"status","body":{"ids":[` + ids + `1]}}` + "\n")
	}
	tests := []struct {
		name    string
		in      []byte
		tooLong bool
	}{
		{"small", []byte(`{"version":1,"op":"ping"}` + "\n"), false},
		{"status under its limit", statusLine(proto.MaxLine - 100), false},
		{"status over its limit", statusLine(proto.MaxLine + 100), true},
		{"no op, over the ordinary limit", append(bytes.Repeat([]byte("a"), proto.MaxLine+10), '\n'), true},
		{"op after the body", []byte(`{"version":1,"body":{"script":"` + strings.Repeat("A", proto.MaxLine) + `"},"op":"submit"}` + "\n"), true},
		{"submit over the ordinary limit", submitLine(t, 4*proto.MaxLine), false},
		{"submit over its own limit", submitLine(t, proto.MaxSubmitLine+1000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBudget(requestBudget, userBudget)
			lr := newLineReader(bytes.NewReader(tt.in), b, 1000)
			line, err := lr.next()
			var tl *errLineTooLong
			if got := errors.As(err, &tl); got != tt.tooLong {
				t.Fatalf("line of %d bytes: error %v, want too long %v", len(tt.in), err, tt.tooLong)
			}
			if !tt.tooLong && !bytes.Equal(line, bytes.TrimSuffix(tt.in, []byte("\n"))) {
				t.Errorf("line of %d bytes read as %d bytes", len(tt.in), len(line))
			}
			if got := b.used(); got > userBudget {
				t.Errorf("budget used %d, more than a user may", got)
			}
			lr.release()
			if got := b.used(); got != 0 {
				t.Errorf("budget used after release: %d", got)
			}
		})
	}
}

func TestLineReaderBudget(t *testing.T) {
	// Two users; the budget takes about one large submission.
	b := newBudget(proto.MaxSubmitLine+proto.MaxSubmitLine/2, proto.MaxSubmitLine)
	big := submitLine(t, proto.MaxSubmitLine-1000)
	first := newLineReader(bytes.NewReader(big), b, 1000)
	if _, err := first.next(); err != nil {
		t.Fatal(err)
	}
	// The same user's second large line, while the first is held, is over
	// its share: busy.
	var pe *proto.Error
	second := newLineReader(bytes.NewReader(big), b, 1000)
	if _, err := second.next(); !errors.As(err, &pe) || pe.Code != proto.CodeBusy {
		t.Errorf("second large line of one user: %v, want busy", err)
	}
	// Another user's ordinary request needs no budget.
	small := newLineReader(strings.NewReader(`{"version":1,"op":"ping"}`+"\n"), b, 1001)
	if _, err := small.next(); err != nil {
		t.Errorf("ordinary request with the budget spent: %v", err)
	}
	first.release()
	second.release()
	if got := b.used(); got != 0 {
		t.Errorf("budget used after release: %d", got)
	}
	again := newLineReader(bytes.NewReader(big), b, 1001)
	if _, err := again.next(); err != nil {
		t.Errorf("large line after the budget was given back: %v", err)
	}
}

func TestConnLimits(t *testing.T) {
	l := connLimits{byUID: map[uint32]int{}}
	for range 3 {
		if err := l.admit(1000, 3, 5); err != nil {
			t.Fatal(err)
		}
	}
	var pe *proto.Error
	if err := l.admit(1000, 3, 5); !errors.As(err, &pe) || pe.Code != proto.CodeBusy || !strings.Contains(err.Error(), "max_user_connections") {
		t.Errorf("uid over its limit: %v", err)
	}
	for range 2 {
		if err := l.admit(1001, 3, 5); err != nil {
			t.Errorf("another uid under both limits: %v", err)
		}
	}
	if err := l.admit(1002, 3, 5); err == nil || !strings.Contains(err.Error(), "max_connections") {
		t.Errorf("over the global limit: %v", err)
	}
	if err := l.admit(0, 3, 5); err != nil {
		t.Errorf("root over the global limit: %v", err)
	}
	l.release(1000)
	if err := l.admit(1002, 3, 5); err != nil {
		t.Errorf("after a release: %v", err)
	}
}

func TestSniffOp(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"version":1,"op":"submit","body":{"script":"`, "submit"},
		{`{"op":"status"}`, "status"},
		{`{"body":{"op":"submit"},"op":"ping"}`, ""},
		{`{"version":1,"op":"sub`, ""},
		{`["op","submit"]`, ""},
		{``, ""},
		{`{"op":1}`, ""},
	}
	for _, tt := range tests {
		if got := sniffOp([]byte(tt.in)); got != tt.want {
			t.Errorf("sniffOp(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// requestBodies are the body types of each operation, as its handler
// decodes them.
var requestBodies = map[string]func() any{
	proto.OpPing:        nil,
	proto.OpSubmit:      func() any { return new(proto.SubmitRequest) },
	proto.OpStatus:      func() any { return new(proto.StatusRequest) },
	proto.OpWait:        func() any { return new(proto.WaitRequest) },
	proto.OpHold:        func() any { return new(proto.JobRequest) },
	proto.OpRelease:     func() any { return new(proto.JobRequest) },
	proto.OpDelete:      func() any { return new(proto.JobRequest) },
	proto.OpQueueCreate: func() any { return new(proto.QueueRequest) },
	proto.OpQueueDelete: func() any { return new(proto.QueueRequest) },
	proto.OpQueueSet:    func() any { return new(proto.QueueRequest) },
	proto.OpQueueList:   func() any { return new(proto.QueueRequest) },
	proto.OpServerSet:   func() any { return new(proto.ServerSetRequest) },
	proto.OpServerList:  nil,
	proto.OpShutdown:    nil,
	proto.OpCheckpoint:  func() any { return new(proto.CheckpointRequest) },
	proto.OpRestart:     func() any { return new(proto.RestartRequest) },
	proto.OpScheduling:  func() any { return new(proto.SchedulingRequest) },
	proto.OpMaintain:    func() any { return new(proto.MaintainRequest) },
	proto.OpAdopt:       func() any { return new(proto.AdoptRequest) },
	proto.OpSignal:      func() any { return new(proto.SignalRequest) },
	proto.OpRerun:       func() any { return new(proto.RerunRequest) },
	proto.OpMove:        func() any { return new(proto.MoveRequest) },
	proto.OpAlter:       func() any { return new(proto.AlterRequest) },
	proto.OpRun:         func() any { return new(proto.JobRequest) },
	proto.OpNodes:       func() any { return new(proto.NodesRequest) },
	proto.OpOrder:       func() any { return new(proto.OrderRequest) },
	proto.OpTrace:       func() any { return new(proto.TraceRequest) },
	proto.OpAttach:      func() any { return new(proto.AttachRequest) },
}

func TestRequestBodiesComplete(t *testing.T) {
	for op := range handlers {
		if _, ok := requestBodies[op]; !ok {
			t.Errorf("operation %q has no body type in requestBodies", op)
		}
	}
}

// FuzzRequest feeds a connection's bytes through what the server does
// before a handler runs: the line reader with its limits and budget, the
// envelope, the operation's body and a submission's key. None of it may
// panic, return a line over its limit, or keep budget once released.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"op":"ping"}` + "\n",
		`{"version":1,"op":"submit","body":{"script":"IyEvYmluL3NoCnRydWUK","workdir":"/tmp","key":"0123456789abcdef0123456789abcdef"}}` + "\n",
		`{"version":1,"op":"status","body":{"ids":[1,2],"full":true}}` + "\n" + `{"version":1,"op":"wait","body":{"jobs":[{"id":1,"state":"Q"}],"timeout_ms":5}}` + "\n",
		`{"version":2,"op":"ping"}` + "\n",
		`{"version":1,"op":"nope"}` + "\n",
		`{"version":1,"op":"submit","body":{"key":"../../x"}}` + "\n",
		"not json\n\n\n",
		`{"version":1,"op":"submit","body":{"script":"` + strings.Repeat("A", 3*connBuffer) + `"}}` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBudget(requestBudget, userBudget)
		lr := newLineReader(bytes.NewReader(data), b, 1000)
		for {
			line, err := lr.next()
			var tl *errLineTooLong
			if errors.As(err, &tl) || errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if limit, _ := lineLimit(line[:min(len(line), connBuffer)]); len(line) >= limit {
				t.Fatalf("line of %d bytes returned, limit %d", len(line), limit)
			}
			req, err := parseRequest(line)
			if err != nil {
				var pe *proto.Error
				if !errors.As(err, &pe) || pe.Code != proto.CodeBadRequest && pe.Code != proto.CodeBadVersion {
					t.Fatalf("parseRequest: %v is not a bad request", err)
				}
				continue
			}
			if _, ok := handlers[req.Op]; !ok {
				t.Fatalf("parseRequest accepted operation %q", req.Op)
			}
			if mk := requestBodies[req.Op]; mk != nil {
				v := mk()
				if decode(req.Body, v) == nil {
					if s, ok := v.(*proto.SubmitRequest); ok && validKey(s.Key) == nil {
						for _, r := range s.Key {
							if r == '/' || r == '.' || r == 0 {
								t.Fatalf("key %q accepted", s.Key)
							}
						}
					}
				}
			}
		}
		lr.release()
		if got := b.used(); got != 0 {
			t.Fatalf("budget used after release: %d", got)
		}
	})
}

// startServer serves the protocol on a socket of a temporary directory
// for a daemon with no store: enough for ping.
func startServer(t *testing.T, conf func(*config.Config), idle time.Duration) *server {
	t.Helper()
	d := &Daemon{log: slog.New(slog.DiscardHandler), dir: t.TempDir()}
	d.cfg = config.Default(config.Machine{CPUs: 1})
	if conf != nil {
		conf(&d.cfg)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: proto.SocketPath(d.dir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(d, ln)
	if idle > 0 {
		s.idle = idle
	}
	done := make(chan struct{})
	go func() { s.serve(context.Background()); close(done) }()
	t.Cleanup(func() { s.stop(); <-done })
	return s
}

func ping(t *testing.T, c net.Conn, r *bufio.Reader) proto.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(time.Minute))
	c.Write([]byte(`{"version":1,"op":"ping"}` + "\n"))
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	var resp proto.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestServerClosesIdleConnection(t *testing.T) {
	s := startServer(t, nil, 50*time.Millisecond)
	c, err := net.Dial("unix", proto.SocketPath(s.d.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if resp := ping(t, c, r); !resp.OK {
		t.Fatalf("ping: %+v", resp)
	}
	// Nothing more is sent: the daemon ends the connection.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read gives %v, want end of file", err)
	}
}

func TestServerRefusesOverUserLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxUserConnections = 2 }, 0)
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("unix", proto.SocketPath(s.d.dir))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns[:2] {
		if resp := ping(t, c, bufio.NewReader(c)); !resp.OK {
			t.Errorf("connection %d of the limit of 2: %+v", i, resp.Error)
		}
	}
	if resp := ping(t, conns[2], bufio.NewReader(conns[2])); resp.OK || resp.Error.Code != proto.CodeBusy {
		t.Errorf("third connection, limit 2: %+v", resp)
	}
	// A slot given back is taken again.
	conns[0].Close()
	var c net.Conn
	for try := 0; ; try++ {
		var err error
		if c, err = net.Dial("unix", proto.SocketPath(s.d.dir)); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp := ping(t, c, bufio.NewReader(c)); resp.OK {
			break
		}
		if try == 1000 {
			t.Fatal("the slot of a closed connection is not given back")
		}
		time.Sleep(10 * time.Millisecond) // the daemon sees the close after we do
	}
}
