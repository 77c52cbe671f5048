package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/testenv"
)

// The test binary doubles as lazarusd: Start runs "<exe> supervise RUNDIR",
// and the supervisor runs "<exe> exec-job".
func TestMain(m *testing.M) {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "supervise":
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			if err := Supervise(context.Background(), log, "/proc/self/exe", os.Args[2]); err != nil {
				log.Error("supervise", "error", err)
				os.Exit(1)
			}
			os.Exit(0)
		case "exec-job":
			os.Exit(ExecJob())
		}
	}
	os.Exit(m.Run())
}

type fixture struct {
	dir    string // working directory of the job
	runDir string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	// Jobs of other users must reach their scripts and working directories.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return fixture{dir: dir, runDir: filepath.Join(dir, "run")}
}

func (f fixture) spec(t *testing.T, script string) *Spec {
	t.Helper()
	path := filepath.Join(f.dir, "job.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Spec{
		JobID: 1, Start: time.Now(), Name: "job.sh",
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Workdir: f.dir, Script: path, Shell: "/bin/sh",
		Stdout: filepath.Join(f.dir, "out"), Stderr: filepath.Join(f.dir, "err"),
		Env:       []string{"PATH=/usr/bin:/bin", "GREETING=hello"},
		KillGrace: 2 * time.Second,
		// As lazarusd does when it is root.
		Namespace: os.Getuid() == 0,
	}
}

