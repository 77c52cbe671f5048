package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"lazarus/config"
	"lazarus/internal/proto"
	"lazarus/jobs"
	"lazarus/queue"
)

func (d *Daemon) mustOperate(who caller, what string) error {
	if d.operator(who) {
		return nil
	}
	return denied("only root and operators may %s", what)
}

func (d *Daemon) queueArg(body json.RawMessage) (proto.QueueRequest, error) {
	var req proto.QueueRequest
	if err := decode(body, &req); err != nil {
		return req, err
	}
	if req.Name == "" {
		return req, badRequest("no queue name")
	}
	return req, nil
}

func unknownQueue(err error, name string) error {
	if errors.Is(err, queue.ErrNoQueue) {
		return notFound("unknown queue %q", name)
	}
	return err
}

func (d *Daemon) queueCreate(_ context.Context, who caller, body json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "create queues"); err != nil {
		return nil, err
	}
	req, err := d.queueArg(body)
	if err != nil {
		return nil, err
	}
	if err := config.ValidateQueueName(req.Name); err != nil {
		return nil, badRequest("%v", err)
	}
	q := queue.NewQueue(req.Name, time.Now().Round(0))
	for _, a := range req.Attrs {
		if err := q.Set(a.Name, a.Value); err != nil {
			return nil, err
		}
	}
	if err := d.store.CreateQueue(q); err != nil {
		if errors.Is(err, queue.ErrQueueExists) {
			return nil, conflict("queue %s exists", req.Name)
		}
		return nil, err
	}
	d.log.Info("queue created", "queue", q.Name, "by", who.name)
	d.wake()
	return proto.QueueReply{Queue: d.queueInfo(q, nil)}, nil
}

func (d *Daemon) queueDelete(_ context.Context, who caller, body json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "delete queues"); err != nil {
		return nil, err
	}
	req, err := d.queueArg(body)
	if err != nil {
		return nil, err
	}
	if req.Name == d.config().DefaultQueue {
		return nil, conflict("queue %s is the default queue (default_queue in lazarus.conf)", req.Name)
	}
	err = d.store.DeleteQueue(req.Name, func(v *queue.View) error {
		n := 0
		for j := range v.Unended() {
			if j.Queue == req.Name {
				n++
			}
		}
		if n > 0 {
			return conflict("queue %s has %d jobs that have not ended", req.Name, n)
		}
		return nil
	})
	if err != nil {
		return nil, unknownQueue(err, req.Name)
	}
	d.log.Info("queue deleted", "queue", req.Name, "by", who.name)
	return proto.QueueReply{Queue: proto.QueueInfo{Name: req.Name}}, nil
}

func (d *Daemon) queueSet(_ context.Context, who caller, body json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "change queues"); err != nil {
		return nil, err
	}
	req, err := d.queueArg(body)
	if err != nil {
		return nil, err
	}
	if len(req.Attrs) == 0 {
		return nil, badRequest("nothing to set")
	}
	q, err := d.store.UpdateQueue(req.Name, func(q *queue.Queue) error {
		for _, a := range req.Attrs {
			if err := q.Set(a.Name, a.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, unknownQueue(err, req.Name)
	}
	d.log.Info("queue changed", "queue", q.Name, "by", who.name)
	d.wake()
	return proto.QueueReply{Queue: d.queueInfo(q, d.store.View().QueueCounts()[q.Name])}, nil
}

func (d *Daemon) queueList(_ context.Context, _ caller, body json.RawMessage) (any, error) {
	var req proto.QueueRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := d.store.View()
	reply := proto.QueuesReply{Queues: []proto.QueueInfo{}}
	var queues []*queue.Queue
	if req.Name != "" {
		q := v.Queue(req.Name)
		if q == nil {
			return nil, notFound("unknown queue %q", req.Name)
		}
		queues = append(queues, q)
	} else {
		queues = v.Queues()
	}
	counts := v.QueueCounts()
	for _, q := range queues {
		reply.Queues = append(reply.Queues, d.queueInfo(q, counts[q.Name]))
	}
	return reply, nil
}

func (d *Daemon) queueInfo(q *queue.Queue, byState map[jobs.State]int) proto.QueueInfo {
	counts := map[string]int{}
	for st, n := range byState {
		counts[string(st)] = n
	}
	return proto.QueueInfo{
		Name: q.Name, Priority: q.Priority, Enabled: q.Enabled, Started: q.Started,
		MaxRunning: q.MaxRunning, MaxUserRunning: q.MaxUserRunning,
		Default: q.Name == d.config().DefaultQueue, Counts: counts,
		CkptMin: q.Get("ckpt_min"), CkptDefault: q.Get("ckpt_default"), CkptKeep: q.CkptKeep,
		NetDefault: q.Get("net_default"), CkptCompress: q.Get("ckpt_compress"), CkptFullEvery: q.CkptFullEvery,
	}
}

// serverSet changes lazarus.conf in place and applies it.
func (d *Daemon) serverSet(_ context.Context, who caller, body json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "change the server"); err != nil {
		return nil, err
	}
	var req proto.ServerSetRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d.cfgMu.Lock() // one writer of the file at a time
	c, err := config.Set(d.configPath(), d.machine, req.Name, req.Value)
	d.cfgMu.Unlock()
	if err != nil {
		return nil, badRequest("%v", err)
	}
	d.setConfig(c)
	d.log.Info("server setting changed", "name", req.Name, "value", req.Value, "by", who.name)
	return d.serverReply(), nil
}

func (d *Daemon) serverList(_ context.Context, _ caller, _ json.RawMessage) (any, error) {
	return d.serverReply(), nil
}

func (d *Daemon) serverReply() proto.ServerReply {
	r := proto.ServerReply{Version: proto.Version, StateDir: d.dir, ConfigFile: d.configPath(), Started: d.started,
		StateDirProblem: d.stateProblem()}
	for _, s := range d.config().Settings() {
		r.Settings = append(r.Settings, proto.Setting{Name: s.Name, Value: s.Value, Default: s.Default, Doc: s.Doc})
	}
	return r
}

// shutdownOp stops the daemon (qmgr shutdown); jobs keep running.
func (d *Daemon) shutdownOp(_ context.Context, who caller, _ json.RawMessage) (any, error) {
	if err := d.mustOperate(who, "shut the server down"); err != nil {
		return nil, err
	}
	d.log.Info("shutdown requested", "by", who.name)
	// After this reply is written: the server waits for this handler.
	time.AfterFunc(10*time.Millisecond, d.shutdown)
	return struct{}{}, nil
}
