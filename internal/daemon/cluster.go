package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"lazarus/ckpt"
	"lazarus/config"
	"lazarus/internal/cluster"
	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
	"lazarus/scheduler"
)

// Cluster mode (etcd_endpoints set; package cluster has the keys and the
// fencing rule). Every host's daemon is a node; the store is shared
// (queue.OpenEtcd). The division of work:
//
//   - The server (the node elected, Node.Lead) alone runs the scheduling
//     loop: it places each job on nodes (scheduler.Place) and records the
//     start with its placement (the run's Exec chunks, each with the
//     node's lease), and requeues the runs of nodes that are gone or
//     registered again under another lease (reconcile). It acts only while
//     its lease is certainly alive (Node.Valid).
//   - Each node launches the supervisors of the runs placed on it under
//     its current lease (nodeLoop), signals those being deleted, takes
//     their checkpoints, and records their ends, all through the shared
//     store. A run placed under another lease is not the node's: its end
//     is never recorded by it (the server requeued it already).
//   - A request acting on a running job (qsig, qchkpnt, qhold, qrerun,
//     qdel, qrestart) that reaches another node is forwarded to the node
//     that runs the job (cluster.Node.Forward), which answers it as if its
//     own client had sent it.
//   - Checkpoint generations are written to shared_dir, which every node
//     reads, and sealed with the cluster key shared_dir/host.key: a node
//     restarts only images whose HMAC verifies with it.

// clusterMode is the daemon's state in a cluster; nil on a single host.
type clusterMode struct {
	node   *cluster.Node
	client *clientv3.Client
	shared string

	kick chan struct{} // wakes the node loop
	// serving: this node holds the server role (serve runs); only the
	// server copies the accounting outbox, into shared_dir/accounting.
	serving atomic.Bool

	mu       sync.Mutex
	launched map[jobs.ID]int  // segment launched or adopted here
	signaled map[jobs.ID]int  // segment told to end (qdel)
	leases   map[string]int64 // of the nodes up at the last scheduling pass
}

// fenceFile is the fence file of a lease: one per lease, so that a
// supervisor started under a lease that was lost stays fenced when the
// node registers again under a new one.
func (d *Daemon) fenceFile(lease int64) string {
	return filepath.Join(d.dir, runDir, fmt.Sprintf("fence.%x", lease))
}

// joinCluster connects to etcd and registers this daemon as a node; the
// cluster's keys are under etcd_prefix/cluster/.
func (d *Daemon) joinCluster(ctx context.Context, cfg config.Config) (retErr error) {
	name := cfg.NodeName
	if name == "" {
		name = d.hostname
	}
	prefix := strings.TrimRight(cfg.EtcdPrefix, "/") + "/cluster/"
	client, err := etcdClient(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			client.Close()
		}
	}()
	shared := cfg.SharedDir
	fp := ckpt.LocalFingerprint()
	c := &clusterMode{client: client, shared: shared, kick: make(chan struct{}, 1),
		launched: map[jobs.ID]int{}, signaled: map[jobs.ID]int{}}
	d.cl = c
	jctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c.node, err = cluster.Join(jctx, cluster.Options{
		Client: client, Prefix: prefix, TTL: cfg.NodeTTL, LeaseFile: filepath.Join(d.dir, "node.lease"),
		Logger: d.log.With("component", "cluster"),
		Info: cluster.Info{Name: name, Slots: cfg.Slots, Memory: cfg.Memory, Machine: fp.Machine, Kernel: fp.Kernel,
			CPUFlags: fp.CPUFlags, Format: ckpt.FormatVersion, Engine: ckpt.EngineVersion, PID: os.Getpid(), Started: d.started},
		Renewed: func(lease int64, deadline time.Duration) {
			if err := supervisor.WriteFence(d.fenceFile(lease), deadline); err != nil {
				d.log.Error("cannot write the fence file; the node's jobs will be fenced", "error", err)
			}
		},
		Lost: func(old int64) {
			os.Remove(d.fenceFile(old)) // unreadable: fenced, for good
			d.kickNode()
		},
	})
	if err != nil {
		d.cl = nil
		return err
	}
	d.log = d.log.With("node", name)
	return nil
}

func (c *clusterMode) lease() int64 {
	if c.node == nil {
		return 0
	}
	return c.node.Lease()
}

// nodeName is this node's name ("" on a single host).
func (d *Daemon) nodeName() string {
	if d.cl == nil {
		return ""
	}
	return d.cl.node.Name()
}

// mine reports whether this daemon runs j's open run: always on a single
// host; in a cluster, when the run's first chunk was placed here under
// the node's current lease.
func (d *Daemon) mine(j *jobs.Job) bool {
	if d.cl == nil {
		return true
	}
	seg, ok := j.Current()
	return ok && len(seg.Exec) > 0 && seg.Exec[0].Host == d.cl.node.Name() && seg.Exec[0].Lease == d.cl.lease()
}

