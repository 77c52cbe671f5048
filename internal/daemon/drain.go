package daemon

import (
	"context"
	"encoding/json"
	"time"

	"lazarus/internal/cluster"
	"lazarus/internal/proto"
	"lazarus/jobs"
)

// Draining an offline node (pbsnodes -o HOST, qmgr -c "offline node HOST";
// server only). Each checkpointable job running there is checkpointed,
// stopped and requeued by its node (as qchkpnt -k), then placed on
// another node from that checkpoint. The others run on to their end.
// With a deadline (cluster.Admin.DrainBy: pbsnodes --drain-timeout or
// drain_timeout), the jobs still running on the node once it has passed
// (not checkpointable, or their checkpoint failed) are requeued if they
// are rerunnable, killed and run again elsewhere from the start (or their
// newest checkpoint), and left to finish there if not, with an event in
// their history that says so. Each run is asked once of each.

// drainer is what the server asked of each job's run: the migration, and
// the requeue past the deadline (by run index).
type drainer struct {
	asked, late map[jobs.ID]int
}

func newDrainer() *drainer {
	return &drainer{asked: map[jobs.ID]int{}, late: map[jobs.ID]int{}}
}

// drainDeadline is the DrainBy of a node marked offline at now: the
// request's timeout, else the server's; zero for none.
func drainDeadline(now time.Time, reqSec float64, server time.Duration) time.Time {
	t := server
	if reqSec > 0 {
		t = time.Duration(reqSec * float64(time.Second))
	}
	if t <= 0 {
		return time.Time{}
	}
	return now.Add(t).Round(time.Second)
}

func (d *Daemon) drain(ctx context.Context, dr *drainer) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	admin, err := d.cl.node.Admins(actx)
	var up map[string]cluster.Info
	if err == nil {
		up, err = d.cl.node.Members(actx)
	}
	cancel()
	if err != nil {
		return
	}
	d.clearMoves(up, admin)
	now := time.Now()
	for _, j := range d.store.View().Active() {
		if d.drainSpanning(ctx, j, admin, dr.asked) { // multichunk.go
			continue
		}
		seg, ok := j.Current()
		if !ok || len(seg.Exec) == 0 || j.State != jobs.Running {
			continue
		}
		host := seg.Exec[0].Host
		a := admin[host]
		if !a.Offline {
			continue
		}
		id, n := j.ID, len(j.Segments)
		if !a.DrainBy.IsZero() && !now.Before(a.DrainBy) {
			if dr.late[id] == n {
				continue
			}
			dr.late[id] = n
			if j.Rerunnable {
				d.log.Info("drain deadline passed: requeueing a job left on the node", "job_id", id, "from", host)
				d.askNode(ctx, host, id, proto.OpRerun, proto.RerunRequest{ID: uint64(id)})
				continue
			}
			d.log.Info("drain deadline passed: a job that is not rerunnable is left to finish", "job_id", id, "from", host)
			d.store.UpdateJob(id, func(j *jobs.Job) error {
				if len(j.Segments) != n || !j.State.Active() {
					return errNotPending
				}
				j.Event(now.Round(0), "the drain deadline of node %s passed: not rerunnable, the job is left to finish there", host)
				return nil
			})
			continue
		}
		if j.Checkpoint.Kind == jobs.CheckpointNever || dr.asked[id] == n {
			continue
		}
		dr.asked[id] = n
		d.log.Info("migrating a job away from an offline node", "job_id", id, "from", host)
		d.askNode(ctx, host, id, proto.OpCheckpoint, proto.CheckpointRequest{ID: uint64(id), Stop: true, NoWait: true})
	}
}

// askNode sends a request about job id to the node that runs it, as root
// (the server's own decision); the node answers once it has begun.
func (d *Daemon) askNode(ctx context.Context, host string, id jobs.ID, op string, req any) {
	body, _ := json.Marshal(req)
	line, _ := json.Marshal(proto.Request{Version: proto.Version, Op: op, Body: body})
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b, err := d.cl.node.Forward(fctx, host, cluster.Request{UID: 0, GID: 0, User: "root", Line: line})
	var resp proto.Response
	if err == nil {
		err = json.Unmarshal(b, &resp)
	}
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		d.log.Warn("a node did not do what the drain asked", "job_id", id, "from", host, "op", op, "error", err)
	}
}
