package integration

// qstat as PBS prints it, PBS's exit statuses, and PBS's everyday commands
// (qsig, qrerun, qmove, qalter, qselect, qrun, qterm, pbsnodes, qhold of a
// running job), on real jobs.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pbsConf names the server, so that job ids are N.pbs.
const pbsConf = "server_name = pbs\nslots = 4\nmemory = 8gb\n"

// pbsID is a job id as qsub prints it here.
func pbsID(id uint64) string { return strconv.FormatUint(id, 10) + ".pbs" }

func TestBatchPBSJobIDs(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	r := b.run("qsub", "-h", b.script("id.sh", "#!/bin/sh\ntrue\n"))
	if r.code != 0 || !regexp.MustCompile(`^[0-9]+\.pbs\n$`).MatchString(r.stdout) {
		t.Fatalf("qsub printed %v, want N.pbs", r)
	}
	// Both forms name the job everywhere.
	for _, form := range []func(string) string{
		func(full string) string { return full },
		func(full string) string { short, _, _ := strings.Cut(full, "."); return short },
	} {
		r := b.run("qsub", "-h", b.script("id.sh", "#!/bin/sh\ntrue\n"))
		full := strings.TrimSpace(r.stdout)
		id := form(full)
		if out := b.mustRun("qstat", id); !strings.Contains(out, "\n"+full+" ") {
			t.Errorf("qstat %s:\n%s", id, out)
		}
		b.mustRun("qrls", id)
		n, _, _ := strings.Cut(full, ".")
		b.waitState(mustID(t, n), "finished")
		if out := b.mustRun("qstat", "-x", "-f", id); !strings.HasPrefix(out, "Job Id: "+full+"\n") {
			t.Errorf("qstat -x -f %s:\n%s", id, out)
		}
	}
	full := strings.TrimSpace(b.run("qsub", "-h", b.script("id.sh", "#!/bin/sh\ntrue\n")).stdout)
	b.mustRun("qdel", full)
	// Without server_name, SERVER is the host's short name.
	b2 := newBatch(t, "")
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	r = b2.run("qsub", "-h", b2.script("h.sh", "#!/bin/sh\ntrue\n"))
	if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), "."+host) {
		t.Errorf("qsub without server_name printed %v, want N.%s", r, host)
	}
}