func (d *Daemon) kickNode() {
	if d.cl == nil {
		return
	}
	select {
	case d.cl.kick <- struct{}{}:
	default:
	}
}

// nodeLoop carries out, on this node, what the server decided: it
// launches the runs placed here, tells the supervisors of jobs being
// deleted, and stops supervisors whose runs are no longer this node's.
// It ends with ctx.
func (d *Daemon) nodeLoop(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.cl.kick:
		}
		d.nodePass()
	}
}

func (d *Daemon) nodePass() {
	c := d.cl
	for _, j := range d.store.View().Active() {
		seg := len(j.Segments) - 1
		c.mu.Lock()
		had, launched := c.launched[j.ID]
		c.mu.Unlock()
		switch {
		case d.mine(j):
			if !launched || had != seg {
				c.mu.Lock()
				c.launched[j.ID] = seg
				c.mu.Unlock()
				d.launch(j)
			}
			if j.State == jobs.Exiting {
				c.mu.Lock()
				told := c.signaled[j.ID] == seg+1
				c.signaled[j.ID] = seg + 1
				c.mu.Unlock()
				if !told {
					d.watch.signal(j.ID, unix.SIGTERM)
				}
			}
		case launched:
			// Placed here once, not now (requeued after the node lost its
			// lease): whatever is left of it is killed, its end is not
			// ours to record.
			if ok, _ := d.watch.signal(j.ID, unix.SIGKILL); ok {
				d.log.Warn("killed a run this node no longer holds", "job_id", j.ID)
			}
			c.mu.Lock()
			delete(c.launched, j.ID)
			c.mu.Unlock()
		}
	}
}

// forgetRun drops the node's note of a job's run once it has ended.
func (d *Daemon) forgetRun(id jobs.ID) {
	if d.cl == nil {
		return
	}
	d.cl.mu.Lock()
	delete(d.cl.launched, id)
	delete(d.cl.signaled, id)
	d.cl.mu.Unlock()
}

// adopted notes that this node watches a run (adopted at start).
func (d *Daemon) adopted(j *jobs.Job) {
	if d.cl == nil {
		return
	}
	d.cl.mu.Lock()
	d.cl.launched[j.ID] = len(j.Segments) - 1
	d.cl.mu.Unlock()
}

// serve is the server's work, while this node holds the role: the
// scheduling loop and the reconciliation of runs with the nodes that are
// up. Both end with ctx (the role lost).
func (d *Daemon) serve(ctx context.Context) {
	d.cl.serving.Store(true)
	defer d.cl.serving.Store(false)
	if d.acct != nil {
		d.acct.accounted() // copy what earlier servers left in the outbox
	}
	var wg sync.WaitGroup
	wg.Go(func() { d.scheduleLoop(ctx) })
	wg.Go(func() {
		changes := d.cl.node.Changes(ctx)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		dr := newDrainer()
		var swept time.Time
		for {
			d.reconcile(ctx)
			d.drain(ctx, dr)
			if time.Since(swept) >= sweepEvery && d.cl.node.Valid() {
				d.sweepLost()
				swept = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-changes:
			case <-tick.C:
			}
		}
	})
	d.wake()
	wg.Wait()
}

// reconcile requeues the runs placed on nodes that are gone, or that
// registered again under another lease (their jobs were fenced): each is
// a lost run, restarted from its newest good checkpoint on another node,
// or rerun if rerunnable.
func (d *Daemon) reconcile(ctx context.Context) {
	if !d.cl.node.Valid() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	up, err := d.cl.node.Members(rctx)
	cancel()
	if err != nil {
		d.log.Warn("cannot list the nodes", "error", err)
		return
	}
	for _, j := range d.store.View().Active() {
		seg, ok := j.Current()
		if !ok || len(seg.Exec) == 0 {
			continue
		}
		why := ""
		for _, c := range seg.Exec {
			n, ok := up[c.Host]
			switch {
			case !ok:
				why = fmt.Sprintf("node %s was lost (its lease expired)", c.Host)
			case n.Lease != c.Lease:
				why = fmt.Sprintf("node %s lost its lease (it was cut off)", c.Host)
			default:
				continue
			}
			break
		}
		if why == "" || !d.cl.node.Valid() {
			continue
		}
		id, segN := j.ID, len(j.Segments)-1
		now := time.Now().Round(0)
		ended := d.lostRunEnd(j) // its end, if its supervisor left it
		nj, err := d.store.UpdateJob(id, func(j *jobs.Job) error {
			if len(j.Segments)-1 != segN || !j.State.Active() {
				return errNotPending // changed meanwhile
			}
			if ended != nil {
				return endLostRun(j, ended, why)
			}
			return j.Lost(why, now)
		})
		if err != nil {
			if !errors.Is(err, errNotPending) && !errors.Is(err, queue.ErrNoJob) {
				d.log.Error("cannot requeue the run of a lost node", "job_id", id, "error", err)
			}
			continue
		}
		d.sweepGenerations(nj)
		if ended != nil {
			d.log.Info("a lost node's run had ended: its end is recorded", "job_id", id, "state", nj.State, "exit_code", ended.ExitCode)
		} else {
			d.log.Warn("run of a lost node requeued", "job_id", id, "state", nj.State, "reason", nj.Reason)
		}
		if nj.State.Terminal() {
			d.subjobEnded(id)
		}
		d.wake()
	}
}

