package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// gateScript is a job that records when it starts, checks that no other
// job of its group runs at the same time (mkdir is atomic), and waits for
// the file "go" before it ends.
const gateScript = `#!/bin/sh
echo $LAZARUS_JOBID >> order
if mkdir running.d 2>/dev/null; then mine=1; else echo "$LAZARUS_JOBID overlapped" >> overlaps; fi
while [ ! -e go ]; do sleep 0.05; done
sleep 0.2
[ -n "$mine" ] && rmdir running.d
true
`

func TestBatchPriorityThenSubmissionOrder(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 1\n")
	b.mustRun("qmgr", "-c", "create queue low priority=-5")
	b.mustRun("qmgr", "-c", "create queue high")
	b.mustRun("qmgr", "-c", "set queue high priority = 10")
	gate := b.script("gate.sh", gateScript)
	blocker := b.qsub(gate) // holds the only slot
	b.waitState(blocker, "running")
	l1 := b.qsub("-q", "low", gate)
	h1 := b.qsub("-q", "high", gate)
	n1 := b.qsub(gate)
	l2 := b.qsub("-q", "low", gate)
	h2 := b.qsub("-q", "high", gate)
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	for _, id := range []uint64{blocker, l1, h1, n1, l2, h2} {
		b.waitState(id, "finished")
	}
	got := strings.Fields(b.readFile(filepath.Join(b.work, "order")))
	var want []string
	for _, id := range []uint64{blocker, h1, h2, n1, l1, l2} {
		want = append(want, strconv.FormatUint(id, 10))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("start order = %v, want %v (priority, then submission)", got, want)
	}
	if data, err := os.ReadFile(filepath.Join(b.work, "overlaps")); err == nil {
		t.Errorf("jobs ran together on one slot: %s", data)
	}
}

// runLimited submits jobs that must run one at a time and checks that they
// never overlap, while all of them complete.
func runLimited(t *testing.T, b *batch, submit func(script string) uint64) {
	t.Helper()
	gate := b.script("gate.sh", gateScript)
	var ids []uint64
	for range 3 {
		ids = append(ids, submit(gate))
	}
	b.waitState(ids[0], "running")
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	maxRunning := 0
	b.waitFor("all jobs to finish", func() bool {
		running, done := 0, 0
		for _, j := range b.jobs(ids...) {
			switch j.State {
			case "running", "exiting":
				running++
			case "finished":
				done++
			}
		}
		maxRunning = max(maxRunning, running)
		return done == len(ids)
	})
	if maxRunning > 1 {
		t.Errorf("qstat saw %d jobs running at once, want at most 1", maxRunning)
	}
	if data, err := os.ReadFile(filepath.Join(b.work, "overlaps")); err == nil {
		t.Errorf("jobs overlapped: %s", data)
	}
}

func TestBatchQueueMaxRunning(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 4\n")
	b.mustRun("qmgr", "-c", "create queue one max_running=1")
	runLimited(t, b, func(s string) uint64 { return b.qsub("-q", "one", s) })
}

func TestBatchQueueMaxUserRunning(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 4\n")
	b.mustRun("qmgr", "-c", "create queue peruser")
	b.mustRun("qmgr", "-c", "set queue peruser max_user_running = 1")
	runLimited(t, b, func(s string) uint64 { return b.qsub("-q", "peruser", s) })
}

func TestBatchServerMaxUserRunning(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 4\nmax_user_running = 1\n")
	runLimited(t, b, func(s string) uint64 { return b.qsub(s) })
}

func TestBatchSlotsBoundCPUs(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 2\n")
	runLimited(t, b, func(s string) uint64 { return b.qsub("-l", "ncpus=2", s) })
}

