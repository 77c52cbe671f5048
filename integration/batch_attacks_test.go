package integration

// Attacks by an ordinary local user (nobody) on the batch system run by
// root: another user's jobs, the root-run prologue's environment, symlinks
// on output paths, odd names and ids, oversized requests. Each must be
// refused in one line, or be harmless, and leave nothing changed.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBatchAttackOtherUsersJob: nobody tries every command that changes a
// job, or tells its story, on root's jobs (one waiting, one running); each
// is refused and the jobs are as they were.
func TestBatchAttackOtherUsersJob(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	b.mustRun("qmgr", "-c", "create queue other")
	b.mustRun("qmgr", "-c", "set queue other enabled = true")
	b.mustRun("qmgr", "-c", "set queue other started = true")
	held := b.qsub("-h", "-N", "rootheld", b.script("held.sh", "#!/bin/sh\ntrue\n"))
	running := b.qsub("-N", "rootrun", b.script("run.sh", "#!/bin/sh\nsleep 300\n"))
	mine := b.qsubWith(as, "-h", b.script("mine.sh", "#!/bin/sh\ntrue\n"))
	b.waitState(running, "running")
	b.waitFor("its script", func() bool { return b.job(running).Session > 0 })
	h, r := jobArg(held), jobArg(running)
	for _, c := range [][]string{
		{"qalter", "-N", "stolen", h}, {"qalter", "-l", "walltime=1:00:00", h}, {"qalter", "-o", "/tmp/x", h},
		{"qalter", "-p", "1000", r},
		{"qmove", "other", h}, {"qorder", jobArg(mine), h}, {"qrls", h}, {"qdel", h}, {"qhold", r},
		{"qsig", "-s", "KILL", r}, {"qsig", "-s", "STOP", r}, {"qsig", "-s", "suspend", r},
		{"qchkpnt", r}, {"qrerun", r}, {"qrestart", r}, {"qdel", r},
		{"tracejob", "-n", "0", h}, {"tracejob", "-n", "0", r},
		{"qrun", h}, {"qmgr", "-c", "set server operators = nobody"},
	} {
		res := b.runWith(as, c[0], c[1:]...)
		if res.code == 0 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || res.stderr == "" {
			t.Errorf("%s by nobody: %v, want one line of refusal", strings.Join(c, " "), res)
		}
	}
	if j := b.job(held); j.Name != "rootheld" || j.Queue != "batch" || j.State != "held" || j.Stdout == "/tmp/x" || j.WalltimeSec != 0 {
		t.Errorf("root's held job changed: %+v", j)
	}
	if j := b.job(running); j.State != "running" || j.Priority != 0 || j.Suspended || len(j.Segments) != 1 {
		t.Errorf("root's running job changed: %+v", j)
	}
	b.mustRun("qdel", r)
	b.mustRun("qdel", h)
	b.runWith(as, "qdel", jobArg(mine))
}

// TestBatchAttackPrologueEnvironment: the prologue and epilogue run as
// root; nothing of a user's environment (qsub -V with LD_PRELOAD,
// BASH_ENV, ENV, PATH...; -v) reaches them.
func TestBatchAttackPrologueEnvironment(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	batchNeedRoot(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred, env: []string{
		"LD_PRELOAD=/nonexistent/evil.so", "LD_LIBRARY_PATH=/tmp/evil", "BASH_ENV=/tmp/evil.sh", "ENV=/tmp/evil.sh",
		"PATH=/tmp/evilbin:/usr/bin:/bin", "PYTHONPATH=/tmp/evil", "IFS=/", "PERL5OPT=-Mevil",
	}}
	dump := "env | sort > " + filepath.Join(b.home, "%s.env") + "\n"
	os.Remove(b.pelog("prologue", fmt.Sprintf(dump, "prologue"), 0o755))
	os.Remove(b.pelog("epilogue", fmt.Sprintf(dump, "epilogue"), 0o755))
	// (qsub itself is dynamically linked: ld.so warns of the preload.)
	res := b.runWith(as, "qsub", "-V", "-v", "SHELLOPTS=xtrace,GCONV_PATH=/tmp/evil", "-j", "oe",
		b.script("env.sh", "#!/bin/sh\necho preload=$LD_PRELOAD\n"))
	id, err := parseJobID(res.stdout)
	if err != nil {
		t.Fatalf("qsub: %v", res)
	}
	j := b.waitState(id, "finished", "failed")
	if got := b.readFile(j.Stdout); !strings.Contains(got, "preload=/nonexistent/evil.so") {
		t.Errorf("the job (the user's own) did not get its -V environment: %q", got)
	}
	for _, which := range []string{"prologue", "epilogue"} {
		var env string
		b.waitFor("the "+which+"'s environment", func() bool {
			env = b.readFile(filepath.Join(b.home, which+".env"))
			return env != ""
		})
		for _, bad := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV=/tmp", "evil", "SHELLOPTS", "GCONV", "IFS=/", "PERL5OPT"} {
			if strings.Contains(env, bad) {
				t.Errorf("the %s (root) got %q of the user's environment:\n%s", which, bad, env)
			}
		}
		if !strings.Contains(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n") {
			t.Errorf("the %s's PATH is not the fixed one:\n%s", which, env)
		}
	}
}

