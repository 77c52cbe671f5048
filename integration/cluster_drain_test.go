package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pbsnodes -o --wait follows a drain: the checkpointable job is
// checkpointed, stopped and restarted on another node; past the drain
// deadline the rerunnable job is requeued and runs again elsewhere, the
// one that is not rerunnable is left to finish there, and pbsnodes says
// which (exit status 1); pbsnodes -a shows the node offline,draining with
// the job left.
func TestClusterDrainWaitAndDeadline(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, ckptConf+"slots = 3\n")
	b := c.nodes[0]
	// Everything on node1: the others are offline while the jobs start.
	b.mustRun("pbsnodes", "-o", "node2")
	b.mustRun("pbsnodes", "-o", "node3")
	count := filepath.Join(c.work, "count.out")
	gate := filepath.Join(c.work, "drain.gate")
	counted := filepath.Join(c.work, "count.gate")
	ck := b.qsub("-o", count, b.script("count.sh", "#!/bin/sh\ni=0\nwhile [ ! -e "+counted+" ]; do echo $i; i=$((i+1)); sleep 0.2; done\n"))
	rerun := b.qsub("-c", "n", "-r", "y", b.script("rerun.sh", "#!/bin/sh\necho run >> "+c.work+"/rerun.runs\nsleep 600\n"))
	stay := b.qsub("-c", "n", "-r", "n", b.script("stay.sh", "#!/bin/sh\nwhile [ ! -e "+gate+" ]; do sleep 0.05; done\n"))
	for _, id := range []uint64{ck, rerun, stay} {
		if h := host(b.waitState(id, "running")); h != "node1" {
			t.Fatalf("job %d runs on %s, want node1", id, h)
		}
	}
	b.waitLines(count, 5)
	b.mustRun("pbsnodes", "-r", "node2")
	b.mustRun("pbsnodes", "-r", "node3")
	srv := c.nodes[1]

	// No deadline: the checkpointable job migrates; the others stay.
	cmd := exec.Command(bin("pbsnodes"), "-o", "--wait", "-C", "maintenance", "node1")
	cmd.Env, cmd.Dir = srv.env(), srv.work
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not a timed assertion: a drain that never shows the line fails the
	// test instead of hanging it.
	guard := time.AfterFunc(5*time.Minute, func() { cmd.Process.Kill() })
	defer guard.Stop()
	var lines []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), jobArg(ck)+".") && strings.Contains(sc.Text(), "restarted on node") {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	got := strings.Join(lines, "\n")
	for _, want := range []string{"node1: offline, draining 3 job(s) (no deadline)",
		jobArg(ck) + ".", ": checkpointed (generation ", ": restarted on node"} {
		if !strings.Contains(got, want) {
			t.Errorf("pbsnodes -o --wait printed:\n%s\nwant a line with %q", got, want)
		}
	}
	j := srv.job(ck)
	if len(j.Segments) != 2 || !j.Segments[1].Restart || host(j) == "node1" {
		t.Errorf("the checkpointable job did not migrate: %+v", j)
	}

	// A deadline: past it the rerunnable job is requeued, the other left.
	r := srv.run("pbsnodes", "-o", "--wait", "--drain-timeout", "1s", "node1")
	if r.code != 1 || !strings.Contains(r.stderr, "node1: the drain deadline passed; left to finish there: "+jobArg(stay)+".") {
		t.Errorf("pbsnodes -o --wait --drain-timeout 1s: %+v", r)
	}
	for _, want := range []string{"node1: offline, draining 2 job(s) (deadline ",
		jobArg(rerun) + ".", ": requeued (", ": running again on node",
		jobArg(stay) + "." + "", "left to finish on node1 (not rerunnable; the drain deadline passed)",
		"node1 not drained: 1 requeued and running again, 1 left to finish there"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pbsnodes -o --wait printed:\n%s\nwant %q", r.stdout, want)
		}
	}
	if j := srv.job(rerun); j.State != "running" || host(j) == "node1" || len(j.Segments) != 2 {
		t.Errorf("the rerunnable job after the deadline: %+v", j)
	}
	list := srv.mustRun("pbsnodes", "-a")
	if !strings.Contains(list, "node1\n     Mom = node1\n     ntype = PBS\n     state = offline,draining") ||
		!strings.Contains(list, "jobs = "+jobArg(stay)+".") || !strings.Contains(list, "drain_by = ") {
		t.Errorf("pbsnodes -a:\n%s", list)
	}
	if l := srv.mustRun("pbsnodes", "-l"); !strings.Contains(l, "node1") {
		t.Errorf("pbsnodes -l:\n%s", l)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(counted, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if j := srv.waitState(stay, "finished", "failed"); j.State != "finished" || len(j.Segments) != 1 || host(j) != "node1" {
		t.Errorf("the job left to finish: %+v", j)
	}
	if j := srv.waitState(ck, "finished", "failed"); j.State != "finished" {
		t.Errorf("the migrated job: %+v", j)
	}
	checkCount(t, srv.readFile(count))
	srv.waitFor("node1 to be drained", func() bool {
		return strings.Contains(srv.mustRun("pbsnodes", "-a"), "node1\n     Mom = node1\n     ntype = PBS\n     state = offline\n")
	})
	srv.mustRun("qdel", jobArg(rerun))
	srv.mustRun("pbsnodes", "-r", "node1")
}

// checkCount checks the output of a counting job that was moved: each
// number once, in order, from 0.
func checkCount(t *testing.T, out string) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != strconv.Itoa(i) {
			t.Errorf("line %d of the counting job's output is %q, want %d", i+1, l, i)
			return
		}
	}
}
