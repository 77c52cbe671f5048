package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/internal/etcdtest"
)

const prefix = "/lazarus-test/"

func join(t *testing.T, c *clientv3.Client, name string, mod func(*Options)) *Node {
	t.Helper()
	o := Options{Client: c, Prefix: prefix, TTL: 5 * time.Second,
		Info: Info{Name: name, Slots: 2, Machine: "x86_64", Format: 2, CPUFlags: []string{"sse2"}}}
	if mod != nil {
		mod(&o)
	}
	n, err := Join(context.Background(), o)
	if err != nil {
		t.Fatalf("Join %s: %v", name, err)
	}
	t.Cleanup(n.Close)
	return n
}

// waitFor polls cond for up to a minute (a loaded machine is slow; no
// timing is asserted).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRegistration(t *testing.T) {
	ec := etcdtest.New(t, 1)
	ctx := context.Background()
	a := join(t, ec.NewClient(t), "a", nil)
	b := join(t, ec.NewClient(t), "b", func(o *Options) { o.Info.Slots = 8 })
	m, err := a.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["b"].Slots != 8 || m["a"].Lease != a.Lease() || m["b"].Lease != b.Lease() {
		t.Fatalf("members %+v, want a and b under their leases", m)
	}
	if !a.Valid() || a.Deadline()-Boottime() > 5*time.Second {
		t.Fatalf("deadline %v from now, want within the TTL", a.Deadline()-Boottime())
	}

	// A second daemon under a live name is refused.
	_, err = Join(ctx, Options{Client: ec.NewClient(t), Prefix: prefix, TTL: 5 * time.Second, Info: Info{Name: "a"}})
	if !errors.Is(err, ErrNameTaken) {
		t.Fatalf("Join of a taken name: %v, want ErrNameTaken", err)
	}

	// A node that leaves is no longer up, but stays known.
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ = a.Members(ctx)
	known, _ := a.Known(ctx)
	if _, up := m["b"]; up || known["b"].Slots != 8 {
		t.Fatalf("after b left: members %v, known %v", m, known)
	}

	if err := a.SetAdmin(ctx, "a", Admin{Offline: true, Comment: "disk swap"}); err != nil {
		t.Fatal(err)
	}
	ad, err := a.Admins(ctx)
	if err != nil || !ad["a"].Offline || ad["a"].Comment != "disk swap" {
		t.Fatalf("admins %v, %v", ad, err)
	}
}

func TestLeaseResumed(t *testing.T) {
	ec := etcdtest.New(t, 1)
	file := filepath.Join(t.TempDir(), "lease")
	a := join(t, ec.NewClient(t), "a", func(o *Options) { o.LeaseFile = file })
	first := a.Lease()
	a.Close() // a daemon that stops: its lease lives on for the TTL
	b := join(t, ec.NewClient(t), "a", func(o *Options) { o.LeaseFile = file })
	if b.Lease() != first {
		t.Fatalf("restarted node has lease %x, want the resumed %x", b.Lease(), first)
	}
}