func TestBatchQmgr(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.mustRun("qmgr", "-c", "create queue night priority=3, max_running=2")
	out := b.mustRun("qmgr", "-c", "list queue night")
	for _, want := range []string{"Queue night\n", "priority = 3\n", "max_running = 2\n", "enabled = true\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("list queue lacks %q:\n%s", want, out)
		}
	}
	b.mustRun("qmgr", "-c", "disable queue night")
	script := b.script("t.sh", "#!/bin/sh\ntrue\n")
	if r := b.run("qsub", "-q", "night", script); r.code == 0 || r.stderr != "qsub: queue night is disabled: it accepts no jobs\n" {
		t.Errorf("qsub to a disabled queue: %v", r)
	}
	b.mustRun("qmgr", "-c", "enable queue night")
	b.mustRun("qmgr", "-c", "stop queue night")
	id := b.qsub("-q", "night", script)
	if r := b.run("qmgr", "-c", "delete queue night"); r.code == 0 || !strings.Contains(r.stderr, "has 1 jobs that have not ended") {
		t.Errorf("delete of a queue with jobs: %v", r)
	}
	if r := b.run("qmgr", "-c", "delete queue batch"); r.code == 0 || !strings.Contains(r.stderr, "default queue") {
		t.Errorf("delete of the default queue: %v", r)
	}
	// The stopped queue keeps its job; started, it runs it.
	if j := b.job(id); j.State != "queued" {
		t.Errorf("job in a stopped queue: %+v", j)
	}
	b.mustRun("qmgr", "-c", "start queue night")
	b.waitState(id, "finished")
	b.mustRun("qmgr", "-c", "delete queue night")
	if r := b.run("qmgr", "-c", "list queue night"); r.code == 0 || r.stderr != "qmgr: unknown queue \"night\"\n" {
		t.Errorf("list of a deleted queue: %v", r)
	}

	// Commands from standard input: a failure is reported with its line
	// and the others still run.
	r := b.runWith(cmdOpts{stdin: "# setup\ncreate queue a\nset queue a colour = blue\ncreate queue b\nfrobnicate\n"}, "qmgr")
	if r.code != 1 || r.stderr != "qmgr: line 3: unknown queue attribute \"colour\": bad queue setting (known: priority, enabled, started, max_running, max_user_running, ckpt_min, ckpt_default, ckpt_keep, ckpt_compress, ckpt_full_every, net_default)\n"+
		"qmgr: line 5: syntax error: \"frobnicate\" needs an object: queue, server or job (try help)\n" {
		t.Errorf("qmgr from stdin: %v", r)
	}
	out = b.mustRun("qstat", "-Q")
	if !strings.Contains(out, "\na ") || !strings.Contains(out, "\nb ") {
		t.Errorf("queues a and b missing:\n%s", out)
	}

	// Server settings are written to lazarus.conf, comments kept.
	b.mustRun("qmgr", "-c", "set server max_walltime = 10:00:00")
	conf, _ := os.ReadFile(filepath.Join(b.home, "lazarus.conf"))
	if !strings.Contains(string(conf), "kill_grace = 1s\n") || !strings.Contains(string(conf), "max_walltime = 10:00:00\n") {
		t.Errorf("lazarus.conf after set server:\n%s", conf)
	}
	if r := b.run("qsub", "-l", "walltime=11:00:00", script); r.code == 0 || !strings.Contains(r.stderr, "more than the limit of 10:00:00") {
		t.Errorf("qsub over max_walltime: %v", r)
	}
	if r := b.run("qmgr", "-c", "set server slots = many"); r.code == 0 || !strings.Contains(r.stderr, "slots = many") {
		t.Errorf("bad server setting: %v", r)
	}
	if out := b.mustRun("qmgr", "-c", "list server"); !strings.Contains(out, "max_walltime = 10:00:00") {
		t.Errorf("list server:\n%s", out)
	}

	// Job commands through qmgr.
	held := b.qsub("-h", script)
	b.mustRun("qmgr", "-c", "release job "+strconv.FormatUint(held, 10))
	b.waitState(held, "finished")

	// shutdown stops the daemon cleanly.
	b.mustRun("qmgr", "-c", "shutdown")
	if err := b.waitExit(); err != nil {
		t.Errorf("lazarusd after shutdown: %v", err)
	}
	if r := b.run("qstat"); r.code == 0 || !strings.Contains(r.stderr, "lazarusd is not running") {
		t.Errorf("qstat after shutdown: %v", r)
	}
}

func TestBatchSIGHUPReloadsConfig(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.mustRun("qmgr", "-c", "create queue other")
	conf := filepath.Join(b.home, "lazarus.conf")
	os.WriteFile(conf, []byte(testConf+"default_queue = other\n"), 0o644)
	b.cmd.Process.Signal(syscall.SIGHUP)
	script := b.script("t.sh", "#!/bin/sh\ntrue\n")
	b.waitFor("the new default queue", func() bool {
		var id uint64
		r := b.run("qsub", "-h", script)
		if r.code == 0 {
			id, _ = parseJobID(r.stdout)
		}
		return id > 0 && b.job(id).Queue == "other"
	})
	// A broken file is refused; the daemon keeps the configuration it has.
	os.WriteFile(conf, []byte("slots = lots\n"), 0o644)
	b.cmd.Process.Signal(syscall.SIGHUP)
	b.waitFor("the reload error in the log", func() bool {
		return strings.Contains(b.log(), "configuration not reloaded")
	})
	if !b.running() {
		t.Fatal("lazarusd died on a bad configuration")
	}
	if id := b.qsub("-h", script); b.job(id).Queue != "other" {
		t.Error("configuration lost after a bad reload")
	}
}

func TestBatchQstatWait(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub("-h", b.script("t.sh", "#!/bin/sh\ntrue\n"))
	cmd := exec.Command(bin("qstat"), "-c", "--wait", strconv.FormatUint(id, 10))
	cmd.Env = b.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("qstat -w returned before the job changed: %v, %s", err, out.String())
	default:
	}
	b.mustRun("qrls", strconv.FormatUint(id, 10))
	if err := <-done; err != nil {
		t.Fatalf("qstat -w: %v, %s", err, out.String())
	}
	if !strings.Contains(out.String(), strconv.FormatUint(id, 10)+" ") {
		t.Errorf("qstat -w printed %q", out.String())
	}
	if r := b.run("qstat", "--wait"); r.code == 0 || r.stderr != "qstat: --wait needs the ids of the jobs to wait for\n" {
		t.Errorf("qstat --wait without ids: %v", r)
	}
}
