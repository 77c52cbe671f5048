package qcmd

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"lazarus/internal/proto"
)

func TestSplitVars(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"A=1,B=2", []string{"A=1", "B=2"}},
		{`A=1,B="x,y"`, []string{"A=1", "B=x,y"}},
		{"A='it''s',C", []string{"A=its", "C"}},
		{",A=1,,", []string{"A=1"}},
	}
	for _, tt := range tests {
		got, err := splitVars(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitVars(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := splitVars(`A="open`); err == nil {
		t.Error("unbalanced quote accepted")
	}
}

func TestAssignments(t *testing.T) {
	got, err := assignments(" priority = 5, max_running=2 ")
	want := []proto.Attribute{{Name: "priority", Value: "5"}, {Name: "max_running", Value: "2"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("assignments = %v, %v", got, err)
	}
	for _, bad := range []string{"priority", "= 5", "a b = 1", "x =", "a=1,"} {
		if _, err := assignments(bad); !errors.Is(err, errSyntax) {
			t.Errorf("assignments(%q) = %v, want a syntax error", bad, err)
		}
	}
}

// Syntax errors are found before any daemon is asked anything.
func TestQmgrSyntax(t *testing.T) {
	m := &qmgr{out: &bytes.Buffer{}}
	for _, line := range []string{"create", "frobnicate queue x", "set queue", "delete queue a b", "shutdown now", "shutdown requeue deadline=x", "checkpoint", "requeue some", "shutdown requeue soon",
		"list server extra", "hold job", "set server x"} {
		err := m.run(context.Background(), line)
		if !errors.Is(err, errSyntax) {
			t.Errorf("%q: %v, want a syntax error", line, err)
		}
	}
	for _, line := range []string{"", "   ", "# comment"} {
		if err := m.run(context.Background(), line); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	if err := m.run(context.Background(), "quit"); !errors.Is(err, errQuit) {
		t.Errorf("quit: %v", err)
	}
	var out bytes.Buffer
	m = &qmgr{out: &out}
	if err := m.run(context.Background(), "help"); err != nil || !strings.Contains(out.String(), "create queue NAME") {
		t.Errorf("help: %v, %q", err, out.String())
	}
}

// The apps run in-process with their own writers; Main turns errors into
// one line and an exit status.
func TestMainOneLineErrors(t *testing.T) {
	t.Setenv("LAZARUS_HOME", t.TempDir())
	var out, errb bytes.Buffer
	code := Main(NewQstat(&out, &errb), []string{"qstat", "-X"})
	if code != 1 || errb.String() != "qstat: unknown option -X (see qstat --help)\n" {
		t.Errorf("bad flag: %d, %q", code, errb.String())
	}
	errb.Reset()
	code = Main(NewQdel(&out, &errb), []string{"qdel", "1"})
	if code != 1 || !strings.HasPrefix(errb.String(), "qdel: lazarusd is not running") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("no daemon: %d, %q", code, errb.String())
	}
	out.Reset()
	if code := Main(NewQsub(strings.NewReader(""), &out, &errb), []string{"qsub", "--help"}); code != 0 || !strings.Contains(out.String(), "-h ") {
		t.Errorf("qsub --help: %d, %q", code, out.String())
	}
}

func TestParseShutdown(t *testing.T) {
	tests := []struct {
		in   string
		want proto.MaintainRequest
	}{
		{"requeue", proto.MaintainRequest{Shutdown: true, Requeue: true}},
		{"requeue deadline=10m", proto.MaintainRequest{Shutdown: true, Requeue: true, DeadlineS: 600}},
		{"requeue deadline=90s immediate", proto.MaintainRequest{Shutdown: true, Requeue: true, DeadlineS: 90, Immediate: true}},
		{"immediate", proto.MaintainRequest{Shutdown: true, Requeue: true, Immediate: true}},
		{"REQUEUE deadline=1h", proto.MaintainRequest{Shutdown: true, Requeue: true, DeadlineS: 3600}},
	}
	for _, tt := range tests {
		got, err := parseShutdown(strings.Fields(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("shutdown %s = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"deadline=10m", "requeue deadline=", "requeue deadline=-1s", "requeue later"} {
		if _, err := parseShutdown(strings.Fields(bad)); !errors.Is(err, errSyntax) {
			t.Errorf("shutdown %s: %v, want a syntax error", bad, err)
		}
	}
}

func TestGetoptArgs(t *testing.T) {
	qsub, qstat := NewQsub(nil, nil, nil), NewQstat(nil, nil)
	tests := []struct {
		in, want []string
	}{
		{[]string{"qstat", "-fx", "12"}, []string{"qstat", "-f", "-x", "12"}},
		{[]string{"qstat", "-xt", "-f"}, []string{"qstat", "-x", "-t", "-f"}},
		{[]string{"qsub", "-lwalltime=1:00,ncpus=2", "-Nfoo", "-koe", "s.sh"}, []string{"qsub", "-l", "walltime=1:00,ncpus=2", "-N", "foo", "-k", "oe", "s.sh"}},
		{[]string{"qsub", "-Vh", "-Wblock=true", "s.sh"}, []string{"qsub", "-V", "-h", "-W", "block=true", "s.sh"}},
		// A value that looks like letters is not split; operands end it.
		{[]string{"qsub", "-N", "-Vh", "s.sh", "-fx"}, []string{"qsub", "-N", "-Vh", "s.sh", "-fx"}},
		{[]string{"qsub", "-hN", "x", "--", "cmd", "-lx"}, []string{"qsub", "-h", "-N", "x", "--", "cmd", "-lx"}},
		// A letter qsub does not know: left whole, for its error.
		{[]string{"qsub", "-hY", "s.sh"}, []string{"qsub", "-hY", "s.sh"}},
		{[]string{"qsub", "--help"}, []string{"qsub", "--help"}},
	}
	for _, tt := range tests {
		app := qsub
		if tt.in[0] == "qstat" {
			app = qstat
		}
		if got := getoptArgs(app, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("getoptArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSacctTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 4, 5, 0, time.Local)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"now-2days", now.Add(-48 * time.Hour)},
		{"now-90minutes", now.Add(-90 * time.Minute)},
		{"now+1h", now.Add(time.Hour)},
		{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local)},
		{"2026-11-30T08:15", time.Date(2026, 11, 30, 8, 15, 0, 0, time.Local)},
		{"11/30/26", time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local)},
		{"11/30", time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local)},
		{"09:30", time.Date(2026, 12, 7, 9, 30, 0, 0, time.Local)},
	} {
		if got, err := sacctTime(c.in, now); err != nil || !got.Equal(c.want) {
			t.Errorf("sacctTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "now-", "now-3fortnights", "2026-13-01", "25:00"} {
		if _, err := sacctTime(bad, now); err == nil {
			t.Errorf("sacctTime(%q) accepted", bad)
		}
	}
}