// run starts a supervisor and waits for its record.
func (f fixture) run(t *testing.T, spec *Spec, during func(pid int)) Record {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := Start(exe, f.runDir, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	if during != nil {
		during(pid)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		log, _ := os.ReadFile(filepath.Join(f.runDir, LogFile))
		t.Fatalf("supervisor ended with %v; its log:\n%s", describe(ws), log)
	}
	st, err := Probe(f.runDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Alive || st.Exit == nil || st.Info == nil {
		t.Fatalf("after the supervisor: %+v", st)
	}
	return *st.Exit
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExitStatusAndOutput(t *testing.T) {
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\necho out $GREETING; echo err >&2; pwd; exit 3\n")
	rec := f.run(t, spec, nil)
	if rec.ExitCode != 3 || rec.Signal != 0 || rec.Reason != "" {
		t.Errorf("record = %+v, want exit 3", rec)
	}
	if got, want := readFile(t, spec.Stdout), "out hello\n"+f.dir+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := readFile(t, spec.Stderr); got != "err\n" {
		t.Errorf("stderr = %q", got)
	}
}

// The job's first process is recorded before the script runs its first
// command (a crash recovery reads a run directory without it as a job that
// never ran), and it is the process the script runs as.
func TestLaunchedRecordedBeforeTheScriptRuns(t *testing.T) {
	f := newFixture(t)
	spec := f.spec(t, fmt.Sprintf("#!/bin/sh\ncp %s seen.json\n", filepath.Join(f.runDir, InfoFile)))
	if rec := f.run(t, spec, nil); rec.ExitCode != 0 {
		t.Fatalf("record = %+v; stderr %q", rec, readFile(t, spec.Stderr))
	}
	var seen Info
	if err := readJSON(filepath.Join(f.dir, "seen.json"), &seen); err != nil {
		t.Fatal(err)
	}
	st, err := Probe(f.runDir)
	if err != nil {
		t.Fatal(err)
	}
	if !seen.Started() || seen.Launched != st.Info.Job || st.Info.Launched != st.Info.Job {
		t.Errorf("as the script saw it: %+v; at the end: %+v", seen, st.Info)
	}
}

func TestJoinAndShellFallback(t *testing.T) {
	f := newFixture(t)
	// No "#!" line: the user's shell runs it.
	spec := f.spec(t, "echo one; echo two >&2\n")
	spec.Join = "oe"
	rec := f.run(t, spec, nil)
	if rec.ExitCode != 0 {
		t.Errorf("record = %+v", rec)
	}
	if got := readFile(t, spec.Stdout); got != "one\ntwo\n" {
		t.Errorf("joined output = %q", got)
	}
	if _, err := os.Stat(spec.Stderr); err == nil {
		t.Error("stderr file created despite -j oe")
	}
}

func TestNoControlTerminalOwnSession(t *testing.T) {
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\nps -o sid=,pgid=,tty= -p $$; tty; echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$\n")
	f.run(t, spec, nil)
	out := readFile(t, spec.Stdout)
	if !strings.Contains(out, "not a tty") {
		t.Errorf("job has a terminal: %q", out)
	}
	var sid, pid int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "sid=") {
			fmt.Sscanf(line, "sid=%d pid=%d", &sid, &pid)
		}
	}
	if sid == 0 || sid != pid {
		t.Errorf("job is not a session leader: sid %d, pid %d (%q)", sid, pid, out)
	}
}

func TestWalltime(t *testing.T) {
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\necho started\nsleep 300\necho not reached\n")
	spec.Walltime = time.Second
	rec := f.run(t, spec, nil)
	// A script that does not trap SIGTERM dies of it, also as the init of
	// its PID namespace (which the kernel would not give it: it is stopped,
	// then killed once the rest of its tree is gone, and reported so).
	want := unix.SIGTERM
	if !strings.HasPrefix(rec.Reason, "walltime exceeded") || rec.Signal != int(want) {
		t.Errorf("record = %+v, want walltime exceeded by %v", rec, want)
	}
	if got := readFile(t, spec.Stdout); got != "started\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestKillTreeWithGrace(t *testing.T) {
	f := newFixture(t)
	// The script ignores SIGTERM, and leaves an orphan that does too: both
	// must be gone (SIGKILL after the grace) when the supervisor ends.
	spec := f.spec(t, `#!/bin/sh
trap '' TERM
( trap '' TERM; sleep 300 ) &
sh -c 'trap "" TERM; echo $$ > orphan; exec sleep 300' &
echo ready > ready
wait
`)
	spec.KillGrace = 200 * time.Millisecond
	var orphan, pidfd int
	rec := f.run(t, spec, func(pid int) {
		waitFor(t, "the job to be ready", func() bool {
			_, err1 := os.Stat(filepath.Join(f.dir, "ready"))
			b, err2 := os.ReadFile(filepath.Join(f.dir, "orphan"))
			orphan, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return err1 == nil && err2 == nil && orphan > 0
		})
		// The orphan wrote its pid as its own PID namespace numbers it (the
		// job's, when we are root); the process to watch is the one of the
		// supervisor's tree that has that number there. A pidfd keeps it
		// from being confused with a later process given the same pid.
		host := hostPID(t, pid, orphan)
		var err error
		if pidfd, err = unix.PidfdOpen(host, 0); err != nil {
			t.Fatalf("pidfd_open %d: %v", host, err)
		}
		t.Cleanup(func() { unix.Close(pidfd) })
		unix.Kill(pid, unix.SIGTERM)
	})
	if rec.Reason != "killed" || rec.Signal != int(unix.SIGKILL) {
		t.Errorf("record = %+v, want killed by SIGKILL", rec)
	}
	// A pidfd is readable once its process has ended.
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n != 1 {
		t.Errorf("process %d (in the job's namespace) of the job survived: poll %d, %v", orphan, n, err)
	}
}

// hostPID finds, among the descendants of process root, the one whose pid
// in its own PID namespace (the last of the NSpid numbers in
// /proc/PID/status) is nspid, and returns its pid here.
func hostPID(t *testing.T, root, nspid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	type proc struct{ ppid, nspid int }
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone meanwhile
		}
		var p proc
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			fields := strings.Fields(v)
			switch {
			case k == "PPid" && len(fields) == 1:
				p.ppid, _ = strconv.Atoi(fields[0])
			case k == "NSpid" && len(fields) > 0:
				p.nspid, _ = strconv.Atoi(fields[len(fields)-1])
			}
		}
		procs[pid] = p
	}
	descends := func(pid int) bool {
		for seen := 0; pid > 1 && seen < len(procs); seen++ {
			if pid = procs[pid].ppid; pid == root {
				return true
			}
		}
		return false
	}
	for pid, p := range procs {
		if p.nspid == nspid && descends(pid) {
			return pid
		}
	}
	t.Fatalf("no process under %d has pid %d in its namespace", root, nspid)
	return 0
}

func TestOrphansAccountedAndReaped(t *testing.T) {
	f := newFixture(t)
	// The busy process is orphaned (its parent exits at once), so only the
	// supervisor, as subreaper, waits for it; its CPU time must count.
	spec := f.spec(t, `#!/bin/sh
( awk 'BEGIN { for (i = 0; i < 20000000; i++) s += i }'; touch done ) &
while [ ! -e done ]; do sleep 0.05; done
`)
	rec := f.run(t, spec, nil)
	if rec.ExitCode != 0 {
		t.Fatalf("record = %+v", rec)
	}
	if cpu := time.Duration(rec.UserCPUNS + rec.SysCPUNS); cpu < 100*time.Millisecond {
		t.Errorf("CPU time %v does not include the orphan's work", cpu)
	}
}