func mustID(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The default table, -a and -w in PBS's layout: header, dashes, widths,
// values cut with '*'. Finished jobs only with -x or -H.
func TestBatchPBSQstatTables(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	long := b.qsub("-h", "-N", "averyveryverylongjobname", "-l", "ncpus=2,mem=1gb,walltime=01:00:00", b.script("l.sh", "#!/bin/sh\ntrue\n"))
	short := b.qsub("-h", "-N", "short", b.script("s.sh", "#!/bin/sh\ntrue\n"))
	want := "Job id            Name             User              Time Use S Queue\n" +
		"----------------  ---------------- ----------------  -------- - -----\n" +
		fmt.Sprintf("%-17s", pbsID(long)) + " averyveryverylo* root                     0 H batch           \n" +
		fmt.Sprintf("%-17s", pbsID(short)) + " short            root                     0 H batch           \n"
	if got := b.mustRun("qstat"); got != want {
		t.Errorf("qstat:\n%q\nwant\n%q", got, want)
	}
	wantA := "\npbs: \n" +
		"                                                            Req'd  Req'd   Elap\n" +
		"Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n" +
		"--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n" +
		fmt.Sprintf("%-15s", pbsID(long)) + " root     batch    averyvery*    --    1   2    1gb 01:00 H   -- \n" +
		fmt.Sprintf("%-15s", pbsID(short)) + " root     batch    short         --    1   1    --    --  H   -- \n"
	if got := b.mustRun("qstat", "-a"); got != wantA {
		t.Errorf("qstat -a:\n%q\nwant\n%q", got, wantA)
	}
	wantW := "Job id                         Name            User             Time Use S Queue\n" +
		"-----------------------------  --------------- ---------------  -------- - ---------------\n" +
		fmt.Sprintf("%-30s", pbsID(long)) + " averyveryveryl* root                    0 H batch          \n"
	if got := b.mustRun("qstat", "-w", pbsID(long)); got != wantW {
		t.Errorf("qstat -w:\n%q\nwant\n%q", got, wantW)
	}
	// A job that has run: R with its CPU time, then F only with -x or -H.
	b.mustRun("qrls", jobArg(short))
	b.waitState(short, "finished")
	if got := b.mustRun("qstat"); strings.Contains(got, pbsID(short)) {
		t.Errorf("qstat lists a finished job without -x:\n%s", got)
	}
	r := b.run("qstat", pbsID(short))
	if r.code != 1 || r.stderr != "qstat: "+pbsID(short)+" Job has finished, use -x or -H to obtain historical job information\n" {
		t.Errorf("qstat of a finished job without -x: %v", r)
	}
	rowF := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(fmt.Sprintf("%-17s", pbsID(short))) + ` short            root              [0-9]{2}:[0-9]{2}:[0-9]{2} F batch           $`)
	for _, args := range [][]string{{"-x"}, {"-H"}} {
		if got := b.mustRun("qstat", args...); !rowF.MatchString(got) {
			t.Errorf("qstat %v:\n%s", args, got)
		}
	}
	if got := b.mustRun("qstat", "-H"); strings.Contains(got, pbsID(long)) {
		t.Errorf("qstat -H lists a job that has not finished:\n%s", got)
	}
	// Lazarus's own table stays, under -c, finished jobs too.
	if got := b.mustRun("qstat", "-c"); !strings.Contains(got, "Next checkpoint") || !strings.Contains(got, " finished ") {
		t.Errorf("qstat -c:\n%s", got)
	}
	r = b.run("qstat", "424242")
	if r.code != 1 || r.stderr != "qstat: Unknown Job Id 424242.pbs\n" {
		t.Errorf("qstat of an unknown id: %v", r)
	}
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}

