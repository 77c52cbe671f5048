package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var machine = Machine{CPUs: 8, Memory: 16 << 30}

func TestDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), FileName), machine)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(machine); !reflect.DeepEqual(c, want) {
		t.Errorf("missing file: got %+v, want %+v", c, want)
	}
	if c.Slots != 8 || c.Memory != 16<<30 || c.DefaultQueue != "batch" || c.KillGrace != 10*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	for _, s := range c.Settings() {
		if s.Doc == "" || s.Default == "" {
			t.Errorf("setting %s is undocumented", s.Name)
		}
	}
}

func TestParse(t *testing.T) {
	in := `# a comment
slots = 4
memory=2gb
   default_queue = long
max_running = 3
max_user_running = 2
default_walltime = 1:00:00
max_walltime = 48:00:00
kill_grace = 30s
operators = alice, bob
query_other_jobs = true
keep_finished = 24h
log_level = debug
checkpoint_keep = 3
checkpoint_hour = 1s
max_connections = 500
max_user_connections = 20
prologue = /etc/lazarus/prologue
epilogue = /etc/lazarus/epilogue
pelog_timeout = 10s
sendmail = /usr/lib/sendmail
mail_from = batch@example.org
mail_per_minute = 5
etcd_endpoints = http://10.0.0.1:2379, https://etcd2:2379
etcd_prefix = /site/lazarus
shared_dir = /shared/lazarus
etcd_ca = /etc/lazarus/ca.pem
etcd_cert = /etc/lazarus/node.pem
etcd_key = /etc/lazarus/node.key
etcd_insecure = true
`
	c, err := Parse(strings.NewReader(in), machine)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Slots: 4, Memory: 2 << 30, DefaultQueue: "long", MaxRunning: 3, MaxUserRunning: 2,
		DefaultWalltime: time.Hour, MaxWalltime: 48 * time.Hour, KillGrace: 30 * time.Second,
		Operators: []string{"alice", "bob"}, QueryOtherJobs: true, KeepFinished: 24 * time.Hour, LogLevel: "debug",
		CheckpointKeep: 3, CheckpointFullEvery: 8, CheckpointHour: time.Second, MaxConnections: 500, MaxUserConnections: 20, MaxUserJobs: 10000,
		Prologue: "/etc/lazarus/prologue", Epilogue: "/etc/lazarus/epilogue", PelogTimeout: 10 * time.Second,
		Sendmail: "/usr/lib/sendmail", MailFrom: "batch@example.org", MailPerMinute: 5,
		EtcdEndpoints: []string{"http://10.0.0.1:2379", "https://etcd2:2379"}, EtcdPrefix: "/site/lazarus",
		SharedDir: "/shared/lazarus", EtcdCA: "/etc/lazarus/ca.pem", EtcdCert: "/etc/lazarus/node.pem", EtcdKey: "/etc/lazarus/node.key", EtcdInsecure: true,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if got := c.CheckpointEvery(90 * time.Minute); got != 1500*time.Millisecond {
		t.Errorf("CheckpointEvery(90m) with an hour of 1s = %v, want 1.5s", got)
	}
	if got := Default(machine).CheckpointEvery(90 * time.Minute); got != 90*time.Minute {
		t.Errorf("CheckpointEvery(90m) = %v", got)
	}
	if !c.IsOperator("bob") || c.IsOperator("carol") {
		t.Error("IsOperator")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
	}{
		{"unknown key", "slot = 2", 1},
		{"no equals", "\nslots 2", 2},
		{"bad slots", "slots = 0", 1},
		{"bad memory", "memory = lots", 1},
		{"duplicate", "slots = 2\nslots = 3", 2},
		{"bad queue", "default_queue = a b", 1},
		{"bad grace", "kill_grace = forever", 1},
		{"bad level", "log_level = loud", 1},
		{"bad walltime", "max_walltime = 1:99:00", 1},
		{"inconsistent", "default_walltime = 2:00:00\nmax_walltime = 1:00:00", 0},
		{"bad endpoint", "etcd_endpoints = 10.0.0.1:2379", 1},
		{"bad prefix", "etcd_prefix = lazarus", 1},
		{"relative shared dir", "shared_dir = shared", 1},
		{"etcd without shared dir", "etcd_endpoints = http://127.0.0.1:2379", 0},
		{"cert without key", "etcd_cert = /etc/c.pem", 0},
		{"etcd over http", "etcd_endpoints = http://127.0.0.1:2379\nshared_dir = /s\netcd_cert = /c.pem\netcd_key = /c.key", 0},
		{"etcd without client certificate", "etcd_endpoints = https://127.0.0.1:2379\nshared_dir = /s", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), machine)
			if err == nil {
				t.Fatal("accepted")
			}
			var le *LineError
			if tt.line > 0 && (!errors.As(err, &le) || le.Line != tt.line) {
				t.Errorf("error %v, want one on line %d", err, tt.line)
			}
		})
	}
}

