package daemon

// Limits of the protocol server: what one user, or everyone together, may
// make the daemon hold. The socket is world-writable, so every local user
// reaches this code; none of them may make it run out of descriptors or
// memory, or keep another user's qstat and qsub from being answered.
//
//   - Connections: at most max_user_connections per uid and
//     max_connections in all (lazarus.conf), counted at accept from
//     SO_PEERCRED. A connection over a limit gets a "busy" error line and
//     is closed at once, before it is given a goroutine or a buffer. Root's
//     connections do not count against max_connections, so that an
//     administrator can always connect. The total is also kept below the
//     daemon's RLIMIT_NOFILE (which the Go runtime raises to the hard
//     limit at start, and restores for the processes we start).
//   - Request lines: at most proto.MaxLine bytes, proto.MaxSubmitLine for a
//     submission, read into a buffer that grows only as the line does; a
//     longer line is refused with bad_request and the connection closed.
//     What a line needs beyond the connection's own buffer comes from a
//     budget of requestBudget bytes for all connections, of which one uid
//     may hold userBudget; a line that finds the budget spent is refused
//     with "busy".
//   - Time: a connection waiting for its next request is closed after
//     idleTimeout; a request must arrive whole within readTimeout of its
//     first byte; each reply line must be written within writeTimeout;
//     each handler runs under a deadline (opPolicies).
//   - A client that hangs up while its request is handled cancels the
//     request's context (qstat -w, qchkpnt waiting for a checkpoint), so
//     that the handler ends; requests that change state on the way
//     (maintenance) are carried through and only their reply is lost.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
)

const (
	idleTimeout  = 2 * time.Minute // waiting for the next request
	readTimeout  = time.Minute     // one request line, from its first byte
	writeTimeout = time.Minute     // one reply or progress line
	// stopWriteTimeout is what a reply has once the daemon stops.
	stopWriteTimeout = time.Second
	// connBuffer is each connection's read and write buffer: what an
	// ordinary request needs, taken without the budget.
	connBuffer = 16 << 10
	// requestBudget bounds the bytes of request lines longer than
	// connBuffer held at once, from the first byte to the reply, all
	// connections together; userBudget those of one uid (two submissions
	// of the largest size). Decoding a submission (its body, then its
	// base64 script) takes about twice its line again while it is
	// handled, so the memory of requests stays under about three times
	// requestBudget.
	requestBudget = 128 << 20
	userBudget    = 2 * proto.MaxSubmitLine
	// fdReserve is kept out of the connection limit for the daemon's own
	// files: the store, logs, supervisors' pipes, checkpoint images.
	fdReserve = 256
)

// opPolicy says how long a handler may run and whether the client hanging
// up cancels it.
type opPolicy struct {
	timeout time.Duration
	// detach: carried through when the client leaves (only a stop of the
	// daemon cancels it), for requests that change state as they go.
	detach bool
}

// defaultPolicy is that of requests not in opPolicies: they answer from
// the store, or make one change, and take well under a second.
var defaultPolicy = opPolicy{timeout: 2 * time.Minute}

var opPolicies = map[string]opPolicy{
	proto.OpWait: {timeout: proto.MaxWait + time.Minute},
	// qchkpnt waits for the checkpoint, which goes on if the wait ends.
	proto.OpCheckpoint: {timeout: 24 * time.Hour},
	// qhold of a running job checkpoints it first.
	proto.OpHold:  {timeout: 24 * time.Hour},
	proto.OpAdopt: {timeout: time.Hour}, // copies an image
	// qsub -I waits for its job to start, as long as that takes.
	proto.OpAttach: {timeout: 365 * 24 * time.Hour},
	// Maintenance checkpoints every job and may stop the daemon: stopping
	// half-way because qmgr's terminal closed would leave the machine
	// half-drained. It has its own deadline (DeadlineS).
	proto.OpMaintain: {timeout: 7 * 24 * time.Hour, detach: true},
}

// errBusy refuses a request for lack of a resource that other requests
// hold: the same request may succeed later.
func errBusy(format string, args ...any) error {
	return &proto.Error{Code: proto.CodeBusy, Message: fmt.Sprintf(format, args...)}
}

// connLimits counts admitted connections per uid.
type connLimits struct {
	mu    sync.Mutex
	byUID map[uint32]int
	total int // of uids other than root
}

// admit takes a connection slot for uid, or says why there is none. max
// is the global limit, perUID that of one uid.
func (l *connLimits) admit(uid uint32, perUID, max int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.byUID[uid]; n >= perUID {
		return errBusy("uid %d has %d connections to lazarusd, the most one user may have (max_user_connections); close some and try again", uid, n)
	}
	if uid != 0 && l.total >= max {
		return errBusy("lazarusd has %d connections, the most it takes (max_connections); try again later", l.total)
	}
	l.byUID[uid]++
	if uid != 0 {
		l.total++
	}
	return nil
}

func (l *connLimits) release(uid uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUID[uid]--; l.byUID[uid] <= 0 {
		delete(l.byUID, uid)
	}
	if uid != 0 {
		l.total--
	}
}

