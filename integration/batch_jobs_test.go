package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/internal/testenv"
)

func TestBatchJobRunsAndWritesOutput(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	sub := filepath.Join(b.work, "sub")
	os.Mkdir(sub, 0o755)
	script := b.script("env.sh", `#!/bin/sh
echo "id=$LAZARUS_JOBID name=$LAZARUS_JOBNAME queue=$LAZARUS_QUEUE"
echo "workdir=$LAZARUS_O_WORKDIR pwd=$(pwd)"
echo "greeting=$GREETING other=$OTHER env=$LAZARUS_ENVIRONMENT"
echo "home=$HOME user=$USER"
tty || true
echo "to stderr" >&2
exit 3
`)
	r := b.runWith(cmdOpts{dir: sub, env: []string{"OTHER=from-qsub"}}, "qsub", "-v", "GREETING=hello,OTHER", script)
	if r.code != 0 {
		t.Fatalf("qsub: %v", r)
	}
	id, _ := parseJobID(r.stdout)
	j := b.waitState(id, "failed")
	if j.Reason != "exit status 3" || len(j.Segments) != 1 || j.Segments[0].ExitCode != 3 {
		t.Errorf("job = %+v, want failed with exit status 3", j)
	}
	out := b.readFile(filepath.Join(sub, fmt.Sprintf("env.sh.o%d", id)))
	want := []string{
		fmt.Sprintf("id=%d name=env.sh queue=batch", id),
		"workdir=" + sub + " pwd=" + sub,
		"greeting=hello other=from-qsub env=LAZARUS_BATCH",
		"not a tty",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if got := b.readFile(filepath.Join(sub, fmt.Sprintf("env.sh.e%d", id))); got != "to stderr\n" {
		t.Errorf("error file = %q", got)
	}

	// -o, -e with a directory, -j oe, stdin as the script, -N.
	outdir := filepath.Join(b.work, "out")
	os.Mkdir(outdir, 0o755)
	id2 := b.qsubWith(cmdOpts{stdin: "echo one; echo two >&2\n"}, "-N", "piped", "-j", "oe", "-o", outdir)
	if j := b.waitState(id2, "finished", "failed"); j.State != "finished" || j.Name != "piped" {
		t.Errorf("piped job = %+v", j)
	}
	if got := b.readFile(filepath.Join(outdir, fmt.Sprintf("piped.o%d", id2))); got != "one\ntwo\n" {
		t.Errorf("joined output = %q", got)
	}
	id3 := b.qsub("-o", "custom.out", "-e", "custom.err", b.script("ok.sh", "#!/bin/sh\necho fine\n"))
	b.waitState(id3, "finished")
	if got := b.readFile(filepath.Join(b.work, "custom.out")); got != "fine\n" {
		t.Errorf("-o file = %q", got)
	}
	if _, err := os.Stat(filepath.Join(b.work, "custom.err")); err != nil {
		t.Errorf("-e file: %v", err)
	}
}

func TestBatchScriptIsCopiedAtSubmission(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("v.sh", "#!/bin/sh\necho version one\n")
	id := b.qsub("-h", script)
	b.script("v.sh", "#!/bin/sh\necho version two\n")
	b.mustRun("qrls", strconv.FormatUint(id, 10))
	b.waitState(id, "finished")
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("v.sh.o%d", id))); got != "version one\n" {
		t.Errorf("output = %q, want the script as submitted", got)
	}
}

