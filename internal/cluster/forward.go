package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Forwarding: an operation on a running job (qsig, qchkpnt, qhold of a
// running job, qrerun...) must be carried out by the node that runs it,
// which alone has its supervisor. The daemon that received it puts the
// request, with the caller as its kernel identified them, under
// requests/<node>/<id> with its own lease (a request of a daemon that
// died vanishes with it); the node watches its requests, handles each as
// if its own client had sent it, puts the reply under replies/<id> with
// its lease, and deletes the request. The sender waits for the reply
// (bounded by its context), and gives up with ErrNodeDown when the node's
// registration vanishes meanwhile. The daemons trust each other's word
// on the caller: they share etcd, which only the cluster's daemons may
// reach (etcd's client authentication or a private network).

// Request is a forwarded request.
type Request struct {
	ID     string   `json:"id"`
	From   string   `json:"from"` // the node that received it
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	User   string   `json:"user"`
	PID    int32    `json:"pid"`
	Line   []byte   `json:"line"` // the protocol request line, as received
}

// Forward sends req to node to and returns the reply line.
func (n *Node) Forward(ctx context.Context, to string, req Request) ([]byte, error) {
	var id [12]byte
	rand.Read(id[:])
	req.ID, req.From = hex.EncodeToString(id[:]), n.o.Info.Name
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	replyKey := n.o.Prefix + repliesDir + req.ID
	nodeKey := n.o.Prefix + nodesDir + to
	// The node must be up when the request is put; after that, its key
	// going away means no reply will come.
	r, err := n.o.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(nodeKey), ">", 0)).
		Then(clientv3.OpPut(n.o.Prefix+requestsDir+to+"/"+req.ID, string(b), clientv3.WithLease(clientv3.LeaseID(n.Lease())))).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("forward to node %s: %w", to, err)
	}
	if !r.Succeeded {
		return nil, fmt.Errorf("forward to node %s: %w", to, ErrNodeDown)
	}
	defer n.o.Client.Delete(context.WithoutCancel(ctx), n.o.Prefix+requestsDir+to+"/"+req.ID)
	rev := r.Header.Revision + 1
	replies := n.o.Client.Watch(wctx, replyKey, clientv3.WithRev(rev))
	nodes := n.o.Client.Watch(wctx, nodeKey, clientv3.WithRev(rev), clientv3.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("forward to node %s: %w", to, ctx.Err())
		case w, ok := <-replies:
			if !ok || w.Err() != nil {
				return nil, fmt.Errorf("forward to node %s: the reply watch ended: %w", to, errors.Join(w.Err(), ctx.Err()))
			}
			for _, ev := range w.Events {
				if ev.Type == clientv3.EventTypePut {
					n.o.Client.Delete(context.WithoutCancel(ctx), replyKey)
					return ev.Kv.Value, nil
				}
			}
		case w, ok := <-nodes:
			if ok && len(w.Events) > 0 {
				return nil, fmt.Errorf("forward to node %s: %w", to, ErrNodeDown)
			}
		}
	}
}

// Serve handles the requests forwarded to this node until ctx ends, each
// in a goroutine of its own that Serve waits for before it returns.
func (n *Node) Serve(ctx context.Context, handle func(ctx context.Context, req Request) []byte) {
	var wg sync.WaitGroup
	defer wg.Wait()
	dir := n.o.Prefix + requestsDir + n.o.Info.Name + "/"
	seen := map[string]bool{}
	for ctx.Err() == nil {
		// Requests put before the watch starts, then the watch.
		r, err := n.o.Client.Get(ctx, dir, clientv3.WithPrefix())
		if err != nil {
			n.retry(ctx, "cannot read forwarded requests", err)
			continue
		}
		present := map[string]bool{}
		for _, kv := range r.Kvs {
			present[path.Base(string(kv.Key))] = true
		}
		for id := range seen { // answered and deleted
			if !present[id] {
				delete(seen, id)
			}
		}
		take := func(v []byte) {
			var req Request
			if err := json.Unmarshal(v, &req); err != nil || seen[req.ID] {
				return
			}
			seen[req.ID] = true
			wg.Go(func() {
				reply := handle(ctx, req)
				lease := clientv3.WithLease(clientv3.LeaseID(n.Lease()))
				if _, err := n.o.Client.Put(ctx, n.o.Prefix+repliesDir+req.ID, string(reply), lease); err != nil {
					n.log.Warn("cannot reply to a forwarded request", "from", req.From, "error", err)
				}
				n.o.Client.Delete(ctx, dir+req.ID)
			})
		}
		for _, kv := range r.Kvs {
			take(kv.Value)
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for w := range n.o.Client.Watch(wctx, dir, clientv3.WithPrefix(), clientv3.WithRev(r.Header.Revision+1), clientv3.WithFilterDelete()) {
			if w.Err() != nil {
				break
			}
			for _, ev := range w.Events {
				take(ev.Kv.Value)
			}
		}
		cancel()
	}
}
