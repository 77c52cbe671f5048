package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Key prefixes under the cluster prefix.
const (
	nodesDir    = "nodes/"
	knownDir    = "known/"
	adminDir    = "admin/"
	serverDir   = "server/"
	requestsDir = "requests/"
	repliesDir  = "replies/"
)

// DefaultTTL is a node lease's time to live.
const DefaultTTL = 10 * time.Second

// Info is what a node tells of itself when it registers.
type Info struct {
	Name     string    `json:"name"`
	Slots    int       `json:"slots"`
	Memory   int64     `json:"memory,omitempty"` // bytes; 0: not scheduled
	Machine  string    `json:"machine"`          // uname machine
	Kernel   string    `json:"kernel"`
	CPUFlags []string  `json:"cpu_flags,omitempty"`
	Format   int       `json:"format"` // the engine's image format version
	Engine   string    `json:"engine,omitempty"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	// Lease is the lease the node is registered under (set by Members and
	// Lease; not stored).
	Lease int64 `json:"-"`
}

// Admin is a node's administrative state.
type Admin struct {
	Offline bool      `json:"offline,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Changed time.Time `json:"changed"`
	// DrainBy is the deadline of an offline node's drain (zero: none):
	// past it, the server requeues the rerunnable jobs still there.
	DrainBy time.Time `json:"drain_by,omitzero"`
}

// Options configure Join.
type Options struct {
	Client *clientv3.Client
	Prefix string // the cluster prefix, ending in "/"
	Info   Info
	TTL    time.Duration // default DefaultTTL; whole seconds
	// LeaseFile keeps the lease id, so that a daemon restarted in time
	// resumes its lease (and its jobs go on); "": not kept.
	LeaseFile string
	Logger    *slog.Logger
	// Renewed is called after each renewal with the new deadline
	// (Boottime) before which the node's jobs may run; it must not block.
	Renewed func(lease int64, deadline time.Duration)
	// Lost is called, once per lease, when the node learns that its lease
	// is gone (expired while it was cut off or stopped). The node then
	// registers again under a new lease.
	Lost func(old int64)
}

// Node is this daemon's membership. Its renewal goroutine runs from Join
// until Close.
type Node struct {
	o        Options
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
	lease    atomic.Int64
	deadline atomic.Int64 // Boottime ns
	changed  chan struct{}

	mu      sync.Mutex
	leaseCh chan struct{} // closed when the current lease is lost
}

// Margin is how long before the lease can expire a node's deadline falls:
// the time its supervisors have to notice (they look every second) and
// kill their jobs.
func Margin(ttl time.Duration) time.Duration { return max(ttl/4, 2*time.Second) }

// Join registers the node, resuming the lease of LeaseFile if it is still
// alive, and keeps the lease alive until Close.
func Join(ctx context.Context, o Options) (*Node, error) {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 5*time.Second {
		return nil, fmt.Errorf("node lease TTL %s: must be at least 5s", o.TTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Info.Name == "" || strings.Contains(o.Info.Name, "/") {
		return nil, fmt.Errorf("node name %q: must be non-empty and have no /", o.Info.Name)
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	n := &Node{o: o, log: o.Logger, done: make(chan struct{}), changed: make(chan struct{}, 1), leaseCh: make(chan struct{})}
	t0 := Boottime()
	id, ttl, err := n.resume(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.register(ctx, id); err != nil {
		return nil, err
	}
	n.renewed(t0, ttl)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	go n.run(rctx)
	return n, nil
}

// resume takes the lease of the lease file if it still has time, else a
// new one.
func (n *Node) resume(ctx context.Context) (clientv3.LeaseID, time.Duration, error) {
	if n.o.LeaseFile != "" {
		if b, err := os.ReadFile(n.o.LeaseFile); err == nil {
			if id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 16, 64); err == nil && id != 0 {
				r, err := n.o.Client.KeepAliveOnce(ctx, clientv3.LeaseID(id))
				if err == nil && r.TTL > 0 {
					n.log.Info("resumed the node lease", "lease", fmt.Sprintf("%x", id))
					return clientv3.LeaseID(id), time.Duration(r.TTL) * time.Second, nil
				}
				if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
					return 0, 0, fmt.Errorf("resume the node lease: %w", err)
				}
			}
		}
	}
	g, err := n.o.Client.Grant(ctx, int64(n.o.TTL/time.Second))
	if err != nil {
		return 0, 0, fmt.Errorf("grant the node lease: %w", err)
	}
	if n.o.LeaseFile != "" {
		if err := writeFile(n.o.LeaseFile, []byte(fmt.Sprintf("%x\n", int64(g.ID)))); err != nil {
			return 0, 0, err
		}
	}
	return g.ID, time.Duration(g.TTL) * time.Second, nil
}

// register puts the node's keys under lease id, unless another lease
// holds its name.
func (n *Node) register(ctx context.Context, id clientv3.LeaseID) error {
	info := n.o.Info
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	key := n.o.Prefix + nodesDir + info.Name
	r, err := n.o.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b), clientv3.WithLease(id)), clientv3.OpPut(n.o.Prefix+knownDir+info.Name, string(b))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return fmt.Errorf("register node %s: %w", info.Name, err)
	}
	if !r.Succeeded {
		kvs := r.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 || clientv3.LeaseID(kvs[0].Lease) != id {
			return fmt.Errorf("register node %s: %w", info.Name, ErrNameTaken)
		}
		if _, err := n.o.Client.Put(ctx, key, string(b), clientv3.WithLease(id)); err != nil {
			return fmt.Errorf("register node %s: %w", info.Name, err)
		}
	}
	n.lease.Store(int64(id))
	n.log.Info("node registered", "node", info.Name, "lease", fmt.Sprintf("%x", int64(id)))
	return nil
}

