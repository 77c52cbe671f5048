package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qmove -n HOST JOB moves one running checkpointable job to node HOST:
// checkpointed, stopped, restarted there, with a line per step; it is
// refused for a job that cannot be checkpointed or is not running, for a
// node that is unknown, the job's own, offline or full, and for a user
// who is neither the owner nor an operator. qmove DEST JOB still moves
// between queues.
func TestClusterQmoveToNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf)
	b := c.nodes[0]
	// A job that takes a whole node first: that node is full.
	wide := b.qsub("-c", "n", "-l", "ncpus=2", b.script("wide.sh", "#!/bin/sh\nsleep 600\n"))
	full := host(b.waitState(wide, "running"))
	count := filepath.Join(c.work, "move.out")
	counted := filepath.Join(c.work, "move.gate")
	id := b.qsub("-o", count, b.script("move.sh", "#!/bin/sh\ni=0\nwhile [ ! -e "+counted+" ]; do echo $i; i=$((i+1)); sleep 0.2; done\n"))
	from := host(b.waitState(id, "running"))
	never := b.qsub("-c", "n", b.script("never.sh", "#!/bin/sh\nsleep 600\n"))
	b.waitState(never, "running")
	held := b.qsub("-h", b.script("held.sh", "#!/bin/sh\ntrue\n"))
	var free string
	for _, n := range c.names {
		if n != full && n != from {
			free = n
		}
	}
	if free == "" || from == full {
		t.Fatalf("placement: wide on %s, the job on %s", full, from)
	}
	b.waitLines(count, 5)
	srv := c.other(from)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not checkpointable", []string{"-n", free, jobArg(never)}, "checkpoint policy n: it cannot be checkpointed"},
		{"not running", []string{"-n", free, jobArg(held)}, "is held; only a running job can move"},
		{"unknown node", []string{"-n", "nosuch", jobArg(id)}, "nosuch: unknown node"},
		{"its own node", []string{"-n", from, jobArg(id)}, "runs on node " + from + " already"},
		{"full node", []string{"-n", full, jobArg(id)}, "node " + full + " is full: 0 of its 2 slots are free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := srv.run("qmove", tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("qmove %s: %+v, want one line with %q", strings.Join(tc.args, " "), r, tc.want)
			}
		})
	}
	if r := srv.runWith(cmdOpts{cred: nobody(t)}, "qmove", "-n", free, jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "belongs to root") {
		t.Errorf("qmove -n by another user: %+v", r)
	}
	srv.mustRun("pbsnodes", "-o", free)
	if r := srv.run("qmove", "-n", free, jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "node "+free+" is offline") {
		t.Errorf("qmove -n to an offline node: %+v", r)
	}
	srv.mustRun("pbsnodes", "-r", free)
	if j := srv.job(id); j.State != "running" || len(j.Segments) != 1 {
		t.Fatalf("a refused move changed the job: %+v", j)
	}

	out := srv.mustRun("qmove", "-n", free, jobArg(id))
	for _, want := range []string{": moving from " + from + " to " + free + ": checkpointing\n",
		": checkpointed (generation ", "), stopped\n", ": restarted on " + free + " from generation "} {
		if !strings.Contains(out, want) {
			t.Errorf("qmove -n printed:\n%s\nwant %q", out, want)
		}
	}
	j := srv.job(id)
	if j.State != "running" || host(j) != free || len(j.Segments) != 2 || !j.Segments[1].Restart {
		t.Fatalf("the moved job: %+v", j)
	}
	if err := os.WriteFile(counted, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	j = srv.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 {
		t.Fatalf("the moved job at its end: %+v", j)
	}
	// It went on from where it was: each count once, in order.
	checkCount(t, srv.readFile(count))
	// qmove between queues is still qmove.
	srv.mustRun("qmove", "batch", jobArg(held))
	for _, k := range []uint64{wide, never, held} {
		srv.mustRun("qdel", jobArg(k))
	}
}
