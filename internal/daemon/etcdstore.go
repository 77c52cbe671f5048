package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"lazarus/config"
	"lazarus/queue"
)

// sharedScripts is the store's spool in shared_dir: the scripts and
// environments of the cluster's jobs (queue.EtcdOptions.SpoolDir).
const sharedScripts = "scripts"

// openStore opens the job store: the state directory's bbolt file, or,
// with etcd_endpoints, the cluster's records in etcd (queue.OpenEtcd).
// closeStore closes the store, then its etcd client.
func openStore(ctx context.Context, cfg config.Config, dir string, opts queue.Options) (s *queue.Store, closeStore func() error, err error) {
	if len(cfg.EtcdEndpoints) == 0 {
		s, err := queue.Open(filepath.Join(dir, dbFile), opts)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	cl, err := etcdClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err = queue.OpenEtcd(ctx, cl, cfg.EtcdPrefix, queue.EtcdOptions{
		Options: opts, SpoolDir: filepath.Join(cfg.SharedDir, sharedScripts)})
	if err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("etcd at %s: %w", strings.Join(cfg.EtcdEndpoints, ","), err)
	}
	return s, func() error { return errors.Join(s.Close(), cl.Close()) }, nil
}

// etcdClient connects to the cluster's etcd, over TLS when the
// configuration names certificates or an endpoint is https.
func etcdClient(cfg config.Config) (*clientv3.Client, error) {
	cc := clientv3.Config{Endpoints: cfg.EtcdEndpoints, DialTimeout: 10 * time.Second,
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second, Logger: zap.NewNop()}
	https := false
	for _, e := range cfg.EtcdEndpoints {
		https = https || strings.HasPrefix(e, "https://")
	}
	if https || cfg.EtcdCA != "" || cfg.EtcdCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.EtcdCA != "" {
			pem, err := os.ReadFile(cfg.EtcdCA)
			if err != nil {
				return nil, fmt.Errorf("etcd_ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd_ca %s: no PEM certificate in it", cfg.EtcdCA)
			}
		}
		if cfg.EtcdCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.EtcdCert, cfg.EtcdKey)
			if err != nil {
				return nil, fmt.Errorf("etcd_cert, etcd_key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cc.TLS = tc
	}
	cl, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd: %w", err)
	}
	return cl, nil
}
