package integration

// Cluster mode: three node daemons on this machine (state directories and
// node names of their own, one shared directory) over an embedded etcd of
// three members run by the test process.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/etcdtest"
	"lazarus/internal/proc"
	"lazarus/internal/proto"
)

// nodeTTL is the node lease of the tests: a lost node is seen within it.
const nodeTTL = 5 * time.Second

type testCluster struct {
	t      testing.TB
	etcd   *etcdtest.Cluster
	shared string
	work   string // where the jobs write, the same for every node
	nodes  []*batch
	names  []string
}

// newCluster starts an etcd of three members and n node daemons.
func newCluster(t testing.TB, n int, conf string) *testCluster {
	t.Helper()
	batchNeedRoot(t)
	c := &testCluster{t: t, etcd: etcdtest.New(t, 3), shared: t.TempDir()}
	c.work = filepath.Join(c.shared, "work")
	if err := os.Mkdir(c.work, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(c.work, os.ModeSticky|0o777)
	for i := range n {
		name := fmt.Sprintf("node%d", i+1)
		cfg := fmt.Sprintf("%setcd_endpoints = %s\netcd_insecure = true\netcd_prefix = /lz\nshared_dir = %s\nnode_name = %s\nnode_ttl = %s\n",
			conf, strings.Join(c.etcd.Endpoints(), ","), c.shared, name, nodeTTL)
		if !strings.Contains(conf, "slots =") {
			cfg += "slots = 2\n"
		}
		b := newBatchIn(t, t.TempDir(), cfg, nil)
		b.work = c.work
		c.nodes = append(c.nodes, b)
		c.names = append(c.names, name)
	}
	return c
}

// node returns the daemon of a node by name.
func (c *testCluster) node(name string) *batch {
	for i, n := range c.names {
		if n == name {
			return c.nodes[i]
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

// any returns a daemon that is up, other than those named.
func (c *testCluster) other(not ...string) *batch {
	for i, b := range c.nodes {
		if b.running() && !contains(not, c.names[i]) {
			return b
		}
	}
	c.t.Fatal("no node left")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// host is the node whose exec_host a running job has.
func host(j proto.JobInfo) string {
	h, _, _ := strings.Cut(j.ExecHost, "/")
	return h
}

// powerCut kills everything of a node at once: its daemon, its
// supervisors and their jobs' trees, as a host losing power.
func (c *testCluster) powerCut(b *batch) {
	c.t.Helper()
	sups := b.supervisors()
	var all []int
	for _, pid := range sups {
		kids, _ := proc.Descendants(pid)
		all = append(all, append(kids, pid)...)
	}
	for _, pid := range sups {
		syscall.Kill(pid, syscall.SIGSTOP) // no one of them acts on the others' death
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	for _, pid := range all {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	b.waitExit()
}

// Jobs are spread over the nodes; qstat -f from any node shows where each
// runs and PBS_NODEFILE names that host.
func TestClusterJobsSpread(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, "")
	b := c.nodes[0]
	var ids []uint64
	for i := range 6 {
		s := b.script(fmt.Sprintf("spread%d.sh", i), "#!/bin/sh\ncat \"$PBS_NODEFILE\" > "+c.work+fmt.Sprintf("/spread%d.nodes", i)+"\nsleep 600\n")
		ids = append(ids, c.nodes[i%3].qsub(s))
	}
	hosts := map[string]int{}
	for i, id := range ids {
		j := c.nodes[(i+1)%3].waitState(id, "running")
		hosts[host(j)]++
		var nodes string
		b.waitFor("the job's node file copy", func() bool {
			data, _ := os.ReadFile(filepath.Join(c.work, fmt.Sprintf("spread%d.nodes", i)))
			nodes = strings.TrimSpace(string(data))
			return nodes != ""
		})
		if nodes != host(j) {
			t.Errorf("job %d runs on %q (exec_host %s), its PBS_NODEFILE says %q", id, host(j), j.ExecHost, nodes)
		}
	}
	if len(hosts) != 3 || hosts["node1"] != 2 || hosts["node2"] != 2 || hosts["node3"] != 2 {
		t.Errorf("jobs per node %v, want 2 on each of the 3 nodes", hosts)
	}
	if out := c.nodes[2].mustRun("qstat", "-f", jobArg(ids[0])); !strings.Contains(out, "exec_host = node") {
		t.Errorf("qstat -f:\n%s", out)
	}
	// qdel from a node that does not run the job.
	j := b.job(ids[1])
	c.other(host(j)).mustRun("qdel", jobArg(ids[1]))
	b.waitState(ids[1], "finished", "failed", "deleted")
}

// A power cut of a node: its checkpointed job restarts on another node
// from its newest generation and finishes with the result of an
// uninterrupted run, under the same id.
func TestClusterPowerCutOfANode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	b := c.nodes[0]
	id, out := b.nbodyJob("powercut", steps, bodies)
	j := b.waitState(id, "running")
	victim := host(j)
	b.waitLines(out, 15)
	// qchkpnt from a node that does not run it: forwarded.
	c.other(victim).mustRun("qchkpnt", jobArg(id))
	j = b.job(id)
	if len(j.Checkpoints) != 1 || !strings.HasPrefix(j.Checkpoints[0].Dir, c.shared) {
		t.Fatalf("generations %+v, want one in the shared directory", j.Checkpoints)
	}
	c.powerCut(c.node(victim))
	survivor := c.other(victim)
	survivor.waitFor("the job to restart on another node", func() bool {
		j = survivor.job(id)
		return j.State == "running" && host(j) != "" && host(j) != victim
	})
	j = survivor.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after the power cut: %+v", j)
	}
	checkNbodyOutput(t, out, want)
}

// server returns the node that is the server now (the one whose log
// says so last), waiting for one.
func (c *testCluster) server(not ...string) *batch {
	c.t.Helper()
	var found *batch
	c.nodes[0].waitFor("a server", func() bool {
		for i, b := range c.nodes {
			if b.running() && !contains(not, c.names[i]) && strings.Count(b.log(), "this node is the server") > strings.Count(b.log(), "this node lost the server role") {
				found = b
				return true
			}
		}
		return false
	})
	return found
}

// The server daemon is killed (kill -9, and it stays down): another node
// takes over; every job runs to its end once, none is lost.
func TestClusterServerFailover(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, "")
	srv := c.server()
	done := filepath.Join(c.work, "done")
	job := func(b *batch, i int) uint64 {
		s := b.script(fmt.Sprintf("fo%d.sh", i), fmt.Sprintf("#!/bin/sh\nsleep 15\necho %d >> %s\n", i, done))
		return b.qsub(s)
	}
	ids := map[uint64]int{}
	for i := range 4 {
		ids[job(c.nodes[i%3], i)] = i
	}
	for id := range ids {
		srv.waitState(id, "running")
	}
	name := ""
	for i, b := range c.nodes {
		if b == srv {
			name = c.names[i]
		}
	}
	syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL) // the daemon alone: its jobs run on
	srv.waitExit()
	other := c.other(name)
	for i := 4; i < 6; i++ {
		ids[job(other, i)] = i
	}
	next := c.server(name)
	if next == srv {
		t.Fatal("the killed daemon is still the server")
	}
	for id := range ids {
		j := next.waitState(id, "finished", "failed")
		if j.State != "finished" {
			t.Errorf("job %d: %+v", id, j)
		}
	}
	data, _ := os.ReadFile(done)
	for id, i := range ids {
		if n := strings.Count("\n"+string(data), fmt.Sprintf("\n%d\n", i)); n != 1 {
			t.Errorf("job %d (script %d) ran to its end %d times; done file:\n%s", id, i, n, data)
		}
	}
	// The cluster's one accounting log (shared_dir/accounting), copied by
	// the server of the moment: each job queued, started and ended once,
	// across the fail-over; tracejob of any node reads it.
	acct := func() string {
		var all strings.Builder
		files, _ := filepath.Glob(filepath.Join(c.shared, "accounting", "*"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			all.Write(data)
		}
		return all.String()
	}
	var log string
	next.waitFor("the E records in the accounting log", func() bool {
		log = acct()
		for id := range ids {
			if !strings.Contains(log, fmt.Sprintf(";E;%s.", jobArg(id))) {
				return false
			}
		}
		return true
	})
	for id := range ids {
		count := func(typ string) int { return strings.Count(log, fmt.Sprintf(";%s;%s.", typ, jobArg(id))) }
		// A job of the killed server's node was fenced after the node
		// TTL and rerun: one more start for each rerun (R) record.
		if q, s, r, e := count("Q"), count("S"), count("R"), count("E"); q != 1 || e != 1 || s != 1+r {
			t.Errorf("job %d has %d Q, %d S, %d R and %d E records in the cluster's accounting log:\n%s", id, q, s, r, e, log)
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, ";S;"+jobArg(id)+".") && !strings.Contains(line, " exec_host=node") {
				t.Errorf("the start record of job %d does not name its node: %s", id, line)
			}
		}
		if out := other.mustRun("tracejob", "-n", "0", jobArg(id)); !strings.Contains(out, "E;"+jobArg(id)+".") {
			t.Errorf("tracejob %d on another node:\n%s", id, out)
		}
	}
}

// One etcd member dies: the cluster goes on (submissions, starts, ends).
func TestClusterEtcdMemberLost(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, "")
	c.etcd.Kill(1)
	b := c.nodes[2]
	s := b.script("member.sh", "#!/bin/sh\necho ran on $PBS_NODEFILE\n")
	var ids []uint64
	for range 3 {
		ids = append(ids, b.qsub(s))
	}
	for _, id := range ids {
		if j := c.nodes[0].waitState(id, "finished", "failed"); j.State != "finished" {
			t.Errorf("job %d: %+v", id, j)
		}
	}
}

// A node cut off (its daemon stopped past its lease's TTL; it may be the
// server) fences its job
// before the server restarts it elsewhere from its checkpoint; when the
// daemon comes back it runs no second copy, and the job's result is that
// of an uninterrupted run.
func TestClusterCutOffNodeIsFenced(t *testing.T) {
	t.Parallel()
	heavy(t)
	c := newCluster(t, 3, ckptConf)
	// Long enough that the job cannot end on its own within the node TTL
	// of the cut-off (an end before the fence is a run that ended, not a
	// fenced one).
	const steps, bodies = 12000, 600
	want := nbodyReference(t, steps, bodies)
	id, out := c.nodes[0].nbodyJob("cutoff", steps, bodies)
	victim := host(c.nodes[0].waitState(id, "running"))
	srv := c.other(victim) // asks, from now on (the victim may be the server)
	srv.waitLines(out, 15)
	srv.mustRun("qchkpnt", jobArg(id))
	v := c.node(victim)
	sups := v.supervisors()
	if len(sups) != 1 {
		t.Fatalf("node %s has supervisors %v, want the job's", victim, sups)
	}
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(v.cmd.Process.Pid, syscall.SIGCONT)
		}
	}()
	var j proto.JobInfo
	srv.waitFor("the job to restart on another node", func() bool {
		j = srv.job(id)
		return j.State == "running" && host(j) != victim && len(j.Segments) == 2
	})
	// The cut-off node's copy was gone before the restart.
	if left := v.supervisors(); len(left) != 0 {
		t.Fatalf("the cut-off node still runs supervisors %v of the job", left)
	}
	if !strings.Contains(v.readFile(filepath.Join(v.home, "run", jobArg(id), "exit.json")), "fenced") {
		t.Errorf("the cut-off node's run did not end fenced: %s", v.readFile(filepath.Join(v.home, "run", jobArg(id), "exit.json")))
	}
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGCONT)
	stopped = false
	v.waitFor("the node to register again", func() bool {
		return strings.Contains(v.log(), "node registered") && strings.Count(v.log(), "node registered") >= 2
	})
	j = srv.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("job after the cut-off: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if strings.Contains(v.log(), "job ended\" node="+victim+" job_id="+jobArg(id)) {
		t.Errorf("the cut-off node recorded the end of the job it lost:\n%s", v.log())
	}
}

