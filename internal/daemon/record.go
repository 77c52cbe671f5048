package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/jobs"
	"lazarus/queue"
)

// Records that wait for the disk. A change the daemon records because it
// has already happened (a checkpoint ended, a run ended or was lost) cannot
// be refused like a request: when the store cannot be written (the state
// directory is full, its disk fails), the change waits here and is tried
// again, oldest first, with backoff, until it is recorded or the daemon
// stops (the next daemon then finds what happened in the run directories).
// Nothing is acted on before it is recorded: a checkpoint's superseded
// generations are deleted, a restart goes on, only after its record.
//
// While a change waits, qstat says so, and a new checkpoint of its job is
// refused with the reason.

// pendingRecord is one change to record; try records it (and does what
// follows it), returning an error wrapping queue.ErrWrite to be tried
// again, nil once done.
type pendingRecord struct {
	id   jobs.ID
	what string
	try  func() error
}

// recorder holds the changes waiting to be recorded. Its loop is owned by
// Run and ends with the daemon.
type recorder struct {
	mu      sync.Mutex
	pending []pendingRecord
	lastErr error
	since   time.Time
	kick    chan struct{}
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{}, 1)} }

// Backoff of the retries: from first, doubling, to most.
const (
	retryFirst = 100 * time.Millisecond
	retryMost  = 5 * time.Second
)

// record runs try, and queues it to be tried again if the store could not
// be written.
func (d *Daemon) record(id jobs.ID, what string, try func() error) {
	err := try()
	if !errors.Is(err, queue.ErrWrite) {
		return
	}
	r := d.records
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.since = time.Now()
	}
	r.pending = append(r.pending, pendingRecord{id: id, what: what, try: try})
	r.lastErr = err
	r.mu.Unlock()
	d.log.Error("a state change cannot be recorded; it is tried again until it is",
		"job_id", id, "change", what, "error", err)
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// waiting reports whether a change of the job waits to be recorded.
func (r *recorder) waiting(id jobs.ID) (string, error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pending {
		if p.id == id {
			return p.what, r.lastErr, true
		}
	}
	return "", nil, false
}

// recordLoop retries the waiting changes until each is recorded; it ends
// with ctx.
func (d *Daemon) recordLoop(ctx context.Context) {
	r := d.records
	wait := retryFirst
	for {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 0 {
			wait = retryFirst
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if d.retryPending(ctx) {
			wait = retryFirst
		} else {
			wait = min(2*wait, retryMost)
		}
	}
}

// retryPending tries the waiting changes in order, stopping at the first
// that still cannot be written; true when all are recorded.
func (d *Daemon) retryPending(ctx context.Context) bool {
	r := d.records
	for ctx.Err() == nil {
		r.mu.Lock()
		if len(r.pending) == 0 {
			r.lastErr = nil
			r.mu.Unlock()
			return true
		}
		p := r.pending[0]
		r.mu.Unlock()
		err := p.try()
		r.mu.Lock()
		if errors.Is(err, queue.ErrWrite) {
			r.lastErr = err
			r.mu.Unlock()
			return false
		}
		r.pending = r.pending[1:]
		r.mu.Unlock()
		d.log.Info("a state change that had waited is recorded", "job_id", p.id, "change", p.what)
	}
	return false
}

// minFree is the free space of the state directory below which qstat
// calls it full.
const minFree = 1 << 20

// stateProblem says what is wrong with the state directory, for qstat:
// that it is full, and what waits to be recorded; "" when nothing is.
func (d *Daemon) stateProblem() string {
	var msg string
	var st unix.Statfs_t
	if err := unix.Statfs(d.dir, &st); err == nil {
		if free := int64(st.Bavail) * st.Bsize; free < minFree {
			msg = fmt.Sprintf("the state directory %s is full (%s free)", d.dir, sizeText(free))
		}
	}
	if p := d.acctProblem(); p != "" {
		msg = strings.TrimPrefix(msg+"; "+p, "; ")
	}
	r := d.records
	r.mu.Lock()
	n, err, since := len(r.pending), r.lastErr, r.since
	r.mu.Unlock()
	if n == 0 {
		return msg
	}
	changes := "state changes wait"
	if n == 1 {
		changes = "state change waits"
	}
	if msg == "" {
		msg = "the state directory " + d.dir + " cannot be written"
	}
	return fmt.Sprintf("%s: %d %s to be recorded since %s (%v)", msg, n, changes,
		since.Format("15:04:05"), err)
}
