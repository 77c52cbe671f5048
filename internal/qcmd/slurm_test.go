package qcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

func TestParseSbatchArgs(t *testing.T) {
	a, err := parseSbatchArgs([]string{"--parsable", "-J", "x", "--time=5", "-H", "--wrap", "echo a b", "-oout.%j"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.parsable || !a.hold || a.wrap == nil || *a.wrap != "echo a b" || a.script != "" {
		t.Errorf("parsed %+v", a)
	}
	if want := []string{"-J", "x", "--time=5", "-oout.%j"}; !slices.Equal(a.words, want) {
		t.Errorf("translated words = %q, want %q", a.words, want)
	}
	a, err = parseSbatchArgs([]string{"-p", "long", "job.sh", "--not-an-option", "x"})
	if err != nil || a.script != "job.sh" || !slices.Equal(a.args, []string{"--not-an-option", "x"}) {
		t.Errorf("script and its arguments: %+v, %v", a, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unrecognized option '--bogus'"},
		{[]string{"--gres=gpu:1", "x.sh"}, "unrecognized option '--gres'"},
		{[]string{"-J"}, "option '-J' requires an argument"},
		{[]string{"--wrap"}, "option '--wrap' requires an argument"},
		{[]string{"--parsable=yes"}, "option '--parsable' takes no argument"},
		{[]string{"--mail-type=SOMETIMES"}, "--mail-type: --mail-type=SOMETIMES: want NONE, BEGIN"},
	} {
		if _, err := parseSbatchArgs(c.args); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("parseSbatchArgs(%q) = %v, want %q", c.args, err, c.want)
		}
	}
}

// sbatchRequest builds the request sbatch would send, without a daemon.
func sbatchRequest(t *testing.T, script string, args ...string) *proto.SubmitRequest {
	t.Helper()
	return sbatchRequestIn(t, "", script, args...)
}

// sbatchRequestIn is sbatchRequest with stdin as standard input.
func sbatchRequestIn(t *testing.T, stdin, script string, args ...string) *proto.SubmitRequest {
	t.Helper()
	a, err := parseSbatchArgs(append(args, script))
	if err != nil {
		t.Fatal(err)
	}
	inner := NewQsub(strings.NewReader(stdin), &bytes.Buffer{}, &bytes.Buffer{})
	inner.Metadata = map[string]any{rawArgsKey: []string{"sbatch", script}, sbatchKey: a}
	inner.ExitErrHandler = func(*cli.Context, error) {}
	var req *proto.SubmitRequest
	inner.Action = func(c *cli.Context) error {
		req, _, err = submitRequest(c)
		return err
	}
	if err := inner.Run([]string{"sbatch", script}); err != nil {
		t.Fatal(err)
	}
	return req
}

// The command line replaces the script's lines of the same option and
// keeps the others; a script without #SBATCH lines is a Slurm job too.
func TestSbatchOverridesDirectives(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n#SBATCH -J fromscript\n#SBATCH --time=10\n#SBATCH --export=NONE\n#SBATCH --array=1-3\n#PBS -A acct\ntrue\n"), 0o644)
	req := sbatchRequest(t, script, "--job-name=cmd", "--export=ALL", "-a", "5-6%1", "--hold")
	if req.Name != "cmd" || !req.ExportEnv || req.Array != "5-6%1" || !req.Hold || req.Account != "acct" || !req.Slurm {
		t.Errorf("request = %+v", req)
	}
	if !slices.Contains(req.Resources, "walltime=00:10:00") {
		t.Errorf("the script's --time is lost: %q", req.Resources)
	}
	if req.Stdout != filepath.Join(mustGetwd(t), "slurm-%A_%a.out") || req.Join != "oe" {
		t.Errorf("output %q join %q", req.Stdout, req.Join)
	}
	plain := filepath.Join(dir, "plain.sh")
	os.WriteFile(plain, []byte("#!/bin/sh\ntrue\n"), 0o644)
	req = sbatchRequest(t, plain, "--ignore-pbs")
	if !req.Slurm || !req.ExportEnv || req.Stdout != filepath.Join(mustGetwd(t), "slurm-%j.out") {
		t.Errorf("plain script: %+v", req)
	}
	os.WriteFile(plain, []byte("#!/bin/sh\n#PBS -N pbsname\ntrue\n"), 0o644)
	if req = sbatchRequest(t, plain, "--ignore-pbs"); req.Name == "pbsname" {
		t.Errorf("--ignore-pbs read #PBS -N")
	}
	if req = sbatchRequest(t, plain); req.Name != "pbsname" {
		t.Errorf("#PBS -N not read: %q", req.Name)
	}
	// Standard input's script is "sbatch" unless it names itself.
	if req = sbatchRequestIn(t, "#!/bin/sh\ntrue\n", "-"); req.Name != "sbatch" {
		t.Errorf("a script from standard input is named %q", req.Name)
	}
	if req = sbatchRequestIn(t, "#!/bin/sh\n#SBATCH -J own\ntrue\n", "-"); req.Name != "own" {
		t.Errorf("#SBATCH -J of a script from standard input: %q", req.Name)
	}
	if req = sbatchRequestIn(t, "#!/bin/sh\n#SBATCH -J own\ntrue\n", "-", "-J", "given"); req.Name != "given" {
		t.Errorf("-J of a script from standard input: %q", req.Name)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestSqueueFormat(t *testing.T) {
	items, err := parseSqueueFormat(squeueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range items {
		if it.field == 0 {
			b.WriteString(it.text)
		} else {
			b.WriteString(it.pad(squeueFields[it.field].title))
		}
	}
	if got, want := b.String(), "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"; got != want {
		t.Errorf("default header\n got %q\nwant %q", got, want)
	}
	if _, err := parseSqueueFormat("%-5i"); err == nil {
		t.Error("%-5i accepted: a field is %[.][size]type")
	}
	items, err = parseSqueueFormat("id=%5i|%.3j|100%%")
	if err != nil {
		t.Fatal(err)
	}
	j := slurmJob{info: proto.JobInfo{Name: "longname"}, id: 42}
	b.Reset()
	for _, it := range items {
		if it.field == 0 {
			b.WriteString(it.text)
		} else {
			b.WriteString(it.pad(squeueFields[it.field].value(j, time.Time{})))
		}
	}
	if got := b.String(); got != "id=42   |lon|100%" {
		t.Errorf("formatted %q", got)
	}
	if _, err := parseSqueueFormat("%.5"); err == nil {
		t.Error("a field without its letter accepted")
	}
}

func TestSlurmIDs(t *testing.T) {
	got, err := parseSlurmIDs("7,9_2,9_[4-5,8],3[1]")
	want := []jobs.ID{7, jobs.SubjobID(9, 2), jobs.SubjobID(9, 4), jobs.SubjobID(9, 5), jobs.SubjobID(9, 8), jobs.SubjobID(3, 1)}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseSlurmIDs = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"x", "0", "9_", "9_x", "_3"} {
		if _, err := parseSlurmIDs(bad); err == nil {
			t.Errorf("parseSlurmIDs(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		j    slurmJob
		want string
	}{
		{slurmJob{id: 12}, "12"},
		{slurmJob{id: jobs.SubjobID(12, 3), array: true}, "12_3"},
		{slurmJob{id: jobs.SubjobID(12, 3), array: true, pending: []int{3, 4, 5, 9}, limit: "%2"}, "12_[3-5,9%2]"},
	} {
		if got := c.j.slurmID(); got != c.want {
			t.Errorf("slurmID = %q, want %q", got, c.want)
		}
	}
}

func TestSlurmStates(t *testing.T) {
	for _, c := range []struct {
		info proto.JobInfo
		want string
	}{
		{proto.JobInfo{State: "queued"}, "PENDING"},
		{proto.JobInfo{State: "held", DependHold: true}, "PENDING"},
		{proto.JobInfo{State: "running"}, "RUNNING"},
		{proto.JobInfo{State: "running", Suspended: true}, "SUSPENDED"},
		{proto.JobInfo{State: "checkpointing"}, "RUNNING"},
		{proto.JobInfo{State: "exiting"}, "COMPLETING"},
		{proto.JobInfo{State: "finished"}, "COMPLETED"},
		{proto.JobInfo{State: "failed", Reason: "deleted by alice"}, "CANCELLED"},
		{proto.JobInfo{State: "failed", Reason: "walltime exceeded (limit 00:01:00)"}, "TIMEOUT"},
		{proto.JobInfo{State: "failed", Reason: "memory limit exceeded"}, "OUT_OF_MEMORY"},
		{proto.JobInfo{State: "failed"}, "FAILED"},
	} {
		if got := slurmState(c.info); got != c.want {
			t.Errorf("slurmState(%+v) = %s, want %s", c.info, got, c.want)
		}
	}
	st, err := parseSlurmStates("pd,RUNNING,ca")
	if err != nil || len(st) != 3 || !st["PENDING"] || !st["RUNNING"] || !st["CANCELLED"] {
		t.Errorf("parseSlurmStates = %v, %v", st, err)
	}
	if _, err := parseSlurmStates("R,XX"); err == nil {
		t.Error("XX accepted")
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "0:00"}, {65 * time.Second, "1:05"}, {3*time.Hour + 4*time.Second, "3:00:04"}, {50 * time.Hour, "2-02:00:00"}} {
		if got := slurmDuration(c.d); got != c.want {
			t.Errorf("slurmDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := sacctDuration(65 * time.Second); got != "00:01:05" {
		t.Errorf("sacctDuration = %q", got)
	}
	for _, c := range []struct {
		status *int
		want   string
	}{{nil, "0:0"}, {ptr(3), "3:0"}, {ptr(256 + 15), "0:15"}, {ptr(-29), "0:0"}} {
		if got := exitCode(proto.JobInfo{ExitStatus: c.status}); got != c.want {
			t.Errorf("exitCode = %q, want %q", got, c.want)
		}
	}
}

func ptr(n int) *int { return &n }

func TestSqueueLongFormat(t *testing.T) {
	items, err := parseSqueueLongFormat("JobID:8,State,name:.5")
	if err != nil {
		t.Fatal(err)
	}
	j := slurmJob{info: proto.JobInfo{Name: "longname", State: "running"}, id: 42}
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.pad(squeueFields[it.field].value(j, time.Time{})))
	}
	if got, want := b.String(), "42      RUNNING             longn"; got != want {
		t.Errorf("-O line %q, want %q", got, want)
	}
	for _, bad := range []string{"bogus", "jobid:x"} {
		if _, err := parseSqueueLongFormat(bad); err == nil {
			t.Errorf("-O %s accepted", bad)
		}
	}
}
