package integration

// Trust between users of one batch system: what one user may learn of
// another's jobs, and who may read a job's output.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// Another user sees of a job only its summary line (query_other_jobs is
// false, as in PBS): not its -v variables, paths or history, in any reply
// that carries job details; operators see everything, and
// query_other_jobs = true shows it to everyone.
func TestBatchOtherUsersSeeOnlyTheSummary(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	const secret = "hunter2-" + "f3a9"
	id := b.qsub("-v", "DB_PASSWORD="+secret, "-N", "private", b.script("p.sh", "#!/bin/sh\necho done\n"))
	b.waitState(id, "finished")
	arg := strconv.FormatUint(id, 10)
	leaks := func(r result) bool {
		return strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, b.work) ||
			strings.Contains(r.stdout, "DB_PASSWORD") || strings.Contains(r.stderr, secret)
	}
	views := [][]string{
		{"-x", "-f", arg},
		{"-c", "-f", arg},
		{"-c", "-f", "-F", "json", arg},
		{"-x", "-f", "-F", "json", arg},
		{"-x", "-f", "-F", "json"},
		{"-x", "-f", "-u", "root"},
		{"-H", "-f"},
		{"-x", "-w", "-f", arg},
		{"-x", "-F", "json"},
		{"-x", arg},
		{"-c", "-f", "-F", "json"},
		{"-c", "-f", "-u", "root"},
		{"-c", "-f", "--state", "finished"},
		{"-c", "-F", "json"},
		{"-c", arg},
	}
	for _, args := range views {
		r := b.runWith(as, "qstat", args...)
		if r.code != 0 || leaks(r) {
			t.Errorf("qstat %s by nobody: %v", strings.Join(args, " "), r)
		}
		if !strings.Contains(r.stdout, "private") {
			t.Errorf("qstat %s by nobody: %v, want the job's summary", strings.Join(args, " "), r)
		}
	}
	if r := b.runWith(as, "qstat", "-c", "-f", arg); !strings.Contains(r.stdout, "state = finished") ||
		!strings.Contains(r.stdout, "shown to the job's owner, root and operators only") {
		t.Errorf("qstat -f of root's job by nobody: %v", r)
	}
	if r := b.run("qstat", "-x", "-f", arg); !strings.Contains(r.stdout, "DB_PASSWORD="+secret) {
		t.Errorf("qstat -f by the owner: %v, want its variables", r)
	}
	// Nobody's own job: nobody sees it whole.
	own := b.qsubWith(as, "-v", "MINE=yes", b.script("n.sh", "#!/bin/sh\ntrue\n"))
	b.waitState(own, "finished", "failed")
	if r := b.runWith(as, "qstat", "-x", "-f", strconv.FormatUint(own, 10)); !strings.Contains(r.stdout, "MINE=yes") {
		t.Errorf("qstat -f of nobody's own job: %v", r)
	}

	for _, set := range []string{"operators = nobody", "query_other_jobs = true"} {
		b.mustRun("qmgr", "-c", "set server "+set)
		for _, args := range views[:3] {
			if r := b.runWith(as, "qstat", args...); !strings.Contains(r.stdout, "DB_PASSWORD="+secret) {
				t.Errorf("with %s, qstat %s by nobody: %v, want every field", set, strings.Join(args, " "), r)
			}
		}
		b.mustRun("qmgr", "-c", "set server operators = root")
	}
}

// Output and error files are created 0600, for their owner only, unless
// the job asks for another umask with -W umask.
func TestBatchOutputFileModes(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("m.sh", "#!/bin/sh\necho out; echo err >&2; umask > mask\n")
	tests := []struct {
		name string
		args []string
		want os.FileMode
	}{
		{"default", nil, 0o600},
		{"umask 022", []string{"-W", "umask=022"}, 0o644},
		{"umask 007", []string{"-W", "umask=007"}, 0o660},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := b.qsub(append(tt.args, "-N", "m"+strconv.Itoa(len(tt.args)), script)...)
			j := b.waitState(id, "finished", "failed")
			if j.State != "finished" {
				t.Fatalf("job: %+v", j)
			}
			for _, p := range []string{j.Stdout, j.Stderr} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != tt.want {
					t.Errorf("%s: mode %#o, want %#o", filepath.Base(p), got, tt.want)
				}
			}
		})
	}
	for _, bad := range []string{"umask=0999", "umask=", "umask=12345", "mode=022"} {
		r := b.run("qsub", "-W", bad, script)
		if r.code == 0 || r.stderr == "" {
			t.Errorf("qsub -W %s: %v, want an error", bad, r)
		}
	}
	if r := b.run("qsub", "-W", "umask=0999", script); !strings.Contains(r.stderr, fmt.Sprintf("umask=%s", "0999")) {
		t.Errorf("qsub -W umask=0999: %v, want the value named", r)
	}
}

