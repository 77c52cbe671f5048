package integration

// Slurm's commands (sbatch, squeue, scancel, sacct) driving lazarusd as
// Slurm workflows use them: job ids from --parsable or "Submitted batch
// job N" chained with --dependency, arrays with a %limit, --wrap, squeue's
// formats, scancel of jobs and array tasks.

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sbatch submits and returns the id that sbatch --parsable printed.
func (b *batch) sbatch(args ...string) uint64 {
	b.t.Helper()
	r := b.run("sbatch", append([]string{"--parsable"}, args...)...)
	if r.code != 0 || r.stderr != "" {
		b.t.Fatalf("sbatch %s: %v", strings.Join(args, " "), r)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		b.t.Fatalf("sbatch --parsable printed %q, not a job id", r.stdout)
	}
	return id
}

// shell runs a shell script in the work directory with the built
// commands first in PATH, as a user's pipeline runs.
func (b *batch) shell(script string) result {
	b.t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(b.env(), "PATH="+binDir+":"+os.Getenv("PATH"))
	cmd.Dir = b.work
	out, err := cmd.Output()
	code := 0
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		code, stderr = ee.ExitCode(), string(ee.Stderr)
	} else if err != nil {
		b.t.Fatal(err)
	}
	return result{string(out), stderr, code}
}

// squeueOne is one job's squeue -h -o FORMAT -j ID.
func (b *batch) squeueOne(id string, format string) string {
	b.t.Helper()
	return strings.TrimSpace(b.mustRun("squeue", "-h", "-j", id, "-o", format))
}

// sacctState is sacct -j ID -n -P -o State,ExitCode.
func (b *batch) sacctState(id string) string {
	b.t.Helper()
	return strings.TrimSpace(b.mustRun("sacct", "-j", id, "-n", "-P", "-o", "State,ExitCode"))
}

