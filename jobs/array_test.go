package jobs

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArray(t *testing.T) {
	tests := []struct {
		in, spec string
		n        int
		first    int
		last     int
	}{
		{"1-10", "1-10", 10, 1, 10},
		{"0-15:4", "0-12:4", 4, 0, 12},
		{"1,6-7,12%2", "1,6-7,12%2", 4, 1, 12},
		{"5", "5", 1, 5, 5},
		{"3,1,2,2", "1-3", 3, 1, 3},
		{"1-100000%5", "1-100000%5", 100000, 1, 100000},
		{"0-9:3,20", "0-9:3,20", 5, 0, 20},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseArray(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Spec(); got != tt.spec {
				t.Errorf("Spec() = %q, want %q", got, tt.spec)
			}
			if a.Len() != tt.n || a.IndexAt(0) != tt.first || a.IndexAt(a.Len()-1) != tt.last {
				t.Errorf("Len %d first %d last %d, want %d %d %d", a.Len(), a.IndexAt(0), a.IndexAt(a.Len()-1), tt.n, tt.first, tt.last)
			}
			for pos := range a.Len() {
				if p, ok := a.Pos(a.IndexAt(pos)); !ok || p != pos {
					t.Fatalf("Pos(IndexAt(%d)) = %d, %v", pos, p, ok)
				}
			}
			again, err := ParseArray(a.Spec())
			if err != nil || again.Spec() != a.Spec() {
				t.Errorf("Spec does not parse back: %v, %v", again, err)
			}
		})
	}
}

func TestParseArrayRefused(t *testing.T) {
	for _, in := range []string{"", "10-1", "1-x", "-3", "1-3%0", "1-3%x", "1-3:0", "1:2", "1-20000000", "0-1000000,2000000-2000001"} {
		if a, err := ParseArray(in); err == nil {
			t.Errorf("ParseArray(%q) = %v, want an error", in, a.Spec())
		}
	}
	for _, in := range []string{"1,2", "5", "3-3", "1-3:5"} {
		if _, err := ParsePBSArray(in); err == nil {
			t.Errorf("ParsePBSArray(%q) accepted", in)
		}
	}
	if a, err := ParsePBSArray("0-20:5%2"); err != nil || a.Spec() != "0-20:5%2" || a.Max != 2 {
		t.Errorf("ParsePBSArray(0-20:5%%2) = %v, %v", a, err)
	}
}

func TestSubjobIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"12", []string{"12"}},
		{"12.host.example", []string{"12"}},
		{"12[]", []string{"12[]"}},
		{"12[].host", []string{"12[]"}},
		{"12[3]", []string{"12[3]"}},
		{"12[3].host", []string{"12[3]"}},
		{"12[1-5:2]", []string{"12[1]", "12[3]", "12[5]"}},
		{"12[0-2]", []string{"12[0]", "12[1]", "12[2]"}},
	}
	for _, tt := range tests {
		ids, err := ParseIDs(tt.in)
		if err != nil {
			t.Errorf("ParseIDs(%q): %v", tt.in, err)
			continue
		}
		var got []string
		for _, id := range ids {
			got = append(got, id.String())
			if id.Base() != 12 {
				t.Errorf("%s.Base() = %d", id, id.Base())
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseIDs(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"0", "x", "12[", "12[x]", "12[3]x", "12[5-1]", "[3]"} {
		if _, err := ParseIDs(in); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseIDs(%q) = %v, want ErrBadID", in, err)
		}
	}
	if _, err := ParseID("12[1-3]"); err == nil {
		t.Error("ParseID of a range accepted")
	}
	s := SubjobID(7, 42)
	if !s.IsSubjob() || s.IsArrayForm() || s.Index() != 42 || s.Base() != 7 {
		t.Errorf("SubjobID(7, 42) = %#x", uint64(s))
	}
	if a := ArrayForm(7); a.IsSubjob() || !a.IsArrayForm() || a.Base() != 7 {
		t.Errorf("ArrayForm(7) = %#x", uint64(a))
	}
	if ID(7).IsSubjob() || ID(7).IsArrayForm() || ID(7).Base() != 7 {
		t.Error("a plain id is taken for a subjob")
	}
	if !(ID(1<<40) < SubjobID(1, 0) && SubjobID(1, 5) < SubjobID(2, 0)) {
		t.Error("subjob ids do not sort after job ids, by array then index")
	}
}

func TestSubjobRecord(t *testing.T) {
	a, _ := ParseArray("1-3")
	arr := &Job{ID: 9, Name: "sweep", State: Begun, Array: a, Stdout: "/w/sweep.o9.^array_index^",
		Depend:   &Depend{Conds: []Cond{{Kind: DepAfterOK, ID: 2, Done: true}}},
		Segments: []Segment{{Start: time.Unix(1, 0)}}, Events: []Event{{Text: "x"}}}
	s := arr.Subjob(2)
	if s.ID != SubjobID(9, 2) || s.Array != nil || s.Depend != nil || s.State != Queued || len(s.Segments) != 0 || len(s.Events) != 0 {
		t.Errorf("Subjob(2) = %+v", s)
	}
	if s.Name != "sweep" || s.Stdout != arr.Stdout || s.Place() != 9 {
		t.Errorf("Subjob(2) lost the array's attributes: %+v", s)
	}
}

func TestSettle(t *testing.T) {
	now := time.Unix(100, 0)
	tests := []struct {
		name   string
		from   State
		states string
		want   State
		reason string
	}{
		{"none started", Queued, "QQQ", Queued, ""},
		{"one started", Queued, "RQQ", Begun, ""},
		{"one deleted only", Queued, "DQQ", Queued, ""},
		{"all ok", Begun, "XXX", Finished, ""},
		{"one failed", Begun, "XFX", Failed, "2 of 3 subjobs ended with exit status 0; 1 failed, 0 deleted"},
		{"held with queued", Held, "XQQ", Held, ""},
		{"held all deleted", Held, "XDD", Failed, "1 of 3 subjobs ended with exit status 0; 0 failed, 2 deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := ParseArray("1-3")
			a.States = []byte(tt.states)
			j := &Job{ID: 1, State: tt.from, Array: a}
			if err := j.Settle(now); err != nil {
				t.Fatal(err)
			}
			if j.State != tt.want || j.Reason != tt.reason {
				t.Errorf("got %s %q, want %s %q", j.State, j.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestParseDepend(t *testing.T) {
	tests := []struct {
		in     string
		slurm  bool
		conds  string // Depend.String()
		before int
		any    bool
	}{
		{"afterok:12", false, "afterok:12", 0, false},
		{"afterok:12:13.host,afternotok:14", false, "afterok:12:13,afternotok:14", 0, false},
		{"afterany:5[]:5[2]", false, "afterany:5[]:5[2]", 0, false},
		{"after:3,on:2", false, "after:3,on:2", 0, false},
		{"beforeok:7:8", false, "", 2, false},
		{"afterok:1?afternotok:2", true, "afterok:1?afternotok:2", 0, true},
		{"afterok:1:2,afterany:3", true, "afterok:1:2,afterany:3", 0, false},
		{"afterok:7_3", true, "afterok:7[3]", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := ParseDepend
			if tt.slurm {
				parse = ParseSlurmDepend
			}
			r, err := parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Depend.String(); got != tt.conds || len(r.Before) != tt.before || r.Any != tt.any {
				t.Errorf("got %q, %d before, any %v; want %q, %d, %v", got, len(r.Before), r.Any, tt.conds, tt.before, tt.any)
			}
		})
	}
	refused := []struct {
		in    string
		slurm bool
		why   string
	}{
		{"", false, "empty"},
		{"afterok", false, "type:jobid"},
		{"afterwards:1", false, "unknown type"},
		{"afterok:x", false, "not a job id"},
		{"on:0", false, "count"},
		{"beforeok:3[]", false, "array"},
		{"after:3+10", true, "delay"},
		{"singleton", true, "singleton"},
		{"afterok:1,afterok:2?afterok:3", true, "mixed"},
		{"before:1", true, "no before"},
	}
	for _, tt := range refused {
		parse := ParseDepend
		if tt.slurm {
			parse = ParseSlurmDepend
		}
		_, err := parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("parse %q: %v, want an error about %q", tt.in, err, tt.why)
		}
	}
}