// fdLimit returns how many connections the descriptor limit leaves room
// for (the limit may change while the daemon runs: prlimit).
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 30
	}
	return max(int(rl.Cur)-fdReserve, 1)
}

// budget is the memory of request lines in progress, in bytes.
type budget struct {
	mu     sync.Mutex
	total  int
	byUID  map[uint32]int
	limit  int
	perUID int
}

func newBudget(limit, perUID int) *budget {
	return &budget{byUID: map[uint32]int{}, limit: limit, perUID: perUID}
}

func (b *budget) acquire(uid uint32, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > b.limit || b.byUID[uid]+n > b.perUID {
		return false
	}
	b.total += n
	b.byUID[uid] += n
	return true
}

func (b *budget) release(uid uint32, n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.byUID[uid] -= n; b.byUID[uid] <= 0 {
		delete(b.byUID, uid)
	}
}

func (b *budget) used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// errLineTooLong is a request line over its limit.
type errLineTooLong struct {
	limit int
	op    string
}

func (e *errLineTooLong) Error() string {
	if e.op != "" {
		return fmt.Sprintf("request line longer than %d bytes, the limit of a %s request", e.limit, e.op)
	}
	return fmt.Sprintf("request line longer than %d bytes, the limit of a request other than a submission (%d)", e.limit, proto.MaxSubmitLine)
}

// lineReader reads request lines of one connection within their limits
// and the budget.
type lineReader struct {
	r      *bufio.Reader
	budget *budget
	uid    uint32
	held   int // budget bytes of the last line, until release
}

func newLineReader(r io.Reader, b *budget, uid uint32) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, connBuffer), budget: b, uid: uid}
}

// next returns the next line, without its newline, valid until the next
// call or release. A line that fits in the connection's buffer is not
// copied. A line over its limit is *errLineTooLong, one that would
// overdraw the budget a busy *proto.Error; the rest of the line is not
// read.
func (lr *lineReader) next() ([]byte, error) {
	lr.release()
	frag, err := lr.r.ReadSlice('\n')
	if err == nil {
		return frag[:len(frag)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	limit, op := lineLimit(frag)
	var line []byte
	for {
		need := len(line) + len(frag)
		if need > limit {
			return nil, &errLineTooLong{limit: limit, op: op}
		}
		if need > cap(line) {
			grown := min(max(2*cap(line), need, 4*connBuffer), limit)
			// Counted as grown; the old buffer, garbage once copied, is not.
			if !lr.budget.acquire(lr.uid, grown-lr.held) {
				return nil, errBusy("lazarusd holds too many large requests at the moment (%d MiB in all, %d MiB of one user); try again later",
					requestBudget>>20, userBudget>>20)
			}
			buf := make([]byte, len(line), grown)
			copy(buf, line)
			line, lr.held = buf, grown
		}
		line = append(line, frag...)
		if err == nil {
			return line[:len(line)-1], nil
		}
		if frag, err = lr.r.ReadSlice('\n'); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// release gives back the budget of the last line.
func (lr *lineReader) release() {
	lr.budget.release(lr.uid, lr.held)
	lr.held = 0
}

// lineLimit returns the limit of a request line from its beginning, and
// the operation that gives it: submissions carry scripts and have the
// larger limit.
func lineLimit(prefix []byte) (int, string) {
	if sniffOp(prefix) == proto.OpSubmit {
		return proto.MaxSubmitLine, proto.OpSubmit
	}
	return proto.MaxLine, ""
}

// sniffOp returns the operation a request line names in its beginning, ""
// if it names none there. encoding/json writes "version" and "op" before
// "body", so the beginning of a client's line names it, however long the
// line; a key whose value is an object or array ends the search.
func sniffOp(prefix []byte) string {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return ""
		}
		v, err := dec.Token()
		if err != nil {
			return ""
		}
		if _, ok := v.(json.Delim); ok {
			return "" // an object or array: "body", or not one of ours
		}
		if k == "op" {
			op, _ := v.(string)
			return op
		}
	}
	return ""
}

// watchHangup cancels a request's context when its client hangs up while
// the request is handled: it waits for the socket to become readable and
// peeks; end of file (or a reset) is the client gone. Data (a client that
// sends its next request early) ends the watch without cancelling. stop
// ends the watch, through a read deadline in the past, and waits for it;
// the caller sets the next deadline.
func watchHangup(conn *net.UnixConn, cancel context.CancelFunc) (stop func()) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gone := false
		raw.Read(func(fd uintptr) bool {
			var b [1]byte
			n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			for errors.Is(err, unix.EINTR) {
				n, _, err = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			}
			switch {
			case errors.Is(err, unix.EAGAIN):
				return false // nothing yet: wait for readiness
			case err != nil, n == 0:
				gone = true
			}
			return true
		})
		if gone {
			cancel()
		}
	}()
	return func() {
		conn.SetReadDeadline(time.Unix(1, 0))
		<-done
	}
}
