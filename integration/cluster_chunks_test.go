package integration

// Jobs of several chunks (qsub -l select=N:..., place=) in a cluster and
// on a single host.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lazarus/internal/proto"
)

// execHosts are the hosts of an exec_host ("n1/0*1+n2/0*1"), in chunk
// order.
func execHosts(exec string) []string {
	var out []string
	for c := range strings.SplitSeq(exec, "+") {
		h, _, _ := strings.Cut(c, "/")
		out = append(out, h)
	}
	return out
}

// nodeSection is a node's part of pbsnodes -a.
func nodeSection(list, name string) string {
	i := strings.Index(list, name+"\n     Mom = ")
	if i < 0 {
		return ""
	}
	rest := list[i+len(name):]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// A scatter:excl job of two chunks runs on two nodes, lists both in its
// PBS_NODEFILE (mpiprocs lines each), exec_host and pbsnodes, and keeps
// other jobs off them; qchkpnt of it is refused and its periodic
// checkpoints are skipped; jobs that can never run get PBS's comment.
func TestClusterScatterJob(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf)
	b := c.nodes[0]
	nodes := filepath.Join(c.work, "scatter.nodes")
	script := b.script("scatter.sh", "#!/bin/sh\ncat \"$PBS_NODEFILE\" > "+nodes+".tmp && mv "+nodes+".tmp "+nodes+
		"\nwhile [ ! -e "+filepath.Join(c.work, "scatter.go")+" ]; do sleep 0.05; done\n")
	id := b.qsub("-c", "1", "-l", "select=2:ncpus=1:mpiprocs=2", "-l", "place=scatter:excl", script)
	j := b.waitState(id, "running")
	hosts := execHosts(j.ExecHost)
	if len(hosts) != 2 || hosts[0] == hosts[1] {
		t.Fatalf("exec_host %q: want two chunks on two nodes", j.ExecHost)
	}
	b.waitFor("the node file", func() bool { return fileLines(nodes) == 4 })
	if got, want := b.readFile(nodes), hosts[0]+"\n"+hosts[0]+"\n"+hosts[1]+"\n"+hosts[1]+"\n"; got != want {
		t.Errorf("PBS_NODEFILE:\n%s\nwant\n%s", got, want)
	}
	full := b.mustRun("qstat", "-f", jobArg(id))
	for _, want := range []string{
		"exec_host = " + hosts[0] + "/0*1+" + hosts[1] + "/0*1",
		"exec_vnode = (" + hosts[0] + ":ncpus=1)+(" + hosts[1] + ":ncpus=1)",
		"Resource_List.select = 2:ncpus=1:mpiprocs=2", "Resource_List.place = scatter:excl",
		"Resource_List.nodect = 2", "Resource_List.ncpus = 2", "not checkpointable: spans 2 hosts",
	} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -f lacks %q:\n%s", want, full)
		}
	}
	list := b.mustRun("pbsnodes", "-a")
	for _, h := range hosts {
		if s := nodeSection(list, h); !strings.Contains(s, "jobs = "+jobArg(id)+".") {
			t.Errorf("pbsnodes -a: node %s does not list job %d:\n%s", h, id, list)
		}
	}
	// qchkpnt is refused, on any node, in one line.
	for _, n := range c.nodes {
		r := n.run("qchkpnt", jobArg(id))
		if r.code == 0 || !strings.Contains(r.stderr, "not checkpointable: spans 2 hosts") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("qchkpnt of a job on two hosts: %+v", r)
		}
	}
	b.waitFor("a skipped periodic checkpoint in the history", func() bool {
		return slices.ContainsFunc(b.job(id).Events, func(e proto.EventInfo) bool {
			return strings.HasPrefix(e.Text, "periodic checkpoint skipped: not checkpointable: spans 2 hosts")
		})
	})
	if g := b.job(id).Generations; g != 0 {
		t.Errorf("%d generations of a job on two hosts", g)
	}
	// Jobs that can never run: comments, not a silent wait; the pass goes
	// on past them.
	never := map[uint64]string{
		b.qsub("-l", "select=4:ncpus=1", "-l", "place=scatter", b.script("n1.sh", "#!/bin/sh\ntrue\n")): "Can Never Run: place=scatter needs 4 nodes, the cluster has 3 up and online",
		b.qsub("-l", "select=1:ncpus=1+1:ncpus=3", b.script("n2.sh", "#!/bin/sh\ntrue\n")):              "Can Never Run: a chunk of ncpus=3 is bigger than every node (the largest node has 2 slots",
	}
	for nid, want := range never {
		b.waitFor("the comment of job "+jobArg(nid), func() bool {
			return strings.HasPrefix(b.job(nid).Reason, want)
		})
		if j := b.job(nid); j.State != "queued" {
			t.Errorf("job %d that can never run is %s", nid, j.State)
		}
		if f := b.mustRun("qstat", "-f", jobArg(nid)); !strings.Contains(f, "comment = Can Never Run: ") {
			t.Errorf("qstat -f of job %d has no comment:\n%s", nid, f)
		}
	}
	// excl: the third node takes two small jobs; a third waits, although
	// the excl job's nodes have a slot free each, until one of the two
	// ends, and then runs on the third node too.
	third := ""
	for _, n := range c.names {
		if !slices.Contains(hosts, n) {
			third = n
		}
	}
	small := b.script("small.sh", "#!/bin/sh\nwhile [ ! -e "+filepath.Join(c.work, "scatter.go")+" ]; do sleep 0.05; done\n")
	s1, s2, s3 := b.qsub(small), b.qsub(small), b.qsub(small)
	for _, s := range []uint64{s1, s2} {
		if h := host(b.waitState(s, "running")); h != third {
			t.Errorf("job %d placed on %s, beside an excl job (want %s)", s, h, third)
		}
	}
	if j := b.job(s3); j.State != "queued" {
		t.Errorf("the third small job is %s on %q, want queued (the only free slots are on the excl job's nodes)", j.State, j.ExecHost)
	}
	b.mustRun("qdel", jobArg(s1))
	if h := host(b.waitState(s3, "running")); h != third {
		t.Errorf("the third small job was placed on %s, beside an excl job (want %s)", h, third)
	}
	if err := os.WriteFile(filepath.Join(c.work, "scatter.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("scatter job: %+v", j)
	}
	if j := b.waitState(s3, "finished", "failed"); j.State != "finished" {
		t.Errorf("third small job: %+v", j)
	}
	for nid := range never {
		b.mustRun("qdel", jobArg(nid))
	}
}

