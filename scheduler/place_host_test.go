package scheduler

import (
	"slices"
	"testing"

	"lazarus/jobs"
)

// A request with Host (qmove -n) uses that node only: it waits for room
// there rather than go elsewhere, and RequestOf takes it from the job.
func TestPlaceOnHost(t *testing.T) {
	busy := &jobs.Job{ID: 99, State: jobs.Running, Resources: jobs.Resources{NCPUs: 4},
		Segments: []jobs.Segment{{Exec: []jobs.Chunk{{Host: "n3", NCPUs: 4}}}}}
	for _, tc := range []struct {
		name    string
		running []*jobs.Job
		host    string
		want    []string
		fit     Fit
	}{
		{"the named node, not the freest", nil, "n3", []string{"n3"}, Fits},
		{"waits for room there", []*jobs.Job{busy}, "n3", nil, Wait},
		{"a node that is not up: never", nil, "n9", nil, Never},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Chunks: chunks(1, 1, 0), Host: tc.host}
			cs, fit := Place(threeUp, NewLoad(tc.running), r)
			if fit != tc.fit || !slices.Equal(hostsOf(cs), tc.want) {
				t.Fatalf("Place = %v, %v; want %v, %v", hostsOf(cs), fit, tc.want, tc.fit)
			}
		})
	}
	if r := RequestOf(&jobs.Job{MoveTo: "n2"}, nil); r.Host != "n2" {
		t.Errorf("RequestOf a job moving to n2: Host %q", r.Host)
	}
}