// qstat -f in PBS's attribute format, compared line by line with the
// variable parts (times, hosts) normalised; long values wrap at commas
// as PBS's do; -F json has the same names in PBS's shape.
func TestBatchPBSQstatFull(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	long := strings.Repeat("x", 40)
	id := b.qsub("-h", "-N", "fulljob", "-l", "ncpus=2,mem=1gb,walltime=01:00:00", "-A", "acct1", "-p", "5", "-c", "1",
		"-j", "oe", "-v", "ALPHA="+long+",BETA="+long, b.script("f.sh", "#!/bin/sh\ntrue\n"))
	got := b.mustRun("qstat", "-f", pbsID(id))
	host := hostName()
	norm := regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [0-9]{4}`).ReplaceAllString(got, "<time>")
	norm = strings.ReplaceAll(norm, host, "<host>")
	norm = strings.ReplaceAll(norm, b.work, "<work>")
	want := "Job Id: " + pbsID(id) + "\n" +
		"    Job_Name = fulljob\n" +
		"    Job_Owner = root@<host>\n" +
		"    job_state = H\n" +
		"    queue = batch\n" +
		"    server = pbs\n" +
		"    Checkpoint = w=60\n" +
		"    ctime = <time>\n" +
		"    Error_Path = <host>:<work>/fulljob.e" + jobArg(id) + "\n" +
		"    Hold_Types = u\n" +
		"    Join_Path = oe\n" +
		"    Keep_Files = n\n" +
		"    Mail_Points = a\n" +
		"    mtime = <time>\n" +
		"    Output_Path = <host>:<work>/fulljob.o" + jobArg(id) + "\n" +
		"    Priority = 5\n" +
		"    qtime = <time>\n" +
		"    Rerunable = True\n" +
		"    Resource_List.mem = 1gb\n" +
		"    Resource_List.ncpus = 2\n" +
		"    Resource_List.nodect = 1\n" +
		"    Resource_List.place = pack\n" +
		"    Resource_List.select = 1:ncpus=2:mem=1gb\n" +
		"    Resource_List.walltime = 01:00:00\n" +
		"    jobdir = <work>\n" +
		"    substate = 20\n"
	if !strings.HasPrefix(norm, want) {
		t.Errorf("qstat -f:\n%s\nwant it to begin with\n%s", norm, want)
	}
	// Variable_List wraps at the commas that keep lines within 78
	// characters, continued after a tab.
	vl := regexp.MustCompile(`(?s)    Variable_List = .*?\n    comment`).FindString(got)
	wantVL := "    Variable_List = PBS_O_WORKDIR=" + b.work + ",PBS_O_QUEUE=batch,PBS_O_HOST=" + host + ",ALPHA="
	if !strings.HasPrefix(strings.ReplaceAll(vl, "\n\t", ""), wantVL) || !strings.Contains(vl, ",\n\tALPHA="+long+",\n\tBETA="+long+"\n") {
		t.Errorf("Variable_List:\n%q", vl)
	}
	for _, l := range strings.Split(got, "\n") {
		if len(l) > 80 && !strings.HasPrefix(l, "    history") {
			t.Errorf("line longer than PBS's: %q", l)
		}
	}
	for _, line := range []string{"    comment = held by root at submission\n", "    run_count = 0\n", "    Account_Name = acct1\n",
		"    lazarus_state = held\n", "    checkpoint_policy = 1\n", "    checkpoint_generations = 0\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("qstat -f lacks %q:\n%s", line, got)
		}
	}
	// -F json: {"Jobs": {"N.pbs": {...}}}, resources as objects, numbers as numbers.
	var doc struct {
		Server string                                `json:"pbs_server"`
		Jobs   map[string]map[string]json.RawMessage `json:"Jobs"`
	}
	out := b.mustRun("qstat", "-f", "-F", "json", jobArg(id))
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("qstat -f -F json: %v\n%s", err, out)
	}
	j := doc.Jobs[pbsID(id)]
	var res map[string]any
	var vars map[string]string
	json.Unmarshal(j["Resource_List"], &res)
	json.Unmarshal(j["Variable_List"], &vars)
	if doc.Server != "pbs" || string(j["Job_Name"]) != `"fulljob"` || string(j["job_state"]) != `"H"` ||
		string(j["Priority"]) != "5" || res["ncpus"] != float64(2) || res["walltime"] != "01:00:00" || vars["BETA"] != long {
		t.Errorf("qstat -f -F json:\n%s", out)
	}
}

// Exit_status as PBS records it: the script's status, 256+N for a signal,
// -29 for walltime, a signal for qdel; qstat -x -f and -F json say it.
func TestBatchPBSExitStatus(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	exit3 := b.qsub(b.script("e3.sh", "#!/bin/sh\nexit 3\n"))
	// Killed from outside: a script that is the init of its PID namespace
	// cannot be killed from inside it.
	killed := b.qsub(b.script("k.sh", "#!/bin/sh\nsleep 600\n"))
	wall := b.qsub("-l", "walltime=1", b.script("w.sh", "#!/bin/sh\nsleep 600\n"))
	del := b.qsub(b.script("d.sh", "#!/bin/sh\ntouch started\nsleep 600\n"))
	// qsig -s TERM to a script that does not trap it: it dies of it (the
	// kernel would drop it for the init of a PID namespace), running
	// nothing after the sleep that died of it too.
	termed := b.qsub(b.script("t.sh", "#!/bin/sh\ntouch termready\nsleep 600\ntouch after-term\n"))
	b.waitFor("the job to start", func() bool { _, err := os.Stat(filepath.Join(b.work, "started")); return err == nil })
	b.mustRun("qdel", pbsID(del))
	// Signalled as soon as it is recorded as running, which is before its
	// script runs: the signal waits for the script.
	b.waitState(killed, "running")
	b.mustRun("qsig", "-s", "KILL", pbsID(killed))
	b.waitFor("the TERM job to start", func() bool { _, err := os.Stat(filepath.Join(b.work, "termready")); return err == nil })
	b.mustRun("qsig", "-s", "TERM", pbsID(termed))
	exitOf := func(id uint64) string {
		b.waitState(id, "finished", "failed")
		out := b.mustRun("qstat", "-x", "-f", pbsID(id))
		m := regexp.MustCompile(`(?m)^    Exit_status = (-?[0-9]+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no Exit_status:\n%s", out)
		}
		var doc struct {
			Jobs map[string]struct {
				Exit *int `json:"Exit_status"`
			} `json:"Jobs"`
		}
		json.Unmarshal([]byte(b.mustRun("qstat", "-x", "-f", "-F", "json", jobArg(id))), &doc)
		if e := doc.Jobs[pbsID(id)].Exit; e == nil || strconv.Itoa(*e) != m[1] {
			t.Errorf("job %d: -F json Exit_status %v, text %s", id, e, m[1])
		}
		return m[1]
	}
	if got := exitOf(exit3); got != "3" {
		t.Errorf("exit 3: Exit_status %s", got)
	}
	if got := exitOf(killed); got != "265" {
		t.Errorf("killed by SIGKILL: Exit_status %s, want 265", got)
	}
	if got := exitOf(wall); got != "-29" {
		t.Errorf("walltime exceeded: Exit_status %s, want -29 (JOB_EXEC_KILL_WALLTIME)", got)
	}
	if got := exitOf(termed); got != "271" {
		t.Errorf("qsig -s TERM: Exit_status %s, want 271 (killed by SIGTERM)", got)
	}
	if _, err := os.Stat(filepath.Join(b.work, "after-term")); err == nil {
		t.Errorf("the script signalled by qsig -s TERM ran on to its next command")
	}
	// Deleted while running: the SIGTERM that ended it (the script, init
	// of its PID namespace, killed in its place).
	got := exitOf(del)
	if j := b.job(del); len(j.Segments) != 1 || got != "271" || j.Segments[0].Signal != 15 {
		t.Errorf("deleted: Exit_status %s, want 271; run %+v", got, j.Segments)
	}
}

