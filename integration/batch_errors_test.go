package integration

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/internal/proto"
)

// oneLine checks that a command failed with exactly one line on stderr,
// starting with its name, and nothing on stdout.
func oneLine(t *testing.T, cmd string, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code == 0 || len(lines) != 1 || !strings.HasPrefix(r.stderr, cmd+": ") || !strings.HasSuffix(r.stderr, "\n") || r.stdout != "" {
		t.Errorf("%s: %v, want a one-line error", cmd, r)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("%s: stderr %q does not say %q", cmd, r.stderr, want)
	}
	if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Errorf("%s: stack trace: %q", cmd, r.stderr)
	}
}

func TestBatchBadInput(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 2\n")
	script := b.script("ok.sh", "#!/bin/sh\ntrue\n")
	b.mustRun("qmgr", "-c", "stop queue batch") // nothing runs: nothing changes
	kept := b.qsub(script)
	tests := []struct {
		name string
		cmd  string
		args []string
		want string
	}{
		{"unknown queue", "qsub", []string{"-q", "nope", script}, `unknown queue "nope"`},
		{"bad ncpus", "qsub", []string{"-l", "ncpus=two", script}, "ncpus=two"},
		{"too many cpus", "qsub", []string{"-l", "ncpus=3", script}, "more than this machine's 2 slots"},
		{"bad mem", "qsub", []string{"-l", "mem=lots", script}, `"lots"`},
		{"bad walltime", "qsub", []string{"-l", "walltime=1:99:00", script}, "walltime=1:99:00"},
		{"unknown resource", "qsub", []string{"-l", "gpus=1", script}, `unknown resource "gpus"`},
		{"bad time", "qsub", []string{"-a", "2561", script}, `-a "2561"`},
		{"past date", "qsub", []string{"-a", "200001011200", script}, "in the past"},
		{"bad policy", "qsub", []string{"-c", "often", script}, `-c "often"`},
		{"zero interval", "qsub", []string{"-c", "0", script}, "-c 0"},
		{"bad rerun", "qsub", []string{"-r", "maybe", script}, `-r "maybe"`},
		{"bad join", "qsub", []string{"-j", "xy", script}, `-j "xy"`},
		{"bad name", "qsub", []string{"-N", "a/b", script}, `job name "a/b"`},
		{"bad variable", "qsub", []string{"-v", "1X=2", script}, `-v "1X=2"`},
		{"unset variable", "qsub", []string{"-v", "LAZARUS_SURELY_UNSET", script}, "not set here"},
		{"missing script", "qsub", []string{"/nonexistent/job.sh"}, "cannot read script /nonexistent/job.sh: no such file or directory"},
		{"directory script", "qsub", []string{b.work}, "cannot read script"},
		{"argument after script", "qsub", []string{script, "-q", "x"}, "options go before the script"},
		{"unknown flag", "qsub", []string{"-x", script}, "unknown option -x"},
		{"empty script", "qsub", []string{"-"}, "the script is empty"},
		{"qdel unknown", "qdel", []string{"999"}, "unknown job id 999"},
		{"qhold unknown", "qhold", []string{"999"}, "unknown job id 999"},
		{"qrls unknown", "qrls", []string{"999"}, "unknown job id 999"},
		{"qdel not an id", "qdel", []string{"abc"}, `"abc": not a job id`},
		{"qdel no id", "qdel", nil, "no job id given"},
		{"qstat unknown", "qstat", []string{"999"}, "Unknown Job Id 999."},
		{"qstat -c unknown", "qstat", []string{"-c", "999"}, "unknown job id 999"},
		{"qstat format", "qstat", []string{"-F", "xml"}, `-F "xml"`},
		{"qstat user", "qstat", []string{"-u", "no-such-user-here"}, `unknown user "no-such-user-here"`},
		{"qstat queue", "qstat", []string{"-Q", "nope"}, `unknown queue "nope"`},
		{"qmgr queue name", "qmgr", []string{"-c", "create queue bad/name"}, `queue name "bad/name"`},
		{"qmgr attribute", "qmgr", []string{"-c", "set queue batch priority = high"}, "priority = high"},
		{"qmgr unknown queue", "qmgr", []string{"-c", "start queue nope"}, `unknown queue "nope"`},
		{"qmgr syntax", "qmgr", []string{"-c", "make coffee"}, "syntax error"},
		{"qmgr server key", "qmgr", []string{"-c", "set server colour = blue"}, `unknown setting "colour"`},
		{"qmgr exists", "qmgr", []string{"-c", "create queue batch"}, "queue batch exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.runWith(cmdOpts{stdin: "  \n"}, tt.cmd, tt.args...)
			oneLine(t, tt.cmd, r, tt.want)
		})
	}
	list := b.jobs()
	if len(list) != 1 || list[0].ID != kept || list[0].State != "queued" {
		t.Errorf("bad input changed the jobs: %+v", list)
	}
	if out := b.mustRun("qstat", "-Q"); strings.Count(out, "\n") != 3 {
		t.Errorf("bad input changed the queues:\n%s", out)
	}
}

