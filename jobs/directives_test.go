package jobs

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		name   string
		prefix string // "" means DefaultDirectivePrefix; "-" means none
		script string
		want   []Directive
	}{
		{
			name: "pbs options, one or more a line, attached argument",
			script: "#!/bin/bash\n#PBS -N sim -q batch\n#PBS -lwalltime=01:00:00\n#PBS -l select=1:ncpus=4:mem=2gb\n" +
				"#PBS -j oe\n#PBS -V\n#PBS -hz\n./sim\n",
			want: []Directive{
				{Line: 2, Opt: "N", Arg: "sim"}, {Line: 2, Opt: "q", Arg: "batch"},
				{Line: 3, Opt: "l", Arg: "walltime=01:00:00"},
				{Line: 4, Opt: "l", Arg: "select=1:ncpus=4:mem=2gb"},
				{Line: 5, Opt: "j", Arg: "oe"}, {Line: 6, Opt: "V"},
				{Line: 7, Opt: "h"}, {Line: 7, Opt: "z"},
			},
		},
		{
			name:   "blank first line, no #!, comments and blank lines between",
			script: "\n# a comment\n#PBS -N a\n\n   \n## #PBS -N commented\n#PBS -o out.log  # trailing comment\necho hi\n",
			want:   []Directive{{Line: 3, Opt: "N", Arg: "a"}, {Line: 7, Opt: "o", Arg: "out.log"}},
		},
		{
			name:   "quotes group words",
			script: "#PBS -v \"A=1,B='x y'\"\n#PBS -N 'my job'\ntrue\n",
			want:   []Directive{{Line: 1, Opt: "v", Arg: "A=1,B='x y'"}, {Line: 2, Opt: "N", Arg: "my job"}},
		},
		{
			name:   "another prefix: #PBS lines are comments then",
			prefix: "#LZ",
			script: "#!/bin/sh\n#PBS -N ignored\n#LZ -N taken\ntrue\n",
			want:   []Directive{{Line: 3, Opt: "N", Arg: "taken"}},
		},
		{
			name:   "no prefix: no PBS directives",
			prefix: "-",
			script: "#PBS -N ignored\ntrue\n",
			want:   nil,
		},
		{
			name:   "indented, or an option right after the prefix: PBS's directives too",
			script: "#!/bin/bash\n  #PBS -N indented\n#PBS-l walltime=1:00\n\t#PBS-j oe\ntrue\n",
			want: []Directive{{Line: 2, Opt: "N", Arg: "indented"}, {Line: 3, Opt: "l", Arg: "walltime=1:00"},
				{Line: 4, Opt: "j", Arg: "oe"}},
		},
		{
			name:   "prefix must be followed by a blank",
			script: "#PBSX -N no\n#PBS\n#PBS -N yes\ntrue\n",
			want:   []Directive{{Line: 3, Opt: "N", Arg: "yes"}},
		},
		{
			name: "slurm directives translated",
			script: "#!/bin/bash\n#SBATCH --job-name=relax\n#SBATCH -t 1-02:03:04\n#SBATCH --mem=4G\n#SBATCH -c 2\n" +
				"#SBATCH --ntasks=1 --nodes=1\n#SBATCH -o logs/%x-%j.out\n#SBATCH --error=err.%j\n#SBATCH -p short\n" +
				"#SBATCH --requeue\n#SBATCH --export=NONE\n#SBATCH --mail-type=NONE\n#SBATCH -J other\nsrun ./a\n",
			want: []Directive{
				{Line: 2, Opt: "N", Arg: "relax", Slurm: "--job-name=relax"},
				{Line: 3, Opt: "l", Arg: "walltime=26:03:04", Slurm: "--time=1-02:03:04"},
				{Line: 4, Opt: "l", Arg: "mem=4gb", Slurm: "--mem=4G"},
				{Line: 5, Opt: "l", Arg: "ncpus=2", Slurm: "--cpus-per-task=2"},
				{Line: 7, Opt: "o", Arg: "logs/%x-%j.out", Slurm: "--output=logs/%x-%j.out"},
				{Line: 8, Opt: "e", Arg: "err.%j", Slurm: "--error=err.%j"},
				{Line: 9, Opt: "q", Arg: "short", Slurm: "--partition=short"},
				{Line: 10, Opt: "r", Arg: "y", Slurm: "--requeue"},
				{Line: 11, Opt: SlurmExportNone, Slurm: "--export=NONE"},
				{Line: 12, Opt: "m", Arg: "n", Slurm: "--mail-type=NONE"},
				{Line: 13, Opt: "N", Arg: "other", Slurm: "--job-name=other"},
			},
		},
		{
			name:   "slurm memory without unit is megabytes; minutes",
			script: "#SBATCH --mem 2048\n#SBATCH --time=90\n#SBATCH --no-requeue\n",
			want: []Directive{
				{Line: 1, Opt: "l", Arg: "mem=2gb", Slurm: "--mem=2048"},
				{Line: 2, Opt: "l", Arg: "walltime=01:30:00", Slurm: "--time=90"},
				{Line: 3, Opt: "r", Arg: "n", Slurm: "--no-requeue"},
			},
		},
		{
			name:   "slurm memory per cpu",
			script: "#SBATCH --mem-per-cpu=2G\n#SBATCH --tasks-per-node=1\n",
			want:   []Directive{{Line: 1, Opt: SlurmMemPerCPU, Arg: "2147483648", Slurm: "--mem-per-cpu=2G"}},
		},
		{
			name:   "slurm export of variables: only those, or with ALL the whole environment too",
			script: "#SBATCH --export=STHOST=abc,HOME\n#SBATCH --export=ALL,X=1\n",
			want: []Directive{
				{Line: 1, Opt: "v", Arg: "STHOST=abc,HOME", Slurm: "--export=STHOST=abc,HOME"},
				{Line: 1, Opt: SlurmExportNone, Slurm: "--export=STHOST=abc,HOME"},
				{Line: 2, Opt: "v", Arg: "X=1", Slurm: "--export=ALL,X=1"},
				{Line: 2, Opt: "V", Slurm: "--export=ALL,X=1"},
			},
		},
		{
			name:   "slurm tasks: MPI processes",
			script: "#SBATCH --ntasks 4\n#SBATCH -n 1\n#SBATCH --ntasks-per-node=2\n",
			want: []Directive{
				{Line: 1, Opt: SlurmNTasks, Arg: "4", Slurm: "--ntasks=4"},
				{Line: 3, Opt: SlurmNTasks, Arg: "2", Slurm: "--ntasks-per-node=2"},
			},
		},
		{
			name:   "mail none accepted",
			script: "#PBS -m n\ntrue\n",
			want:   []Directive{{Line: 1, Opt: "m", Arg: "n"}},
		},
		{
			name:   "mail",
			script: "#PBS -m abe\n#PBS -M a@b.c\n#SBATCH --mail-type=BEGIN,FAIL\n#SBATCH --mail-user=x@y\n",
			want: []Directive{{Line: 1, Opt: "m", Arg: "abe"}, {Line: 2, Opt: "M", Arg: "a@b.c"},
				{Line: 3, Opt: "m", Arg: "ba", Slurm: "--mail-type=BEGIN,FAIL"}, {Line: 4, Opt: "M", Arg: "x@y", Slurm: "--mail-user=x@y"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := tt.prefix
			switch prefix {
			case "":
				prefix = DefaultDirectivePrefix
			case "-":
				prefix = ""
			}
			got, err := ParseDirectives([]byte(tt.script), prefix)
			if err != nil {
				t.Fatalf("ParseDirectives: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDirectivesRefused(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		line     int
		option   string // DirectiveError.Option
		inReason string
	}{
		{"X11", "#PBS -X\n", 1, "#PBS -X", "X11"},
		{"GUI", "#PBS -G\n", 1, "#PBS -G", "Windows"},
		{"remove files", "#PBS -R oe\n", 1, "#PBS -R", "-R"},
		{"unknown option", "\n#PBS -Y /tmp\n", 2, "#PBS -Y", "unknown option"},
		{"prefix option in a script", "#PBS -C #X\n", 1, "#PBS -C", "cannot be a directive"},
		{"missing argument", "#PBS -N\n", 1, "#PBS -N", "missing argument"},
		{"not an option", "#PBS walltime=1:00:00\n", 1, "#PBS walltime=1:00:00", "not an option"},
		{"unbalanced quote", "#PBS -N 'a\n", 1, "#PBS", "quote"},
		{"after the first command", "#!/bin/sh\n#PBS -N a\ncd /tmp\n#PBS -l walltime=10\n", 4, "#PBS", "line 3"},
		{"indented sbatch", "#!/bin/sh\n  #SBATCH -J a\n", 2, "#SBATCH", "indented"},
		{"crlf", "#!/bin/sh\r\n#PBS -N a\r\n", 1, "CRLF line end", "DOS"},
		{"crlf later", "#!/bin/sh\n#PBS -N a\necho\r\n", 3, "CRLF line end", "dos2unix"},
		{"slurm array backwards", "#SBATCH --array=10-1\n", 1, "#SBATCH --array", "ends before it starts"},
		{"slurm array short bad max", "#SBATCH -a 1-3%0\n", 1, "#SBATCH --array", "above 0"},
		{"slurm dependency singleton", "#SBATCH --dependency=singleton\n", 1, "#SBATCH --dependency", "singleton"},
		{"slurm dependency mixed", "#SBATCH --dependency=afterok:1,afterok:2?afterany:3\n", 1, "#SBATCH --dependency", "mixed"},
		{"slurm mail type", "#SBATCH --mail-type=BOGUS\n", 1, "#SBATCH --mail-type", "only NONE, BEGIN"},
		{"slurm no tasks", "#SBATCH --ntasks=0\n", 1, "#SBATCH --ntasks", "above 0"},
		{"slurm many nodes", "#SBATCH -N 2\n", 1, "#SBATCH --nodes", "select=N:ncpus=C with -l place=scatter"},
		{"slurm unknown", "#SBATCH --gres=gpu:1\n", 1, "#SBATCH --gres", "not translated"},
		{"slurm exclusive", "#SBATCH --exclusive\n", 1, "#SBATCH --exclusive", "share this host"},
		{"slurm unknown short", "#SBATCH -w node1\n", 1, "#SBATCH -w", "not translated"},
		{"slurm export NONE with variables", "#SBATCH --export=NONE,A=1\n", 1, "#SBATCH --export", "NONE with variables"},
		{"slurm bad time", "#SBATCH --time=abc\n", 1, "#SBATCH --time", "want MM"},
		{"slurm mem zero", "#SBATCH --mem=0\n", 1, "#SBATCH --mem", "give a size"},
		{"slurm flag with argument", "#SBATCH --requeue=yes\n", 1, "#SBATCH --requeue", "no argument"},
		{"slurm after command", "#!/bin/bash\nmodule load x\n#SBATCH -t 10\n", 3, "#SBATCH", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDirectives([]byte(tt.script), DefaultDirectivePrefix)
			var de *DirectiveError
			if !errors.As(err, &de) {
				t.Fatalf("got %+v, %v; want a DirectiveError", got, err)
			}
			if de.Line != tt.line || de.Option != tt.option || !strings.Contains(err.Error(), tt.inReason) {
				t.Errorf("got line %d option %q (%v), want line %d option %q with %q", de.Line, de.Option, err, tt.line, tt.option, tt.inReason)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("got %q, want it to start with the line", err)
			}
		})
	}
}

func TestParseSlurmTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Minute},
		{"30:15", 30*time.Minute + 15*time.Second},
		{"2:00:00", 2 * time.Hour},
		{"1-0", 24 * time.Hour},
		{"1-2:30", 26*time.Hour + 30*time.Minute},
		{"2-00:00:10", 48*time.Hour + 10*time.Second},
		{"", 0}, {"0", 0}, {"UNLIMITED", 0}, {"1:2:3:4", 0}, {"x", 0}, {"-5", 0},
	}
	for _, tt := range tests {
		got, err := ParseSlurmTime(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("ParseSlurmTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePBSResources(t *testing.T) {
	base := Resources{NCPUs: 1}
	tests := []struct {
		name, in string
		want     Resources
		inErr    string
	}{
		{"select one chunk", "select=1:ncpus=8:mem=16gb", Resources{NCPUs: 8, Mem: 16 << 30, MPIProcs: 1}, ""},
		{"select without count", "select=ncpus=2:mpiprocs=2:ompthreads=1", Resources{NCPUs: 2, MPIProcs: 2, OMPThreads: 1}, ""},
		{"select and walltime", "select=1:ncpus=2,walltime=00:10:00", Resources{NCPUs: 2, Walltime: 10 * time.Minute, MPIProcs: 1}, ""},
		{"select two chunks", "select=2:ncpus=4", Resources{NCPUs: 8, Select: "2:ncpus=4", Chunks: 2}, ""},
		{"select plus", "select=1:ncpus=4:mem=1gb+2:ncpus=2:mpiprocs=2", Resources{NCPUs: 8, Mem: 1 << 30, Select: "1:ncpus=4:mem=1gb+2:ncpus=2:mpiprocs=2", Chunks: 3}, ""},
		{"select plus first mpiprocs", "select=2:ncpus=4:mpiprocs=4:ompthreads=1+1:ncpus=1", Resources{NCPUs: 9, MPIProcs: 4, OMPThreads: 1, Select: "2:ncpus=4:mpiprocs=4:ompthreads=1+1:ncpus=1", Chunks: 3}, ""},
		{"select mem per chunk", "select=3:mem=2gb", Resources{NCPUs: 3, Mem: 6 << 30, Select: "3:ncpus=1:mem=2gb", Chunks: 3}, ""},
		{"select zero chunks", "select=0:ncpus=1", base, "want 1 to 4096"},
		{"select too many", "select=4000:ncpus=1+100:ncpus=1", base, "at most 4096"},
		{"select empty kind", "select=1:ncpus=2+", base, "NAME=VALUE"},
		{"select bad ncpus", "select=2:ncpus=0", base, "ncpus=0"},
		{"select gpu", "select=1:ngpus=1", base, "chunk resource"},
		{"nodes ppn", "nodes=1:ppn=12", Resources{NCPUs: 12}, ""},
		{"nodes only", "nodes=1", base, ""},
		{"nodes two", "nodes=2:ppn=4", Resources{NCPUs: 8, MPIProcs: 4, Select: "2:ncpus=4:mpiprocs=4", Chunks: 2, Place: "scatter"}, ""},
		{"nodes plus", "nodes=1+1", base, "use select="},
		{"nodes property", "nodes=1:ppn=4:ib", base, "only ppn"},
		{"nodes by name", "nodes=node01:ppn=2", base, "host name"},
		{"procs", "procs=3", Resources{NCPUs: 3}, ""},
		{"place pack", "place=pack", Resources{NCPUs: 1, Place: "pack"}, ""},
		{"place scatter shared", "place=scatter:shared", Resources{NCPUs: 1, Place: "scatter:shared"}, ""},
		{"place excl", "place=excl", Resources{NCPUs: 1, Place: "excl"}, ""},
		{"place scatter excl", "place=scatter:excl", Resources{NCPUs: 1, Place: "scatter:excl"}, ""},
		{"place two arrangements", "place=pack:scatter", base, "at most one arrangement"},
		{"place unknown", "place=spread", base, "want free, pack"},
		{"place group", "place=group=switch", base, "grouping"},
		{"cput", "cput=00:05:00", Resources{NCPUs: 1, CPUTime: 5 * time.Minute}, ""},
		{"cput zero", "cput=0", base, "more than 0"},
		{"pmem", "pmem=1gb", base, `unknown resource "pmem"`},
		{"gpus", "gpus=1", base, "known: ncpus, mem, walltime, cput, select, nodes, procs, place"},
		{"really unknown", "frobs=2", base, "unknown resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResources(base, tt.in)
			if tt.inErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.inErr) || !errors.Is(err, ErrBadResource) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.inErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestThreadsAndNodeLines(t *testing.T) {
	tests := []struct {
		r              Resources
		threads, lines int
	}{
		{Resources{NCPUs: 4}, 4, 4},
		{Resources{NCPUs: 4, MPIProcs: 2}, 2, 2},
		{Resources{NCPUs: 4, MPIProcs: 4, OMPThreads: 3}, 3, 4},
		// Several chunks: mpiprocs 1 each when not given (PBS), threads of the first.
		{Resources{NCPUs: 8, Select: "1:ncpus=4+2:ncpus=2", Chunks: 3}, 4, 3},
		{Resources{NCPUs: 8, Select: "2:ncpus=4:mpiprocs=2+1:ncpus=1", Chunks: 3}, 2, 5},
	}
	for _, tt := range tests {
		if got := tt.r.Threads(); got != tt.threads {
			t.Errorf("%+v: Threads = %d, want %d", tt.r, got, tt.threads)
		}
		if got := tt.r.NodeLines(); got != tt.lines {
			t.Errorf("%+v: NodeLines = %d, want %d", tt.r, got, tt.lines)
		}
	}
}

func TestParsePBSPolicy(t *testing.T) {
	tests := []struct {
		in   string
		want Policy
		err  bool
	}{
		{"c", Policy{Kind: CheckpointQueue}, false},
		{"w", Policy{Kind: CheckpointQueue}, false},
		{"u", Policy{Kind: CheckpointAtShutdown}, false},
		{"c=30", Policy{Kind: CheckpointInterval, Interval: 30 * time.Minute}, false},
		{"w=90", Policy{Kind: CheckpointInterval, Interval: 90 * time.Minute}, false},
		{"30", Policy{Kind: CheckpointInterval, Interval: 30 * time.Hour}, false}, // hours, the guide's unit
		{"none", Policy{Kind: CheckpointNever}, false},
		{"shutdown", Policy{Kind: CheckpointAtShutdown}, false},
		{"periodic", Policy{Kind: CheckpointQueue}, false},
		{"interval=45", Policy{Kind: CheckpointInterval, Interval: 45 * time.Minute}, false},
		{"c=0", Policy{}, true},
		{"w=x", Policy{}, true},
		{"c=1.5", Policy{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePolicy(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePolicy(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestAttributes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		err  bool
	}{{"0", 0, false}, {"-1024", -1024, false}, {"1023", 1023, false}, {"+5", 5, false}, {"1024", 0, true}, {"-1025", 0, true}, {"x", 0, true}} {
		got, err := ParsePriority(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePriority(%q) = %d, %v", tt.in, got, err)
		}
	}
	for _, tt := range []struct{ in, want string }{{"n", "n"}, {"oe", "oe"}, {"eo", "oe"}, {"doe", "oed"}, {"e", "e"}, {"x", ""}, {"", ""}, {"on", ""}} {
		got, err := ParseKeep(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseKeep(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if !KeepsInHome("oe", "o") || KeepsInHome("oed", "o") || KeepsInHome("e", "o") || KeepsInHome("n", "o") {
		t.Error("KeepsInHome: o in home only without d")
	}
	for _, tt := range []struct {
		in   string
		want uint32
		err  bool
	}{{"22", 0o22, false}, {"077", 0o77, false}, {"0002", 0o2, false}, {"8", 0, true}, {"1777", 0, true}, {"00022", 0, true}} {
		got, err := ParseUmask(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseUmask(%q) = %o, %v", tt.in, got, err)
		}
	}
	for _, tt := range []struct{ list, want string }{
		{"alice", "alice"}, {"bob@other,alice", "alice"}, {"bob@here,alice", "bob"}, {"bob@here.example.org", "bob"},
		{"bob@other", ""}, {"a,b", ""}, {"@here", ""},
	} {
		got, err := PickForHost(tt.list, "here")
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("PickForHost(%q) = %q, %v; want %q", tt.list, got, err, tt.want)
		}
	}
}

// The chunks of a job as placement and PBS_NODEFILE see them.
func TestChunkList(t *testing.T) {
	tests := []struct {
		in      string
		chunks  []ChunkSpec
		lines   []int
		sel     string
		nodect  int
		ncpus   int
		threads int
	}{
		{"ncpus=4", []ChunkSpec{{N: 1, NCPUs: 4}}, []int{4}, "1:ncpus=4", 1, 4, 4},
		{"select=1:ncpus=4:mpiprocs=2", []ChunkSpec{{N: 1, NCPUs: 4, MPIProcs: 2}}, []int{2}, "1:ncpus=4:mpiprocs=2", 1, 4, 2},
		{"select=1:ncpus=4:mem=1gb+2:ncpus=2:mpiprocs=2", []ChunkSpec{{N: 1, NCPUs: 4, Mem: 1 << 30, MPIProcs: 1}, {N: 1, NCPUs: 2, MPIProcs: 2}, {N: 1, NCPUs: 2, MPIProcs: 2}},
			[]int{1, 2, 2}, "1:ncpus=4:mem=1gb+2:ncpus=2:mpiprocs=2", 3, 4, 4},
		{"nodes=2:ppn=3", []ChunkSpec{{N: 1, NCPUs: 3, MPIProcs: 3}, {N: 1, NCPUs: 3, MPIProcs: 3}}, []int{3, 3}, "2:ncpus=3:mpiprocs=3", 2, 3, 1},
		// A later one-chunk select replaces an earlier one of several;
		// its mpiprocs is PBS's default, 1.
		{"select=3:ncpus=1,select=1:ncpus=2", []ChunkSpec{{N: 1, NCPUs: 2, MPIProcs: 1}}, []int{1}, "1:ncpus=2:mpiprocs=1", 1, 2, 2},
		{"select=1:ncpus=2:mem=12mb", []ChunkSpec{{N: 1, NCPUs: 2, Mem: 12 << 20, MPIProcs: 1}}, []int{1}, "1:ncpus=2:mem=12mb:mpiprocs=1", 1, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseResources(Resources{NCPUs: 1}, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ChunkList(); !slices.Equal(got, tt.chunks) {
				t.Errorf("ChunkList = %+v, want %+v", got, tt.chunks)
			}
			if got := r.ChunkLines(); !slices.Equal(got, tt.lines) {
				t.Errorf("ChunkLines = %v, want %v", got, tt.lines)
			}
			if got := r.SelectString(); got != tt.sel {
				t.Errorf("SelectString = %q, want %q", got, tt.sel)
			}
			if r.NChunks() != tt.nodect || r.FirstNCPUs() != tt.ncpus || r.Threads() != tt.threads {
				t.Errorf("NChunks, FirstNCPUs, Threads = %d, %d, %d; want %d, %d, %d", r.NChunks(), r.FirstNCPUs(), r.Threads(), tt.nodect, tt.ncpus, tt.threads)
			}
		})
	}
}