func (n *Node) renewed(sent, ttl time.Duration) {
	d := sent + ttl - Margin(n.o.TTL)
	n.deadline.Store(int64(d))
	if n.o.Renewed != nil {
		n.o.Renewed(n.lease.Load(), d)
	}
}

// run renews the lease every TTL/3 until ctx ends; a lease found gone is
// reported (Lost) and replaced by a new registration.
func (n *Node) run(ctx context.Context) {
	defer close(n.done)
	every := n.o.TTL / 3
	for {
		sent := Boottime()
		id := clientv3.LeaseID(n.lease.Load())
		rctx, cancel := context.WithTimeout(ctx, every)
		r, err := n.o.Client.KeepAliveOnce(rctx, id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && r.TTL > 0:
			n.renewed(sent, time.Duration(r.TTL)*time.Second)
		case err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound):
			n.lost(ctx, id)
			continue
		default:
			n.log.Warn("cannot renew the node lease", "error", err,
				"left", time.Duration(n.deadline.Load())-Boottime())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(sent+every-Boottime(), 0)):
		}
	}
}

// lost handles a lease that is gone: the daemon is told, then the node
// registers again (trying until it can or ctx ends).
func (n *Node) lost(ctx context.Context, old clientv3.LeaseID) {
	n.log.Error("the node lease was lost: its jobs are fenced and the node registers again", "lease", fmt.Sprintf("%x", int64(old)))
	n.deadline.Store(0)
	n.mu.Lock()
	close(n.leaseCh)
	n.leaseCh = make(chan struct{})
	n.mu.Unlock()
	if n.o.Lost != nil {
		n.o.Lost(int64(old))
	}
	for ctx.Err() == nil {
		sent := Boottime()
		g, err := n.o.Client.Grant(ctx, int64(n.o.TTL/time.Second))
		if err == nil {
			if n.o.LeaseFile != "" {
				err = writeFile(n.o.LeaseFile, []byte(fmt.Sprintf("%x\n", int64(g.ID))))
			}
			if err == nil {
				err = n.register(ctx, g.ID)
			}
			if err == nil {
				n.renewed(sent, time.Duration(g.TTL)*time.Second)
				return
			}
		}
		n.log.Warn("cannot register the node again", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.o.Info.Name }

// Lease is the node's current lease.
func (n *Node) Lease() int64 { return n.lease.Load() }

// Deadline is the Boottime before which the node's lease is certainly
// alive; 0 while it has none.
func (n *Node) Deadline() time.Duration { return time.Duration(n.deadline.Load()) }

// Valid reports whether the lease is certainly alive now.
func (n *Node) Valid() bool { return Boottime() < n.Deadline() }

// leaseLost returns a channel closed when the current lease is lost.
func (n *Node) leaseLost() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaseCh
}

// Close stops renewing the lease and waits for the renewal goroutine; the
// lease is left to expire (or to be resumed by the next daemon).
func (n *Node) Close() {
	n.cancel()
	<-n.done
}

// Leave revokes the lease: the node is gone at once (its jobs must have
// ended: the server requeues what it still finds placed on it).
func (n *Node) Leave(ctx context.Context) error {
	n.Close()
	_, err := n.o.Client.Revoke(ctx, clientv3.LeaseID(n.lease.Load()))
	if n.o.LeaseFile != "" {
		os.Remove(n.o.LeaseFile)
	}
	return err
}

// Members returns the nodes that are up, by name, with their leases.
func (n *Node) Members(ctx context.Context) (map[string]Info, error) {
	return n.infos(ctx, nodesDir)
}

// Known returns the last registration of every node that ever joined.
func (n *Node) Known(ctx context.Context) (map[string]Info, error) {
	return n.infos(ctx, knownDir)
}

func (n *Node) infos(ctx context.Context, dir string) (map[string]Info, error) {
	r, err := n.o.Client.Get(ctx, n.o.Prefix+dir, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := map[string]Info{}
	for _, kv := range r.Kvs {
		var in Info
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			n.log.Warn("unreadable node record", "key", string(kv.Key), "error", err)
			continue
		}
		in.Lease = kv.Lease
		out[path.Base(string(kv.Key))] = in
	}
	return out, nil
}

// Admins returns the administrative state of the nodes that have one.
func (n *Node) Admins(ctx context.Context) (map[string]Admin, error) {
	r, err := n.o.Client.Get(ctx, n.o.Prefix+adminDir, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := map[string]Admin{}
	for _, kv := range r.Kvs {
		var a Admin
		if err := json.Unmarshal(kv.Value, &a); err == nil {
			out[path.Base(string(kv.Key))] = a
		}
	}
	return out, nil
}

// SetAdmin records a node's administrative state (pbsnodes -o, -r).
func (n *Node) SetAdmin(ctx context.Context, name string, a Admin) error {
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("node name %q: must be non-empty and have no /", name)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = n.o.Client.Put(ctx, n.o.Prefix+adminDir+name, string(b))
	return err
}

// Changes returns a channel that receives (coalesced) when a node comes,
// goes or changes its administrative state, until ctx ends. Each call
// starts a watch of its own.
func (n *Node) Changes(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			nodes := n.o.Client.Watch(wctx, n.o.Prefix+nodesDir, clientv3.WithPrefix())
			admin := n.o.Client.Watch(wctx, n.o.Prefix+adminDir, clientv3.WithPrefix())
			for open := true; open; {
				var ok bool
				select {
				case _, ok = <-nodes:
				case _, ok = <-admin:
				}
				if !ok {
					open = false
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
			cancel()
			select { // a lost watch: look again a little later
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return out
}

// writeFile writes a small file durably under a temporary name, then
// renames it into place.
func writeFile(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
