package cluster

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Lead campaigns for the server role and runs serve while this node holds
// it, with a context that ends when the role is lost (the node's lease
// lost or ctx done); then it campaigns again. It returns when ctx ends,
// after serve has returned. The election key is under the node's lease:
// the server is a node that is up, and stops being it with its lease.
func (n *Node) Lead(ctx context.Context, serve func(ctx context.Context)) {
	for ctx.Err() == nil {
		if !n.Valid() { // no campaign on a lease that may be expiring
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		lost := n.leaseLost()
		id := clientv3.LeaseID(n.lease.Load())
		s, err := concurrency.NewSession(n.o.Client, concurrency.WithLease(id), concurrency.WithContext(ctx))
		if err != nil {
			n.retry(ctx, "cannot open an election session", err)
			continue
		}
		e := concurrency.NewElection(s, n.o.Prefix+serverDir)
		cctx, cancel := context.WithCancel(ctx)
		go func() { // a campaign waits for the leader before us: end it with the lease
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-lost:
				case <-s.Done():
				case <-cctx.Done():
				case <-tick.C:
					if n.Valid() {
						continue
					}
					// Past the deadline another may be elected soon: the
					// role ends here (and is campaigned for again).
				}
				cancel()
				return
			}
		}()
		if err := e.Campaign(cctx, n.o.Info.Name); err != nil {
			cancel()
			s.Orphan()
			if ctx.Err() == nil {
				n.retry(ctx, "campaign for the server role ended", err)
			}
			continue
		}
		n.log.Info("this node is the server")
		serve(cctx)
		cancel()
		if ctx.Err() != nil {
			// Stopping: hand the role over at once, keep the lease (the
			// node's jobs go on until it expires or is resumed).
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			e.Resign(rctx)
			rcancel()
		} else {
			n.log.Warn("this node lost the server role")
		}
		s.Orphan()
	}
}

// Leader returns the name of the server node; "" when there is none.
func (n *Node) Leader(ctx context.Context) (string, error) {
	r, err := n.o.Client.Get(ctx, n.o.Prefix+serverDir, clientv3.WithFirstCreate()...)
	if err != nil || len(r.Kvs) == 0 {
		return "", err
	}
	return string(r.Kvs[0].Value), nil
}

func (n *Node) retry(ctx context.Context, msg string, err error) {
	n.log.Warn(msg, "error", err)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}
