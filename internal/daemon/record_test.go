package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lazarus/jobs"
	"lazarus/queue"
)

// Changes that cannot be written wait, are tried again in order until they
// are recorded, meanwhile refuse a new checkpoint of their job and show in
// qstat's warning; the loop ends with the daemon.
func TestRecordRetriesUntilWritten(t *testing.T) {
	d := testDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() {
		d.recordLoop(ctx)
		close(ended)
	}()
	defer func() {
		cancel()
		<-ended
	}()
	var full atomic.Bool
	full.Store(true)
	var mu sync.Mutex
	var order []string
	try := func(what string) func() error {
		return func() error {
			if full.Load() {
				return fmt.Errorf("%w: write lazarus.db: no space left on device", queue.ErrWrite)
			}
			mu.Lock()
			order = append(order, what)
			mu.Unlock()
			return nil
		}
	}
	d.record(1, "the end of checkpoint 2", try("a"))
	d.record(2, "the end of its run", try("b"))
	d.record(1, "a lost run", try("c"))
	if _, _, ok := d.records.waiting(1); !ok {
		t.Fatal("job 1 has no change waiting")
	}
	if p := d.stateProblem(); !strings.Contains(p, "3 state changes wait to be recorded") || !strings.Contains(p, "no space left") {
		t.Errorf("state problem %q", p)
	}
	_, _, err := d.beginCheckpoint(1, ckptRequest{by: "alice"})
	if err == nil || !strings.Contains(err.Error(), "the end of checkpoint 2 is not recorded yet") {
		t.Errorf("checkpoint while a record waits: %v", err)
	}
	full.Store(false)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorded %v after the disk came back", order)
		}
	}
	if got := strings.Join(order, ","); got != "a,b,c" {
		t.Errorf("recorded in the order %s, want a,b,c", got)
	}
	if _, _, ok := d.records.waiting(jobs.ID(1)); ok {
		t.Error("job 1 still has a change waiting")
	}
	// Nothing waits: a record that succeeds at once is not queued.
	d.record(3, "the end of its run", try("d"))
	if p := d.stateProblem(); strings.Contains(p, "wait") {
		t.Errorf("state problem %q after everything was recorded", p)
	}
}
