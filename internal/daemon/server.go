package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
)

// server accepts protocol connections. Each admitted connection has a
// goroutine that reads one request line at a time, answers it, and ends
// when the client hangs up, stays idle too long, breaks a limit (conn.go),
// or stop is called.
type server struct {
	d  *Daemon
	ln *net.UnixListener

	mu       sync.Mutex
	conns    map[*net.UnixConn]struct{}
	closed   bool
	stopping atomic.Bool // read by writers after they set a deadline
	wg       sync.WaitGroup
	cancel   context.CancelFunc // ends requests in progress (qstat -w)

	limits connLimits
	budget *budget
	idle   time.Duration // idleTimeout; shorter in tests
}

func newServer(d *Daemon, ln *net.UnixListener) *server {
	return &server{d: d, ln: ln, conns: map[*net.UnixConn]struct{}{},
		limits: connLimits{byUID: map[uint32]int{}}, budget: newBudget(requestBudget, userBudget), idle: idleTimeout}
}

// serve accepts connections until stop. Who connects is read here, from
// SO_PEERCRED, and a connection over its user's or the global limit is
// refused here, before it costs a goroutine or a buffer.
func (s *server) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.d.log.Error("accept", "error", err)
			time.Sleep(100 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		cred, err := peerCred(conn)
		if err != nil {
			s.d.log.Error("cannot identify a client; connection refused", "error", err)
			conn.Close()
			continue
		}
		cfg := s.d.config()
		if err := s.limits.admit(cred.Uid, cfg.MaxUserConnections, min(cfg.MaxConnections, fdLimit())); err != nil {
			s.d.log.Debug("connection refused", "uid", cred.Uid, "pid", cred.Pid, "error", err)
			// A fresh socket's send buffer is empty: this write does not
			// wait for the client.
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			w := bufio.NewWriterSize(conn, 512)
			writeResponse(w, failure(err))
			conn.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.limits.release(cred.Uid)
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handleConn(ctx, conn, cred)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			conn.Close()
			s.limits.release(cred.Uid)
		}()
	}
}

