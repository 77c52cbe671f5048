package integration

// The batch benchmarks of batch_bench_test.go on a daemon whose store is
// in etcd (a one-member etcd embedded in the benchmark, with fsync), for
// comparison with bbolt's figures.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lazarus/internal/etcdtest"
	"lazarus/queue"
)

// etcdBenchHome returns a state directory whose lazarus.conf puts the
// store in a new etcd.
func etcdBenchHome(b *testing.B) (home string, c *etcdtest.Cluster) {
	b.Helper()
	c = etcdtest.Start(b, etcdtest.Options{Members: 1, Fsync: true})
	home = b.TempDir()
	conf := fmt.Sprintf("slots = 64\netcd_insecure = true\netcd_endpoints = %s\nshared_dir = %s\n",
		strings.Join(c.Endpoints(), ","), filepath.Join(home, "shared"))
	if err := os.WriteFile(filepath.Join(home, "lazarus.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	return home, c
}

// BenchmarkBatchEtcdQstat100k: qstat latency with 100,000 jobs in etcd.
func BenchmarkBatchEtcdQstat100k(b *testing.B) {
	home, c := etcdBenchHome(b)
	s, err := queue.OpenEtcd(b.Context(), c.NewClient(b), "/lazarus", queue.EtcdOptions{
		SpoolDir: filepath.Join(home, "shared", "scripts"), IDBlock: 1000})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := fillStore(s, benchJobs); err != nil {
		b.Fatal(err)
	}
	one := queuedJob(s)
	s.Close()
	b.Logf("stored %d jobs in etcd in %v", benchJobs, time.Since(t0).Round(time.Millisecond))
	d := startBenchDaemon(b, home)
	b.Logf("lazarusd on etcd with %d jobs: ready in %v", benchJobs, d.startup.Round(time.Millisecond))
	b.ReportMetric(d.startup.Seconds()*1000, "start-ms")
	benchQstat(b, home, one)
}

// BenchmarkBatchEtcdQsubAPI: submissions per second through the protocol
// to a daemon on etcd.
func BenchmarkBatchEtcdQsubAPI(b *testing.B) {
	home, _ := etcdBenchHome(b)
	startBenchDaemon(b, home)
	benchQsubAPI(b, home)
}
