package queue

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lazarus/jobs"
)

// The accounting outbox: the records of a change are stored with it, in
// commit order, survive a reopen, and go only when AccountingDone says.
func TestAccountingOutbox(t *testing.T) { forBackends(t, testAccountingOutbox) }

func testAccountingOutbox(t *testing.T, f *fixture) {
	var notified atomic.Int32
	opts := Options{
		Account: func(old, cur *jobs.Job, by string) []string {
			var out []string
			for _, r := range jobs.Changes(jobs.AcctContext{Server: "h"}, old, cur, by, t0) {
				out = append(out, r.Line())
			}
			return out
		},
		Accounted: func() { notified.Add(1) },
	}
	s, err := f.openErr(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateQueue(NewQueue("batch", t0)); err != nil {
		t.Fatal(err)
	}
	a, b := newJob(s, "batch", 1000), newJob(s, "batch", 1000)
	for _, j := range []*jobs.Job{a, b} {
		if err := s.Submit(j, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateJob(a.ID, func(j *jobs.Job) error { return j.Start(t0.Add(time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteJobBy(b.ID, "u1000@h", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateJob(a.ID, func(j *jobs.Job) error {
		return j.End(jobs.Result{End: t0.Add(time.Hour), UserCPU: 3 * time.Second, SysCPU: time.Second, Mem: 5 << 20})
	}); err != nil {
		t.Fatal(err)
	}
	// The purge of an ended job records nothing.
	if _, err := s.DeleteJob(a.ID, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if notified.Load() == 0 {
		t.Error("Accounted was never called")
	}

	s = f.open(t)
	got, err := s.Accounting(100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range got {
		r, err := jobs.ParseAcctRecord(e.Line)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, string(r.Type)+":"+r.ID)
		if i > 0 && e.N <= got[i-1].N {
			t.Errorf("record %d numbered %d after %d", i, e.N, got[i-1].N)
		}
	}
	if want := "Q:1.h Q:2.h S:1.h D:2.h E:1.h"; strings.Join(types, " ") != want {
		t.Errorf("records %s, want %s", strings.Join(types, " "), want)
	}
	if end := got[len(got)-1].Line; !strings.Contains(end, "resources_used.cput=00:00:04") ||
		!strings.Contains(end, "resources_used.mem=5120kb") {
		t.Errorf("E record %q", end)
	}
	if err := s.AccountingDone(got[2].N); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Accounting(100)
	if len(left) != 2 || left[0].N != got[3].N {
		t.Errorf("after AccountingDone(%d): %v", got[2].N, left)
	}
}