func TestBatchHoldReleaseDelete(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	ids := func(id uint64) string { return strconv.FormatUint(id, 10) }
	held := b.qsub("-h", b.script("a.sh", "#!/bin/sh\ntrue\n"))
	if j := b.job(held); j.State != "held" || !strings.Contains(j.Reason, "held by") {
		t.Fatalf("qsub -h: %+v", j)
	}
	if r := b.run("qhold", ids(held)); r.code == 0 || !strings.Contains(r.stderr, "already held") {
		t.Errorf("qhold of a held job: %v", r)
	}
	b.mustRun("qrls", ids(held))
	b.waitState(held, "finished")
	if r := b.run("qrls", ids(held)); r.code == 0 || r.stderr != fmt.Sprintf("qrls: job %d is finished, not held\n", held) {
		t.Errorf("qrls of a finished job: %v", r)
	}

	// A queued job is held, then deleted outright.
	b.mustRun("qmgr", "-c", "stop queue batch")
	q := b.qsub(b.script("b.sh", "#!/bin/sh\ntrue\n"))
	b.mustRun("qhold", ids(q))
	b.mustRun("qdel", ids(q))
	if r := b.run("qstat", "-c", ids(q)); r.code != 1 || r.stderr != fmt.Sprintf("qstat: unknown job id %d\n", q) {
		t.Errorf("qstat of a deleted job: %v", r)
	}
	b.mustRun("qmgr", "-c", "start queue batch")

	// A running job: its whole tree goes, even what ignores SIGTERM. Its
	// policy n keeps qhold from checkpointing and holding it.
	long := b.qsub("-c", "n", b.script("long.sh", `#!/bin/sh
trap '' TERM
sh -c 'trap "" TERM; echo $$ > child.pid; exec sleep 300' &
wait
`))
	b.waitState(long, "running")
	child := 0
	b.waitFor("the job's child", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.work, "child.pid"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return child > 0
	})
	child = b.hostPID(long, child)
	if r := b.run("qhold", ids(long)); r.code == 0 || !strings.Contains(r.stderr, "its checkpoint policy is n: it cannot be held") {
		t.Errorf("qhold of a running job: %v", r)
	}
	b.mustRun("qdel", ids(long))
	j := b.waitState(long, "failed")
	if j.Reason != "deleted by root" && !strings.HasPrefix(j.Reason, "deleted by ") {
		t.Errorf("deleted job: %+v", j)
	}
	if len(j.Segments) != 1 || j.Segments[0].End.IsZero() {
		t.Errorf("deleted job's run: %+v", j.Segments)
	}
	if err := syscall.Kill(child, 0); err != syscall.ESRCH {
		t.Errorf("process %d of the deleted job survived: %v", child, err)
	}
	if r := b.run("qdel", ids(long)); r.code == 0 || !strings.Contains(r.stderr, "has already failed") {
		t.Errorf("qdel of an ended job: %v", r)
	}
}

func TestBatchWalltimeAndDeferredStart(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub("-l", "walltime=00:00:01", b.script("w.sh", "#!/bin/sh\nsleep 300\n"))
	j := b.waitState(id, "failed")
	if !strings.HasPrefix(j.Reason, "walltime exceeded") {
		t.Errorf("walltime job: %+v", j)
	}

	// A full date: should qsub be slow to start, a time of day already past
	// would mean tomorrow.
	after := time.Now().Add(4 * time.Second)
	id2 := b.qsub("-a", after.Format("200601021504.05"), b.script("a.sh", "#!/bin/sh\ntrue\n"))
	j2 := b.job(id2)
	if j2.After.Unix() != after.Unix() {
		t.Errorf("not before = %v, want %v", j2.After, after)
	}
	j2 = b.waitState(id2, "finished")
	if start := j2.Segments[0].Start; start.Before(after.Truncate(time.Second)) {
		t.Errorf("job started at %v, before its -a time %v", start, after)
	}
}