// A pipeline as Slurm users write it: the first job's id from --parsable,
// the second waits for it with afterok and reads what it wrote, a third
// with afternotok can never run and is cancelled; sacct reports each.
func TestBatchSlurmCmdsChain(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("prep.sh", "#!/bin/bash\n#SBATCH --job-name=prep\n#SBATCH --time=5\nwhile [ ! -e go ]; do sleep 0.1; done\necho prepared-$SLURM_JOB_ID > data.txt\n")
	b.script("post.sh", "#!/bin/bash\n#SBATCH -J post\ncat data.txt\n")
	b.script("rescue.sh", "#!/bin/bash\necho should not run\n")
	r := b.shell(`set -e
jid=$(sbatch --parsable prep.sh)
sbatch --dependency=afterok:$jid post.sh
sbatch --dependency=afternotok:$jid -o rescue.out rescue.sh
echo array=$(sbatch --parsable --dependency=afterany:$jid --array=1-2 -o array-%a.out post.sh)
echo first=$jid`)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("pipeline: %v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "Submitted batch job ") || !strings.HasPrefix(lines[1], "Submitted batch job ") ||
		!strings.HasPrefix(lines[2], "array=") || !strings.HasPrefix(lines[3], "first=") {
		t.Fatalf("pipeline printed %q", r.stdout)
	}
	first, _ := strconv.ParseUint(strings.TrimPrefix(lines[3], "first="), 10, 64)
	arr := strings.TrimPrefix(lines[2], "array=")
	post, _ := strconv.ParseUint(strings.TrimPrefix(lines[0], "Submitted batch job "), 10, 64)
	rescue, _ := strconv.ParseUint(strings.TrimPrefix(lines[1], "Submitted batch job "), 10, 64)
	for id, want := range map[string]string{strconv.FormatUint(post, 10): "PD Dependency", arr: arr + "_[1-2] PD Dependency"} {
		format := "%t %r"
		if id == arr {
			format = "%i %t %r"
		}
		if got := b.squeueOne(id, format); got != want {
			t.Errorf("squeue of %s waiting: %q, want %q", id, got, want)
		}
	}
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	if j := b.waitState(post, "finished", "failed"); j.State != "finished" {
		t.Fatalf("post = %+v", j)
	}
	if got := strings.TrimSpace(b.readFile(filepath.Join(b.work, "slurm-"+strconv.FormatUint(post, 10)+".out"))); got != "prepared-"+strconv.FormatUint(first, 10) {
		t.Errorf("post's output = %q, want prep's line", got)
	}
	b.waitState(rescue, "failed")
	for _, i := range []string{"1", "2"} {
		b.waitFor("array task "+i, func() bool { return b.sacctState(arr+"_"+i) == "COMPLETED|0:0" })
		if got := strings.TrimSpace(readIfAny(filepath.Join(b.work, "array-"+i+".out"))); got != "prepared-"+strconv.FormatUint(first, 10) {
			t.Errorf("array task %s wrote %q", i, got)
		}
	}
	for _, c := range []struct {
		id   uint64
		want string
	}{{first, "COMPLETED|0:0"}, {post, "COMPLETED|0:0"}, {rescue, "CANCELLED|0:0"}} {
		if got := b.sacctState(strconv.FormatUint(c.id, 10)); got != c.want {
			t.Errorf("sacct of %d = %q, want %q", c.id, got, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(b.work, "rescue.out")); err == nil {
		t.Errorf("the afternotok job ran")
	}
	// sacct's table: the header, dashes, Slurm's default columns.
	out := b.mustRun("sacct", "-j", strconv.FormatUint(first, 10))
	if ls := strings.Split(out, "\n"); len(ls) < 3 || strings.Fields(ls[0])[0] != "JobID" || !strings.HasPrefix(ls[1], "------------ ----------") ||
		strings.Join(strings.Fields(ls[2]), " ") != strconv.FormatUint(first, 10)+" prep batch 1 COMPLETED 0:0" {
		t.Errorf("sacct table:\n%s", out)
	}
}

// An array of four tasks, at most two at once (--array=1-4%2 on the
// command line over the script's --array): squeue shows two running and
// the rest as one pending line; scancel of a running task cancels it
// alone; the others finish, each writing slurm-A_a.out.
func TestBatchSlurmCmdsArray(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("task.sh", `#!/bin/bash
#SBATCH --array=1-9
#SBATCH --job-name=tasks
echo start $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID
while [ ! -e go.$SLURM_ARRAY_TASK_ID ]; do sleep 0.1; done
echo done $SLURM_ARRAY_TASK_ID
`)
	id := b.sbatch("--array=1-4%2", "task.sh")
	ids := strconv.FormatUint(id, 10)
	running := func() string {
		return strings.Join(strings.Fields(b.mustRun("squeue", "-h", "-r", "-t", "R", "-j", ids, "-o", "%i")), " ")
	}
	b.waitFor("two tasks running", func() bool { return running() == ids+"_1 "+ids+"_2" })
	if got := b.squeueOne(ids, "%i|%t|%j"); got != ids+"_1|R|tasks\n"+ids+"_2|R|tasks\n"+ids+"_[3-4%2]|PD|tasks" {
		t.Errorf("squeue of the array:\n%s", got)
	}
	if got := b.squeueOne(ids+"_3", "%F %K %T"); got != ids+" 3 PENDING" {
		t.Errorf("squeue of task 3 = %q", got)
	}
	time.Sleep(time.Second) // the limit holds while they run
	if got := running(); got != ids+"_1 "+ids+"_2" {
		t.Errorf("running with %%2: %q", got)
	}
	if r := b.run("scancel", ids+"_2"); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel %s_2: %v", ids, r)
	}
	b.waitFor("task 3 to start", func() bool { return strings.Contains(running(), ids+"_3") })
	for _, i := range []string{"1", "3", "4"} {
		os.WriteFile(filepath.Join(b.work, "go."+i), nil, 0o644)
	}
	b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", ids, "-t", "PD,R,S,CG") == "" })
	// The cancelled task ended by a signal: TERM, or KILL after
	// kill_grace (a script that is its namespace's init ignores TERM).
	want := map[string]string{"1": "COMPLETED|0:0", "2": "CANCELLED|0:", "3": "COMPLETED|0:0", "4": "COMPLETED|0:0"}
	for i, st := range want {
		if got := b.sacctState(ids + "_" + i); got != st && !(i == "2" && (got == st+"15" || got == st+"9")) {
			t.Errorf("sacct of task %s = %q, want %q", i, got, st)
		}
	}
	if got := b.mustRun("sacct", "-j", ids, "-n", "-P", "-o", "JobID"); got != ids+"_1\n"+ids+"_2\n"+ids+"_3\n"+ids+"_4\n" {
		t.Errorf("sacct -j %s lists %q", ids, got)
	}
	for _, i := range []string{"1", "3", "4"} {
		got := b.readFile(filepath.Join(b.work, "slurm-"+ids+"_"+i+".out"))
		if got != "start "+ids+" "+i+"\ndone "+i+"\n" {
			t.Errorf("task %s wrote %q", i, got)
		}
	}
}

// --wrap, command-line options over the script's, --export, --chdir,
// --hold, output patterns, --wait with the job's exit status.
func TestBatchSlurmCmdsOptions(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	// --wrap: a /bin/sh script named "wrap".
	id := b.sbatch("--wrap", "echo hi $SLURM_JOB_ID $SLURM_JOB_NAME")
	ids := strconv.FormatUint(id, 10)
	b.waitState(id, "finished")
	if got := b.readFile(filepath.Join(b.work, "slurm-"+ids+".out")); got != "hi "+ids+" wrap\n" {
		t.Errorf("--wrap wrote %q", got)
	}
	// The command line wins over #SBATCH lines of the same option; the
	// script's other lines stay.
	sub := filepath.Join(b.work, "sub")
	os.Mkdir(sub, 0o755)
	b.script("opts.sh", `#!/bin/bash
#SBATCH --job-name=fromscript
#SBATCH --output=script-%j.out
#SBATCH --time=00:10:00
#SBATCH --export=ALL
echo name=$SLURM_JOB_NAME dir=$(pwd) keep=${KEEP-unset} drop=${DROP-unset}
exit 3
`)
	r := b.runWith(cmdOpts{env: []string{"KEEP=k", "DROP=d"}}, "sbatch", "-J", "cmdline", "--output=%x-%j.txt",
		"--export=KEEP", "-D", sub, "--hold", filepath.Join(b.work, "opts.sh"))
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Submitted batch job ") {
		t.Fatalf("sbatch: %v", r)
	}
	held, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(r.stdout, "Submitted batch job ")), 10, 64)
	hs := strconv.FormatUint(held, 10)
	if got := b.squeueOne(hs, "%j %t %r %l %P"); got != "cmdline PD JobHeldUser 10:00 batch" {
		t.Errorf("held job in squeue: %q", got)
	}
	b.mustRun("qrls", hs)
	b.waitState(held, "failed")
	if got := b.readFile(filepath.Join(sub, "cmdline-"+hs+".txt")); got != "name=cmdline dir="+sub+" keep=k drop=unset\n" {
		t.Errorf("job wrote %q", got)
	}
	if got := b.sacctState(hs); got != "FAILED|3:0" {
		t.Errorf("sacct = %q, want FAILED|3:0", got)
	}
	// The script from standard input.
	r = b.runWith(cmdOpts{stdin: "#!/bin/sh\n#SBATCH -o stdin.out\necho from stdin\n"}, "sbatch", "--parsable")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("sbatch < script: %v", r)
	}
	stdinJob, _ := strconv.ParseUint(strings.TrimSpace(r.stdout), 10, 64)
	b.waitState(stdinJob, "finished")
	if got := b.readFile(filepath.Join(b.work, "stdin.out")); got != "from stdin\n" {
		t.Errorf("stdin job wrote %q", got)
	}
	if got := b.squeueOne(strconv.FormatUint(stdinJob, 10), "%j"); got != "sbatch" {
		t.Errorf("stdin job's name = %q, want sbatch", got)
	}
	// --wait returns the job's exit status.
	b.script("five.sh", "#!/bin/sh\nexit 5\n")
	r = b.run("sbatch", "--wait", "-Q", "five.sh")
	if r.code != 5 || r.stdout != "" || r.stderr != "" {
		t.Errorf("sbatch --wait of exit 5: %v", r)
	}
}

