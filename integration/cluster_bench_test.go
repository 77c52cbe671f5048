package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkClusterFailover kills the server daemon of three nodes (kill -9,
// and it stays down) and reports how long until another node is the
// server: about the node TTL (5 s here) and the election after it.
func BenchmarkClusterFailover(b *testing.B) {
	c := newCluster(b, 3, "")
	srv := c.server()
	name := ""
	for i, n := range c.nodes {
		if n == srv {
			name = c.names[i]
		}
	}
	t0 := time.Now()
	syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
	srv.waitExit()
	next := c.server(name)
	took := time.Since(t0)
	// A job submitted now starts under the new server.
	id := next.qsub(next.script("after.sh", "#!/bin/sh\ntrue\n"))
	next.waitState(id, "finished")
	started := time.Since(t0)
	b.ReportMetric(took.Seconds(), "failover-s")
	b.ReportMetric(started.Seconds(), "first-job-done-s")
	b.ReportMetric(nodeTTL.Seconds(), "node-ttl-s")
}

// BenchmarkClusterMigrate1GiB drains the node of a job holding 1 GiB
// (memjob: random pages) and reports how long until the job runs again on
// another node from the migration's checkpoint (its new run recorded and
// its restore under way), and the checkpoint's size.
func BenchmarkClusterMigrate1GiB(b *testing.B) {
	c := newCluster(b, 3, "")
	d := c.nodes[0]
	out := filepath.Join(c.work, "mem.out")
	id := d.qsub("-o", out, d.script("mem.sh", fmt.Sprintf("#!/bin/sh\n%s 1024\n", batchProg(b, "memjob"))))
	victim := host(d.waitState(id, "running"))
	d.waitFor("memjob to fill 1 GiB", func() bool {
		data, _ := os.ReadFile(out)
		return strings.Contains(string(data), "ready")
	})
	other := c.other(victim)
	t0 := time.Now()
	other.mustRun("pbsnodes", "-o", victim)
	other.waitFor("the job to run on another node", func() bool {
		j := other.job(id)
		return j.State == "running" && host(j) != victim && len(j.Segments) == 2
	})
	took := time.Since(t0)
	j := other.job(id)
	os.WriteFile(filepath.Join(c.work, "stop"), nil, 0o644)
	j2 := other.waitState(id, "finished", "failed")
	if j2.State != "finished" {
		b.Fatalf("the migrated job: %+v", j2)
	}
	size := 0.0
	if len(j.Checkpoints) > 0 {
		size = float64(j.Checkpoints[0].Size) / (1 << 30)
	}
	b.ReportMetric(took.Seconds(), "restarting-elsewhere-s")
	b.ReportMetric(size, "GiB")
}
