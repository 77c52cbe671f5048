package scheduler

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"

	"lazarus/jobs"
)

const gib = int64(1) << 30

var (
	fpAVX   = Fingerprint{Machine: "x86_64", Format: 2, CPUFlags: []string{"sse2", "avx", "avx2"}}
	fpSSE   = Fingerprint{Machine: "x86_64", Format: 2, CPUFlags: []string{"sse2"}}
	fpOld   = Fingerprint{Machine: "x86_64", Format: 1, CPUFlags: []string{"sse2", "avx", "avx2"}}
	fpARM   = Fingerprint{Machine: "aarch64", Format: 2}
	threeUp = []Node{
		{Name: "n1", Slots: 4, Memory: 8 * gib, Fingerprint: fpAVX},
		{Name: "n2", Slots: 4, Memory: 8 * gib, Fingerprint: fpAVX},
		{Name: "n3", Slots: 2, Memory: 4 * gib, Fingerprint: fpSSE},
	}
)

func TestCanRestore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		node     Fingerprint
		from     Fingerprint
		wantFail string
	}{
		{"same", fpAVX, fpAVX, ""},
		{"more features", fpAVX, fpSSE, ""},
		{"missing features", fpSSE, fpAVX, "CPU features missing: avx avx2"},
		{"other format", fpAVX, fpOld, "image format 2, image of format 1"},
		{"other machine", fpAVX, fpARM, "machine x86_64, image of aarch64"},
		{"other kernel only", fpAVX, Fingerprint{Machine: "x86_64", Format: 2, Kernel: "5.10"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.node.CanRestore(tc.from)
			switch {
			case tc.wantFail == "" && err != nil:
				t.Fatalf("CanRestore: %v, want nil", err)
			case tc.wantFail != "" && (err == nil || !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), tc.wantFail)):
				t.Fatalf("CanRestore: %v, want an ErrIncompatible saying %q", err, tc.wantFail)
			}
		})
	}
}