// Errors as Slurm gives them, before anything is submitted.
func TestBatchSlurmCmdsErrors(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("ok.sh", "#!/bin/sh\ntrue\n")
	b.script("noshebang.sh", "echo hi\n")
	b.script("gres.sh", "#!/bin/sh\n#SBATCH --gres=gpu:1\ntrue\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "ok.sh"}, "sbatch: error: unrecognized option '--bogus'"},
		{[]string{"--gres=gpu:1", "ok.sh"}, "sbatch: error: unrecognized option '--gres'"},
		{[]string{"gres.sh"}, "sbatch: error: gres.sh: line 2: #SBATCH --gres: this sbatch option is not translated"},
		{[]string{"--time=abc", "ok.sh"}, "sbatch: error: --time: "},
		{[]string{"noshebang.sh"}, "sbatch: error: this does not look like a batch script"},
		{[]string{"--wrap=true", "ok.sh"}, "sbatch: error: script arguments not permitted with --wrap option"},
		{[]string{"missing.sh"}, "sbatch: error: unable to open file missing.sh: no such file or directory"},
		{[]string{"--dependency=afterok:999", "ok.sh"}, "sbatch: error: --dependency=afterok:999: dependency afterok:999: unknown job id 999\n"},
		{[]string{"-p", "nosuch", "ok.sh"}, "sbatch: error: --partition=nosuch: unknown queue \"nosuch\"\n"},
		{[]string{"-D", "/nonexistent", "ok.sh"}, "sbatch: error: --chdir=/nonexistent: "},
		{[]string{"--time"}, "sbatch: error: option '--time' requires an argument"},
	} {
		r := b.run("sbatch", c.args...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("sbatch %s: %v, want exit 1 and %q", strings.Join(c.args, " "), r, c.want)
		}
	}
	if got := b.mustRun("squeue", "-h", "-t", "all"); got != "" {
		t.Errorf("jobs after refusals: %q", got)
	}
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"squeue", []string{"-j", "999"}, "squeue: error: Invalid job id specified\n"},
		{"squeue", []string{"-o", "%i %Y"}, "squeue: error: format \"%i %Y\": field %Y is not supported"},
		{"squeue", []string{"-t", "XX"}, "squeue: error: invalid job state specified: XX\n"},
		{"squeue", []string{"-u", "no-such-user-here"}, "squeue: error: invalid user: no-such-user-here\n"},
		{"scancel", []string{"999"}, "scancel: error: Kill job error on job id 999: Invalid job id specified\n"},
		{"scancel", nil, "scancel: error: No job identification provided\n"},
		{"sacct", []string{"-o", "JobID,Bogus"}, "sacct: error: invalid field requested: \"Bogus\"\n"},
	} {
		r := b.run(c.cmd, c.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, c.want) {
			t.Errorf("%s %s: %v, want exit 1 and %q", c.cmd, strings.Join(c.args, " "), r, c.want)
		}
	}
}

