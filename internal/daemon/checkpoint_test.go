package daemon

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"lazarus/ckpt"
	"lazarus/config"
	"lazarus/internal/proc"
	"lazarus/internal/supervisor"
	"lazarus/internal/testenv"
	"lazarus/jobs"
	"lazarus/queue"
)

// testDaemon is a daemon with a store and no server, supervisors or cron.
func testDaemon(t *testing.T) *Daemon {
	t.Helper()
	dir := t.TempDir()
	store, err := queue.Open(filepath.Join(dir, dbFile), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d := &Daemon{log: slog.New(slog.DiscardHandler), dir: dir, store: store, kick: make(chan struct{}, 1),
		cfg:   config.Default(config.Machine{CPUs: 2}),
		ckpts: ckptTable{ops: map[jobs.ID]*ckptOp{}, tried: map[jobs.ID]time.Time{}}, entries: map[jobs.ID]cron.EntryID{},
		records: newRecorder()}
	if err := store.CreateQueue(queue.NewQueue("batch", time.Now())); err != nil {
		t.Fatal(err)
	}
	return d
}

// put stores a job as fn makes it, from a job that started at start.
func put(t *testing.T, d *Daemon, start time.Time, fn func(j *jobs.Job)) *jobs.Job {
	t.Helper()
	j := &jobs.Job{
		ID: d.store.NextID(), Name: "j", Queue: "batch", State: jobs.Queued, Owner: jobs.Owner{UID: 1000, Name: "u"},
		Submitted: start, Changed: start, Workdir: "/tmp", Resources: jobs.Resources{NCPUs: 1},
		Checkpoint: jobs.Policy{Kind: jobs.CheckpointInterval, Interval: 2 * time.Hour},
	}
	if err := j.Start(start); err != nil {
		t.Fatal(err)
	}
	fn(j)
	if err := d.store.Submit(j, []byte("true\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	return j
}

// The periodic schedule: one interval after the newest of the run's
// start, the last checkpoint and the last failure; the queue's ckpt_min is
// the floor; checkpoint_hour scales hours.
func TestNextCheckpoint(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	d := testDaemon(t)
	if _, err := d.store.UpdateQueue("batch", func(q *queue.Queue) error { return q.Set("ckpt_min", "3") }); err != nil {
		t.Fatal(err)
	}
	if err := d.store.CreateQueue(queue.NewQueue("other", t0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		hour   time.Duration // checkpoint_hour; 0: an hour
		job    func(j *jobs.Job)
		want   time.Time
		wantOK bool
	}{
		{"from the run's start", 0, func(j *jobs.Job) { j.Queue = "other" }, t0.Add(2 * time.Hour), true},
		{"queue floor", 0, func(*jobs.Job) {}, t0.Add(3 * time.Hour), true},
		{"after the last checkpoint", 0, func(j *jobs.Job) {
			j.Queue = "other"
			j.Checkpoints = []jobs.Generation{{N: 1, Time: t0.Add(time.Hour)}}
		}, t0.Add(3 * time.Hour), true},
		{"after a failure", 0, func(j *jobs.Job) {
			j.Queue = "other"
			j.Checkpoints = []jobs.Generation{{N: 1, Time: t0.Add(time.Hour)}}
			j.CheckpointErrorTime = t0.Add(90 * time.Minute)
		}, t0.Add(210 * time.Minute), true},
		{"checkpoints older than the run (a restart)", 0, func(j *jobs.Job) {
			j.Queue = "other"
			j.Checkpoints = []jobs.Generation{{N: 1, Time: t0.Add(-5 * time.Hour)}}
		}, t0.Add(2 * time.Hour), true},
		{"scaled hours", time.Second, func(j *jobs.Job) { j.Queue = "other" }, t0.Add(2 * time.Second), true},
		{"at shutdown only", 0, func(j *jobs.Job) { j.Checkpoint = jobs.DefaultPolicy }, time.Time{}, false},
		{"never", 0, func(j *jobs.Job) { j.Checkpoint = jobs.Policy{Kind: jobs.CheckpointNever} }, time.Time{}, false},
		{"ended", 0, func(j *jobs.Job) { j.End(jobs.Result{End: t0, ExitCode: 0}) }, time.Time{}, false},
		{"being deleted", 0, func(j *jobs.Job) { j.Kill("u", t0) }, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.cfg.CheckpointHour = max(tt.hour, 0)
			if tt.hour == 0 {
				d.cfg.CheckpointHour = time.Hour
			}
			j := put(t, d, t0, tt.job)
			got, ok := d.nextCheckpoint(d.store.View().Job(j.ID))
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("nextCheckpoint = %v, %v, want %v, %v", got, ok, tt.want, tt.wantOK)
			}
			p := periodic{d, j.ID}
			if ok {
				if next := p.Next(t0); !next.Equal(tt.want) {
					t.Errorf("Next(start) = %v, want %v", next, tt.want)
				}
				// Late (the daemon was down): at once, but not in a loop.
				late := tt.want.Add(time.Hour)
				if next := p.Next(late); !next.Equal(late.Add(minGap)) {
					t.Errorf("Next(late) = %v, want %v", next, late.Add(minGap))
				}
			} else if next := p.Next(t0); next.Sub(t0) < time.Hour {
				t.Errorf("Next of a job without periodic checkpoints = %v", next)
			}
		})
	}
}

// Recovery settles checkpoints left in progress and runs stopped on
// purpose, from what the run and generation directories say.
func TestRecoverCheckpoints(t *testing.T) {
	d := testDaemon(t)
	var err error
	d.watch, err = newWatcher(d.log, d.collect)
	if err != nil {
		t.Fatal(err)
	}
	defer d.watch.stop()
	boot, _ := proc.BootID()
	dead := proc.Identity{PID: os.Getpid(), StartTime: 1, BootID: boot}
	start := time.Now().Add(-time.Hour).Round(0)
	// complete makes generation n of a job complete on disk.
	complete := func(id jobs.ID, n int) {
		dir := d.genDir(id, n)
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, supervisor.RootImage), []byte("image"), 0o600)
	}
	runFile := func(id jobs.ID, name string, v any) {
		dir := d.jobRunDir(id)
		os.MkdirAll(dir, 0o700)
		data, _ := json.Marshal(v)
		os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	lost := func(id jobs.ID) {
		os.MkdirAll(d.jobRunDir(id), 0o700)
		os.WriteFile(filepath.Join(d.jobRunDir(id), supervisor.LockFile), nil, 0o600)
		runFile(id, supervisor.InfoFile, supervisor.Info{Supervisor: dead, Job: dead})
	}
	checkpointing := func(requeue bool) func(j *jobs.Job) {
		return func(j *jobs.Job) {
			if _, err := j.BeginCheckpoint(jobs.CheckpointOp{Requeue: requeue, By: "u"}, start); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A machine crash during a checkpoint whose images were all durable:
	// the generation is recorded, and the job restarts from it, rerunnable
	// or not.
	durable := put(t, d, start, checkpointing(false))
	d.store.UpdateJob(durable.ID, func(j *jobs.Job) error { j.Rerunnable = false; return nil })
	complete(durable.ID, 1)
	lost(durable.ID)
	// The same crash before the images were durable: the checkpoint failed,
	// and the half-written generation goes.
	torn := put(t, d, start, checkpointing(false))
	d.store.UpdateJob(torn.ID, func(j *jobs.Job) error { j.Rerunnable = true; return nil })
	os.MkdirAll(d.genDir(torn.ID, 1), 0o700)
	lost(torn.ID)
	// qchkpnt -k: the job was killed after its checkpoint, the daemon down.
	stopped := put(t, d, start, checkpointing(true))
	complete(stopped.ID, 1)
	lost(stopped.ID)
	runFile(stopped.ID, supervisor.RequeueFile, supervisor.Requeue{Gen: 1, Hold: true})
	runFile(stopped.ID, supervisor.ExitFile, supervisor.Record{End: start.Add(time.Minute), ExitCode: -1, Signal: 9})
	// Killed to be requeued without a checkpoint (maintenance, policy n).
	killed := put(t, d, start, func(j *jobs.Job) { j.Checkpoint = jobs.Policy{Kind: jobs.CheckpointNever}; j.Rerunnable = true })
	lost(killed.ID)
	runFile(killed.ID, supervisor.RequeueFile, supervisor.Requeue{})
	runFile(killed.ID, supervisor.ExitFile, supervisor.Record{End: start.Add(time.Minute), ExitCode: -1, Signal: 15, Reason: "killed"})

	d.cleanSpool()
	d.recover()

	v := d.store.View()
	if j := v.Job(durable.ID); j.State != jobs.Requeued || len(j.Checkpoints) != 1 || !strings.Contains(j.Reason, "restarts from checkpoint 1") {
		t.Errorf("crash after a durable checkpoint: %s %q %+v", j.State, j.Reason, j.Checkpoints)
	}
	if j := v.Job(torn.ID); j.State != jobs.Requeued || len(j.Checkpoints) != 0 || !strings.Contains(j.CheckpointError, "interrupted") {
		t.Errorf("crash during a checkpoint: %s %+v %q", j.State, j.Checkpoints, j.CheckpointError)
	}
	if _, err := os.Stat(d.genDir(torn.ID, 1)); !os.IsNotExist(err) {
		t.Errorf("the torn generation is still there: %v", err)
	}
	if j := v.Job(stopped.ID); j.State != jobs.Held || len(j.Checkpoints) != 1 || j.Segments[0].Reason != "stopped after checkpoint 1" {
		t.Errorf("stopped by qchkpnt -k -h: %s %q %+v", j.State, j.Reason, j.Segments)
	}
	if j := v.Job(killed.ID); j.State != jobs.Requeued || !strings.Contains(j.Reason, "starts again from the beginning") {
		t.Errorf("killed to be requeued: %s %q", j.State, j.Reason)
	}
}

// An image adopted with qrestart -f is the caller's to write: it may list
// any file, which the engine would reopen as root. Only what the caller
// may open, as they are, passes.
func TestMayOpen(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "opening files as another user needs root")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	secret := filepath.Join(dir, "secret")
	public := filepath.Join(dir, "public")
	os.WriteFile(secret, nil, 0o600)
	os.WriteFile(public, nil, 0o644)
	who := caller{uid: 65534, gid: 65534, groups: []uint32{65534}, name: "nobody"}
	note := func(path string, flags int) *adoptee {
		return &adoptee{PID: 7, Comm: "prog", Cwd: dir, Exe: "/bin/sh",
			Files: []ckpt.OpenFile{{FD: 3, Kind: "file", Path: path, Flags: flags}}}
	}
	tests := []struct {
		name  string
		n     *adoptee
		who   caller
		allow bool
	}{
		{"readable", note(public, os.O_RDONLY), who, true},
		{"not writable", note(public, os.O_RDWR), who, false},
		{"root's", note(secret, os.O_RDONLY), who, false},
		{"missing: restored closed", note(filepath.Join(dir, "gone"), os.O_RDWR), who, true},
		{"root may", note(secret, os.O_RDWR), caller{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mayOpen(tt.who, tt.n)
			if (err == nil) != tt.allow {
				t.Errorf("mayOpen = %v, want allowed %v", err, tt.allow)
			}
			if err != nil && !strings.Contains(err.Error(), "fd 3 ") {
				t.Errorf("error %q does not name the descriptor", err)
			}
		})
	}
	n := note(public, os.O_RDONLY)
	n.Creds.UID = [4]int{65534, 65534, 0, 65534} // a saved uid of root
	if err := mayAdopt(who, n); err == nil {
		t.Error("an image with a saved uid of root was adopted by nobody")
	}
	n.Creds.UID = [4]int{65534, 65534, 65534, 65534}
	n.Creds.GID = [4]int{65534, 65534, 65534, 65534}
	n.Creds.Groups = []int{0}
	if err := mayAdopt(who, n); err == nil {
		t.Error("an image with root's group was adopted by nobody")
	}
	n.Creds.Groups = nil
	if err := mayAdopt(who, n); err != nil {
		t.Errorf("nobody's own image: %v", err)
	}
	// An image this host's batch system wrote records what the process
	// was: a setuid program's effective uid passes, another real uid not.
	n.Authentic = true
	n.Creds.UID = [4]int{65534, 0, 0, 0}
	if err := mayAdopt(who, n); err != nil {
		t.Errorf("nobody's authentic image of a setuid program: %v", err)
	}
	n.Creds.UID = [4]int{0, 0, 0, 0}
	if err := mayAdopt(who, n); err == nil {
		t.Error("root's authentic image was adopted by nobody")
	}
	n.Authentic = false
	n.Creds.UID = [4]int{65534, 0, 0, 0}
	if err := mayAdopt(who, n); err == nil {
		t.Error("an unauthenticated image of a setuid program was adopted by nobody")
	}
	n.Mapped = []ckpt.MappedFile{{Path: public, Kind: "shared", Writable: true}}
	n.Creds.UID = [4]int{65534, 65534, 65534, 65534}
	if err := mayOpen(who, n); err == nil || !strings.Contains(err.Error(), "mapped file") {
		t.Errorf("a writable shared mapping of a file nobody may not write: %v", err)
	}
}