func TestBatchAccountsCPUOfTheWholeTree(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	// The work is done by a grandchild that is orphaned: only the
	// supervisor (as subreaper) waits for it.
	id := b.qsub(b.script("cpu.sh", `#!/bin/sh
( ( awk 'BEGIN { for (i = 0; i < 30000000; i++) s += i }'; touch done ) & )
while [ ! -e done ]; do sleep 0.05; done
`))
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" {
		t.Fatalf("job: %+v", j)
	}
	if j.CPUSec < 0.2 || len(j.Segments) != 1 || math.Abs(j.Segments[0].UserCPUSec+j.Segments[0].SysCPUSec-j.CPUSec) > 1e-6 {
		t.Errorf("CPU accounting: total %.3fs, segments %+v", j.CPUSec, j.Segments)
	}
	full := b.mustRun("qstat", "-c", "-f", strconv.FormatUint(id, 10))
	for _, want := range []string{"run 1 = ", "exit status 0", "total = 1 run, wall "} {
		if !strings.Contains(full, want) {
			t.Errorf("qstat -f lacks %q:\n%s", want, full)
		}
	}
}

func TestBatchRunsAsSubmitter(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	home := filepath.Join(b.work, "nobody")
	os.Mkdir(home, 0o755)
	os.Chown(home, int(cred.Uid), int(cred.Gid))
	script := filepath.Join(home, "who.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nid -u; id -g\n"), 0o755)
	os.Chown(script, int(cred.Uid), int(cred.Gid))
	as := cmdOpts{dir: home, cred: cred}
	id := b.qsubWith(as, script)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.UID != cred.Uid || j.User != "nobody" {
		t.Fatalf("job of nobody: %+v", j)
	}
	out := filepath.Join(home, fmt.Sprintf("who.sh.o%d", id))
	if got, want := b.readFile(out), fmt.Sprintf("%d\n%d\n", cred.Uid, cred.Gid); got != want {
		t.Errorf("ids in the job = %q, want %q", got, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil || st.Uid != cred.Uid {
		t.Errorf("output owned by uid %d, want %d", st.Uid, cred.Uid)
	}

	// Users manage their own jobs only; queues are for root and operators.
	b.mustRun("qmgr", "-c", "stop queue batch")
	mine := b.qsub(b.script("root.sh", "#!/bin/sh\ntrue\n"))
	theirs := b.qsubWith(as, script)
	for _, cmd := range []string{"qdel", "qhold"} {
		r := b.runWith(as, cmd, strconv.FormatUint(mine, 10))
		if r.code == 0 || r.stderr != fmt.Sprintf("%s: job %d belongs to root\n", cmd, mine) {
			t.Errorf("%s of root's job by nobody: %v", cmd, r)
		}
	}
	if r := b.runWith(as, "qmgr", "-c", "create queue mine"); r.code == 0 || !strings.Contains(r.stderr, "only root and operators") {
		t.Errorf("qmgr create queue by nobody: %v", r)
	}
	if r := b.runWith(as, "qstat", "-Q"); r.code != 0 {
		t.Errorf("qstat -Q by nobody: %v", r)
	}
	b.runWith(as, "qhold", strconv.FormatUint(theirs, 10))
	if j := b.job(theirs); j.State != "held" {
		t.Errorf("nobody's own hold: %+v", j)
	}
	b.mustRun("qdel", strconv.FormatUint(theirs, 10)) // root may
	if got := b.jobs(mine); len(got) != 1 || got[0].State != "queued" {
		t.Errorf("root's job after refused actions: %+v", got)
	}

	// An output file the user may not write: the job fails, and says why.
	b.mustRun("qmgr", "-c", "start queue batch")
	bad := b.qsubWith(as, "-o", filepath.Join(b.home, "spool", "x.out"), script)
	j = b.waitState(bad, "failed")
	if !strings.Contains(j.Reason, "cannot open output file") || !strings.Contains(j.Reason, "permission denied") {
		t.Errorf("job with a forbidden output file: %+v", j)
	}
}

func TestBatchExportedEnvironmentAndFilters(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsubWith(cmdOpts{env: []string{"LAZARUS_TEST_VAR=exported"}}, "-V", "-N", "envjob",
		b.script("e.sh", "#!/bin/sh\necho \"var=$LAZARUS_TEST_VAR home=$LAZARUS_O_HOME\"\n"))
	b.waitState(id, "finished")
	out := b.readFile(filepath.Join(b.work, fmt.Sprintf("envjob.o%d", id)))
	if want := "var=exported home=" + os.Getenv("HOME") + "\n"; out != want {
		t.Errorf("job output = %q, want %q", out, want)
	}
	// Without -V the variable stays behind.
	id2 := b.qsubWith(cmdOpts{env: []string{"LAZARUS_TEST_VAR=exported"}}, "-N", "plain",
		b.script("e.sh", "#!/bin/sh\necho \"var=$LAZARUS_TEST_VAR\"\n"))
	b.waitState(id2, "finished")
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("plain.o%d", id2))); got != "var=\n" {
		t.Errorf("without -V: %q", got)
	}

	held := b.qsub("-h", b.script("h.sh", "#!/bin/sh\ntrue\n"))
	me := b.mustRun("qstat", "-c", "-u", "root")
	for _, id := range []uint64{id, id2, held} {
		if !strings.Contains(me, "\n"+strconv.FormatUint(id, 10)+" ") {
			t.Errorf("qstat -u root lacks job %d:\n%s", id, me)
		}
	}
	if r := b.run("qstat", "-u", "nobody"); r.code != 0 || r.stdout != "" {
		t.Errorf("qstat -u of a user without jobs: %v", r)
	}
	onlyHeld := b.mustRun("qstat", "-c", "--state", "held")
	if strings.Count(onlyHeld, "\n") != 3 || !strings.Contains(onlyHeld, " held ") {
		t.Errorf("qstat -s held:\n%s", onlyHeld)
	}
}

