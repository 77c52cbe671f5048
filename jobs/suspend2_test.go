package jobs

import (
	"testing"
	"time"
)

func TestSuspendedWithin(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	spans := []Span{{at(10), at(20)}, {at(30), at(35)}}
	tests := []struct {
		name     string
		since    time.Time
		from, to int
		want     int
	}{
		{"all", time.Time{}, 0, 100, 15},
		{"cut at both ends", time.Time{}, 15, 32, 7},
		{"none inside", time.Time{}, 20, 30, 0},
		{"suspended now", at(90), 0, 100, 25},
		{"suspended after to", at(120), 0, 100, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SuspendedWithin(spans, tt.since, at(tt.from), at(tt.to)); got != time.Duration(tt.want)*time.Second {
				t.Errorf("got %s, want %ds", got, tt.want)
			}
		})
	}
	// The run time of a checkpoint leaves the suspension out.
	j := &Job{Segments: []Segment{{Start: at(0)}}, Suspensions: spans}
	if got := j.elapsedAt(at(100)); got != 85*time.Second {
		t.Errorf("elapsedAt = %s, want 85s", got)
	}
	if _, wall := j.Totals(at(100)); wall != 85*time.Second {
		t.Errorf("Totals: wall %s, want 85s", wall)
	}
	j.Segments[0].End = at(50)
	if u := j.Usage(); u.Wall != 35*time.Second {
		t.Errorf("Usage: wall %s, want 35s (resources_used.walltime leaves the suspensions out)", u.Wall)
	}
}