func TestLeaseLost(t *testing.T) {
	ec := etcdtest.New(t, 1)
	var lost atomic.Int64
	var renewals atomic.Int32
	a := join(t, ec.NewClient(t), "a", func(o *Options) {
		o.Lost = func(old int64) { lost.Store(old) }
		o.Renewed = func(int64, time.Duration) { renewals.Add(1) }
	})
	old := a.Lease()
	// The lease goes away as if it had expired while the node was cut off.
	if _, err := ec.Client().Revoke(context.Background(), clientv3.LeaseID(old)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lost lease to be reported", func() bool { return lost.Load() == old })
	waitFor(t, "a new registration", func() bool {
		m, err := a.Members(context.Background())
		return err == nil && m["a"].Lease == a.Lease() && a.Lease() != old && a.Valid()
	})
	if renewals.Load() < 2 {
		t.Fatalf("%d renewals reported, want the first and the new registration's", renewals.Load())
	}
}

func TestDeadlinePassesWithoutRenewal(t *testing.T) {
	ec := etcdtest.New(t, 1)
	var deadline atomic.Int64
	a := join(t, ec.NewClient(t), "a", func(o *Options) {
		o.Renewed = func(_ int64, d time.Duration) { deadline.Store(int64(d)) }
	})
	a.Close() // no more renewals: as a stopped daemon
	d := time.Duration(deadline.Load())
	waitFor(t, "the deadline to pass", func() bool { return !a.Valid() })
	// The lease outlives the deadline: the jobs are fenced before the
	// server can see the node gone.
	ttl, err := ec.Client().TimeToLive(context.Background(), clientv3.LeaseID(a.Lease()))
	if err != nil {
		t.Fatal(err)
	}
	if Boottime() < d {
		t.Fatalf("Valid is false before the deadline")
	}
	if ttl.TTL <= 0 && Boottime() < d+Margin(5*time.Second)-time.Second {
		t.Fatalf("the lease expired before the deadline plus the margin")
	}
}

func TestElection(t *testing.T) {
	ec := etcdtest.New(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	serving := map[string]bool{}
	var both atomic.Bool
	lead := func(n *Node) *sync.WaitGroup {
		var wg sync.WaitGroup
		nctx, ncancel := context.WithCancel(ctx)
		t.Cleanup(func() { ncancel(); wg.Wait() })
		wg.Go(func() {
			n.Lead(nctx, func(sctx context.Context) {
				mu.Lock()
				serving[n.Name()] = true
				if len(serving) > 1 {
					both.Store(true)
				}
				mu.Unlock()
				<-sctx.Done()
				mu.Lock()
				delete(serving, n.Name())
				mu.Unlock()
			})
		})
		return &wg
	}
	a := join(t, ec.NewClient(t), "a", nil)
	b := join(t, ec.NewClient(t), "b", nil)
	lead(a)
	waitFor(t, "a to lead", func() bool { mu.Lock(); defer mu.Unlock(); return serving["a"] })
	lead(b)
	if l, err := b.Leader(ctx); err != nil || l != "a" {
		t.Fatalf("leader %q, %v; want a", l, err)
	}
	// a stops renewing (its host died): once its deadline has passed its
	// lease expires (revoked here, not to wait for the TTL) and b takes over.
	a.Close()
	waitFor(t, "a's deadline to pass", func() bool { return !a.Valid() })
	// The lease expires a Margin after the deadline: by then a has stopped.
	waitFor(t, "a to stop serving", func() bool { mu.Lock(); defer mu.Unlock(); return !serving["a"] })
	if _, err := ec.Client().Revoke(ctx, clientv3.LeaseID(a.Lease())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to lead", func() bool { mu.Lock(); defer mu.Unlock(); return serving["b"] })
	if both.Load() {
		t.Fatal("two nodes served at once")
	}
}

func TestForward(t *testing.T) {
	ec := etcdtest.New(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := join(t, ec.NewClient(t), "a", nil)
	b := join(t, ec.NewClient(t), "b", nil)
	var wg sync.WaitGroup
	bctx, bcancel := context.WithCancel(ctx)
	defer func() { bcancel(); wg.Wait() }()
	wg.Go(func() {
		b.Serve(bctx, func(_ context.Context, r Request) []byte {
			return []byte(r.From + " " + r.User + " " + string(r.Line))
		})
	})
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	got, err := a.Forward(rctx, "b", Request{UID: 1000, User: "ann", Line: []byte(`{"op":"signal"}`)})
	if err != nil || string(got) != `a ann {"op":"signal"}` {
		t.Fatalf("Forward = %q, %v", got, err)
	}
	if _, err := a.Forward(rctx, "nosuch", Request{}); !errors.Is(err, ErrNodeDown) {
		t.Fatalf("Forward to an unknown node: %v, want ErrNodeDown", err)
	}
	// A node that goes away while a request waits: the sender is told.
	c := join(t, ec.NewClient(t), "c", nil) // serves nothing
	errc := make(chan error, 1)
	go func() { _, err := a.Forward(rctx, "c", Request{}); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrNodeDown) {
		t.Fatalf("Forward to a node that left: %v, want ErrNodeDown", err)
	}
}