// qsig reaches the job script and the rest of its tree (a script that did
// not trap USR2 would die of it, as TestBatchPBSExitStatus's of TERM).
func TestBatchPBSQsig(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	id := b.qsub(b.script("sig.sh", `#!/bin/sh
trap 'echo usr1 >> got; exit 0' USR1
trap ':' USR2
sh -c 'trap "echo child >> got; exit 0" USR2; touch ready; while :; do sleep 0.1; done' &
while :; do sleep 0.1; done
`))
	b.waitFor("the job to be ready", func() bool { _, err := os.Stat(filepath.Join(b.work, "ready")); return err == nil })
	b.mustRun("qsig", "-s", "USR2", pbsID(id))
	b.waitFor("the child to get SIGUSR2", func() bool { return strings.Contains(b.readFile(filepath.Join(b.work, "got")), "child") })
	b.mustRun("qsig", "-s", "SIGUSR1", jobArg(id))
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || !strings.Contains(b.readFile(filepath.Join(b.work, "got")), "usr1") {
		t.Errorf("after qsig -s SIGUSR1: %+v", j)
	}
	if r := b.run("qsig", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "only running jobs can be signalled") {
		t.Errorf("qsig of a finished job: %v", r)
	}
	if r := b.run("qsig", "-s", "NOSUCH", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, `unknown signal "NOSUCH"`) {
		t.Errorf("qsig -s NOSUCH: %v", r)
	}
}

// qrerun kills a running job and requeues it; -r n jobs need -W force.
func TestBatchPBSQrerun(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	script := b.script("rr.sh", "#!/bin/sh\necho run >> runs\n[ $(wc -l < runs) -ge 2 ] && exit 0\nsleep 600\n")
	id := b.qsub(script)
	b.waitFor("the first run", func() bool { return fileLines(filepath.Join(b.work, "runs")) == 1 })
	b.mustRun("qrerun", pbsID(id))
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || fileLines(filepath.Join(b.work, "runs")) != 2 {
		t.Fatalf("after qrerun: %+v", j)
	}
	if out := b.mustRun("qstat", "-x", "-f", jobArg(id)); !strings.Contains(out, "    run_count = 2\n") ||
		!strings.Contains(out, "    Exit_status = 0\n") || !strings.Contains(out, "Exit_status -11") {
		t.Errorf("qstat -x -f after qrerun:\n%s", out)
	}
	os.Remove(filepath.Join(b.work, "runs"))
	norerun := b.qsub("-r", "n", script)
	b.waitFor("the first run", func() bool { return fileLines(filepath.Join(b.work, "runs")) == 1 })
	if r := b.run("qrerun", jobArg(norerun)); r.code != 1 || !strings.Contains(r.stderr, "not rerunnable") {
		t.Errorf("qrerun of a -r n job: %v", r)
	}
	b.mustRun("qrerun", "-W", "force", jobArg(norerun))
	if j := b.waitState(norerun, "finished", "failed"); j.State != "finished" || len(j.Segments) != 2 {
		t.Errorf("after qrerun -W force: %+v", j)
	}
	if r := b.run("qrerun", jobArg(norerun)); r.code != 1 || !strings.Contains(r.stderr, "only running jobs") {
		t.Errorf("qrerun of a finished job: %v", r)
	}
}

