package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A run that ends by itself after its node's daemon died, before the fence
// would kill it: the supervisor's copy of its end record in shared_dir
// tells the server, when the node's lease expires, how the job ended. The
// job is finished with its exit status and its output, and ran once.
func TestClusterRunEndOutlivesItsDaemon(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, "")
	b := c.nodes[0]
	runs := filepath.Join(c.work, "lostend.runs")
	gate := filepath.Join(c.work, "lostend.gate")
	out := filepath.Join(c.work, "lostend.out")
	s := b.script("lostend.sh", "#!/bin/sh\necho run >> "+runs+"\necho started\n"+
		"while [ ! -e "+gate+" ]; do sleep 0.05; done\necho the end\nexit 3\n")
	id := b.qsub("-c", "n", "-o", out, "-j", "oe", s)
	victim := host(b.waitState(id, "running"))
	srv := c.other(victim)
	v := c.node(victim)
	srv.waitFor("the job to run", func() bool { return strings.Contains(srv.readFile(runs), "run") })
	sups := v.supervisors()
	if len(sups) != 1 {
		t.Fatalf("node %s has supervisors %v, want the job's", victim, sups)
	}
	// The daemon stops first, so that it cannot see the end, then dies
	// (kill -9 of the daemon alone: its supervisor lives on).
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGSTOP)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.waitFor("the job's supervisor to end", func() bool { return len(v.supervisors()) == 0 })
	exit := v.readFile(filepath.Join(v.home, "run", jobArg(id), "exit.json"))
	if strings.Contains(exit, "fenced") || !strings.Contains(exit, `"exit_code":3`) {
		t.Fatalf("the run did not end by itself before the fence: %s", exit)
	}
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGKILL)
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGCONT)
	v.waitExit()
	j := srv.waitState(id, "finished", "failed")
	// Ended by itself with status 3: failed, as on a node that stays up.
	if j.State != "failed" || j.Reason != "exit status 3" || len(j.Segments) != 1 || j.ExitStatus == nil || *j.ExitStatus != 3 {
		t.Fatalf("job whose node died after its end: %+v", j)
	}
	if r := srv.readFile(runs); strings.Count(r, "run") != 1 {
		t.Errorf("the job ran %d times, want once", strings.Count(r, "run"))
	}
	if o := srv.readFile(out); o != "started\nthe end\n" {
		t.Errorf("output %q", o)
	}
	// The end copy is swept once the end is recorded.
	srv.waitFor("the end copy to be swept", func() bool {
		e, _ := os.ReadDir(filepath.Join(c.shared, "ends"))
		return len(e) == 0
	})
}

// A checkpoint helper working on a node that is cut off is not fenced: the
// generation it writes is never recorded, and what it leaves in
// shared_dir/checkpoints is removed by the server, never used.
func TestClusterCutOffCheckpointIsSwept(t *testing.T) {
	t.Parallel()
	hooks := t.TempDir() // root's, writable by root only: a valid hook
	gate := filepath.Join(hooks, "gate")
	prologue := filepath.Join(hooks, "checkpoint_prologue")
	if err := os.WriteFile(prologue, []byte("#!/bin/sh\nwhile [ ! -e "+gate+" ]; do sleep 0.05; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, "checkpoint_prologue = "+prologue+"\n")
	b := c.nodes[0]
	s := b.script("swept.sh", "#!/bin/sh\ntouch "+filepath.Join(c.work, "swept.started")+"\nsleep 600\n")
	id := b.qsub("-c", "s", "-r", "y", s)
	victim := host(b.waitState(id, "running"))
	srv := c.other(victim)
	v := c.node(victim)
	// Running in the record comes with the placement, before the job's
	// processes: a qchkpnt then finds none (on a loaded machine).
	srv.readFile(filepath.Join(c.work, "swept.started"))
	done := make(chan result, 1)
	go func() { done <- srv.run("qchkpnt", jobArg(id)) }()
	// The checkpoint of generation 1 waits in its prologue.
	j := srv.waitState(id, "checkpointing")
	syscall.Kill(v.cmd.Process.Pid, syscall.SIGSTOP)
	defer syscall.Kill(v.cmd.Process.Pid, syscall.SIGCONT)
	srv.waitFor("the job to restart on another node", func() bool {
		j = srv.job(id)
		return j.State == "running" && host(j) != victim && len(j.Segments) == 2
	})
	// What the helper writes after the server requeued the job.
	left := filepath.Join(c.shared, "checkpoints", jobArg(id)+".ckpt", "1")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "core.1"), []byte("half an image"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gate, nil, 0o644)
	srv.waitFor("the unrecorded generation to be removed", func() bool {
		_, err := os.Stat(left)
		return os.IsNotExist(err)
	})
	<-done
	if j = srv.job(id); len(j.Checkpoints) != 0 || j.Segments[1].Restart {
		t.Errorf("the lost checkpoint was recorded or used: %+v", j)
	}
	// The next checkpoint has a number of its own.
	srv.mustRun("qchkpnt", jobArg(id))
	if j = srv.job(id); len(j.Checkpoints) != 1 || j.Checkpoints[0].N != 2 {
		t.Errorf("generations after the lost one: %+v", j.Checkpoints)
	}
	srv.mustRun("qdel", jobArg(id))
	srv.waitState(id, "finished", "failed", "deleted")
}
