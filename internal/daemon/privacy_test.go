package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// Like PBS with query_other_jobs false: another user sees of a job only
// its summary, whatever he asks for; its owner, root and operators see it
// all, and query_other_jobs = true shows everyone everything.
func TestStatusPrivacy(t *testing.T) {
	const secret = "DB_PASSWORD=hunter2"
	owner := caller{uid: 1000, gid: 1000, name: "u"}
	other := caller{uid: 1001, gid: 1001, name: "bob"}
	op := caller{uid: 1002, gid: 1002, name: "carol"}
	tests := []struct {
		name     string
		who      caller
		queryAll bool
		wantAll  bool
	}{
		{"owner", owner, false, true},
		{"another user", other, false, false},
		{"root", caller{name: "root"}, false, true},
		{"operator", op, false, true},
		{"another user, query_other_jobs", other, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDaemon(t)
			d.uid = 0
			d.cfg.Operators = []string{"carol"}
			d.cfg.QueryOtherJobs = tt.queryAll
			start := time.Now().Add(-time.Hour).Round(0)
			j := put(t, d, start, func(j *jobs.Job) {
				j.Vars = []string{secret}
				j.Workdir, j.Script = "/home/u/secret-project", "/var/lib/lazarus/spool/1"
				j.Stdout, j.Stderr = "/home/u/secret-project/out", "/home/u/secret-project/err"
				j.CheckpointError = "write /home/u/secret-project/x: no space left on device"
				j.Event(start, "checkpoint 1 failed in /home/u/secret-project")
			})
			for _, req := range []proto.StatusRequest{
				{Full: true},
				{Full: true, IDs: []uint64{uint64(j.ID)}},
				{Full: true, User: "1000"},
				{Full: true, States: []string{"running"}},
			} {
				body, _ := json.Marshal(req)
				raw, err := d.status(context.Background(), tt.who, body)
				if err != nil {
					t.Fatal(err)
				}
				text := string(raw.(json.RawMessage))
				var reply proto.StatusReply
				if err := json.Unmarshal([]byte(text), &reply); err != nil || len(reply.Jobs) != 1 {
					t.Fatalf("reply %s: %v", text, err)
				}
				got := reply.Jobs[0]
				leaked := strings.Contains(text, "hunter2") || strings.Contains(text, "secret-project")
				switch {
				case tt.wantAll && (got.SummaryOnly || len(got.Vars) != 1 || got.Workdir == ""):
					t.Errorf("%+v: got %s, want every field", req, text)
				case !tt.wantAll && (leaked || !got.SummaryOnly):
					t.Errorf("%+v: got %s, want the summary only", req, text)
				}
				if got.ID != uint64(j.ID) || got.State != "running" || got.User != "u" || got.Queue != "batch" {
					t.Errorf("%+v: summary %+v", req, got)
				}
			}
		})
	}
}
