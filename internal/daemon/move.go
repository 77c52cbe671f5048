package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"lazarus/internal/cluster"
	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
)

// qmove -n HOST JOB (cluster mode): one running checkpointable job moves to
// node HOST. The daemon that receives the request checks it (the owner or
// an operator; a running job that can be checkpointed; a node that is up,
// online, other than the job's, with room for it now), records the target
// in the job (MoveTo: the scheduler places its next start there only),
// then has the job's node checkpoint it, stop it and requeue it (as
// qchkpnt -k), and answers once that checkpoint has ended. The server
// restarts the job on HOST from it. A checkpoint that fails leaves the job
// running where it was, and the target is cleared; so is the target of a
// job whose node went down or offline before it restarted there (the
// server's drain pass), which then starts wherever it fits.

func (d *Daemon) moveToNode(ctx context.Context, who caller, req proto.MoveRequest) (any, error) {
	if d.cl == nil {
		return nil, badRequest("qmove -n: only in a cluster (etcd_endpoints), which has other nodes")
	}
	id := jobs.ID(req.ID)
	j := d.store.View().Job(id)
	if j == nil {
		return nil, notFound("unknown job id %s", id)
	}
	if err := d.mayManage(who, j); err != nil {
		return nil, err
	}
	if j.State != jobs.Running {
		return nil, conflict("job %s is %s; only a running job can move to another node", id, j.State)
	}
	if !j.Checkpoint.Checkpointable() {
		return nil, conflict("job %s has checkpoint policy n: it cannot be checkpointed, so it cannot move to another node", id)
	}
	seg, _ := j.Current()
	if len(seg.Exec) != 1 {
		return nil, conflict("job %s runs on %d nodes; only a job of one chunk can move", id, len(seg.Exec))
	}
	from, target := seg.Exec[0].Host, req.Node
	if target == from {
		return nil, conflict("job %s runs on node %s already", id, target)
	}
	info, err := d.clusterNodes(who, proto.NodesRequest{})
	if err != nil {
		return nil, err
	}
	var node *proto.NodeInfo
	for i, n := range info.(proto.NodeInfo).Nodes {
		if n.Name == target {
			node = &info.(proto.NodeInfo).Nodes[i]
		}
	}
	need := max(j.Resources.NCPUs, 1)
	switch {
	case node == nil:
		return nil, notFound("%s: unknown node", target)
	case node.State == "down":
		return nil, conflict("node %s is down", target)
	case strings.HasPrefix(node.State, "offline"):
		return nil, conflict("node %s is offline", target)
	case node.Slots-node.Assigned < need:
		return nil, conflict("node %s is full: %d of its %d slots are free, job %s needs %d", target, max(node.Slots-node.Assigned, 0), node.Slots, id, need)
	case node.MemBytes > 0 && j.Resources.Mem > node.MemBytes-node.AssignedMem:
		return nil, conflict("node %s is full: %s of memory free, job %s needs %s", target,
			jobs.FormatSize(max(node.MemBytes-node.AssignedMem, 0)), id, jobs.FormatSize(j.Resources.Mem))
	}
	n := len(j.Segments)
	now := time.Now().Round(0)
	if _, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
		if len(j.Segments) != n || j.State != jobs.Running {
			return conflict("job %s is %s; only a running job can move to another node", id, j.State)
		}
		j.MoveTo = target
		j.Event(now, "moving to node %s (qmove -n by %s): checkpoint, stop, restart there", target, who.name)
		return nil
	}); err != nil {
		return nil, unknownJob(err, id)
	}
	d.log.Info("moving a job to another node", "job_id", id, "from", from, "to", target, "by", who.name)
	if err := d.nodeCheckpointStop(ctx, from, id); err != nil {
		d.store.UpdateJob(id, func(j *jobs.Job) error {
			if j.MoveTo != target {
				return errNotPending
			}
			j.MoveTo = ""
			j.Event(time.Now().Round(0), "not moved to node %s: %v", target, err)
			return nil
		})
		return nil, fmt.Errorf("job %s stays on node %s: %w", id, from, err)
	}
	d.wake()
	return proto.JobReply{ID: uint64(id), State: string(jobs.Requeued)}, nil
}

// nodeCheckpointStop has node host checkpoint job id and stop it (as root:
// the request was checked), and waits for that checkpoint to end.
func (d *Daemon) nodeCheckpointStop(ctx context.Context, host string, id jobs.ID) error {
	body, _ := json.Marshal(proto.CheckpointRequest{ID: uint64(id), Stop: true})
	line, _ := json.Marshal(proto.Request{Version: proto.Version, Op: proto.OpCheckpoint, Body: body})
	fctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	b, err := d.cl.node.Forward(fctx, host, cluster.Request{UID: 0, GID: 0, User: "root", Line: line})
	if err != nil {
		return fmt.Errorf("node %s: %w", host, err)
	}
	var resp proto.Response
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("reply of node %s: %w", host, err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	return nil
}

// clearMoves drops the target of the jobs waiting to move to a node that
// is not up and online any more (server only): they start wherever they
// fit.
func (d *Daemon) clearMoves(up map[string]cluster.Info, admin map[string]cluster.Admin) {
	for _, j := range d.store.View().Active() {
		if j.MoveTo == "" || !j.State.Pending() {
			continue
		}
		target := j.MoveTo
		if _, ok := up[target]; ok && !admin[target].Offline {
			continue
		}
		_, err := d.store.UpdateJob(j.ID, func(j *jobs.Job) error {
			if j.MoveTo != target || !j.State.Pending() {
				return errNotPending
			}
			j.MoveTo = ""
			j.Event(time.Now().Round(0), "node %s went down or offline before the job restarted there: it starts wherever it fits", target)
			return nil
		})
		if err != nil && !errors.Is(err, errNotPending) && !errors.Is(err, queue.ErrNoJob) {
			d.log.Warn("cannot clear the move of a job", "job_id", j.ID, "error", err)
		}
	}
}
