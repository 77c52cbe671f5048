package jobs

import (
	"testing"
	"time"
)

func TestRestoreSuspension(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// Suspended at 10, resumed at 20, suspended again at 30.
	j := &Job{ID: 1, State: Running, Segments: []Segment{{Start: t0, ExitCode: -1}}}
	if err := j.Suspend(at(10)); err != nil {
		t.Fatal(err)
	}
	if err := j.Suspend(at(11)); err == nil {
		t.Error("a second suspend was taken")
	}
	if err := j.Resume(at(20)); err != nil {
		t.Fatal(err)
	}
	if err := j.Resume(at(21)); err == nil {
		t.Error("resume of a job not suspended was taken")
	}
	for _, tc := range []struct {
		name         string
		gen          int // minutes
		stop, resume bool
	}{
		{"taken before the suspension", 5, false, false},
		{"taken while suspended", 15, false, true},
		{"taken after the resume", 25, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop, resume := j.RestoreSuspension(Generation{N: 1, Time: at(tc.gen)})
			if stop != tc.stop || resume != tc.resume {
				t.Errorf("stop %v resume %v, want %v %v", stop, resume, tc.stop, tc.resume)
			}
		})
	}
	if err := j.Suspend(at(30)); err != nil {
		t.Fatal(err)
	}
	if stop, resume := j.RestoreSuspension(Generation{N: 1, Time: at(15)}); !stop || resume {
		t.Errorf("suspended job: stop %v resume %v, want a stop", stop, resume)
	}
	// A run restored from a checkpoint stays suspended; one from the
	// beginning is not.
	j.State = Requeued
	j.Checkpoints = []Generation{{N: 1, Time: at(15)}}
	if err := j.Restore(1, at(40)); err != nil || !j.IsSuspended() {
		t.Errorf("restored run: %v, suspended %v", err, j.IsSuspended())
	}
	j.State = Requeued
	if err := j.Restore(0, at(50)); err != nil || j.IsSuspended() {
		t.Errorf("run from the beginning: %v, suspended %v", err, j.IsSuspended())
	}
	if n := len(j.Suspensions); n != 2 || !j.Suspensions[1].From.Equal(at(30)) || !j.Suspensions[1].To.Equal(at(50)) {
		t.Errorf("suspensions %+v", j.Suspensions)
	}
}