// clusterSnapshot fills the cluster part of a scheduling snapshot: the
// nodes that are up and online, and the fingerprints of every node known.
func (d *Daemon) clusterSnapshot(s *scheduler.Snapshot) error {
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	up, err := d.cl.node.Members(ctx)
	if err != nil {
		return err
	}
	admin, err := d.cl.node.Admins(ctx)
	if err != nil {
		return err
	}
	known, err := d.cl.node.Known(ctx)
	if err != nil {
		return err
	}
	s.Known = map[string]scheduler.Fingerprint{}
	for name, in := range known {
		s.Known[name] = fingerprintOf(in)
	}
	s.Nodes = []scheduler.Node{}
	leases := map[string]int64{}
	for name, in := range up {
		leases[name] = in.Lease
		s.Nodes = append(s.Nodes, scheduler.Node{Name: name, Slots: in.Slots, Memory: in.Memory,
			Fingerprint: fingerprintOf(in), Offline: admin[name].Offline})
	}
	slices.SortFunc(s.Nodes, func(a, b scheduler.Node) int { return cmpString(a.Name, b.Name) })
	d.cl.mu.Lock()
	d.cl.leases = leases
	d.cl.mu.Unlock()
	return nil
}

// placed completes the server's placement of a run with the leases the
// nodes had when it was decided.
func (d *Daemon) placed(cs []jobs.Chunk) []jobs.Chunk {
	d.cl.mu.Lock()
	defer d.cl.mu.Unlock()
	out := slices.Clone(cs)
	for i := range out {
		out[i].Lease = d.cl.leases[out[i].Host]
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func fingerprintOf(in cluster.Info) scheduler.Fingerprint {
	return scheduler.Fingerprint{Machine: in.Machine, Format: in.Format, CPUFlags: in.CPUFlags, Kernel: in.Kernel}
}

// forwardedOps act on a running job: they are carried out by the node
// that runs it.
var forwardedOps = map[string]bool{
	proto.OpSignal: true, proto.OpCheckpoint: true, proto.OpHold: true, proto.OpRerun: true,
	proto.OpDelete: true, proto.OpRestart: true,
}

type forwardedKey struct{}

// forward sends a request about a job running on another node to that
// node; false when the request is this node's to answer.
func (d *Daemon) forward(ctx context.Context, who caller, req proto.Request, line []byte) (proto.Response, bool) {
	if d.cl == nil || !forwardedOps[req.Op] || ctx.Value(forwardedKey{}) != nil {
		return proto.Response{}, false
	}
	var arg struct {
		ID uint64 `json:"id"`
	}
	if json.Unmarshal(req.Body, &arg) != nil || arg.ID == 0 {
		return proto.Response{}, false
	}
	j := d.store.View().Job(jobs.ID(arg.ID))
	if j == nil || !j.State.Active() {
		return proto.Response{}, false
	}
	host := j.ExecHost()
	if host == "" || host == d.cl.node.Name() {
		return proto.Response{}, false
	}
	b, err := d.cl.node.Forward(ctx, host, cluster.Request{UID: who.uid, GID: who.gid, Groups: who.groups,
		User: who.name, PID: who.pid, Line: line})
	if errors.Is(err, cluster.ErrNodeDown) {
		// Its node is gone: the server requeues the job; the request is
		// answered here, on the store.
		return proto.Response{}, false
	}
	if err != nil {
		return failure(&proto.Error{Code: proto.CodeUnavailable, Message: fmt.Sprintf("job %s runs on node %s, which did not answer: %v", j.ID, host, err)}), true
	}
	var resp proto.Response
	if err := json.Unmarshal(b, &resp); err != nil {
		return failure(fmt.Errorf("reply of node %s: %w", host, err)), true
	}
	return resp, true
}

// handleForwarded answers a request another node forwarded.
func (d *Daemon) handleForwarded(ctx context.Context, r cluster.Request) []byte {
	who := caller{uid: r.UID, gid: r.GID, pid: r.PID, groups: r.Groups, name: r.User}
	// Only what forward sends: the caller is the forwarding node's word,
	// and no more is taken on it than an operation on a job it runs here.
	if req, err := parseRequest(r.Line); err != nil || !forwardedOps[req.Op] {
		d.log.Warn("refused a forwarded request that is not an operation on a running job", "from", r.From, "error", err)
		b, _ := json.Marshal(failure(&proto.Error{Code: proto.CodePermission, Message: "not an operation a node forwards"}))
		return b
	}
	ctx = context.WithValue(ctx, forwardedKey{}, r.From)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	resp := d.dispatch(ctx, who, r.Line)
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(failure(err))
	}
	return b
}

// clusterNodeLines is PBS_NODEFILE's content for a placed run: each
// chunk's host, once per MPI process of the chunk (jobs.Resources.
// ChunkLines: its mpiprocs, or CPUs for the one chunk of a job without).
func clusterNodeLines(j *jobs.Job, cs []jobs.Chunk) []string {
	var out []string
	lines := j.Resources.ChunkLines()
	for i, c := range cs {
		per := 1
		if i < len(lines) {
			per = max(lines[i], 1)
		}
		for range per {
			out = append(out, c.Host)
		}
	}
	return out
}

// runFence is the fence file of runs started now ("" on a single host).
func (d *Daemon) runFence() string {
	if d.cl == nil {
		return ""
	}
	return d.fenceFile(d.cl.lease())
}

// clusterPass is the longest a server waits between scheduling passes.
const clusterPass = 500 * time.Millisecond

// ckptSharedDir holds the checkpoint generations in shared_dir.
const ckptSharedDir = "checkpoints"

// clusterNodes is pbsnodes in a cluster: -o and -r mark a node offline or
// online (its admin record in etcd: the server places nothing on an
// offline node and migrates its checkpointable jobs away, see drain); the
// reply lists every node known, with its state and jobs.
func (d *Daemon) clusterNodes(who caller, req proto.NodesRequest) (any, error) {
	ctx, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	node := d.cl.node
	name := req.Node
	if name == "" {
		name = node.Name()
	}
	known, err := node.Known(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the nodes: %w", err)
	}
	if req.Offline || req.Online {
		if err := d.mustOperate(who, "mark a node offline or online"); err != nil {
			return nil, err
		}
		if _, ok := known[name]; !ok {
			return nil, notFound("%s: unknown node", name)
		}
		a := cluster.Admin{Offline: req.Offline, Comment: req.Comment, Changed: time.Now().Round(0)}
		if req.Offline {
			a.DrainBy = drainDeadline(a.Changed, req.DrainTimeoutSec, d.config().DrainTimeout)
		}
		if err := node.SetAdmin(ctx, name, a); err != nil {
			return nil, fmt.Errorf("mark node %s: %w", name, err)
		}
		d.log.Info("node state changed", "target", name, "offline", req.Offline, "by", who.name, "comment", req.Comment)
	}
	up, err := node.Members(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the nodes: %w", err)
	}
	admin, err := node.Admins(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the nodes: %w", err)
	}
	server := d.config().Server()
	byName := map[string]*proto.NodeInfo{}
	var names []string
	for n, in := range known {
		if u, ok := up[n]; ok {
			in = u
		}
		byName[n] = &proto.NodeInfo{Name: n, Slots: in.Slots, MemBytes: in.Memory, Server: server, Comment: admin[n].Comment}
		if admin[n].Offline {
			byName[n].DrainBy = admin[n].DrainBy
		}
		names = append(names, n)
	}
	slices.Sort(names)
	for _, j := range d.store.View().Active() {
		seg, ok := j.Current()
		if !ok {
			continue
		}
		for _, c := range seg.Exec {
			if ni := byName[c.Host]; ni != nil {
				if !j.IsSuspended() { // it released its CPUs and memory
					ni.Assigned += c.NCPUs
					ni.AssignedMem += c.Mem
				}
				if !slices.Contains(ni.Jobs, uint64(j.ID)) {
					ni.Jobs = append(ni.Jobs, uint64(j.ID))
				}
			}
		}
	}
	out := proto.NodeInfo{}
	for _, n := range names {
		ni := byName[n]
		slices.Sort(ni.Jobs)
		_, isUp := up[n]
		switch {
		case !isUp:
			ni.State = "down"
		case admin[n].Offline && len(ni.Jobs) > 0:
			ni.State = "offline,draining" // jobs are left on it
		case admin[n].Offline:
			ni.State = "offline"
		case ni.Assigned >= ni.Slots:
			ni.State = "job-busy"
		default:
			ni.State = "free"
		}
		if n == node.Name() {
			nodes := out.Nodes
			out = *ni
			out.Nodes = nodes
		}
		out.Nodes = append(out.Nodes, *ni)
	}
	return out, nil
}
