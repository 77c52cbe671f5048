package qcmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"lazarus/internal/proto"
)

// qstat -f wraps as PBS's prt_attr does: at a comma when the next item
// would reach the 78th column, continued after a tab; an item longer than
// a line is cut where it reaches it; -w writes one line.
func TestWriteAttrWraps(t *testing.T) {
	x := strings.Repeat("x", 30)
	tests := []struct {
		name    string
		a       attr
		oneLine bool
		want    string
	}{
		{"short", attr{name: "Job_Name", value: "job"}, false, "    Job_Name = job"},
		{"resource", attr{name: "Resource_List", resource: "ncpus", value: "2"}, false, "    Resource_List.ncpus = 2"},
		{"wraps at commas", attr{name: "Variable_List", value: "A=" + x + ",B=" + x + ",C=" + x}, false,
			"    Variable_List = A=" + x + ",\n\tB=" + x + ",C=" + x},
		{"one line with -w", attr{name: "Variable_List", value: "A=" + x + ",B=" + x + ",C=" + x}, true,
			"    Variable_List = A=" + x + ",B=" + x + ",C=" + x},
		{"long item cut", attr{name: "V", value: strings.Repeat("y", 80)}, false,
			"    V = " + strings.Repeat("y", 71) + "\n\t" + strings.Repeat("y", 9)},
		{"empty items skipped", attr{name: "V", value: "a,,b"}, false, "    V = a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeAttr(&b, tt.a, tt.oneLine)
			if got := b.String(); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// The default table's widths and truncations are PBS's: id 17, name 16
// (15 and '*' when it is 16 or longer), user 16, time 8, queue 16.
func TestPBSTableTruncates(t *testing.T) {
	now := time.Now()
	list := []proto.JobInfo{
		{ID: 123456789012, Name: "exactly16chars!!", User: "averyveryverylonguser", State: "running", Queue: "averyveryverylongqueue", RunCount: 1, CPUSec: 3725},
		{ID: 5, Name: "fifteen_chars_x", User: "bob", State: "queued", Queue: "q", After: now.Add(time.Hour)},
	}
	var b bytes.Buffer
	printPBSTable(&b, list, pbsOpts{server: "averylongservername", now: now})
	want := "Job id            Name             User              Time Use S Queue\n" +
		"----------------  ---------------- ----------------  -------- - -----\n" +
		"123456789012.ave* exactly16chars!* averyveryverylo*  01:02:05 R averyveryverylo*\n" +
		"5.averylongserve* fifteen_chars_x  bob                      0 W q               \n"
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPBSState(t *testing.T) {
	now := time.Now()
	for state, want := range map[string]string{"queued": "Q", "requeued": "Q", "held": "H", "running": "R",
		"checkpointing": "R", "exiting": "E", "finished": "F", "failed": "F"} {
		if got := pbsState(state, time.Time{}, now); got != want {
			t.Errorf("pbsState(%s) = %s, want %s", state, got, want)
		}
	}
	if got := pbsState("queued", now.Add(time.Minute), now); got != "W" {
		t.Errorf("a job waiting for its -a time is %s, want W", got)
	}
}
