package jobs

import (
	"testing"
	"time"
)

// Exit_status as PBS records it: the script's status, 256+N for signal N,
// PBS's JOB_EXEC_* codes for the runs the system ended.
func TestSegmentExitStatus(t *testing.T) {
	end := time.Unix(100, 0)
	tests := []struct {
		name string
		seg  Segment
		want int
	}{
		{"exit 0", Segment{End: end, ExitCode: 0}, 0},
		{"exit 3", Segment{End: end, ExitCode: 3}, 3},
		{"SIGKILL", Segment{End: end, ExitCode: -1, Signal: 9}, 265},
		{"qdel, SIGTERM", Segment{End: end, ExitCode: -1, Signal: 15, Reason: "killed"}, 271},
		{"qdel, trapped and exited", Segment{End: end, ExitCode: 0, Reason: "killed"}, 0},
		{"qdel, no status", Segment{End: end, ExitCode: -1, Reason: "killed"}, 265},
		{"walltime", Segment{End: end, ExitCode: -1, Signal: 15, Reason: "walltime exceeded (limit 00:00:01)"}, -29},
		{"cput", Segment{End: end, ExitCode: -1, Signal: 9, Reason: "cput exceeded (limit 00:00:01)"}, -28},
		{"mem", Segment{End: end, ExitCode: 137, Reason: "memory limit exceeded (mem=1mb)"}, -27},
		{"restart failed", Segment{End: end, ExitCode: -1, Reason: "cannot restart from checkpoint 2: bad image"}, -7},
		{"could not start", Segment{End: end, ExitCode: -1, Reason: "cannot start: no such file"}, -1},
		{"checkpointed and stopped", Segment{End: end, ExitCode: -1, Signal: 9, Reason: "stopped after checkpoint 1"}, -12},
		{"stopped to be requeued", Segment{End: end, ExitCode: -1, Signal: 15, Reason: "stopped to be requeued"}, -11},
		{"lost", Segment{End: end, ExitCode: -1, Reason: "the supervisor died without recording the end of the job"}, -4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.seg.ExitStatus()
			if !ok || got != tt.want {
				t.Errorf("ExitStatus() = %d, %v; want %d", got, ok, tt.want)
			}
		})
	}
	if _, ok := (Segment{Start: end}).ExitStatus(); ok {
		t.Error("an open run has an exit status")
	}
	j := &Job{}
	if _, ok := j.ExitStatus(); ok {
		t.Error("a job that never ran has an exit status")
	}
	j.Segments = []Segment{{End: end, ExitCode: -1, Signal: 9, Reason: "stopped after checkpoint 1"}, {End: end, ExitCode: 2}}
	if got, ok := j.ExitStatus(); !ok || got != 2 {
		t.Errorf("job's ExitStatus() = %d, %v; want its last run's, 2", got, ok)
	}
}
