package integration

// Slurm batch scripts from public repositories, kept in testdata/slurmreal
// (each names its repository and path in a comment and says what was
// adapted: only the application, by a stand-in, the CPUs and memory of a
// small host, and waits and limits a test can afford), submitted through
// sbatch as their users submit them: honoured as Slurm honours them
// (output files named by their patterns, SLURM_* values, exit codes seen
// by sacct), or refused in one line that names the script, the line and
// the directive.

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// copySlurmReal puts the scripts of testdata/slurmreal into the work
// directory, executable.
func copySlurmReal(t *testing.T, b *batch) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "slurmreal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "slurmreal", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.script(e.Name(), string(data))
	}
}

// sbatchID submits as a user does and returns the id of "Submitted batch
// job N".
func (b *batch) sbatchID(args ...string) uint64 {
	b.t.Helper()
	r := b.run("sbatch", args...)
	id, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(r.stdout), "Submitted batch job "), 10, 64)
	if r.code != 0 || r.stderr != "" || err != nil {
		b.t.Fatalf("sbatch %s: %v", strings.Join(args, " "), r)
	}
	return id
}

func TestBatchSlurmRealScripts(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, q := range []string{"lcilab", "short", "debug", "all", "cpu_short"} {
		b.mustRun("qmgr", "-c", "create queue "+q)
		b.mustRun("qmgr", "-c", "set queue "+q+" enabled = true")
		b.mustRun("qmgr", "-c", "set queue "+q+" started = true")
	}
	copySlurmReal(t, b)
	w := b.work
	host := shortHostname()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string) string { return jobFile(t, filepath.Join(w, name)) }
	var reads, inputs strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&reads, "reads_%d.fastq\n", i)
		fmt.Fprintf(&inputs, "input_%d\n", i)
	}
	b.script("readFiles.txt", reads.String())
	b.script("inputs.txt", inputs.String())
	b.script("env_omp.x", "#!/bin/sh\necho \"OMP_NUM_THREADS=$OMP_NUM_THREADS ncpus=$SLURM_CPUS_ON_NODE ntasks=$SLURM_NTASKS\"\n")

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct{ script, want string }{
			{"array_test.sh", "array_test.sh: line 8: #SBATCH --array: "},
			{"quake-run.sh", "quake-run.sh: line 6: #SBATCH --exclusive: "},
			{"test_job_slurm_echo.sh", "test_job_slurm_echo.sh: line 9: #SBATCH --nodelist: this sbatch option is not translated"},
			{"skypilot-run.sh", "skypilot-run.sh: line 5: #SBATCH --nodes: nodes=2: "},
			{"variable-time-jobs.sh", "variable-time-jobs.sh: line 6: #SBATCH -C: this sbatch option is not translated"},
		} {
			r := b.run("sbatch", c.script)
			if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "sbatch: error: "+c.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("sbatch %s: %v, want exit 1 and %q", c.script, r, c.want)
			}
		}
	})

	t.Run("single jobs", func(t *testing.T) {
		// aws-hpc-recipes: -o test-%j.out -e test-%j.err.
		id := b.sbatchID("job.sh")
		ids := strconv.FormatUint(id, 10)
		b.waitState(id, "finished")
		if got, want := file("test-"+ids+".out"), "Hello world. This is job test ["+ids+"] running on "+host+", submitted from "+host+"\nJob complete\n"; got != want {
			t.Errorf("job.sh wrote %q, want %q", got, want)
		}
		if got := file("test-" + ids + ".err"); got != "" {
			t.Errorf("job.sh's error file: %q", got)
		}
		// A name with blanks, quoted output paths.
		id = b.sbatchID("twitter-script.sh")
		if j := b.waitState(id, "finished"); j.Name != "Slurm Simple Test Job" {
			t.Errorf("twitter-script.sh: name %q", j.Name)
		}
		if got := file("my_job.output"); strings.TrimSpace(got) == "" {
			t.Errorf("my_job.output: %q", got)
		}
		// --partition, --cpus-per-task, OMP_NUM_THREADS from it.
		id = b.sbatchID("env_omp_batch.sh")
		if j := b.waitState(id, "finished"); j.Queue != "lcilab" || j.WalltimeSec != 60 {
			t.Errorf("env_omp_batch.sh: %+v", j)
		}
		if got := file("a.out"); got != "OMP_NUM_THREADS=2 ncpus=2 ntasks=1\n" {
			t.Errorf("env_omp_batch.sh wrote %q", got)
		}
		// srun -n 1 in the job; --mem=1G is SLURM_MEM_PER_NODE=1024.
		id = b.sbatchID("Optim_Param.sh")
		ids = strconv.FormatUint(id, 10)
		b.waitState(id, "finished")
		if got := file("optimale-param" + ids + ".out"); got != "CPUS_PER_TASK=2\nworkers=2 omp=1 mem=1024\n" {
			t.Errorf("Optim_Param.sh wrote %q", got)
		}
		if got := b.sacctState(ids); got != "COMPLETED|0:0" {
			t.Errorf("sacct of Optim_Param.sh: %q", got)
		}
		// -p debug, -t 01:00; the variables it lists, "none" when unset.
		id = b.sbatchID("vagrant-job.sh")
		ids = strconv.FormatUint(id, 10)
		b.waitState(id, "finished")
		out := file("slurm-" + ids + ".out")
		for _, want := range []string{"SLURM_JOB_ID: " + ids + "\n", "SLURM_JOB_NAME: vagrant-job.sh\n", "SLURM_JOB_NODELIST: " + host + "\n",
			"SLURM_JOB_PARTITION: debug\n", "SLURM_SUBMIT_DIR: " + w + "\n", "SLURM_SUBMIT_HOST: " + host + "\n", "SLURMD_NODENAME: " + host + "\n",
			"SLURM_MEM_PER_NODE: none\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("vagrant-job.sh's output lacks %q:\n%s", want, out)
			}
		}
		// srun in a job of two tasks: one line per task.
		id = b.sbatchID("-n", "2", "checknodefile.sh")
		ids = strconv.FormatUint(id, 10)
		b.waitState(id, "finished")
		if got := file("slurm-" + ids + ".out"); got != host+"\n"+host+"\n" {
			t.Errorf("checknodefile.sh wrote %q", got)
		}
	})

	t.Run("arrays", func(t *testing.T) {
		// --array 1-10%5 with -o test_array_log.%a.o; each task its line.
		id := b.sbatchID("mySbatchArrayScript.sh")
		ids := strconv.FormatUint(id, 10)
		b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", ids, "-t", "PD,R,S,CG") == "" })
		for i := 1; i <= 10; i++ {
			if got, want := file(fmt.Sprintf("test_array_log.%d.o", i)), fmt.Sprintf("job array id %d\nreads_%d.fastq\n", i, i); got != want {
				t.Errorf("task %d wrote %q, want %q", i, got, want)
			}
			if got := b.sacctState(fmt.Sprintf("%s_%d", ids, i)); got != "COMPLETED|0:0" {
				t.Errorf("sacct of task %d: %q", i, got)
			}
		}
		// --array on the command line of a script without one.
		id = b.sbatchID("--array=1-3", "test_job.sh")
		ids = strconv.FormatUint(id, 10)
		b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", ids, "-t", "PD,R,S,CG") == "" })
		for i := 1; i <= 3; i++ {
			if got, want := file(fmt.Sprintf("slurm-%s_%d.out", ids, i)), fmt.Sprintf("Processing task %d\ninput_%d\n", i, i); got != want {
				t.Errorf("test_job.sh task %d wrote %q, want %q", i, got, want)
			}
		}
		// SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_JOB_ID; %x.o%A_%a.
		for _, s := range []string{"03.array.sh", "fredhutch-01.sh"} {
			id = b.sbatchID(s)
			ids = strconv.FormatUint(id, 10)
			b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", ids, "-t", "PD,R,S,CG") == "" })
			for i := 4; i <= 6; i++ {
				want := fmt.Sprintf("Hello- I'm task %d of job %s\nThere are 3 tasks in this array\n", i, ids)
				if got := file(fmt.Sprintf("slurm-%s_%d.out", ids, i)); got != want {
					t.Errorf("%s task %d wrote %q, want %q", s, i, got, want)
				}
			}
		}
		id = b.sbatchID("hello_array.sh")
		ids = strconv.FormatUint(id, 10)
		b.waitFor("the array to end", func() bool { return b.mustRun("squeue", "-h", "-j", ids, "-t", "PD,R,S,CG") == "" })
		for i := 1; i <= 3; i++ {
			got := file(fmt.Sprintf("hello_array.o%s_%d", ids, i))
			if want := fmt.Sprintf("Hello from array n°%d of 3\n%s\n", i, host); !strings.HasPrefix(got, want) {
				t.Errorf("hello_array.sh task %d wrote %q, want it to start with %q", i, got, want)
			}
		}
	})

	t.Run("workflows", func(t *testing.T) {
		// Ids taken from "Submitted batch job N" by cut and awk, and
		// chained with afterok and afterany; squeue's format with %q %S.
		b.script("prerun.sh", "#!/bin/sh\necho pre > pre.txt\n")
		b.script("run.sh", "#!/bin/sh\ncat pre.txt > run.$SLURM_ARRAY_TASK_ID\n")
		b.script("postrun.sh", "#!/bin/sh\ncat run.1 run.2 run.3 > post.txt\n")
		r := b.shell("./UCNmoderator-qsub.sh")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("UCNmoderator-qsub.sh: %v", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[2], "Submitted batch job ") {
			t.Fatalf("UCNmoderator-qsub.sh printed %q", r.stdout)
		}
		post, _ := strconv.ParseUint(strings.TrimPrefix(lines[2], "Submitted batch job "), 10, 64)
		b.waitState(post, "finished")
		if got := file("post.txt"); got != "pre\npre\npre\n" {
			t.Errorf("post.txt = %q", got)
		}

		for _, s := range []string{"common", "datawarp", "project", "scratch", "tmpfs"} {
			b.script("cori-pynamic-150-"+s+".sh", "#!/bin/bash\n#SBATCH -J pynamic-"+s+"\necho "+s+" >> pynamic.log\n")
		}
		r = b.shell("USER=" + me.Username + " ./cori-pynamic.sh")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("cori-pynamic.sh: %v", r)
		}
		lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 7 {
			t.Fatalf("cori-pynamic.sh printed %q", r.stdout)
		}
		if h := strings.Fields(lines[5]); len(h) != 11 || h[0] != "JOBID" || h[5] != "QOS" || h[10] != "START_TIME" {
			t.Errorf("squeue's header: %q", lines[5])
		}
		last, _ := strconv.ParseUint(lines[4], 10, 64)
		b.waitState(last, "finished")
		if got := file("pynamic.log"); got != "common\ndatawarp\nproject\nscratch\ntmpfs\n" {
			t.Errorf("pynamic.log = %q", got)
		}

		b.script("run_parallel_slurm.sh", "#!/bin/bash\n#SBATCH --array=0-1\necho part $SLURM_ARRAY_TASK_ID > part.$SLURM_ARRAY_TASK_ID\n")
		b.script("post_process.sh", "#!/bin/bash\ncat part.0 part.1 > combined.txt\n")
		r = b.shell("USER=" + me.Username + " ./run_combined_slurm.sh")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("run_combined_slurm.sh: %v", r)
		}
		lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
		postID, err := strconv.ParseUint(strings.Fields(strings.TrimPrefix(lines[1], "Submitted post-processing job: "))[0], 10, 64)
		if err != nil {
			t.Fatalf("run_combined_slurm.sh printed %q", r.stdout)
		}
		b.waitState(postID, "finished")
		if got := file("combined.txt"); got != "part 0\npart 1\n" {
			t.Errorf("combined.txt = %q", got)
		}

		// Arguments to a job script: $1 of each dependent job.
		b.script("job_first.slurm", "#!/bin/bash\necho first\n")
		b.script("job_depend.slurm", "#!/bin/bash\necho $(( $1 * 2 ))\n")
		r = b.shell("./job_launch.sh")
		lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || r.stderr != "" || len(lines) != 2 {
			t.Fatalf("job_launch.sh: %v", r)
		}
		for i, want := range []string{"10\n", "20\n"} {
			id, err := strconv.ParseUint(strings.TrimPrefix(lines[i], "Submitted batch job "), 10, 64)
			if err != nil {
				t.Fatalf("job_launch.sh printed %q", r.stdout)
			}
			b.waitState(id, "finished")
			if got := file(fmt.Sprintf("slurm-%d.out", id)); got != want {
				t.Errorf("job %d (job_depend.slurm %s) wrote %q, want %q", id, []string{"5", "10"}[i], got, want)
			}
		}
	})
}