func TestBatchUnreadableScript(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	secret := filepath.Join(b.work, "secret.sh")
	os.WriteFile(secret, []byte("#!/bin/sh\ntrue\n"), 0o600)
	r := b.runWith(cmdOpts{cred: cred}, "qsub", secret)
	oneLine(t, "qsub", r, "cannot read script "+secret+": permission denied")
}

func TestBatchDaemonNeverDiesOnBadRequests(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	conn, err := net.Dial("unix", proto.SocketPath(b.home))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, tc := range []struct{ line, code string }{
		{"this is not json", proto.CodeBadRequest},
		{`{"version":99,"op":"ping"}`, proto.CodeBadVersion},
		{`{"version":1,"op":"explode"}`, proto.CodeBadRequest},
		{`{"version":1,"op":"submit","body":"nonsense"}`, proto.CodeBadRequest},
		{`{"version":1,"op":"submit","body":{"script":"ZWNobwo=","workdir":"relative"}}`, proto.CodeBadRequest},
		{`{"version":1,"op":"delete","body":{}}`, proto.CodeBadRequest},
		{`{"version":1,"op":"status","body":{"states":["sleeping"]}}`, proto.CodeBadRequest},
		{`{"version":1,"op":"wait","body":{"jobs":[{"id":12345,"state":"queued"}],"timeout_ms":1}}`, ""},
		{`{"version":1,"op":"ping"}`, ""},
	} {
		if _, err := conn.Write([]byte(tc.line + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		var resp proto.Response
		if err := json.Unmarshal(line, &resp); err != nil {
			t.Fatalf("%s: reply %q: %v", tc.line, line, err)
		}
		got := ""
		if resp.Error != nil {
			got = resp.Error.Code
		}
		if got != tc.code || resp.Version != proto.Version {
			t.Errorf("%s: reply %s, want code %q", tc.line, line, tc.code)
		}
	}
	if !b.running() {
		t.Fatal("lazarusd died")
	}
	b.mustRun("qstat")
}

func TestBatchDaemonNotRunning(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	for _, c := range []struct {
		cmd  string
		args []string
	}{
		{"qsub", []string{"-"}}, {"qstat", nil}, {"qstat", []string{"-Q"}}, {"qdel", []string{"1"}},
		{"qhold", []string{"1"}}, {"qrls", []string{"1"}}, {"qmgr", []string{"-c", "list server"}},
		{"qalter", []string{"-N", "x", "1"}}, {"qsig", []string{"1"}}, {"qrerun", []string{"1"}},
		{"qmove", []string{"batch", "1"}}, {"qselect", nil}, {"qrun", []string{"1"}}, {"qterm", nil},
		{"pbsnodes", nil},
	} {
		b := &batch{t: t, home: home, work: home}
		r := b.runWith(cmdOpts{stdin: "echo hi\n"}, c.cmd, c.args...)
		oneLine(t, c.cmd, r, "lazarusd is not running")
		if !strings.Contains(r.stderr, "LAZARUS_HOME") || !strings.Contains(r.stderr, home) {
			t.Errorf("%s: %q does not name LAZARUS_HOME and where it looked", c.cmd, r.stderr)
		}
	}
}

func TestBatchHelp(t *testing.T) {
	t.Parallel()
	b := &batch{t: t, home: t.TempDir()}
	b.work = b.home
	for cmd, flags := range map[string][]string{
		"lazarusd": {"--state-dir", "--log-level", "SIGHUP", "LAZARUS_HOME"},
		"qsub":     {"-q", "-N", "-o", "-e", "-j", "-r", "-h", "-a", "-l", "-v", "-V", "-c", "LAZARUS_HOME", "LAZARUS_JOBID"},
		"qstat":    {"-f", "-a", "-n", "-s", "-x", "-H", "-t", "-w", "-Q", "-q", "-B", "-u", "-F", "-c", "--state", "--wait", "Exit_status", "LAZARUS_HOME"},
		"qalter":   {"-l", "-N", "-o", "-e", "-j", "-h", "-c", "-p", "-a", "-r", "-A", "LAZARUS_HOME"},
		"qsig":     {"-s", "SIGTERM", "LAZARUS_HOME"},
		"qrerun":   {"-W force", "-f", "LAZARUS_HOME"},
		"qmove":    {"destination", "LAZARUS_HOME"},
		"qselect":  {"-s", "-u", "-q", "-N", "-A", "-h", "-p", "-r", "-l", "-x", "-H", "LAZARUS_HOME"},
		"qrun":     {"-H", "LAZARUS_HOME"},
		"qorder":   {"places", "LAZARUS_HOME"},
		"qterm":    {"-t", "quick", "delay", "immediate", "LAZARUS_HOME"},
		"pbsnodes": {"-a", "-l", "-o", "-r", "-C", "-F", "LAZARUS_HOME"},
		"qdel":     {"SIGTERM", "LAZARUS_HOME"},
		"qhold":    {"qrls", "LAZARUS_HOME"},
		"qrls":     {"held", "LAZARUS_HOME"},
		"qmgr":     {"-c", "create queue", "set server", "shutdown", "max_user_running", "LAZARUS_HOME"},
	} {
		r := b.run(cmd, "--help")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s --help: %v", cmd, r)
		}
		for _, f := range flags {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("%s --help does not mention %s", cmd, f)
			}
		}
	}
}