func TestParsePlace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Placement
		bad  bool
	}{
		{"", Placement{}, false},
		{"free", Placement{Arrangement: Free}, false},
		{"pack", Placement{Arrangement: Pack}, false},
		{"scatter:excl", Placement{Arrangement: Scatter, Excl: true}, false},
		{"vscatter:shared", Placement{Arrangement: Scatter}, false},
		{"excl", Placement{Excl: true}, false},
		{"group=rack", Placement{}, true},
		{"spread", Placement{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePlace(tc.in)
			if (err != nil) != tc.bad {
				t.Fatalf("ParsePlace(%q) error %v, want error %v", tc.in, err, tc.bad)
			}
			if !tc.bad && got != tc.want {
				t.Fatalf("ParsePlace(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func chunks(n, ncpus int, mem int64) []jobs.Chunk {
	out := make([]jobs.Chunk, n)
	for i := range out {
		out[i] = jobs.Chunk{NCPUs: ncpus, Mem: mem}
	}
	return out
}

func hostsOf(cs []jobs.Chunk) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Host)
	}
	return out
}

func TestPlace(t *testing.T) {
	busy := func(host string, ncpus int, mem int64, place string) *jobs.Job {
		j := &jobs.Job{ID: 99, State: jobs.Running, Resources: jobs.Resources{NCPUs: ncpus, Mem: mem, Place: place},
			Segments: []jobs.Segment{{Exec: []jobs.Chunk{{Host: host, NCPUs: ncpus, Mem: mem}}}}}
		return j
	}
	for _, tc := range []struct {
		name    string
		nodes   []Node
		running []*jobs.Job
		req     Request
		want    []string
		fit     Fit
	}{
		{"one chunk to the most free slots", threeUp, nil,
			Request{Chunks: chunks(1, 1, 0)}, []string{"n1"}, Fits},
		{"spread: the busier node is passed", threeUp, []*jobs.Job{busy("n1", 2, 0, "")},
			Request{Chunks: chunks(1, 1, 0)}, []string{"n2"}, Fits},
		{"free chunks spread one by one", threeUp, nil,
			Request{Chunks: chunks(3, 2, 0)}, []string{"n1", "n2", "n1"}, Fits},
		{"pack on one node", threeUp, nil,
			Request{Chunks: chunks(2, 2, 0), Place: Placement{Arrangement: Pack}}, []string{"n1", "n1"}, Fits},
		{"pack too big for any node waits? no: never", threeUp, nil,
			Request{Chunks: chunks(3, 2, 0), Place: Placement{Arrangement: Pack}}, nil, Never},
		{"pack waits for room", threeUp, []*jobs.Job{busy("n1", 1, 0, ""), busy("n2", 1, 0, "")},
			Request{Chunks: chunks(2, 2, 0), Place: Placement{Arrangement: Pack}}, nil, Wait},
		{"scatter on distinct nodes", threeUp, nil,
			Request{Chunks: chunks(3, 1, 0), Place: Placement{Arrangement: Scatter}}, []string{"n1", "n2", "n3"}, Fits},
		{"scatter needs as many nodes", threeUp, nil,
			Request{Chunks: chunks(4, 1, 0), Place: Placement{Arrangement: Scatter}}, nil, Never},
		{"memory decides", threeUp, []*jobs.Job{busy("n1", 1, 7*gib, "")},
			Request{Chunks: chunks(1, 1, 2*gib)}, []string{"n2"}, Fits},
		{"memory beyond every node", threeUp, nil,
			Request{Chunks: chunks(1, 1, 16*gib)}, nil, Never},
		{"excl takes an idle node", threeUp, []*jobs.Job{busy("n1", 1, 0, "")},
			Request{Chunks: chunks(1, 1, 0), Place: Placement{Excl: true}}, []string{"n2"}, Fits},
		{"excl waits for an idle node", threeUp, []*jobs.Job{busy("n1", 1, 0, ""), busy("n2", 1, 0, ""), busy("n3", 1, 0, "")},
			Request{Chunks: chunks(1, 1, 0), Place: Placement{Excl: true}}, nil, Wait},
		{"nothing beside an excl job", threeUp, []*jobs.Job{busy("n1", 1, 0, "excl"), busy("n2", 3, 0, "")},
			Request{Chunks: chunks(1, 2, 0)}, []string{"n3"}, Fits},
		{"restart needs the features", threeUp, []*jobs.Job{busy("n1", 4, 0, ""), busy("n2", 4, 0, "")},
			Request{Chunks: chunks(1, 1, 0), From: &fpAVX}, nil, Wait},
		{"restart of an SSE image anywhere", threeUp, []*jobs.Job{busy("n1", 4, 0, ""), busy("n2", 4, 0, "")},
			Request{Chunks: chunks(1, 1, 0), From: &fpSSE}, []string{"n3"}, Fits},
		{"restart of another format nowhere", threeUp, nil,
			Request{Chunks: chunks(1, 1, 0), From: &fpOld}, nil, Never},
		{"offline nodes take nothing", []Node{{Name: "n1", Slots: 4, Offline: true}, {Name: "n2", Slots: 1}}, nil,
			Request{Chunks: chunks(1, 1, 0)}, []string{"n2"}, Fits},
		{"memory not scheduled on a node", []Node{{Name: "n1", Slots: 4}}, nil,
			Request{Chunks: chunks(1, 1, 64*gib)}, []string{"n1"}, Fits},
		{"no nodes", nil, nil, Request{Chunks: chunks(1, 1, 0)}, nil, Never},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, fit := Place(tc.nodes, NewLoad(tc.running), tc.req)
			if fit != tc.fit || !slices.Equal(hostsOf(cs), tc.want) {
				t.Fatalf("Place = %v, %v; want %v, %v", hostsOf(cs), fit, tc.want, tc.fit)
			}
			for i, c := range cs {
				if c.NCPUs != tc.req.Chunks[i].NCPUs || c.Mem != tc.req.Chunks[i].Mem {
					t.Fatalf("chunk %d = %+v, want the request's %+v", i, c, tc.req.Chunks[i])
				}
			}
		})
	}
}