func TestCannotStart(t *testing.T) {
	f := newFixture(t)
	spec := f.spec(t, "#!/bin/sh\ntrue\n")
	spec.Workdir = filepath.Join(f.dir, "missing")
	rec := f.run(t, spec, nil)
	want := "cannot start: cannot enter working directory " + spec.Workdir + ": no such file or directory"
	if rec.Reason != want || rec.ExitCode != -1 {
		t.Errorf("record = %+v, want reason %q", rec, want)
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "switching to another user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		testenv.Unavailable(t, "no user nobody on this machine")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	f := newFixture(t)
	out := filepath.Join(f.dir, "outdir")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(out, 0o777)
	spec := f.spec(t, "#!/bin/sh\nid -u; id -g; id -G\n")
	spec.UID, spec.GID, spec.Groups, spec.SetIDs = uint32(uid), uint32(gid), []uint32{uint32(gid), 4242}, true
	spec.Stdout, spec.Stderr = filepath.Join(out, "o"), filepath.Join(out, "e")
	rec := f.run(t, spec, nil)
	if rec.ExitCode != 0 {
		t.Fatalf("record = %+v", rec)
	}
	want := fmt.Sprintf("%d\n%d\n%d 4242\n", uid, gid, gid)
	if got := readFile(t, spec.Stdout); got != want {
		t.Errorf("ids = %q, want %q", got, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(spec.Stdout, &st); err != nil || int(st.Uid) != uid {
		t.Errorf("output file owned by %d, want %d", st.Uid, uid)
	}

	// The output file is opened as the user: root's rights do not leak.
	spec.Stdout = filepath.Join(f.dir, "root-only", "o")
	os.Mkdir(filepath.Dir(spec.Stdout), 0o700)
	rec = f.run(t, spec, nil)
	if !strings.Contains(rec.Reason, "cannot open output file "+spec.Stdout+": permission denied") {
		t.Errorf("reason = %q, want permission denied on the output file", rec.Reason)
	}
}

func TestMemoryLimit(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "creating a memory cgroup needs root")
	}
	if c, err := newMemCgroup(999999, 1<<30); err != nil {
		testenv.Unavailable(t, "no memory cgroup here: %v", err)
	} else {
		c.remove()
	}
	f := newFixture(t)
	// awk grows a string past the 32 MiB limit.
	spec := f.spec(t, "#!/bin/sh\nawk 'BEGIN { s = \"x\"; for (i = 0; i < 30; i++) s = s s; print length(s) }'\n")
	spec.Mem = 32 << 20
	rec := f.run(t, spec, nil)
	if !strings.HasPrefix(rec.Reason, "memory limit exceeded") {
		t.Errorf("record = %+v, want memory limit exceeded", rec)
	}
}

// Output and error files are the owner's alone unless the job asks for
// another umask (qsub -W umask), which is also the job's own.
func TestOutputMode(t *testing.T) {
	mask := func(m uint32) *uint32 { return &m }
	tests := []struct {
		name      string
		umask     *uint32
		join      string
		want      os.FileMode // of the output files
		wantUmask string      // the job's, as the shell prints it
	}{
		{"default", nil, "", 0o600, "0022"},
		{"default, joined", nil, "oe", 0o600, "0022"},
		{"umask 022", mask(0o022), "", 0o644, "0022"},
		{"umask 002", mask(0o002), "", 0o664, "0002"},
		{"umask 077", mask(0o077), "", 0o600, "0077"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			spec := f.spec(t, "#!/bin/sh\numask\necho oops >&2\n")
			spec.Umask, spec.Join = tt.umask, tt.join
			if rec := f.run(t, spec, nil); rec.ExitCode != 0 {
				t.Fatalf("record = %+v", rec)
			}
			files := []string{spec.Stdout, spec.Stderr}
			if tt.join != "" {
				files = files[:1]
			}
			for _, p := range files {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != tt.want {
					t.Errorf("%s: mode %#o, want %#o", filepath.Base(p), got, tt.want)
				}
			}
			if got := strings.Fields(readFile(t, spec.Stdout)); len(got) == 0 || got[0] != tt.wantUmask {
				t.Errorf("the job's umask: %q, want %s", got, tt.wantUmask)
			}
		})
	}
}