// squeue's default and long tables, -u, --me, -t, and scancel of a
// running job, with a signal first.
func TestBatchSlurmCmdsSqueueScancel(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	b.script("trap.sh", `#!/bin/bash
#SBATCH -J trapper
#SBATCH -t 30
trap 'echo got USR1' USR1
echo started
while true; do sleep 0.2; done
`)
	id := b.sbatch("trap.sh")
	ids := strconv.FormatUint(id, 10)
	out := filepath.Join(b.work, "slurm-"+ids+".out")
	b.waitFor("the job to start", func() bool { return strings.Contains(readIfAny(out), "started") })
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	table := b.mustRun("squeue")
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)" {
		t.Fatalf("squeue:\n%s", table)
	}
	f := strings.Fields(lines[1])
	if len(f) != 8 || f[0] != ids || f[1] != "batch" || f[2] != "trapper" || f[3] != trunc(me.Username, 8) || f[4] != "R" || f[6] != "1" || f[7] != host {
		t.Errorf("squeue's line: %q", lines[1])
	}
	if long := b.mustRun("squeue", "-l", "-h", "--me"); !strings.Contains(long, " RUNNING ") || !strings.Contains(long, "  30:00 ") {
		t.Errorf("squeue -l: %q", long)
	}
	for _, args := range [][]string{{"-h", "-u", me.Username}, {"-h", "-t", "R,PD"}, {"-h", "--user", me.Uid, "-n", "trapper"}} {
		if got := strings.Fields(b.mustRun("squeue", args...)); len(got) == 0 || got[0] != ids {
			t.Errorf("squeue %v: %q", args, got)
		}
	}
	if got := b.mustRun("squeue", "-h", "-t", "PD"); got != "" {
		t.Errorf("squeue -t PD: %q", got)
	}
	if got := b.squeueOne(ids, "%T"); got != "RUNNING" {
		t.Errorf("squeue -j -o %%T = %q", got)
	}
	if got, want := b.mustRun("squeue", "-h", "-j", ids, "-O", "JobID:10,StateCompact:.3,Name"), fmt.Sprintf("%-10s%3s%-20s\n", ids, "R", "trapper"); got != want {
		t.Errorf("squeue -O: %q, want %q", got, want)
	}
	if r := b.run("scancel", "--signal=USR1", ids); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel --signal: %v", r)
	}
	b.waitFor("the trap", func() bool { return strings.Contains(readIfAny(out), "got USR1") })
	if got := b.squeueOne(ids, "%T"); got != "RUNNING" {
		t.Errorf("after the signal: %q", got)
	}
	if r := b.run("scancel", "-u", me.Username); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel -u: %v", r)
	}
	b.waitState(id, "failed")
	if got := b.squeueOne(ids, "%t"); got != "CA" {
		t.Errorf("after scancel: %q, want CA", got)
	}
	if got := b.mustRun("squeue", "-h"); got != "" {
		t.Errorf("squeue after scancel lists %q", got)
	}
	if r := b.run("scancel", ids); r.code != 1 || r.stderr != "scancel: error: Kill job error on job id "+ids+": Job/step already completing or completed\n" {
		t.Errorf("scancel of an ended job: %v", r)
	}
}