// stop closes the listener, ends requests in progress and waits for every
// connection's goroutine. Requests already answered stay answered.
func (s *server) stop() {
	s.mu.Lock()
	s.closed = true
	s.stopping.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	s.ln.Close()
	for c := range s.conns {
		// Ends a connection waiting for its next request (a read of a shut
		// read side is end of file, whatever deadline the connection sets
		// next), and, within a second, one writing a reply to a client
		// that does not read it. A request being handled is finished
		// first, and its reply has that second too: a qsub whose job was
		// stored is told its id rather than that the connection closed.
		c.CloseRead()
		c.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// caller is who sent a request, as the kernel says.
type caller struct {
	uid, gid uint32
	pid      int32
	groups   []uint32
	name     string
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var (
		cred *unix.Ucred
		err2 error
	)
	err = raw.Control(func(fd uintptr) {
		cred, err2 = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err = errors.Join(err, err2); err != nil {
		return nil, err
	}
	return cred, nil
}

// peer completes the caller of an admitted connection: its supplementary
// groups and its user name.
func peer(c *net.UnixConn, cred *unix.Ucred) (caller, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return caller{}, err
	}
	var (
		groups []uint32
		err2   error
	)
	err = raw.Control(func(fd uintptr) { groups, err2 = peerGroups(int(fd)) })
	if err = errors.Join(err, err2); err != nil {
		return caller{}, err
	}
	return caller{uid: cred.Uid, gid: cred.Gid, pid: cred.Pid, groups: groups, name: userName(cred.Uid)}, nil
}

// peerGroups reads SO_PEERGROUPS: the peer's supplementary groups, which
// x/sys/unix has no wrapper for. A buffer too small gets ERANGE and the
// size needed.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 32)
	for {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch e {
		case 0:
			return buf[:n/4], nil
		case unix.ERANGE:
			if int(n/4) <= len(buf) {
				return nil, fmt.Errorf("getsockopt SO_PEERGROUPS: %w", e)
			}
			buf = make([]uint32, n/4)
		case unix.EINTR:
		default:
			return nil, fmt.Errorf("getsockopt SO_PEERGROUPS: %w", e)
		}
	}
}

func userName(uid uint32) string {
	s := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}

func (s *server) handleConn(ctx context.Context, conn *net.UnixConn, cred *unix.Ucred) {
	who, err := peer(conn, cred)
	if err != nil {
		s.d.log.Error("cannot identify a client; connection refused", "error", err)
		return
	}
	lr := newLineReader(conn, s.budget, who.uid)
	defer lr.release()
	w := bufio.NewWriterSize(conn, connBuffer)
	var wmu sync.Mutex // progress lines may come from several goroutines of a handler
	write := func(resp proto.Response) error {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if s.stopping.Load() {
			// stop may have set its deadline before ours.
			conn.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
		}
		return writeResponse(w, resp)
	}
	for {
		// Idle: waiting for the first byte of the next request.
		conn.SetReadDeadline(time.Now().Add(s.idle))
		if _, err := lr.r.Peek(1); err != nil {
			return
		}
		conn.SetReadDeadline(time.Now().Add(readTimeout))
		line, err := lr.next()
		var tooLong *errLineTooLong
		var pe *proto.Error
		switch {
		case errors.As(err, &tooLong):
			s.d.log.Warn("request line too long; connection closed", "uid", who.uid, "pid", who.pid, "limit", tooLong.limit)
			write(failure(badRequest("%v", err)))
			return
		case errors.As(err, &pe):
			s.d.log.Warn("request refused; connection closed", "uid", who.uid, "pid", who.pid, "error", err)
			write(failure(err))
			return
		case err != nil:
			return // hung up, or too slow
		}
		resp, taken := s.handle(ctx, conn, who, line, write)
		lr.release()
		if taken {
			return // handed over (attach): the socket is the supervisor's now
		}
		if write(resp) != nil {
			return
		}
	}
}

// handle runs one request under its policy: a deadline, and a context
// that the client hanging up cancels unless the request is detached.
func (s *server) handle(ctx context.Context, conn *net.UnixConn, who caller, line []byte, write func(proto.Response) error) (proto.Response, bool) {
	p, ok := opPolicies[sniffOp(line[:min(len(line), connBuffer)])]
	if !ok {
		p = defaultPolicy
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := func() {}
	if !p.detach {
		stop = watchHangup(conn, cancel)
	}
	hctx, cancelT := context.WithTimeout(hctx, p.timeout)
	defer cancelT()
	hctx = context.WithValue(hctx, progressKey{}, func(msg string) {
		write(proto.Response{Version: proto.Version, OK: true, Progress: msg})
	})
	h := &hijacker{conn: conn, write: write}
	hctx = context.WithValue(hctx, hijackKey{}, h)
	resp := s.d.dispatch(hctx, who, line)
	stop()
	return resp, h.taken
}

// writeResponse writes one reply line. A successful reply's body is
// already JSON: it is written as it is, not re-encoded (encoding/json would
// scan a RawMessage again, which costs on a reply listing every job).
func writeResponse(w *bufio.Writer, resp proto.Response) error {
	if resp.OK && resp.Error == nil && len(resp.Body) > 0 {
		fmt.Fprintf(w, `{"version":%d,"ok":true,"body":`, resp.Version)
		w.Write(resp.Body)
		w.WriteString("}\n")
	} else if err := json.NewEncoder(w).Encode(resp); err != nil {
		return err
	}
	return w.Flush()
}

// dispatch answers one request line. A panic in a handler is a bug: it is
// logged with its stack and answered as an internal error, and the daemon
// goes on.
func (d *Daemon) dispatch(ctx context.Context, who caller, line []byte) (resp proto.Response) {
	req, err := parseRequest(line)
	if err != nil {
		return failure(err)
	}
	if resp, ok := d.forward(ctx, who, req, line); ok {
		return resp
	}
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("request handler panicked", "op", req.Op, "panic", p, "stack", string(debug.Stack()))
			resp = failure(&proto.Error{Code: proto.CodeInternal, Message: "lazarusd failed on this request (see its log)"})
		}
	}()
	body, err := handlers[req.Op](d, ctx, who, req.Body)
	if err != nil {
		return failure(err)
	}
	out := proto.Response{Version: proto.Version, OK: true}
	if raw, ok := body.(json.RawMessage); ok {
		out.Body = raw // already encoded by the handler
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return failure(err)
		}
		out.Body = b
	}
	return out
}

// parseRequest decodes a request line's envelope: a request of our
// version, for an operation that has a handler. The body is left to the
// handler.
func parseRequest(line []byte) (proto.Request, error) {
	var req proto.Request
	if err := json.Unmarshal(line, &req); err != nil {
		return req, badRequest("malformed request: %v", err)
	}
	if req.Version != proto.Version {
		return req, &proto.Error{Code: proto.CodeBadVersion, Message: fmt.Sprintf(
			"protocol version %d is not supported; lazarusd speaks version %d", req.Version, proto.Version)}
	}
	if _, ok := handlers[req.Op]; !ok {
		return req, badRequest("unknown operation %q", req.Op)
	}
	return req, nil
}