func TestScheduleNodes(t *testing.T) {
	batch := Queue{Name: "batch", Started: true}
	nodes := []Node{{Name: "a", Slots: 2, Fingerprint: fpSSE}, {Name: "b", Slots: 2, Fingerprint: fpAVX}}
	for _, tc := range []struct {
		name    string
		running []job
		pending []job
		restore map[jobs.ID]string // job -> host of its newest generation
		want    map[jobs.ID]string // started job -> host of its first chunk
	}{
		{"spread over the nodes", nil,
			[]job{{id: 1, queue: "batch"}, {id: 2, queue: "batch"}, {id: 3, queue: "batch"}, {id: 4, queue: "batch"}, {id: 5, queue: "batch"}},
			nil, map[jobs.ID]string{1: "a", 2: "b", 3: "a", 4: "b"}},
		{"a job waiting for room stops the pass", nil,
			[]job{{id: 1, queue: "batch", ncpus: 2}, {id: 2, queue: "batch", ncpus: 2}, {id: 3, queue: "batch", ncpus: 2}, {id: 4, queue: "batch"}},
			nil, map[jobs.ID]string{1: "a", 2: "b"}},
		{"a job too big for any node is passed over", nil,
			[]job{{id: 1, queue: "batch", ncpus: 3}, {id: 2, queue: "batch"}},
			nil, map[jobs.ID]string{2: "a"}},
		{"a restart goes where its image runs", nil,
			[]job{{id: 1, queue: "batch"}},
			map[jobs.ID]string{1: "b"}, map[jobs.ID]string{1: "b"}},
		{"a restart waits for a compatible node", []job{{id: 9, queue: "batch", ncpus: 2}},
			[]job{{id: 1, queue: "batch"}, {id: 2, queue: "batch"}},
			map[jobs.ID]string{1: "b"}, map[jobs.ID]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshot(Limits{}, []Queue{batch}, tc.running, tc.pending)
			s.Nodes = nodes
			s.Known = map[string]Fingerprint{"a": fpSSE, "b": fpAVX}
			for _, r := range s.Running { // the running job holds b
				r.Segments = []jobs.Segment{{Exec: []jobs.Chunk{{Host: "b", NCPUs: r.Resources.NCPUs}}}}
			}
			pend := s.Pending
			s.Pending = func(q string) iter.Seq[*jobs.Job] {
				return func(yield func(*jobs.Job) bool) {
					for j := range pend(q) {
						if h, ok := tc.restore[j.ID]; ok {
							j.Checkpoints = []jobs.Generation{{N: 1, Host: h}}
						}
						if !yield(j) {
							return
						}
					}
				}
			}
			plan := Schedule(s)
			got := map[jobs.ID]string{}
			for _, j := range plan.Start {
				got[j.ID] = plan.Exec[j.ID][0].Host
			}
			if len(got) != len(tc.want) {
				t.Fatalf("started %v, want %v", got, tc.want)
			}
			for id, h := range tc.want {
				if got[id] != h {
					t.Fatalf("started %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// Jobs of several chunks, from their select and place=, as the daemon
// asks: RequestOf, then Place, and NeverWhy for those that never fit.
func TestPlaceSelect(t *testing.T) {
	busy := func(host string, ncpus int, place string) *jobs.Job {
		return &jobs.Job{ID: 99, State: jobs.Running, Resources: jobs.Resources{NCPUs: ncpus, Place: place},
			Segments: []jobs.Segment{{Exec: []jobs.Chunk{{Host: host, NCPUs: ncpus}}}}}
	}
	for _, tc := range []struct {
		name, sel, place string
		nodes            []Node
		running          []*jobs.Job
		want             []string // hosts of the chunks, in order
		fit              Fit
		why              string // with Never: in NeverWhy
	}{
		{"two kinds, free", "1:ncpus=4+2:ncpus=2", "", threeUp, nil, []string{"n1", "n2", "n2"}, Fits, ""},
		{"two kinds, pack", "1:ncpus=2+2:ncpus=1", "pack", threeUp, nil, []string{"n1", "n1", "n1"}, Fits, ""},
		{"two kinds, pack too big", "1:ncpus=4+1:ncpus=1", "pack", threeUp, nil, nil, Never, "place=pack needs ncpus=5 on one node (the largest node has 4 slots and mem=8gb)"},
		{"scatter two", "2:ncpus=1", "scatter", threeUp, nil, []string{"n1", "n2"}, Fits, ""},
		{"scatter more chunks than nodes", "4:ncpus=1", "scatter", threeUp, nil, nil, Never, "place=scatter needs 4 nodes, the cluster has 3 up and online"},
		{"scatter of an offline node's cluster", "3:ncpus=1", "scatter", []Node{{Name: "n1", Slots: 4}, {Name: "n2", Slots: 4, Offline: true}, {Name: "n3", Slots: 4}}, nil, nil, Never, "needs 3 nodes, the cluster has 2"},
		{"chunk bigger than every node", "1:ncpus=1+1:ncpus=8", "", threeUp, nil, nil, Never, "a chunk of ncpus=8 is bigger than every node (the largest node has 4 slots and mem=8gb)"},
		{"chunk memory bigger than every node", "2:ncpus=1:mem=9gb", "", threeUp, nil, nil, Never, "a chunk of ncpus=1:mem=9gb is bigger than every node"},
		{"scatter:excl passes busy nodes", "2:ncpus=1", "scatter:excl", threeUp, []*jobs.Job{busy("n1", 1, "")}, []string{"n2", "n3"}, Fits, ""},
		{"scatter:excl waits", "2:ncpus=1", "scatter:excl", threeUp, []*jobs.Job{busy("n1", 1, ""), busy("n2", 1, "")}, nil, Wait, ""},
		{"free chunks beside an excl job", "2:ncpus=2", "", threeUp, []*jobs.Job{busy("n1", 1, "excl")}, []string{"n2", "n2"}, Fits, ""},
		{"a held slot: the second chunk waits", "2:ncpus=4", "", threeUp, []*jobs.Job{busy("n1", 1, "")}, nil, Wait, ""},
		{"no nodes", "2:ncpus=1", "", nil, nil, nil, Never, "no node is up and online"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := jobs.ParseResources(jobs.Resources{NCPUs: 1}, "select="+tc.sel)
			if err == nil && tc.place != "" {
				r, err = jobs.ParseResources(r, "place="+tc.place)
			}
			if err != nil {
				t.Fatal(err)
			}
			req := RequestOf(&jobs.Job{ID: 1, Resources: r}, nil)
			cs, fit := Place(tc.nodes, NewLoad(tc.running), req)
			if fit != tc.fit || !slices.Equal(hostsOf(cs), tc.want) {
				t.Fatalf("Place = %v, %v; want %v, %v", hostsOf(cs), fit, tc.want, tc.fit)
			}
			if fit == Never {
				why := NeverWhy(tc.nodes, req)
				if !strings.HasPrefix(why, NeverPrefix) || !strings.Contains(why, tc.why) {
					t.Errorf("NeverWhy = %q, want %q in it", why, tc.why)
				}
			}
		})
	}
}

// A pass reaching a job no node could ever take says why, and goes on.
func TestScheduleNever(t *testing.T) {
	nodes := []Node{{Name: "a", Slots: 2}, {Name: "b", Slots: 2}}
	big := &jobs.Job{ID: 1, Queue: "batch", State: jobs.Queued, Resources: jobs.Resources{NCPUs: 3, Select: "3:ncpus=1", Chunks: 3, Place: "scatter"}}
	small := &jobs.Job{ID: 2, Queue: "batch", State: jobs.Queued, Resources: jobs.Resources{NCPUs: 1}}
	plan := Schedule(Snapshot{Queues: []Queue{{Name: "batch", Started: true}}, Nodes: nodes,
		Pending: func(string) iter.Seq[*jobs.Job] { return slices.Values([]*jobs.Job{big, small}) }})
	if len(plan.Start) != 1 || plan.Start[0].ID != 2 {
		t.Fatalf("started %v, want job 2 only", plan.Start)
	}
	if why := plan.Never[1]; !strings.Contains(why, "place=scatter needs 3 nodes, the cluster has 2") {
		t.Errorf("Never[1] = %q", why)
	}
	if !slices.Contains(plan.Placeable, 2) || slices.Contains(plan.Placeable, 1) {
		t.Errorf("Placeable = %v, want 2 and not 1", plan.Placeable)
	}
}