// Published Slurm scripts, unchanged: brown-ccv/slurm's array example
// (job_arrays/job-array.sh), and mirkoklukas/nbxom's run.sh
// (example_bundle_nbx/run.sh), a driver submitted with sbatch that
// itself chains four arrays of ten tasks with "sbatch ... | awk '{ print
// $4 }'" and afterok (its job.sh, which needs singularity on eight
// CPUs, replaced by one that records its task).
func TestBatchSlurmCmdsRealScripts(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("job-array.sh", `#!/bin/bash

# Resource request
#SBATCH --time=00:05:00
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=4G

# Define array (TASK IDs)
#SBATCH --array=1-4

# Job handling
#SBATCH -J arrayjob
#SBATCH -o %x-%A_%a.out

# Use the $SLURM_ARRAY_TASK_ID variable to provide different inputs for each job
 
echo "Running job array number: "$SLURM_ARRAY_TASK_ID
`)
	r := b.run("sbatch", "--mem-per-cpu=16M", "job-array.sh") // 4G is more than the test machine's
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Submitted batch job ") {
		t.Fatalf("sbatch job-array.sh: %v", r)
	}
	arr := strings.TrimSpace(strings.TrimPrefix(r.stdout, "Submitted batch job "))
	b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", arr, "-t", "PD,R,S,CG") == "" })
	for i := 1; i <= 4; i++ {
		path := filepath.Join(b.work, "arrayjob-"+arr+"_"+strconv.Itoa(i)+".out")
		if got := b.readFile(path); got != "Running job array number: "+strconv.Itoa(i)+"\n" {
			t.Errorf("%s = %q", path, got)
		}
	}

	os.Mkdir(filepath.Join(b.work, "io"), 0o755)
	b.script("run.sh", "#!/bin/sh\n\n#SBATCH --out=io/runner_out__%A\n#SBATCH --error=io/runner_err__%A\n\n"+
		"job_0=`sbatch --array=1-10%50 job.sh | awk '{ print $4 }'`\n"+
		"job_1=`sbatch --array=11-20%50 --dependency=afterok:$job_0 job.sh | awk '{ print $4 }'`\n"+
		"job_2=`sbatch --array=21-30%50 --dependency=afterok:$job_1 job.sh | awk '{ print $4 }'`\n"+
		"job_3=`sbatch --array=31-40%50 --dependency=afterok:$job_2 job.sh | awk '{ print $4 }'`\n")
	b.script("job.sh", "#!/bin/sh\n\n#SBATCH --job-name=example_bundle\n#SBATCH -t 0:20:00\n#SBATCH --out=io/out_%a\n"+
		"echo $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $(date +%s.%N) >> io/tasks\n")
	driver := b.sbatch("run.sh")
	b.waitState(driver, "finished")
	if got := b.readFile(filepath.Join(b.work, "io", "runner_err__"+strconv.FormatUint(driver, 10))); got != "" {
		t.Fatalf("run.sh's errors: %q", got)
	}
	b.waitFor("40 tasks", func() bool { return strings.Count(readIfAny(filepath.Join(b.work, "io", "tasks")), "\n") == 40 })
	b.waitFor("the arrays to end", func() bool { return b.mustRun("squeue", "-h") == "" })
	// Each array ran its ten tasks after every task of the one before.
	var arrays []string
	last := map[string]float64{}
	first := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(readIfAny(filepath.Join(b.work, "io", "tasks"))), "\n") {
		f := strings.Fields(line)
		at, _ := strconv.ParseFloat(f[2], 64)
		if _, ok := first[f[0]]; !ok {
			arrays = append(arrays, f[0])
			first[f[0]] = at
		}
		last[f[0]] = max(last[f[0]], at)
	}
	if len(arrays) != 4 {
		t.Fatalf("tasks of %d arrays: %v", len(arrays), arrays)
	}
	for k := 1; k < 4; k++ {
		if first[arrays[k]] < last[arrays[k-1]] {
			t.Errorf("array %s started before array %s ended", arrays[k], arrays[k-1])
		}
		if got := b.mustRun("sacct", "-j", arrays[k], "-n", "-P", "-o", "State"); got != strings.Repeat("COMPLETED\n", 10) {
			t.Errorf("sacct of array %s: %q", arrays[k], got)
		}
	}
	if got := readIfAny(filepath.Join(b.work, "io", "out_11")); got != "" {
		t.Errorf("io/out_11 = %q", got)
	}
	if _, err := os.Stat(filepath.Join(b.work, "io", "out_40")); err != nil {
		t.Errorf("no io/out_40: %v", err)
	}
}

