package daemon

// Interactive jobs (qsub -I, qrestart --attach). The daemon only brings
// the two ends together: a client's attach request waits here until the
// job's run has a terminal (its supervisor listens on the run directory's
// supervisor.TTYSocket), is answered OK, and the client's connection
// itself is then handed to the supervisor with SCM_RIGHTS; this
// connection's goroutine ends without closing the socket, which the
// supervisor now holds. From then on the session does not go through the
// daemon: a daemon restart leaves it alone.
//
// A run gets a terminal at the job's first start, and on a restart from a
// checkpoint asked for by qrestart --attach (pending in termWaits until
// the run's spec is made); any other restart of an interactive job runs in
// batch, its terminal descriptors re-pointed to its output file.
//
// A client that hangs up while its job has not started yet has its job
// deleted, as PBS aborts the job of an interrupted qsub -I.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
)

// attachPoll is how often a waiting attach looks at its job; attachStart
// bounds the wait, once the job's run is active, for its terminal.
const (
	attachPoll  = 100 * time.Millisecond
	attachStart = time.Minute
)

// errHijacked is returned by a handler that handed its connection over:
// nothing more is written on it.
var errHijacked = errors.New("connection handed over")

// termWaits are the jobs whose next run is to have a terminal
// (qrestart --attach waits for it).
type termWaits struct {
	mu   sync.Mutex
	want map[jobs.ID]int
}

func (w *termWaits) add(id jobs.ID, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.want == nil {
		w.want = map[jobs.ID]int{}
	}
	if w.want[id] += n; w.want[id] <= 0 {
		delete(w.want, id)
	}
}

// take reports whether a run of id starting now gets a terminal for a
// waiting qrestart --attach, and consumes the wish.
func (w *termWaits) take(id jobs.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.want[id] > 0 {
		delete(w.want, id)
		return true
	}
	return false
}

// hijacker lets a handler take its connection over (attach).
type hijacker struct {
	conn  *net.UnixConn
	write func(proto.Response) error
	taken bool
}

type hijackKey struct{}

// take answers the request with reply, then returns a descriptor of the
// connection for the new owner.
func (h *hijacker) take(reply any) (*os.File, error) {
	b, err := json.Marshal(reply)
	if err != nil {
		return nil, err
	}
	f, err := h.conn.File() // a dup: closing ours leaves the socket open
	if err != nil {
		return nil, err
	}
	h.taken = true
	if err := h.write(proto.Response{Version: proto.Version, OK: true, Body: b}); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// attach handles qsub -I's and qrestart --attach's request for a job's
// terminal.
func (d *Daemon) attach(ctx context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.AttachRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id := jobs.ID(req.ID)
	h, _ := ctx.Value(hijackKey{}).(*hijacker)
	if h == nil {
		return nil, &proto.Error{Code: proto.CodeInternal, Message: "attach: the connection cannot be handed over"}
	}
	cur := d.store.View().Job(id)
	if cur == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if cur.Owner.UID != who.uid && who.uid != 0 {
		return nil, denied("job %s is %s's: only its owner may attach a terminal to it", id, cur.Owner.Name)
	}
	if !cur.Attrs.Interactive {
		return nil, conflict("job %s is not an interactive job (qsub -I): it has no terminal", id)
	}
	runs := len(cur.Segments)
	if req.Restart {
		if cur.State.Active() {
			return nil, conflict("job %s is %s: stop it first with qhold (which checkpoints it), then qrestart --attach %s", id, cur.State, id)
		}
		d.terms.add(id, 1)
		defer d.terms.add(id, -1) // the run took it, or it never came
		rb, _ := json.Marshal(proto.RestartRequest{ID: req.ID, Gen: req.Gen})
		if _, err := d.restartJob(ctx, who, rb); err != nil {
			return nil, err
		}
	} else if cur.State.Terminal() {
		return nil, conflict("job %s has ended (%s)", id, cur.State)
	}
	sock := filepath.Join(d.jobRunDir(id), supervisor.TTYSocket)
	var activeSince time.Time
	for {
		j := d.store.View().Job(id)
		switch {
		case j == nil:
			return nil, notFound("job %s was deleted", id)
		case j.State.Terminal():
			why := string(j.State)
			if j.Reason != "" {
				why += ": " + j.Reason
			}
			return nil, conflict("job %s ended before a terminal was attached (%s)", id, why)
		case j.State.Active() && (len(j.Segments) > runs || !req.Restart):
			if activeSince.IsZero() {
				activeSince = time.Now()
			}
			if sc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"}); err == nil {
				return nil, d.handOver(h, sc, id)
			}
			if time.Since(activeSince) > attachStart {
				return nil, conflict("job %s runs without a terminal (an interactive job restarted in batch); stop it (qchkpnt -k, qhold) and use qrestart --attach %s", id, id)
			}
		}
		select {
		case <-ctx.Done():
			if d.ctx.Err() != nil {
				// Stopping: the job stays; qsub waits for the next daemon.
				return nil, &proto.Error{Code: proto.CodeUnavailable, Message: "lazarusd is stopping; the job stays queued"}
			}
			if !req.Restart {
				// qsub -I went away before its job had a terminal:
				// the job goes too (PBS aborts it).
				db, _ := json.Marshal(proto.JobRequest{ID: req.ID})
				if _, err := d.deleteJob(context.WithoutCancel(ctx), who, db); err == nil {
					d.log.Info("interactive job deleted: its qsub went away before the job started", "job_id", id)
				}
			}
			return nil, ctx.Err()
		case <-time.After(attachPoll):
		}
	}
}

// handOver answers the client and gives its connection to the run's
// supervisor through sc.
func (d *Daemon) handOver(h *hijacker, sc *net.UnixConn, id jobs.ID) error {
	defer sc.Close()
	f, err := h.take(proto.AttachReply{ID: uint64(id)})
	if err != nil {
		return errHijacked // the client is gone; the supervisor's wait ends the run
	}
	defer f.Close()
	sc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := sc.WriteMsgUnix([]byte{1}, unix.UnixRights(int(f.Fd())), nil); err != nil {
		d.log.Error("cannot hand a terminal session to the job's supervisor", "job_id", id, "error", err)
	} else {
		d.log.Info("terminal session handed to the job's supervisor", "job_id", id)
	}
	return errHijacked
}

// runTerminal says whether a run of j starting now gets a terminal: an
// interactive job's first run, and a restart asked for by qrestart --attach.
func (d *Daemon) runTerminal(j *jobs.Job, restore string) bool {
	if !j.Attrs.Interactive {
		return false
	}
	return restore == "" || d.terms.take(j.ID)
}

// interactiveAttrs checks a submission's -I.
func interactiveAttrs(req *proto.SubmitRequest, j *jobs.Job) error {
	if !req.Interactive {
		return nil
	}
	if req.Array != "" {
		return badRequest("-I: an array job cannot be interactive")
	}
	j.Attrs.Interactive = true
	return nil
}