// qmove, qalter, qselect and qrun on waiting jobs.
func TestBatchPBSQueuedJobCommands(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	b.mustRun("qmgr", "-c", "create queue other")
	id := b.qsub("-h", "-N", "first", b.script("a.sh", "#!/bin/sh\necho $PBS_JOBNAME\n"))
	other := b.qsub("-h", "-l", "ncpus=2", b.script("b.sh", "#!/bin/sh\ntrue\n"))
	b.mustRun("qmove", "other", pbsID(id))
	if j := b.job(id); j.Queue != "other" {
		t.Errorf("after qmove: queue %s", j.Queue)
	}
	if r := b.run("qmove", "nosuch", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, `unknown queue "nosuch"`) {
		t.Errorf("qmove to no queue: %v", r)
	}
	b.mustRun("qalter", "-N", "renamed", "-l", "walltime=00:10:00,ncpus=3", "-p", "7", "-A", "acct", "-r", "n", jobArg(id))
	j := b.job(id)
	if j.Name != "renamed" || !strings.Contains(j.Resources, "ncpus=3") || !strings.Contains(j.Resources, "walltime=00:10:00") ||
		j.Priority != 7 || j.Account != "acct" || j.Rerunnable == nil || *j.Rerunnable {
		t.Errorf("after qalter: %+v", j)
	}
	if r := b.run("qalter", "-l", "ncpus=99", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "slots") {
		t.Errorf("qalter beyond the machine: %v", r)
	}
	// qselect prints the ids that pass every filter.
	sel := func(args ...string) string { return b.mustRun("qselect", args...) }
	if got := sel("-s", "H"); got != pbsID(id)+"\n"+pbsID(other)+"\n" {
		t.Errorf("qselect -s H: %q", got)
	}
	if got := sel("-N", "renamed"); got != pbsID(id)+"\n" {
		t.Errorf("qselect -N renamed: %q", got)
	}
	if got := sel("-l", "ncpus.eq.2"); got != pbsID(other)+"\n" {
		t.Errorf("qselect -l ncpus.eq.2: %q", got)
	}
	if got := sel("-q", "other", "-p", ".gt.5", "-r", "n"); got != pbsID(id)+"\n" {
		t.Errorf("qselect -q other -p .gt.5 -r n: %q", got)
	}
	if got := sel("-s", "R"); got != "" {
		t.Errorf("qselect -s R: %q", got)
	}
	// qalter -h n releases; qrun starts a job scheduling would not.
	b.mustRun("qmgr", "-c", "stop scheduling")
	b.mustRun("qalter", "-h", "n", jobArg(id))
	if j := b.job(id); j.State != "queued" {
		t.Fatalf("after qalter -h n: %+v", j)
	}
	b.mustRun("qrun", pbsID(id))
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("after qrun: %+v", j)
	}
	// The output path was set at submission, as in PBS; the name is new.
	if got := b.readFile(filepath.Join(b.work, "first.o"+jobArg(id))); got != "renamed\n" {
		t.Errorf("job output %q", got)
	}
	if r := b.run("qalter", "-N", "late", jobArg(id)); r.code != 1 || !strings.Contains(r.stderr, "has finished") {
		t.Errorf("qalter of a finished job: %v", r)
	}
	if got := sel("-x", "-s", "F"); got != pbsID(id)+"\n" {
		t.Errorf("qselect -x -s F: %q", got)
	}
}