// fill writes a file into dir until its file system is full; it returns
// the file's path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				break
			}
		}
	}
	return path
}

// A state directory (a 16 MiB tmpfs: the store, the spool and the
// checkpoints) that fills up during a checkpoint: the failure that cannot
// be recorded then is recorded once there is space again, so the job
// leaves the checkpointing state by itself; qstat says the directory is
// full meanwhile; qchkpnt works again afterwards, and nothing is lost.
// The second round stops the daemon while the directory is full (whatever
// waited to be recorded is lost with it, when the store could not take the
// failure) and frees the space before the next daemon starts: that one
// settles the checkpoint from the run directory.
func TestBatchStateDirFull(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	home := t.TempDir()
	os.Chmod(home, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=755", "tmpfs", home).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a tmpfs: %v %s", err, out)
	}
	// Registered first, so that it runs after the daemon's cleanup.
	t.Cleanup(func() { unix.Unmount(home, unix.MNT_DETACH) })
	b := newBatchIn(t, home, "", nil)
	id := b.qsub("-N", "full", b.script("full.sh", "#!/bin/sh\nwhile [ ! -e stop ]; do sleep 0.05; done\necho done\n"))
	b.waitState(id, "running")
	if r := b.run("qchkpnt", jobArg(id)); r.code != 0 {
		t.Fatalf("first qchkpnt: %v", r)
	}
	checkFull := func(phase string) {
		t.Helper()
		filler := fill(t, home)
		r := b.run("qchkpnt", jobArg(id))
		if r.code != 1 || !strings.Contains(r.stderr, "space") {
			t.Errorf("%s: qchkpnt on a full state directory: %v", phase, r)
		}
		// Whether the store can take the start of the checkpoint depends
		// on the free pages bbolt has in its file: when it cannot, no
		// checkpoint starts and there is no failure to record.
		started := !strings.Contains(r.stderr, "cannot write the state database")
		if r := b.run("qstat", "-c"); !strings.Contains(r.stderr, "qstat: warning: the state directory "+home+" is full") ||
			!strings.Contains(r.stdout, "full") {
			t.Errorf("%s: qstat on a full state directory: %v", phase, r)
		}
		if r := b.run("qstat", "-c", "-f", "-F", "json", jobArg(id)); !strings.Contains(r.stdout, `"state_dir_problem"`) {
			t.Errorf("%s: qstat -F json on a full state directory: %v", phase, r)
		}
		if r := b.run("qmgr", "-c", "list server"); !strings.Contains(r.stdout, "state_dir_problem = the state directory "+home+" is full") {
			t.Errorf("%s: qmgr list server on a full state directory: %v", phase, r)
		}
		if phase == "daemon restarted" {
			b.stop() // what waits to be recorded is lost with it
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if phase == "daemon restarted" {
			b.start()
		}
		// The job leaves checkpointing: its failed checkpoint is recorded.
		j := b.waitState(id, "running")
		if len(j.Checkpoints) == 0 || j.Checkpoints[len(j.Checkpoints)-1].N != 1 {
			t.Errorf("%s: generations %+v, want the first one kept", phase, j.Checkpoints)
		}
		found := false
		for _, e := range j.Events {
			found = found || strings.Contains(e.Text, "failed")
		}
		if started && (!found || j.CheckpointError == "") {
			t.Errorf("%s: the failed checkpoint is not in the job's record: error %q, events %+v", phase, j.CheckpointError, j.Events)
		}
		// The warnings go once what waited is written (the accounting
		// log's writer retries on its own schedule).
		b.waitFor("qstat without warnings after space was freed", func() bool {
			return !strings.Contains(b.run("qstat").stderr, "warning")
		})
		if r := b.run("qchkpnt", jobArg(id)); r.code != 0 {
			t.Errorf("%s: qchkpnt after space was freed: %v", phase, r)
		}
	}
	checkFull("daemon running")
	checkFull("daemon restarted")
	os.WriteFile(filepath.Join(b.work, "stop"), nil, 0o644)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 1 {
		t.Errorf("the job at the end: %+v", j)
	}
	if out := b.readFile(j.Stdout); out != "done\n" {
		t.Errorf("the job's output: %q", out)
	}
}
