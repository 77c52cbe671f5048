package srun

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(o *options) bool
		prog    string
		rest    []string
		wantErr string
	}{
		{args: []string{"-n4", "./a.out", "-n", "2"}, check: func(o *options) bool { return o.ntasks == 4 }, prog: "./a.out", rest: []string{"-n", "2"}},
		{args: []string{"-n", "4", "-c", "2", "prog"}, check: func(o *options) bool { return o.ntasks == 4 && o.cpusPerTask == 2 }, prog: "prog"},
		{args: []string{"--ntasks=2", "--cpus-per-task", "1", "hostname"}, check: func(o *options) bool { return o.ntasks == 2 && o.cpusPerTask == 1 }, prog: "hostname"},
		{args: []string{"-N1", "-n1", "--exclusive", "cmd"}, check: func(o *options) bool { return o.nodes == "1" && o.ntasks == 1 }, prog: "cmd"},
		{args: []string{"--mpi=pmix", "-l", "--", "x", "--y"}, check: func(o *options) bool { return o.mpi == "pmix" && o.label }, prog: "x", rest: []string{"--y"}},
		{args: []string{"-lK", "--ntasks=3", "p"}, check: func(o *options) bool { return o.label && o.killBadExit && o.ntasks == 3 }, prog: "p"},
		{args: []string{"--time=1:30", "-W", "5", "p"}, check: func(o *options) bool { return o.timeLimit == 90*time.Second && o.wait == 5*time.Second }, prog: "p"},
		{args: []string{"--cpu-bind=cores", "p"}, check: func(o *options) bool {
			return len(o.warnings) == 1 && strings.Contains(o.warnings[0], "--cpu-bind=cores")
		}, prog: "p"},
		{args: []string{"--bogus", "p"}, wantErr: "unrecognized option '--bogus'"},
		{args: []string{"-Z", "p"}, wantErr: "invalid option -- 'Z'"},
		{args: []string{"--ntask=2", "p"}, wantErr: "ambiguous"},
		{args: []string{"-n", "0", "p"}, wantErr: "want a whole number above 0"},
		{args: []string{"--pty", "bash"}, wantErr: "no terminal"},
		{args: []string{"--multi-prog", "-n2", "f"}, check: func(o *options) bool { return o.multiProg && o.ntasks == 2 }, prog: "f"},
		{args: []string{"--gres=gpu:1", "p"}, wantErr: "GPUs"},
		{args: []string{"--mpi=bogus", "p"}, wantErr: "unknown MPI type"},
		{args: []string{"-n"}, wantErr: "requires an argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.prog != tt.prog || !slices.Equal(o.args, tt.rest) && len(o.args)+len(tt.rest) > 0 || !tt.check(o) {
				t.Errorf("got %+v", o)
			}
		})
	}
}

func TestMPIRankLabel(t *testing.T) {
	tests := []struct {
		line, rest string
		rank       int
		ok         bool
	}{
		{"[1,3]<stdout>:rank 3 of 4\n", "rank 3 of 4\n", 3, true},
		{"[1,12]<stderr>:oops\n", "oops\n", 12, true},
		{"[2] hello\n", "hello\n", 2, true},
		{"plain line\n", "plain line\n", 0, false},
		{"[x] no\n", "[x] no\n", 0, false},
	}
	for _, tt := range tests {
		rank, rest, ok := mpiRankLabel([]byte(tt.line))
		if rank != tt.rank || string(rest) != tt.rest || ok != tt.ok {
			t.Errorf("mpiRankLabel(%q) = %d, %q, %v", tt.line, rank, rest, ok)
		}
	}
}

func TestExportEnv(t *testing.T) {
	own := []string{"A=1", "B=2", "SLURM_JOB_ID=5", "LAZARUS_JOBID=5"}
	tests := []struct {
		spec string
		want []string
	}{
		{"", own},
		{"ALL", own},
		{"NONE", []string{"SLURM_JOB_ID=5", "LAZARUS_JOBID=5"}},
		{"A,C=3", []string{"SLURM_JOB_ID=5", "LAZARUS_JOBID=5", "A=1", "C=3"}},
		{"ALL,B=9", []string{"A=1", "B=9", "SLURM_JOB_ID=5", "LAZARUS_JOBID=5"}},
	}
	for _, tt := range tests {
		got, err := exportEnv(tt.spec, own)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("exportEnv(%q) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
	if _, err := exportEnv("A,,B", own); err == nil {
		t.Error("an empty variable was taken")
	}
}

func TestMPIFlavourOfPlainPrograms(t *testing.T) {
	for _, p := range []string{"/bin/true", "/bin/sh"} {
		if got, _ := mpiFlavour(p, ""); got != mpiNone {
			t.Errorf("mpiFlavour(%s) = %s", p, got)
		}
		if got, byOption := mpiFlavour(p, "pmix"); got != mpiOpenMPI || !byOption {
			t.Errorf("mpiFlavour(%s, pmix) = %s, %v: want Open MPI's launcher, as --mpi says", p, got, byOption)
		}
		if got, _ := mpiFlavour(p, "none"); got != mpiNone {
			t.Errorf("mpiFlavour(%s, none) = %s", p, got)
		}
	}
}

func TestMultiProg(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := dir + "/conf"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	progs, err := multiProg(write("# c\n0 echo a%t\n1-2,4 'sh' -c \"echo %t %o\"\n* true\n"), 5, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"echo", "a0"}, {"sh", "-c", "echo 1 0"}, {"sh", "-c", "echo 2 1"}, {"true"}, {"sh", "-c", "echo 4 0"}}
	for i, p := range progs {
		if !slices.Equal(p.argv, want[i]) || !strings.HasPrefix(p.path, "/") {
			t.Errorf("task %d: %q at %s, want %q", i, p.argv, p.path, want[i])
		}
	}
	for body, msg := range map[string]string{
		"0 true\n":           "no line for task 1",
		"0-1 true\n1 true\n": "task 1 has two lines",
		"0-5 true\n":         "task 2, of a step of 2 tasks",
		"x true\n":           "not a task number",
		"0 nosuchprog\n":     "nosuchprog",
	} {
		if _, err := multiProg(write(body), 2, dir); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", body, err, msg)
		}
	}
}
