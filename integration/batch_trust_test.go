package integration

// Trust between users of one batch system: what one user may learn of
// another's jobs, and who may read a job's output.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Another user sees of a job only its summary line (query_other_jobs is
// false, as in PBS): not its -v variables, paths or history, in any reply
// that carries job details; operators see everything, and
// query_other_jobs = true shows it to everyone.
func TestBatchOtherUsersSeeOnlyTheSummary(t *testing.T) {
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
		{"-f", arg},
		{"-f", "-F", "json", arg},
		{"-f", "-F", "json"},
		{"-f", "-u", "root"},
		{"-f", "-s", "finished"},
		{"-w", "-f", arg},
		{"-F", "json"},
		{arg},
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
	if r := b.runWith(as, "qstat", "-f", arg); !strings.Contains(r.stdout, "state = finished") ||
		!strings.Contains(r.stdout, "shown to the job's owner, root and operators only") {
		t.Errorf("qstat -f of root's job by nobody: %v", r)
	}
	if r := b.run("qstat", "-f", arg); !strings.Contains(r.stdout, "DB_PASSWORD="+secret) {
		t.Errorf("qstat -f by the owner: %v, want its variables", r)
	}
	// Nobody's own job: nobody sees it whole.
	own := b.qsubWith(as, "-v", "MINE=yes", b.script("n.sh", "#!/bin/sh\ntrue\n"))
	b.waitState(own, "finished", "failed")
	if r := b.runWith(as, "qstat", "-f", strconv.FormatUint(own, 10)); !strings.Contains(r.stdout, "MINE=yes") {
		t.Errorf("qstat -f of nobody's own job: %v", r)
	}

	for _, set := range []string{"operators = nobody", "query_other_jobs = true"} {
		b.mustRun("qmgr", "-c", "set server "+set)
		for _, args := range views[:2] {
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
