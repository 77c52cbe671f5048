package daemon

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lazarus/config"
	"lazarus/internal/proc"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
)

// The recovery decisions, on run directories as a crash leaves them; no
// supervisor is alive in any of them.
func TestRecoverDecisions(t *testing.T) {
	dir := t.TempDir()
	store, err := queue.Open(filepath.Join(dir, dbFile), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := &Daemon{log: slog.New(slog.DiscardHandler), dir: dir, store: store, kick: make(chan struct{}, 1),
		cfg: config.Default(config.Machine{CPUs: 2}), records: newRecorder()}
	d.watch, err = newWatcher(d.log, d.collect)
	if err != nil {
		t.Fatal(err)
	}
	defer d.watch.stop()
	if err := store.CreateQueue(queue.NewQueue("batch", time.Now())); err != nil {
		t.Fatal(err)
	}
	boot, err := proc.BootID()
	if err != nil {
		t.Fatal(err)
	}
	// An identity that names no live process: our pid with another start time.
	dead := proc.Identity{PID: os.Getpid(), StartTime: 1, BootID: boot}
	start := time.Now().Add(-time.Hour).Round(0)

	type setup struct {
		name       string
		state      jobs.State // after Start: running or exiting
		rerunnable bool
		lock       bool // the run directory has a lock file
		info       *supervisor.Info
		exit       *supervisor.Record
		wantState  jobs.State
		wantReason string
		wantRuns   int
	}
	tests := []setup{
		{name: "never started", state: jobs.Running, wantState: jobs.Requeued,
			wantReason: "requeued: the daemon stopped before the job started", wantRuns: 0},
		{name: "supervisor died before it ran the job", state: jobs.Running, lock: true, wantState: jobs.Requeued, wantRuns: 0,
			wantReason: "requeued: the daemon stopped before the job started"},
		{name: "supervisor ran, job not launched", state: jobs.Running, lock: true,
			info:      &supervisor.Info{Supervisor: dead},
			wantState: jobs.Requeued, wantRuns: 0,
			wantReason: "requeued: the daemon stopped before the job started"},
		{name: "deleted, supervisor ran, job not launched", state: jobs.Exiting, lock: true,
			info:      &supervisor.Info{Supervisor: dead},
			wantState: jobs.Failed, wantReason: "deleted by alice", wantRuns: 1},
		{name: "launched, script not yet recorded, not rerunnable", state: jobs.Running, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Launched: dead},
			wantState: jobs.Failed, wantReason: "the job's processes are gone without an exit status (machine crash?) (not rerunnable)", wantRuns: 1},
		{name: "ended while the daemon was down", state: jobs.Running, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			exit:      &supervisor.Record{End: start.Add(time.Minute), ExitCode: 0, UserCPUNS: 5e9},
			wantState: jobs.Finished, wantRuns: 1},
		{name: "failed while the daemon was down", state: jobs.Running, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			exit:      &supervisor.Record{End: start.Add(time.Minute), ExitCode: 2},
			wantState: jobs.Failed, wantReason: "exit status 2", wantRuns: 1},
		{name: "lost, rerunnable", state: jobs.Running, rerunnable: true, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			wantState: jobs.Requeued, wantReason: "requeued: the job's processes are gone without an exit status (machine crash?)", wantRuns: 1},
		{name: "lost, not rerunnable", state: jobs.Running, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			wantState: jobs.Failed, wantReason: "the job's processes are gone without an exit status (machine crash?) (not rerunnable)", wantRuns: 1},
		{name: "lost in another boot", state: jobs.Running, rerunnable: true, lock: true,
			info: &supervisor.Info{Supervisor: proc.Identity{PID: 1, StartTime: 1, BootID: "another"},
				Launched: proc.Identity{PID: 2, StartTime: 1, BootID: "another"}},
			wantState: jobs.Requeued, wantReason: "requeued: the machine restarted while the job ran", wantRuns: 1},
		{name: "deleted before it started", state: jobs.Exiting, wantState: jobs.Failed, wantReason: "deleted by alice", wantRuns: 1},
		{name: "deleted, then lost", state: jobs.Exiting, rerunnable: true, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			wantState: jobs.Failed, wantRuns: 1,
			wantReason: "deleted by alice; the job's processes are gone without an exit status (machine crash?)"},
		{name: "record of an older run", state: jobs.Running, rerunnable: true, lock: true,
			info:      &supervisor.Info{Supervisor: dead, Job: dead},
			exit:      &supervisor.Record{Segment: 7, End: start, ExitCode: 0},
			wantState: jobs.Requeued, wantRuns: 1,
			wantReason: "requeued: the job's processes are gone without an exit status (machine crash?)"},
	}
	ids := map[string]jobs.ID{}
	for _, tt := range tests {
		j := &jobs.Job{ID: store.NextID(), Name: "j", Queue: "batch", State: jobs.Queued, Rerunnable: tt.rerunnable,
			Owner: jobs.Owner{UID: 1000, Name: "alice"}, Submitted: start, Changed: start}
		if err := j.Start(start); err != nil {
			t.Fatal(err)
		}
		if tt.state == jobs.Exiting {
			if err := j.Kill("alice", start); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Submit(j, []byte("true\n"), nil, nil); err != nil {
			t.Fatal(err)
		}
		ids[tt.name] = j.ID
		run := d.jobRunDir(j.ID)
		os.MkdirAll(run, 0o700)
		if tt.lock {
			os.WriteFile(filepath.Join(run, supervisor.LockFile), nil, 0o600)
		}
		if tt.info != nil {
			data, _ := json.Marshal(tt.info)
			os.WriteFile(filepath.Join(run, supervisor.InfoFile), data, 0o600)
		}
		if tt.exit != nil {
			data, _ := json.Marshal(tt.exit)
			os.WriteFile(filepath.Join(run, supervisor.ExitFile), data, 0o600)
		}
	}
	// A run directory without a job is removed.
	stray := filepath.Join(dir, runDir, "999")
	os.MkdirAll(stray, 0o700)

	d.recover()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := store.View().Job(ids[tt.name])
			if j.State != tt.wantState || (tt.wantReason != "" && j.Reason != tt.wantReason) {
				t.Errorf("state, reason = %s, %q, want %s, %q", j.State, j.Reason, tt.wantState, tt.wantReason)
			}
			if len(j.Segments) != tt.wantRuns {
				t.Fatalf("%d runs, want %d", len(j.Segments), tt.wantRuns)
			}
			if tt.wantRuns > 0 && j.Segments[0].Open() {
				t.Error("the run is still open")
			}
			if tt.exit != nil && tt.exit.Segment == 0 && j.Segments[0].CPU() != time.Duration(tt.exit.UserCPUNS) {
				t.Errorf("cpu = %v", j.Segments[0].CPU())
			}
		})
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("stray run directory: %v", err)
	}
}