// qalter of a running job: what PBS allows changes, the rest is refused.
func TestBatchPBSQalterRunning(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	id := b.qsub(b.script("run.sh", "#!/bin/sh\ntouch started\nsleep 600\n"))
	b.waitFor("the job to start", func() bool { _, err := os.Stat(filepath.Join(b.work, "started")); return err == nil })
	for _, args := range [][]string{{"-l", "walltime=1:00:00"}, {"-o", "/tmp/x"}, {"-j", "oe"}, {"-h", "u"}} {
		if r := b.run("qalter", append(args, jobArg(id))...); r.code != 1 || !strings.Contains(r.stderr, "cannot change while it runs") {
			t.Errorf("qalter %v of a running job: %v", args, r)
		}
	}
	b.mustRun("qalter", "-N", "newname", "-p", "3", jobArg(id))
	if j := b.job(id); j.Name != "newname" || j.Priority != 3 {
		t.Errorf("after qalter -N -p of a running job: %+v", j)
	}
	b.mustRun("qdel", jobArg(id))
}

// pbsnodes shows this host; -o stops jobs from starting, -r starts them.
func TestBatchPBSNodes(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	run := b.qsub("-l", "ncpus=3", b.script("n.sh", "#!/bin/sh\ntouch started\nsleep 600\n"))
	b.waitFor("the job to start", func() bool { _, err := os.Stat(filepath.Join(b.work, "started")); return err == nil })
	out := b.mustRun("pbsnodes", "-a")
	for _, want := range []string{"pbs\n", "     state = free\n", "     pcpus = 4\n", "     jobs = " + pbsID(run) + "/0\n",
		"     resources_available.ncpus = 4\n", "     resources_available.mem = 8gb\n", "     resources_assigned.ncpus = 3\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pbsnodes -a lacks %q:\n%s", want, out)
		}
	}
	b.mustRun("pbsnodes", "-o", "-C", "maintenance")
	if out := b.mustRun("pbsnodes", "-l"); !strings.Contains(out, "offline") || !strings.Contains(out, "maintenance") {
		t.Errorf("pbsnodes -l when offline: %q", out)
	}
	waiting := b.qsub(b.script("w.sh", "#!/bin/sh\ntrue\n"))
	b.mustRun("pbsnodes") // a pass of the scheduler had its chance meanwhile
	if j := b.job(waiting); j.State != "queued" {
		t.Errorf("a job started while the node was offline: %+v", j)
	}
	b.mustRun("pbsnodes", "-r")
	if j := b.waitState(waiting, "finished", "failed"); j.State != "finished" {
		t.Errorf("after pbsnodes -r: %+v", j)
	}
	var doc struct {
		Nodes map[string]struct {
			State string `json:"state"`
			Pcpus int    `json:"pcpus"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(b.mustRun("pbsnodes", "-F", "json")), &doc); err != nil || doc.Nodes["pbs"].Pcpus != 4 {
		t.Errorf("pbsnodes -F json: %+v, %v", doc, err)
	}
	b.mustRun("qdel", jobArg(run))
}

// qterm -t quick stops lazarusd and leaves the jobs running.
func TestBatchPBSQterm(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	if r := b.run("qterm", "-t", "soon"); r.code != 1 || !strings.Contains(r.stderr, "want quick, delay or immediate") {
		t.Errorf("qterm -t soon: %v", r)
	}
	if r := b.run("qterm", "otherserver"); r.code != 1 || !strings.Contains(r.stderr, "this is pbs") {
		t.Errorf("qterm otherserver: %v", r)
	}
	b.mustRun("qterm", "pbs")
	select {
	case <-b.done:
	case <-time.After(90 * time.Second):
		t.Fatal("lazarusd still runs after qterm")
	}
}

// qhold of a running job checkpoints it, stops it and holds it, as PBS
// does; qrls restarts it from that checkpoint, and its result is that of an
// uninterrupted run.
func TestBatchPBSQholdRunning(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, pbsConf)
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	id, out := b.nbodyJob("qhold", steps, bodies)
	b.waitState(id, "running")
	b.waitLines(out, 20)
	b.mustRun("qhold", pbsID(id))
	j := b.job(id)
	if j.State != "held" || len(j.Checkpoints) != 1 || !strings.Contains(j.Reason, "after checkpoint 1") {
		t.Fatalf("after qhold of a running job: %+v", j)
	}
	if len(b.supervisors()) != 0 {
		t.Error("the held job still has a supervisor")
	}
	if got := b.mustRun("qstat", jobArg(id)); !strings.Contains(got, " H batch") {
		t.Errorf("qstat of the held job:\n%s", got)
	}
	stopped := fileLines(out)
	b.mustRun("qrls", jobArg(id))
	j = b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || !j.Segments[1].Restart || j.Segments[1].Generation != 1 {
		t.Fatalf("after qrls: %+v", j)
	}
	if stopped >= fileLines(out) {
		t.Errorf("the job did not go on: %d lines when held, %d at the end", stopped, fileLines(out))
	}
	checkNbodyOutput(t, out, want)
	if full := b.mustRun("qstat", "-x", "-f", jobArg(id)); !strings.Contains(full, "Exit_status -12") {
		t.Errorf("the held run's Exit_status is not -12 (JOB_EXEC_CHKP):\n%s", full)
	}
}

// qorder exchanges two waiting jobs' places: with one job running at a
// time, the later one runs first; a running job cannot be ordered.
func TestBatchPBSQorder(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf+"max_running = 1\n")
	b.mustRun("qmgr", "-c", "stop scheduling")
	first := b.qsub("-N", "first", b.script("o1.sh", "#!/bin/sh\necho first >> order\n"))
	second := b.qsub("-N", "second", b.script("o2.sh", "#!/bin/sh\necho second >> order\n"))
	b.mustRun("qorder", pbsID(first), jobArg(second))
	b.mustRun("qmgr", "-c", "start scheduling")
	b.waitState(first, "finished")
	b.waitState(second, "finished")
	if got := b.readFile(filepath.Join(b.work, "order")); got != "second\nfirst\n" {
		t.Errorf("after qorder, the jobs ran in the order %q, want second then first", got)
	}
	if r := b.run("qorder", jobArg(first), jobArg(second)); r.code != 1 || !strings.Contains(r.stderr, "only jobs that wait to run") {
		t.Errorf("qorder of finished jobs: %v", r)
	}
	if r := b.run("qorder", jobArg(first)); r.code != 1 || !strings.Contains(r.stderr, "want two job ids") {
		t.Errorf("qorder of one job: %v", r)
	}
}

// qterm -t delay requeues the running jobs before lazarusd stops (here a
// rerunnable job without checkpoints, stopped and requeued); the next
// lazarusd runs it again.
func TestBatchPBSQtermDelay(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	script := b.script("d.sh", "#!/bin/sh\necho run >> runs\n[ $(wc -l < runs) -ge 2 ] && exit 0\nsleep 600\n")
	id := b.qsub("-c", "n", script)
	b.waitFor("the first run", func() bool { return fileLines(filepath.Join(b.work, "runs")) == 1 })
	if r := b.run("qterm", "-t", "quick", "--deadline", "1m"); r.code != 1 || !strings.Contains(r.stderr, "--deadline goes with -t delay") {
		t.Errorf("qterm -t quick --deadline: %v", r)
	}
	out := b.mustRun("qterm", "-t", "delay")
	if !strings.Contains(out, "lazarusd stops") {
		t.Errorf("qterm -t delay printed %q", out)
	}
	select {
	case <-b.done:
	case <-time.After(90 * time.Second):
		t.Fatal("lazarusd still runs after qterm -t delay")
	}
	b.start()
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 {
		t.Fatalf("after qterm -t delay and a new lazarusd: %+v", j)
	}
	if full := b.mustRun("qstat", "-x", "-f", jobArg(id)); !strings.Contains(full, "Exit_status -11") {
		t.Errorf("the requeued run's Exit_status is not -11:\n%s", full)
	}
}