// TestBatchAttackOutputSymlink: -o and -e through a symlink to a file of
// root's (this machine has fs.protected_symlinks off) are opened as the
// job's owner: the job fails to start, the file is untouched.
func TestBatchAttackOutputSymlink(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	precious := filepath.Join(b.home, "precious")
	if err := os.WriteFile(precious, []byte("root's data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"-o", "-e"} {
		link := filepath.Join(b.work, "link"+opt)
		os.Remove(link)
		if err := os.Symlink(precious, link); err != nil {
			t.Fatal(err)
		}
		os.Lchown(link, int(cred.Uid), int(cred.Gid))
		id := b.qsubWith(as, opt, link, b.script("w.sh", "#!/bin/sh\necho clobbered; echo clobbered >&2\n"))
		if j := b.waitState(id, "finished", "failed"); j.State != "failed" || !strings.Contains(j.Reason, "permission denied") {
			t.Errorf("qsub %s symlink-to-root's-file: %s (%s)", opt, j.State, j.Reason)
		}
		if got := b.readFile(precious); got != "root's data\n" {
			t.Fatalf("root's file through the %s symlink: %q", opt, got)
		}
	}
	// The state directory's spool and run directories are not the user's
	// to change.
	for _, d := range []string{"spool", "run", "tmp", "aux"} {
		st, err := os.Stat(filepath.Join(b.home, d))
		if err != nil {
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: uid %d mode %v: a user could change it", d, sys.Uid, st.Mode())
		}
	}
}

// TestBatchAttackOddInput: odd names, ids, variables and sizes are refused
// in one line, or taken as data.
func TestBatchAttackOddInput(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	as := cmdOpts{dir: b.work, cred: cred}
	s := b.script("t.sh", "#!/bin/sh\ntrue\n")
	big := filepath.Join(b.work, "big.sh")
	if err := os.WriteFile(big, append([]byte("#!/bin/sh\n"), make([]byte, 17<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"qsub", "-N", "../../etc/x", s}, {"qsub", "-N", "a\nb", s}, {"qsub", "-N", strings.Repeat("n", 300), s},
		{"qsub", "-N", "a\x1b[2Jb", s},
		{"qsub", "-J", "0-2000000", s}, {"qsub", "-J", "0-99999999", s}, {"qsub", "-t", "1-2000000", s},
		{"qsub", "-W", "stagein=/etc/shadow@localhost:/etc/shadow", s}, {"qsub", "-W", "stageout=x@h:/tmp/y", s},
		{"qsub", "-v", "LD_PRELOAD\n=x", s}, {"qsub", "-v", "A B=c", s},
		{"qsub", "-q", "batch\nx", s}, {"qsub", "-o", "otherhost:/tmp/x", s},
		{"qsub", big},
		{"qstat", "1;id"}, {"qstat", "../1"}, {"qdel", "1[abc]"}, {"qsig", "-s", "KILL", "-1"}, {"tracejob", "$(id)"},
	} {
		res := b.runWith(as, c[0], c[1:]...)
		if res.code == 0 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || res.stderr == "" || strings.Contains(res.stderr, "goroutine") {
			t.Errorf("%q by nobody: %v, want one line of refusal", c, res)
		}
	}
	// A newline in a -v value is data: it makes no second variable.
	id := b.qsubWith(as, "-v", "X=a\nLD_PRELOAD=/nonexistent/evil.so", "-j", "oe",
		b.script("nl.sh", "#!/bin/sh\necho \"preload=${LD_PRELOAD-unset}\"\nprintf 'x=%s|\\n' \"$X\"\n"))
	j := b.waitState(id, "finished", "failed")
	if got := b.readFile(j.Stdout); !strings.Contains(got, "preload=unset\n") || !strings.Contains(got, "x=a\nLD_PRELOAD=/nonexistent/evil.so|\n") {
		t.Errorf("job with a newline in -v: %s (%s), output %q", j.State, j.Reason, got)
	}
}
