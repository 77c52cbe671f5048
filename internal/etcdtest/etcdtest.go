// Package etcdtest starts embedded etcd clusters for tests: one or three
// members on free loopback ports, their data under t.TempDir(), quiet,
// ended by t.Cleanup. A member can be killed (stopped abruptly, as by a
// crash) and restarted with its data, to test a store through a lost
// member or a lost quorum.
package etcdtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"lazarus/internal/etcdembed"
)

// Cluster is a running test cluster.
type Cluster struct {
	tb      testing.TB
	mu      sync.Mutex
	members []*etcdembed.Member // nil: killed
	cfgs    []etcdembed.Config
	client  *clientv3.Client
}

// Options tune New.
type Options struct {
	Members int // 1 (the default) or 3
	// Fsync keeps etcd's fsyncs (benchmarks); tests turn them off, which
	// a crash of the process does not notice.
	Fsync bool
}

// New starts a cluster of n members (1 or 3) and waits until it serves.
func New(tb testing.TB, n int) *Cluster { return Start(tb, Options{Members: n}) }

// Start starts a cluster.
func Start(tb testing.TB, o Options) *Cluster {
	tb.Helper()
	n := o.Members
	if n == 0 {
		n = 1
	}
	if n != 1 && n != 3 {
		tb.Fatalf("etcdtest: %d members, want 1 or 3", n)
	}
	dir := tb.TempDir()
	c := &Cluster{tb: tb}
	tb.Cleanup(c.close)
	// Free ports are free when looked at: another process may take one
	// before the member binds it. Such a start is tried again, on new ports
	// and a new data directory.
	var err error
	for attempt := range 3 {
		if err = c.start(filepath.Join(dir, fmt.Sprint(attempt)), n, o); err == nil {
			break
		}
		c.close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	c.client = c.NewClient(tb)
	return c
}

// start starts the members of a new cluster in dir and waits until they
// serve.
func (c *Cluster) start(dir string, n int, o Options) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members, c.cfgs = make([]*etcdembed.Member, n), make([]etcdembed.Config, n)
	var initial []string
	for i := range n {
		cu, err := etcdembed.FreeURL()
		if err != nil {
			return err
		}
		pu, err := etcdembed.FreeURL()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("m%d", i)
		c.cfgs[i] = etcdembed.Config{Name: name, Dir: filepath.Join(dir, name), ClientURL: cu, PeerURL: pu,
			NoFsync: !o.Fsync, Logger: logger(), ReadyTimeout: 2 * time.Minute, NoWait: true}
		initial = append(initial, name+"="+pu)
	}
	for i := range c.cfgs {
		c.cfgs[i].InitialCluster = strings.Join(initial, ",")
		m, err := etcdembed.Start(context.Background(), c.cfgs[i])
		if err != nil {
			return err
		}
		c.members[i] = m
	}
	for _, m := range c.members {
		if err := m.Wait(context.Background()); err != nil {
			return err
		}
	}
	return nil
}

// logger is etcd's: none, unless LAZARUS_TEST_LOG is set.
func logger() *zap.Logger {
	if os.Getenv("LAZARUS_TEST_LOG") != "" {
		lg, err := zap.NewDevelopment()
		if err == nil {
			return lg
		}
	}
	return zap.NewNop()
}

// Endpoints returns the client URLs of every member, killed or not.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.cfgs))
	for i, cfg := range c.cfgs {
		out[i] = cfg.ClientURL
	}
	return out
}

// Endpoint returns member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.cfgs[i].ClientURL }

// Client returns a client of every member, closed by the cleanup.
func (c *Cluster) Client() *clientv3.Client { return c.client }

// NewClient returns another client of every member (a second node has a
// connection of its own), closed when tb ends.
func (c *Cluster) NewClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	return c.newClient(tb, c.Endpoints())
}

// MemberClient returns a client of member i alone, closed when tb ends.
func (c *Cluster) MemberClient(tb testing.TB, i int) *clientv3.Client {
	tb.Helper()
	return c.newClient(tb, []string{c.Endpoint(i)})
}

func (c *Cluster) newClient(tb testing.TB, eps []string) *clientv3.Client {
	tb.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close() })
	return cl
}

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.cfgs) }

// Kill stops member i abruptly; its data stays for Restart.
func (c *Cluster) Kill(i int) {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m == nil {
		c.tb.Fatalf("etcdtest: member %d is not running", i)
	}
	c.members[i] = nil
	m.Kill()
}

// Restart starts killed member i again on its data and ports, and waits
// until it serves (which needs a quorum with it).
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members[i] != nil {
		c.tb.Fatalf("etcdtest: member %d is running", i)
	}
	cfg := c.cfgs[i]
	cfg.NoWait = false
	m, err := etcdembed.Start(context.Background(), cfg)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.members[i] = m
}

// RestartNoWait starts killed member i again without waiting for it to
// serve: for restoring a lost quorum one member at a time.
func (c *Cluster) RestartNoWait(i int) {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members[i] != nil {
		c.tb.Fatalf("etcdtest: member %d is running", i)
	}
	m, err := etcdembed.Start(context.Background(), c.cfgs[i])
	if err != nil {
		c.tb.Fatal(err)
	}
	c.members[i] = m
}

func (c *Cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
	for i, m := range c.members {
		if m != nil {
			m.Kill()
			c.members[i] = nil
		}
	}
}