// After a migration (the node drained) the restored job reads the new
// node in $PBS_NODEFILE: the file's path is the same on every node, its
// content rewritten before the restart.
func TestClusterMigratedNodeFile(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf)
	const steps, bodies = 2400, 600
	b := c.nodes[0]
	out := filepath.Join(c.work, "mig.txt")
	nodes := filepath.Join(c.work, "mig.nodes")
	script := b.script("mig.sh", "#!/bin/sh\n"+batchProg(t, "nbody")+" "+out+" "+strconv.Itoa(steps)+" "+strconv.Itoa(bodies)+
		"\ncat \"$PBS_NODEFILE\" > "+nodes+"\necho \"$PBS_NODEFILE\" >> "+nodes+"\n")
	id := b.qsub(script)
	victim := host(b.waitState(id, "running"))
	b.waitLines(out, 15)
	other := c.other(victim)
	other.mustRun("pbsnodes", "-o", victim)
	var j = other.job(id)
	other.waitFor("the job to migrate", func() bool {
		j = other.job(id)
		return j.State == "running" && host(j) != victim && len(j.Segments) == 2
	})
	now := host(j)
	if !j.Segments[1].Restart {
		t.Fatalf("the migrated run did not restart from a checkpoint: %+v", j.Segments)
	}
	if j := other.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Fatalf("migrated job: %+v", j)
	}
	lines := strings.Split(strings.TrimSpace(other.readFile(nodes)), "\n")
	if len(lines) != 2 || lines[0] != now || !strings.HasPrefix(lines[1], filepath.Join(c.shared, "aux")+"/") {
		t.Errorf("the restored job's node file (then its path) %q; want %s, a file of %s/aux", lines, now, c.shared)
	}
	other.mustRun("pbsnodes", "-r", victim)
}

// On a single host all chunks go on the host: PBS_NODEFILE has a line
// per chunk (mpiprocs 1 each by default); scatter of several is refused.
func TestBatchChunksOneHost(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	nodes := filepath.Join(b.work, "one.nodes")
	id := b.qsub("-l", "select=1:ncpus=1+1:ncpus=1:mpiprocs=2", b.script("one.sh", "#!/bin/sh\ncat \"$PBS_NODEFILE\" > "+nodes+"\necho \"ncpus=$NCPUS\" >> "+nodes+"\n"))
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Fatalf("job: %+v", j)
	}
	lines := strings.Split(strings.TrimSpace(b.readFile(nodes)), "\n")
	if len(lines) != 4 || lines[0] != lines[1] || lines[1] != lines[2] || lines[3] != "ncpus=1" {
		t.Errorf("node file and NCPUS %q: want one host three times (1 + 2 mpiprocs), NCPUS of the first chunk", lines)
	}
	full := b.mustRun("qstat", "-x", "-f", jobArg(id))
	for _, want := range []string{"/0*1+", "/1*1\n", "Resource_List.nodect = 2", "Resource_List.select = 1:ncpus=1+1:ncpus=1:mpiprocs=2", "Resource_List.ncpus = 2"} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -f lacks %q:\n%s", want, full)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-l", "select=2:ncpus=1", "-l", "place=scatter"}, "place=scatter with 2 chunks: each chunk on a host of its own, but this system has one host"},
		{[]string{"-l", "place=excl"}, "excl is not supported on a single host"},
		{[]string{"-l", "select=2:ncpus=100000"}, "ncpus=200000 is more than this machine's"},
		{[]string{"-l", "select=2:ncpus=1:gpus=1"}, `chunk resource "gpus"`},
	} {
		r := b.run("qsub", append(tc.args, b.script("r.sh", "#!/bin/sh\ntrue\n"))...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("qsub %v: %+v, want one line with %q", tc.args, r, tc.want)
		}
	}
}