// A host offlined (pbsnodes -o HOST, from another host): its checkpointable
// job migrates (checkpointed, stopped, restarted on another node from that
// checkpoint) and finishes with the result of an uninterrupted run; a job
// that cannot be checkpointed runs on there; nothing new is placed there.
func TestClusterOfflineNodeDrains(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	b := c.nodes[0]
	id, out := b.nbodyJob("drain", steps, bodies)
	victim := host(b.waitState(id, "running"))
	// Five jobs that cannot be checkpointed fill the six slots: one of
	// them runs on the victim.
	var keep uint64
	stay := b.script("stay.sh", "#!/bin/sh\nsleep 20\n")
	for range 5 {
		k := b.qsub("-c", "n", stay)
		if host(b.waitState(k, "running")) == victim {
			keep = k
		}
	}
	if keep == 0 {
		t.Fatal("no job of the five was placed on the victim")
	}
	b.waitLines(out, 15)
	other := c.other(victim)
	other.mustRun("pbsnodes", "-o", "-C", "disk swap", victim)
	var j proto.JobInfo
	other.waitFor("the job to migrate", func() bool {
		j = other.job(id)
		return j.State == "running" && host(j) != victim && len(j.Segments) == 2
	})
	if !j.Segments[1].Restart {
		t.Errorf("the migrated run did not restart from a checkpoint: %+v", j.Segments)
	}
	// From the checkpoint the migration took, the newest: its directory
	// must not have been removed by the node it left.
	newest := 0
	for _, g := range j.Checkpoints {
		if g.Bad != "" {
			t.Errorf("generation %d marked bad: %s", g.N, g.Bad)
		}
		newest = max(newest, g.N)
	}
	if j.Segments[1].Generation != newest {
		t.Errorf("the migrated run restarted from generation %d, the newest is %d", j.Segments[1].Generation, newest)
	}
	list := other.mustRun("pbsnodes", "-a")
	if !strings.Contains(list, victim+"\n     Mom = "+victim+"\n     ntype = PBS\n     state = offline") || !strings.Contains(list, "comment = disk swap") {
		t.Errorf("pbsnodes -a:\n%s", list)
	}
	if l := other.mustRun("pbsnodes", "-l"); !strings.Contains(l, victim) {
		t.Errorf("pbsnodes -l:\n%s", l)
	}
	// Nothing new goes to the offline node.
	more := other.qsub(other.script("more.sh", "#!/bin/sh\ntrue\n"))
	if h := host(other.waitState(more, "running", "finished")); h == victim {
		t.Errorf("a job was placed on the offline node")
	}
	j = other.waitState(id, "finished", "failed")
	if j.State != "finished" {
		t.Fatalf("migrated job: %+v", j)
	}
	checkNbodyOutput(t, out, want)
	if k := other.waitState(keep, "finished", "failed"); k.State != "finished" || len(k.Segments) != 1 || host(k) != victim {
		t.Errorf("the job that cannot be checkpointed: %+v", k)
	}
	other.mustRun("pbsnodes", "-r", victim)
}