type handler func(d *Daemon, ctx context.Context, who caller, body json.RawMessage) (any, error)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		proto.OpPing:        (*Daemon).ping,
		proto.OpSubmit:      (*Daemon).submit,
		proto.OpStatus:      (*Daemon).status,
		proto.OpWait:        (*Daemon).wait,
		proto.OpHold:        (*Daemon).hold,
		proto.OpRelease:     (*Daemon).release,
		proto.OpDelete:      (*Daemon).deleteJob,
		proto.OpQueueCreate: (*Daemon).queueCreate,
		proto.OpQueueDelete: (*Daemon).queueDelete,
		proto.OpQueueSet:    (*Daemon).queueSet,
		proto.OpQueueList:   (*Daemon).queueList,
		proto.OpServerSet:   (*Daemon).serverSet,
		proto.OpServerList:  (*Daemon).serverList,
		proto.OpShutdown:    (*Daemon).shutdownOp,
		proto.OpCheckpoint:  (*Daemon).checkpointJob,
		proto.OpRestart:     (*Daemon).restartJob,
		proto.OpScheduling:  (*Daemon).scheduling,
		proto.OpMaintain:    (*Daemon).maintain,
		proto.OpAdopt:       (*Daemon).adoptImage,
		proto.OpSignal:      (*Daemon).signalJob,
		proto.OpRerun:       (*Daemon).rerunJob,
		proto.OpMove:        (*Daemon).moveJob,
		proto.OpAlter:       (*Daemon).alterJob,
		proto.OpRun:         (*Daemon).runJob,
		proto.OpNodes:       (*Daemon).nodes,
		proto.OpOrder:       (*Daemon).orderJobs,
		proto.OpTrace:       (*Daemon).trace,
		proto.OpAttach:      (*Daemon).attach,
	}
}

// decode reads a request body; an empty body is the zero value.
func decode(body json.RawMessage, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("malformed request body: %v", err)
	}
	return nil
}

type progressKey struct{}

// progress returns the function that sends a progress line to the client
// of a request (it does nothing outside one). Handlers of long operations
// call it as they go; the reply follows the last line.
func progress(ctx context.Context) func(string) {
	if f, ok := ctx.Value(progressKey{}).(func(string)); ok {
		return f
	}
	return func(string) {}
}

func failure(err error) proto.Response {
	var pe *proto.Error
	if !errors.As(err, &pe) {
		pe = &proto.Error{Code: codeOf(err), Message: err.Error()}
	}
	return proto.Response{Version: proto.Version, Error: pe}
}

// codeOf maps errors of the packages below to protocol codes.
func codeOf(err error) string {
	var te *jobs.TransitionError
	switch {
	case errors.Is(err, queue.ErrNoJob), errors.Is(err, queue.ErrNoQueue):
		return proto.CodeNotFound
	case errors.As(err, &te), errors.Is(err, queue.ErrQueueExists):
		return proto.CodeConflict
	case errors.Is(err, queue.ErrClosed), errors.Is(err, context.Canceled):
		return proto.CodeUnavailable
	case errors.Is(err, queue.ErrBadQueue), errors.Is(err, jobs.ErrBadResource), errors.Is(err, jobs.ErrBadPolicy),
		errors.Is(err, jobs.ErrBadTime), errors.Is(err, jobs.ErrBadName), errors.Is(err, jobs.ErrBadJoin),
		errors.Is(err, jobs.ErrBadVar), errors.Is(err, jobs.ErrBadID):
		return proto.CodeBadRequest
	}
	return proto.CodeInternal
}

func badRequest(format string, args ...any) error {
	return &proto.Error{Code: proto.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &proto.Error{Code: proto.CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

func denied(format string, args ...any) error {
	return &proto.Error{Code: proto.CodePermission, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &proto.Error{Code: proto.CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// operator reports whether the caller may manage queues, the server and
// other users' jobs: root, the daemon's own user, and configured operators.
func (d *Daemon) operator(who caller) bool {
	return who.uid == 0 || int(who.uid) == d.uid || d.config().IsOperator(who.name)
}

func (d *Daemon) ping(_ context.Context, _ caller, _ json.RawMessage) (any, error) {
	return proto.PingReply{Version: proto.Version, PID: unix.Getpid(), StateDir: d.dir, Server: d.config().Server()}, nil
}