func TestBatchOperators(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "operators = nobody\n")
	as := cmdOpts{cred: cred}
	if r := b.runWith(as, "qmgr", "-c", "create queue ops"); r.code != 0 {
		t.Errorf("operator creating a queue: %v", r)
	}
	b.mustRun("qmgr", "-c", "stop queue batch")
	id := b.qsub(b.script("r.sh", "#!/bin/sh\ntrue\n"))
	if r := b.runWith(as, "qdel", strconv.FormatUint(id, 10)); r.code != 0 {
		t.Errorf("operator deleting root's job: %v", r)
	}
}

func TestBatchMemoryLimit(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "memory cgroups need root")
	}
	v1 := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	ctl, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if _, err := os.Stat(v1); err != nil && !strings.Contains(string(ctl), "memory") {
		testenv.Unavailable(t, "this machine has no memory cgroup controller")
	}
	b := newBatch(t, "")
	// awk doubles a string until it is 1 GiB; the limit stops it at 32 MiB.
	id := b.qsub("-l", "mem=32mb", b.script("hog.sh", "#!/bin/sh\nawk 'BEGIN { s = \"x\"; for (i = 0; i < 30; i++) s = s s; print length(s) }'\n"))
	j := b.waitState(id, "failed", "finished")
	if j.State != "failed" || j.Reason != "memory limit exceeded (mem=32mb)" {
		t.Errorf("memory hog: %+v", j)
	}
}

func TestBatchSingleUserDaemon(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatchAs(t, "", cred)
	as := cmdOpts{cred: cred}
	script := b.script("me.sh", "#!/bin/sh\nid -u\n")
	id := b.qsubWith(as, script)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Fatalf("job of the daemon's user: %+v", j)
	}
	if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("me.sh.o%d", id))); got != fmt.Sprintf("%d\n", cred.Uid) {
		t.Errorf("job ran as %q", got)
	}
	r := b.run("qsub", script) // root: a daemon that is not root cannot run its jobs
	oneLine(t, "qsub", r, fmt.Sprintf("lazarusd runs as uid %d, not root, so it runs only that user's jobs", cred.Uid))
	// The daemon's own user manages it.
	if r := b.runWith(as, "qmgr", "-c", "create queue mine"); r.code != 0 {
		t.Errorf("qmgr by the daemon's user: %v", r)
	}
}