func TestSetKeepsComments(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	orig := "# site notes\nslots = 4 \n# end\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Set(path, machine, "slots", "6")
	if err != nil {
		t.Fatal(err)
	}
	if c.Slots != 6 {
		t.Errorf("slots = %d, want 6", c.Slots)
	}
	if _, err := Set(path, machine, "operators", "alice"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# site notes\nslots = 6\n# end\n# users, besides root, who manage queues, the server and every job (comma separated)\noperators = alice\n"
	if string(got) != want {
		t.Errorf("file =\n%s\nwant\n%s", got, want)
	}
	for _, bad := range [][2]string{{"slots", "x"}, {"nope", "1"}} {
		if _, err := Set(path, machine, bad[0], bad[1]); err == nil {
			t.Errorf("Set(%s, %s) accepted", bad[0], bad[1])
		}
	}
	if err := os.WriteFile(path, []byte("max_walltime = 10:00:00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Set(path, machine, "default_walltime", "99:00:00"); err == nil {
		t.Error("default_walltime above max_walltime accepted")
	}
	after, _ := os.ReadFile(path)
	if string(after) != "max_walltime = 10:00:00\n" {
		t.Errorf("a refused Set changed the file: %q", after)
	}
}

func TestSetCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	c, err := Set(path, machine, "default_queue", "work")
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultQueue != "work" {
		t.Errorf("default_queue = %q", c.DefaultQueue)
	}
	again, err := Load(path, machine)
	if err != nil || !reflect.DeepEqual(again, c) {
		t.Errorf("reload = %+v, %v, want %+v", again, err, c)
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv(EnvHome, "/x")
	if got := StateDir("/flag"); got != "/flag" {
		t.Errorf("flag: %s", got)
	}
	if got := StateDir(""); got != "/x" {
		t.Errorf("env: %s", got)
	}
	t.Setenv(EnvHome, "")
	if got := StateDir(""); got != DefaultStateDir {
		t.Errorf("default: %s", got)
	}
}

func TestDetectMachine(t *testing.T) {
	m := DetectMachine()
	if m.CPUs < 1 || m.Memory <= 0 {
		t.Errorf("DetectMachine() = %+v", m)
	}
}

// server_name names the server of job ids; without it, the host's short
// name; a name that could not be part of an id is refused.
func TestServerName(t *testing.T) {
	m := Machine{CPUs: 2, Memory: 1 << 30}
	c, err := Parse(strings.NewReader("server_name = head-1\n"), m)
	if err != nil || c.Server() != "head-1" {
		t.Errorf("server_name = head-1: %q, %v", c.Server(), err)
	}
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	if c := Default(m); c.Server() != short || strings.Contains(c.Server(), ".") {
		t.Errorf("default server %q, want the host's short name %q", c.Server(), short)
	}
	for _, bad := range []string{"a.b", "a b", "x/y", strings.Repeat("n", 65)} {
		if _, err := Parse(strings.NewReader("server_name = "+bad+"\n"), m); err == nil {
			t.Errorf("server_name = %q accepted", bad)
		}
	}
}
