package qcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// parseQsub runs qsub's option handling on args (in dir) and returns the
// request it would send.
func parseQsub(t *testing.T, dir string, args ...string) (*proto.SubmitRequest, error) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	app := NewQsub(strings.NewReader(""), &out, &errb)
	var req *proto.SubmitRequest
	var err error
	app.Action = func(c *cli.Context) error {
		req, _, err = submitRequest(c)
		return nil
	}
	if code := Main(app, append([]string{"qsub"}, args...)); code != 0 {
		t.Fatalf("qsub %q: exit %d: %s", args, code, errb.String())
	}
	return req, err
}

func writeScript(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestQsubDirectives(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PBS_DPREFIX", "")
	os.Unsetenv("PBS_DPREFIX")
	pbs := writeScript(t, dir, "job.pbs", `#!/bin/bash
#PBS -N fromscript
#PBS -q batch
#PBS -l walltime=00:10:00,ncpus=2
#PBS -l mem=1gb
#PBS -o out.log
#PBS -e /tmp/err.log
#PBS -j oe
#PBS -r n
#PBS -A acct42 -P proj7 -p 100
#PBS -k oe
#PBS -W umask=027 -W group_list=users
#PBS -S /bin/bash
#PBS -c w=30
#PBS -v FOO=bar
#PBS -V
#PBS -h
cd $PBS_O_WORKDIR
`)
	req, err := parseQsub(t, dir, pbs)
	if err != nil {
		t.Fatal(err)
	}
	want := proto.SubmitRequest{
		Name: "fromscript", Queue: "batch", Resources: []string{"walltime=00:10:00,ncpus=2", "mem=1gb"},
		Stdout: filepath.Join(dir, "out.log"), Stderr: "/tmp/err.log", Join: "oe", Rerunnable: "n",
		Account: "acct42", Project: "proj7", Priority: "100", Keep: "oe", Umask: "027", GroupList: "users",
		Shell: "/bin/bash", Checkpoint: "w=30", Vars: []string{"FOO=bar"}, ExportEnv: true, Hold: true,
	}
	got := *req
	got.Script, got.ScriptName, got.Workdir, got.Env = nil, "", "", nil
	if !equalReq(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	// The command line wins; -l and -v add up, the command line's last.
	req, err = parseQsub(t, dir, "-N", "cmdline", "-l", "walltime=00:20:00", "-j", "n", "-p", "-5", "-v", "FOO=baz", "-W", "umask=077", pbs)
	if err != nil {
		t.Fatal(err)
	}
	if req.Name != "cmdline" || req.Join != "n" || req.Priority != "-5" || req.Umask != "077" || req.GroupList != "users" {
		t.Errorf("command line does not win: %+v", req)
	}
	if !slices.Equal(req.Resources, []string{"walltime=00:10:00,ncpus=2", "mem=1gb", "walltime=00:20:00"}) {
		t.Errorf("resources %q: want the directives' then the command line's", req.Resources)
	}
	if !slices.Equal(req.Vars, []string{"FOO=bar", "FOO=baz"}) {
		t.Errorf("vars %q", req.Vars)
	}
	res := jobs.Resources{NCPUs: 1}
	for _, l := range req.Resources {
		res, _ = jobs.ParseResources(res, l)
	}
	if res.Walltime.String() != "20m0s" || res.NCPUs != 2 {
		t.Errorf("merged resources %+v: want the command line's walltime", res)
	}
}

func equalReq(a, b proto.SubmitRequest) bool {
	return a.Name == b.Name && a.Queue == b.Queue && slices.Equal(a.Resources, b.Resources) &&
		a.Stdout == b.Stdout && a.Stderr == b.Stderr && a.Join == b.Join && a.Rerunnable == b.Rerunnable &&
		a.Account == b.Account && a.Project == b.Project && a.Priority == b.Priority && a.Keep == b.Keep &&
		a.Umask == b.Umask && a.GroupList == b.GroupList && a.Shell == b.Shell && a.Checkpoint == b.Checkpoint &&
		slices.Equal(a.Vars, b.Vars) && a.ExportEnv == b.ExportEnv && a.Hold == b.Hold && a.Slurm == b.Slurm
}

func TestQsubDirectivePrefix(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, "job.sh", "#!/bin/sh\n#PBS -N pbsname\n#LZ -N lzname\ntrue\n")
	tests := []struct {
		name, env string
		setEnv    bool
		args      []string
		want      string
	}{
		{"default #PBS", "", false, nil, "pbsname"},
		{"PBS_DPREFIX", "#LZ", true, nil, "lzname"},
		{"-C wins over PBS_DPREFIX", "#LZ", true, []string{"-C", "#PBS"}, "pbsname"},
		{"-C", "", false, []string{"-C", "#LZ"}, "lzname"},
		{"-C empty reads none", "", false, []string{"-C", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setEnv {
				t.Setenv("PBS_DPREFIX", tt.env)
			} else {
				t.Setenv("PBS_DPREFIX", "")
				os.Unsetenv("PBS_DPREFIX")
			}
			req, err := parseQsub(t, dir, append(tt.args, script)...)
			if err != nil {
				t.Fatal(err)
			}
			if req.Name != tt.want {
				t.Errorf("name %q, want %q", req.Name, tt.want)
			}
		})
	}
}

func TestQsubRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, script string
		args         []string
		inErr        []string
	}{
		{"array list directive", "#!/bin/sh\n#PBS -N a\n#PBS -J 1,3\ntrue\n", nil, []string{"job.sh: line 3: #PBS -J 1,3", "start-end"}},
		{"depend directive", "#!/bin/sh\n#PBS -W depend=afterwards:12\ntrue\n", nil, []string{"line 2: #PBS -W depend=afterwards:12", "unknown type"}},
		{"bad walltime directive", "#!/bin/sh\n\n#PBS -l walltime=1:99:00\ntrue\n", nil, []string{"line 3: #PBS -l walltime=1:99:00"}},
		{"two node specs", "#!/bin/sh\n#PBS -l nodes=1+1\ntrue\n", nil, []string{"line 2: #PBS -l nodes=1+1", "use select="}},
		{"bad chunk count", "#!/bin/sh\n#PBS -l select=0:ncpus=1\ntrue\n", nil, []string{"line 2: #PBS -l select=0:ncpus=1", "0 chunks"}},
		{"bad priority", "#!/bin/sh\n#PBS -p 5000\ntrue\n", nil, []string{"line 2: #PBS -p 5000", "-1024"}},
		{"bad keep", "#!/bin/sh\n#PBS -k x\ntrue\n", nil, []string{"line 2: #PBS -k x"}},
		{"unknown W", "#!/bin/sh\n#PBS -W sandbox=PRIVATE\ntrue\n", nil, []string{"line 2", "sandbox"}},
		{"output on another host", "#!/bin/sh\n#PBS -o elsewhere.example:/x\ntrue\n", nil, []string{"line 2", "another host"}},
		{"slurm mail type", "#!/bin/bash\n#SBATCH --mail-type=SOMETIMES\ntrue\n", nil, []string{"line 2: #SBATCH --mail-type", "want NONE, BEGIN"}},
		{"slurm bad cpus", "#!/bin/bash\n#SBATCH --cpus-per-task=zero\ntrue\n", nil, []string{"line 2: #SBATCH --cpus-per-task=zero"}},
		{"crlf", "#!/bin/sh\r\n#PBS -N a\r\ntrue\r\n", nil, []string{"line 1", "DOS/Windows"}},
		{"one-subjob array on the command line", "#!/bin/sh\ntrue\n", []string{"-J", "3-3"}, []string{"-J", "at least two"}},
		{"interactive without a terminal", "#!/bin/sh\ntrue\n", []string{"-I"}, []string{"-I", "standard input is not a terminal"}},
		{"interactive directive without a terminal", "#!/bin/sh\n#PBS -I\ntrue\n", nil, []string{"-I", "standard input is not a terminal"}},
		{"X11 on the command line", "#!/bin/sh\ntrue\n", []string{"-I", "-X"}, []string{"-X", "DISPLAY"}},
		{"W depend on the command line", "#!/bin/sh\ntrue\n", []string{"-W", "depend=afterok:x"}, []string{"depend", "not a job id"}},
		{"W depend before on an array", "#!/bin/sh\ntrue\n", []string{"-W", "depend=beforeok:4[]"}, []string{"depend", "array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := writeScript(t, dir, "job.sh", tt.script)
			_, err := parseQsub(t, dir, append(tt.args, script)...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range tt.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestQsubSlurm(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, "run.slurm", `#!/bin/bash
#SBATCH --job-name=relax
#SBATCH --time=0-00:05:00
#SBATCH --cpus-per-task=2
#SBATCH --mem=512M
#SBATCH --partition=batch
#SBATCH --output=%x-%j.out
echo hi
`)
	req, err := parseQsub(t, dir, script)
	if err != nil {
		t.Fatal(err)
	}
	if !req.Slurm || req.Name != "relax" || req.Queue != "batch" || !req.ExportEnv || req.Join != "oe" ||
		req.Stdout != filepath.Join(dir, "%x-%j.out") || req.Stderr != "" ||
		!slices.Equal(req.Resources, []string{"walltime=00:05:00", "ncpus=2", "mem=512mb"}) {
		t.Errorf("got %+v", req)
	}
	// --mem-per-cpu is memory for the job's CPUs.
	script = writeScript(t, dir, "run3.slurm", "#!/bin/bash\n#SBATCH --mem-per-cpu=1G\n#SBATCH -c 4\necho\n")
	if req, err = parseQsub(t, dir, script); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(req.Resources, []string{"ncpus=4", "mem=4gb"}) {
		t.Errorf("--mem-per-cpu: resources %q", req.Resources)
	}
	// Without --output: slurm-%j.out; with --error: separate files;
	// --export=NONE: no environment.
	script = writeScript(t, dir, "run2.slurm", "#!/bin/bash\n#SBATCH -e err-%j.txt\n#SBATCH --export=NONE\necho\n")
	if req, err = parseQsub(t, dir, script); err != nil {
		t.Fatal(err)
	}
	if req.Stdout != filepath.Join(dir, "slurm-%j.out") || req.Stderr != filepath.Join(dir, "err-%j.txt") || req.Join != "" || req.ExportEnv {
		t.Errorf("got %+v", req)
	}
}

func TestQsubCommand(t *testing.T) {
	dir := t.TempDir()
	req, err := parseQsub(t, dir, "-N", "echoer", "--", "/bin/echo", "it's", "-n", "a b")
	if err != nil {
		t.Fatal(err)
	}
	if want := "#!/bin/sh\nexec '/bin/echo' 'it'\\''s' '-n' 'a b'\n"; string(req.Script) != want || req.ScriptName != "/bin/echo" {
		t.Errorf("script %q (%q), want %q", req.Script, req.ScriptName, want)
	}
	// Without "--" a second operand is an error, as before.
	script := writeScript(t, dir, "s.sh", "true\n")
	if _, err := parseQsub(t, dir, script, "extra"); err == nil || !strings.Contains(err.Error(), "after the script") {
		t.Errorf("got %v", err)
	}
	if _, err := parseQsub(t, dir, "--"); err == nil {
		t.Error("an empty command accepted")
	}
}

func TestBlame(t *testing.T) {
	ds := []jobs.Directive{{Line: 2, Opt: "N", Arg: "x"}, {Line: 3, Opt: "l", Arg: "select=1:ncpus=64"}, {Line: 4, Opt: "q", Arg: "workq"}}
	torque := []jobs.Directive{{Line: 2, Opt: "l", Arg: "nodes=1:ppn=16"}, {Line: 3, Opt: "l", Arg: "walltime=1:00:00,mem=64gb"}}
	for _, tt := range []struct {
		msg, want string
		ds        []jobs.Directive
		cmdRes    bool
	}{
		{"ncpus=64 is more than this machine's 2 slots", "line 3: #PBS -l select=1:ncpus=64: ncpus=64", ds, false},
		{`unknown queue "workq"`, `line 4: #PBS -q workq: unknown queue`, ds, false},
		{"something else", "something else", ds, false},
		// The total the daemon refuses, not the words of the directive.
		{"ncpus=16 is more than this machine's 2 slots", "line 2: #PBS -l nodes=1:ppn=16: ncpus=16", torque, false},
		{"mem=64gb is more than this machine's 1024kb", "line 3: #PBS -l walltime=1:00:00,mem=64gb: mem=64gb", torque, false},
		// place=scatter of Torque's nodes=2: the directive asking for the chunks.
		{"place=scatter with 2 chunks: each chunk on a host of its own, but this system has one host", "line 2: #PBS -l nodes=2:ppn=8: place=scatter", []jobs.Directive{{Line: 2, Opt: "l", Arg: "nodes=2:ppn=8"}}, false},
		// The command line's -l may be the one: no line is named.
		{"ncpus=16 is more than this machine's 2 slots", "ncpus=16 is more", torque, true},
	} {
		got := blame(&proto.Error{Code: proto.CodeBadRequest, Message: tt.msg}, tt.ds, tt.cmdRes)
		if got.Error() != tt.want && !strings.HasPrefix(got.Error(), tt.want) {
			t.Errorf("blame(%q) = %q, want %q", tt.msg, got, tt.want)
		}
		var pe *proto.Error
		if !errors.As(got, &pe) {
			t.Errorf("blame(%q) lost the daemon's error", tt.msg)
		}
	}
}

// A directory given as -o DIR/ (or host:DIR/) keeps its slash once made
// absolute: the daemon puts the default name in it.
func TestOutputArgKeepsDirectorySlash(t *testing.T) {
	home := "/home/someone" // a relative path after host: is under it
	t.Setenv("HOME", home)
	for _, tt := range []struct{ arg, want string }{
		{"logs/", "/work/logs/"},
		{"logs", "/work/logs"},
		{"/abs/dir/", "/abs/dir/"},
		{"localhost:logs/", filepath.Join(home, "logs") + "/"},
		{"localhost:/abs/f.out", "/abs/f.out"},
	} {
		got, err := outputArg("o", tt.arg, "/work")
		if err != nil || got != tt.want {
			t.Errorf("outputArg(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
}