func readIfAny(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Two users: --me and -u select each one's jobs, sacct shows a user's
// own unless -a, and scancel of another user's job is refused with the
// daemon's reason.
func TestBatchSlurmCmdsUsers(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	other := nobody(t)
	b.script("wait.sh", "#!/bin/sh\n#SBATCH -o /dev/null\nwhile [ ! -e go ]; do sleep 0.1; done\n")
	mine := strconv.FormatUint(b.sbatch("--hold", "wait.sh"), 10)
	r := b.runWith(cmdOpts{cred: other}, "sbatch", "--parsable", "--hold", "wait.sh")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("sbatch as nobody: %v", r)
	}
	theirs := strings.TrimSpace(r.stdout)
	ids := func(out string) string {
		return strings.Join(strings.Fields(out), " ")
	}
	if got := ids(b.mustRun("squeue", "-h", "-o", "%i")); got != mine+" "+theirs {
		t.Errorf("squeue lists %q, want both jobs", got)
	}
	if got := ids(b.mustRun("squeue", "-h", "--me", "-o", "%i")); got != mine {
		t.Errorf("squeue --me lists %q, want %s", got, mine)
	}
	if got := ids(b.mustRun("squeue", "-h", "-u", "nobody", "-o", "%i %u")); got != theirs+" nobody" {
		t.Errorf("squeue -u nobody lists %q", got)
	}
	if r := b.runWith(cmdOpts{cred: other}, "squeue", "-h", "--me", "-o", "%i"); r.code != 0 || ids(r.stdout) != theirs {
		t.Errorf("nobody's squeue --me: %v", r)
	}
	if r := b.runWith(cmdOpts{cred: other}, "sacct", "-n", "-P", "-o", "JobID,User"); r.code != 0 || r.stdout != theirs+"|nobody\n" {
		t.Errorf("nobody's sacct: %v", r)
	}
	if r := b.runWith(cmdOpts{cred: other}, "sacct", "-a", "-n", "-P", "-o", "JobID"); r.code != 0 || ids(r.stdout) != mine+" "+theirs {
		t.Errorf("nobody's sacct -a: %v", r)
	}
	r = b.runWith(cmdOpts{cred: other}, "scancel", mine)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "scancel: error: Kill job error on job id "+mine+": ") {
		t.Errorf("nobody's scancel of root's job: %v", r)
	}
	if got := b.squeueOne(mine, "%T"); got != "PENDING" {
		t.Errorf("root's job after nobody's scancel: %q", got)
	}
	if r := b.runWith(cmdOpts{cred: other}, "scancel", "--me"); r.code != 0 || r.stderr != "" {
		t.Errorf("nobody's scancel --me: %v", r)
	}
	// A pending job cancelled is removed at once (as qdel removes it):
	// squeue -j no longer knows it, as Slurm's once the job has aged out.
	b.waitFor("nobody's job cancelled", func() bool {
		r := b.run("squeue", "-h", "-j", theirs, "-o", "%t")
		return r.stdout == "CA\n" || r.code == 1 && r.stderr == "squeue: error: Invalid job id specified\n"
	})
	if got := b.squeueOne(mine, "%t"); got != "PD" {
		t.Errorf("root's job after nobody's scancel --me: %q", got)
	}
}

