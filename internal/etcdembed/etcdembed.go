// Package etcdembed runs an etcd member inside this process: the test
// clusters of internal/etcdtest, and a single-member etcd for a one-host
// trial of cluster mode. It owns the member's configuration (URLs, data
// directory, logging) and nothing else; clients talk to it over its client
// URL like to any other etcd.
//
// Invariants: Start returns only a member that serves clients (or has
// joined its cluster and waits for a quorum); every member started is ended
// by Close or Kill, which release its ports and its data directory's lock.
package etcdembed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config describes one member.
type Config struct {
	Name string // unique in its cluster; default "default"
	Dir  string // data directory (created if needed)
	// ClientURL and PeerURL are where the member listens for clients and
	// for the other members, e.g. "http://127.0.0.1:2379".
	ClientURL, PeerURL string
	// InitialCluster lists every member of a new cluster as
	// "name=peerURL,...". Empty: a cluster of this member alone. Once the
	// data directory holds a member, it is ignored (a restart rejoins).
	InitialCluster string
	// Logger gets etcd's log; nil: errors only, on standard error.
	Logger *zap.Logger
	// NoFsync turns etcd's fsyncs off: for tests only, where a power cut
	// is not what is tested (a crash of the process loses nothing).
	NoFsync bool
	// ReadyTimeout bounds how long Start waits for the member to serve
	// (a member of a new cluster waits for a quorum); default one minute.
	ReadyTimeout time.Duration
	// NoWait makes Start return once the member listens, without waiting
	// for it to serve: for starting the members of a new cluster one
	// after the other (each waits for the others). Wait waits.
	NoWait bool
}

// Member is a running etcd member.
type Member struct {
	cfg Config
	e   *embed.Etcd
}

// ErrNotReady means the member did not become ready in time.
var ErrNotReady = errors.New("etcd member not ready")

// Start starts a member and waits until it serves (see Config.NoWait).
func Start(ctx context.Context, cfg Config) (*Member, error) {
	ec := embed.NewConfig()
	if cfg.Name != "" {
		ec.Name = cfg.Name
	}
	ec.Dir = cfg.Dir
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd client url: %w", err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd peer url: %w", err)
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	if cfg.InitialCluster != "" {
		ec.InitialCluster = cfg.InitialCluster
	} else {
		ec.InitialCluster = ec.Name + "=" + pu.String()
	}
	ec.InitialClusterToken = "lazarus"
	lg := cfg.Logger
	if lg == nil {
		lg, err = zap.NewProduction(zap.IncreaseLevel(zapcore.ErrorLevel))
		if err != nil {
			return nil, err
		}
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	ec.UnsafeNoFsync = cfg.NoFsync
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %s: %w", ec.Name, err)
	}
	m := &Member{cfg: cfg, e: e}
	if cfg.NoWait {
		return m, nil
	}
	if err := m.Wait(ctx); err != nil {
		m.Kill()
		return nil, err
	}
	return m, nil
}

// Wait waits until the member serves clients.
func (m *Member) Wait(ctx context.Context) error {
	d := m.cfg.ReadyTimeout
	if d <= 0 {
		d = time.Minute
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-m.e.Server.ReadyNotify():
		return nil
	case err := <-m.e.Err():
		return fmt.Errorf("etcd member %s: %w", m.Name(), err)
	case <-timer.C:
		return fmt.Errorf("etcd member %s after %v: %w", m.Name(), d, ErrNotReady)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Name returns the member's name.
func (m *Member) Name() string { return m.e.Config().Name }

// ClientURL returns the URL clients use.
func (m *Member) ClientURL() string { return m.cfg.ClientURL }

// Config returns the configuration the member was started with.
func (m *Member) Config() Config { return m.cfg }

// Err returns a channel that gets the member's fatal errors.
func (m *Member) Err() <-chan error { return m.e.Err() }

// Close stops the member gracefully: a leader hands its leadership over
// first.
func (m *Member) Close() { m.e.Close() }

// Kill stops the member abruptly, as a crash would: the raft loop stops at
// once, without handing leadership over, then the listeners close. What
// it had committed is in its data directory (unless NoFsync).
func (m *Member) Kill() {
	m.e.Server.HardStop()
	m.e.Close()
}

// FreeURL returns an http URL on a loopback port that is free now.
func FreeURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