// The checkpoint-on-signal patterns: --signal=B:USR1@T sends USR1 to the
// script T seconds before its time limit; one script cleans up, the other
// resubmits itself ($BASH_SOURCE) and exits 2.
func TestBatchSlurmRealSignal(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	copySlurmReal(t, b)
	cleanup := b.sbatchID("slurm-timeout-cleanup.sh")
	requeue := b.sbatchID("test_timeout_requeue.sh")
	j := b.waitState(cleanup, "finished", "failed")
	out := jobFile(t, filepath.Join(b.work, fmt.Sprintf("slurm-%d.out", cleanup)))
	// The trap runs while wait waits: wait returns 128+USR1, the script's
	// status, before the time limit (not killed for its walltime).
	if !strings.Contains(out, "starting calculation at ") || !strings.Contains(out, "function your_cleanup_function called at ") {
		t.Errorf("slurm-timeout-cleanup.sh wrote %q", out)
	}
	if got := b.sacctState(strconv.FormatUint(cleanup, 10)); got != "FAILED|138:0" || strings.Contains(j.Reason, "walltime") {
		t.Errorf("sacct of slurm-timeout-cleanup.sh = %q (%+v)", got, j)
	}
	b.waitState(requeue, "failed")
	out = jobFile(t, filepath.Join(b.work, fmt.Sprintf("slurm-%d.out", requeue)))
	if !strings.HasPrefix(out, "Marker not exists, sleep\nReceived prophecy of impending termination\nMark and resubmit\nSubmitted batch job ") {
		t.Fatalf("test_timeout_requeue.sh wrote %q", out)
	}
	if got := b.sacctState(strconv.FormatUint(requeue, 10)); got != "FAILED|2:0" {
		t.Errorf("sacct of test_timeout_requeue.sh = %q", got)
	}
	next, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.Split(out, "\n")[3], "Submitted batch job ")), 10, 64)
	if err != nil {
		t.Fatalf("no resubmitted id in %q", out)
	}
	b.waitState(next, "finished")
	if got := jobFile(t, filepath.Join(b.work, fmt.Sprintf("slurm-%d.out", next))); got != "Marker exists\nDone!\n" {
		t.Errorf("the resubmitted job wrote %q", got)
	}
	if _, err := os.Stat(filepath.Join(b.work, "timeout_requeue_marker_2")); err != nil {
		t.Errorf("the resubmitted job left no marker: %v", err)
	}
}