// scancel --batch --signal: the batch script alone gets the signal (a
// script that traps it to checkpoint itself), not its steps; without
// --batch every process of the job does.
func TestBatchSlurmScancelBatch(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("b.sh", `#!/bin/bash
trap 'echo script got USR1' USR1
bash -c 'trap "echo step got USR1" USR1; echo step started; while true; do sleep 0.1; done' &
echo started
while true; do sleep 0.2; done
`)
	id := b.sbatch("b.sh")
	ids := strconv.FormatUint(id, 10)
	out := filepath.Join(b.work, "slurm-"+ids+".out")
	b.waitFor("the job to start", func() bool {
		o := readIfAny(out)
		return strings.Contains(o, "started\n") && strings.Contains(o, "step started")
	})
	if r := b.run("scancel", "-b", "-s", "USR1", ids); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel -b -s USR1: %v", r)
	}
	b.waitFor("the script's trap", func() bool { return strings.Contains(readIfAny(out), "script got USR1") })
	time.Sleep(500 * time.Millisecond)
	if o := readIfAny(out); strings.Contains(o, "step got USR1") {
		t.Errorf("scancel --batch reached the step:\n%s", o)
	}
	if r := b.run("scancel", "-s", "USR1", ids); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel -s USR1: %v", r)
	}
	b.waitFor("the step's trap", func() bool { return strings.Contains(readIfAny(out), "step got USR1") })
	b.mustRun("scancel", ids)
	b.waitState(id, "failed")
}

// sacct -S and -E keep the jobs pending or running between them; MaxRSS
// is the most memory a run used.
func TestBatchSacctTimes(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.sbatch("--wrap", "true")
	b.waitState(id, "finished")
	ids := strconv.FormatUint(id, 10)
	list := func(args ...string) string {
		return strings.TrimSpace(b.mustRun("sacct", append([]string{"-n", "-P", "-o", "JobID"}, args...)...))
	}
	if got := list("-S", "now-1hours"); got != ids {
		t.Errorf("sacct -S now-1hours: %q, want %s", got, ids)
	}
	if got := list("--starttime", "now+1days"); got != "" {
		t.Errorf("sacct --starttime now+1days: %q, want none", got)
	}
	if got := list("-S", "2000-01-01", "-E", "now-1days"); got != "" {
		t.Errorf("sacct -E now-1days: %q, want none", got)
	}
	if r := b.run("sacct", "-S", "yesterday"); r.code == 0 || !strings.Contains(r.stderr, "invalid time") {
		t.Errorf("sacct -S yesterday: %v", r)
	}
	if got := strings.TrimSpace(b.mustRun("sacct", "-j", ids, "-n", "-P", "-o", "MaxRSS")); !strings.HasSuffix(got, "K") {
		t.Errorf("sacct -o MaxRSS: %q", got)
	}
}