// What those scripts ask of scontrol, scancel and sbatch: the node list
// expanded, the job's own record, a job that requeues itself once (the
// restart count, --open-mode=append keeping both runs' output), a pending
// job cancelled and still shown CANCELLED, --test-only submitting nothing.
func TestBatchSlurmRealControl(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	host := shortHostname()
	if got := b.mustRun("scontrol", "show", "hostnames", "n[01-03],gpu7"); got != "n01\nn02\nn03\ngpu7\n" {
		t.Errorf("scontrol show hostnames = %q", got)
	}
	b.script("self.sh", `#!/bin/bash
#SBATCH --job-name=self
#SBATCH --output=self.log
#SBATCH --open-mode=append
#SBATCH --time=10
for h in $(scontrol show hostnames $SLURM_JOB_NODELIST); do echo "host $h"; done
scontrol show job $SLURM_JOB_ID | grep -o 'JobName=[^ ]*\|JobState=[^ ]*\|Restarts=[0-9]*\|StdOut=.*'
echo "restart ${SLURM_RESTART_COUNT:-0}"
if [ -z "$SLURM_RESTART_COUNT" ]; then
	scontrol requeue $SLURM_JOB_ID
	sleep 100
fi
`)
	id := b.sbatch("self.sh")
	b.waitFor("the requeued run to end", func() bool {
		j := b.job(id)
		return j.State == "finished" && len(j.Segments) == 2
	})
	log := filepath.Join(b.work, "self.log")
	once := "host " + host + "\nJobName=self\nJobState=RUNNING\nRestarts=%d\nStdOut=" + log + "\nrestart %d\n"
	// The requeue ends the first run with SIGTERM: its sleep dies of it,
	// and bash, the init of the job's PID namespace (which ignores it
	// until the SIGKILL that follows), may report that first.
	got := strings.Replace(jobFile(t, log), "restart 0\nTerminated\n", "restart 0\n", 1)
	if want := fmt.Sprintf(once, 0, 0) + fmt.Sprintf(once, 1, 1); got != want {
		t.Errorf("self.log = %q, want %q", got, want)
	}
	// The record of a job of tasks, waiting for another.
	held := b.sbatch("--hold", "--wrap", "true")
	hs := strconv.FormatUint(held, 10)
	tasks := b.sbatch("--ntasks=2", "--cpus-per-task=1", "--dependency=afterany:"+hs, "--wrap", "true")
	rec := b.mustRun("scontrol", "show", "job", strconv.FormatUint(tasks, 10))
	for _, want := range []string{" NumTasks=2 CPUs/Task=1", " Dependency=afterany:" + hs} {
		if !strings.Contains(rec, want) {
			t.Errorf("scontrol show job: no %q in\n%s", want, rec)
		}
	}
	if strings.Contains(rec, "GroupId=(null)") {
		t.Errorf("scontrol show job names no group:\n%s", rec)
	}
	b.mustRun("scancel", strconv.FormatUint(tasks, 10))
	// scancel of a pending job: CANCELLED in squeue -t all and sacct.
	if r := b.run("scancel", hs); r.code != 0 || r.stderr != "" {
		t.Fatalf("scancel %s: %v", hs, r)
	}
	if got := b.squeueOne(hs, "%i %T"); got != hs+" CANCELLED" {
		t.Errorf("squeue of the cancelled job = %q", got)
	}
	if got := b.sacctState(hs); got != "CANCELLED|0:0" {
		t.Errorf("sacct of the cancelled job = %q", got)
	}
	// --test-only: the estimate line, no job.
	r := b.run("sbatch", "--test-only", "-c", "2", "--wrap", "true")
	if want := " to start at "; r.code != 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "sbatch: Job ") || !strings.Contains(r.stderr, want) ||
		!strings.HasSuffix(r.stderr, " using 2 processors on nodes "+host+" in partition batch\n") {
		t.Errorf("sbatch --test-only: %v", r)
	}
	if got := b.mustRun("squeue", "-h", "-t", "PD,R"); got != "" {
		t.Errorf("--test-only submitted: %q", got)
	}
	if r := b.run("scontrol", "update", "JobId="+hs, "TimeLimit=5"); r.code != 1 || !strings.HasPrefix(r.stderr, "scontrol: error: update: not supported here") {
		t.Errorf("scontrol update: %v", r)
	}
}
