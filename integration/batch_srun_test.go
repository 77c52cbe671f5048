package integration

// srun inside batch jobs: Slurm scripts' srun lines run their tasks as
// children of srun, in the job's tree, with each task's SLURM_* variables;
// MPI programs of both of Debian's MPIs run as one world through their
// own launcher; a job whose srun tasks are running is checkpointed and
// restarted whole.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBatchSrunTasks: a Slurm script with the srun lines real scripts
// have: the default task count from --ntasks, -n, --ntasks with
// --cpus-per-task, -l, two steps in the background with wait, the step
// numbers, the worst exit status, and a signal sent to srun alone reaching
// every task.
func TestBatchSrunTasks(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	host, _ := os.Hostname()
	script := b.script("steps.sh", `#!/bin/bash
#SBATCH --job-name=steps
#SBATCH --ntasks=2
#SBATCH --time=00:05:00
#SBATCH --output=steps.out
srun sh -c 'echo "A $SLURM_PROCID/$SLURM_NTASKS local=$SLURM_LOCALID node=$SLURM_NODEID step=$SLURM_STEP_ID job=$SLURM_JOB_ID"'
srun -n 2 --label sh -c 'echo B $SLURM_PROCID; echo B-err >&2'
srun --ntasks=2 --cpus-per-task=1 hostname
srun -N1 -n1 --exclusive sh -c 'echo C1 step=$SLURM_STEP_ID' > c1.out &
srun -N1 -n1 --exclusive sh -c 'echo C2 step=$SLURM_STEP_ID' > c2.out &
wait
srun -Q -n 3 sh -c 'exit $((SLURM_PROCID * 2))'
echo "worst=$?"
srun -n 2 sh -c 'kill -SEGV $$'
echo "signalled=$?"
srun -n 2 sh -c 'trap "echo got-usr1 $SLURM_PROCID; exit 7" USR1; touch ready.$SLURM_PROCID; while :; do sleep 0.1; done' &
pid=$!
while [ ! -e ready.0 ] || [ ! -e ready.1 ]; do sleep 0.1; done
kill -USR1 $pid
wait $pid
echo "forwarded=$?"
printf '0 echo multi zero %%t\n1 sh -c "echo multi one %%o"\n' > multi.conf
srun -l --multi-prog multi.conf
srun -Q --mpi=pmix --cpu-bind=cores true && echo quiet-ok
srun --no-such-option true
echo "unknown=$?"
`)
	id := b.qsub(script)
	j := b.waitState(id, "finished", "failed")
	out := b.readFile(filepath.Join(b.work, "steps.out"))
	if j.State != "finished" {
		t.Fatalf("job %s (%s):\n%s", j.State, j.Reason, out)
	}
	lines := strings.Split(out, "\n")
	var as []string
	for _, l := range lines {
		if strings.HasPrefix(l, "A ") {
			as = append(as, l)
		}
	}
	slices.Sort(as)
	jid := fmt.Sprint(id)
	want := []string{
		"A 0/2 local=0 node=0 step=0 job=" + jid,
		"A 1/2 local=1 node=0 step=0 job=" + jid,
	}
	if !slices.Equal(as, want) {
		t.Errorf("srun with the job's --ntasks printed %q, want %q", as, want)
	}
	hasAll(t, "output", out, "0: B 0\n", "1: B 1\n", "0: B-err\n", "1: B-err\n",
		"worst=4\n", "signalled=139\n", "0: multi zero 0\n", "1: multi one 0\n", "got-usr1 0\n", "got-usr1 1\n", "forwarded=7\n", "quiet-ok\n",
		"srun: error: "+host+": task 1: Exited with exit code 2\n",
		"srun: error: "+host+": task 2: Exited with exit code 4\n",
		"srun: error: "+host+": task 0: Segmentation fault\n",
		"srun: error: unrecognized option '--no-such-option' (see srun --help)\nunknown=1\n")
	if n := strings.Count(out, host+"\n"); n != 2 {
		t.Errorf("srun --ntasks=2 hostname printed the host %d times:\n%s", n, out)
	}
	if strings.Contains(out, "warning") {
		t.Errorf("srun -Q printed a warning:\n%s", out)
	}
	// The steps are numbered in order, the two at once apart.
	c := []string{strings.TrimSpace(b.readFile(filepath.Join(b.work, "c1.out"))), strings.TrimSpace(b.readFile(filepath.Join(b.work, "c2.out")))}
	if !(c[0] == "C1 step=3" && c[1] == "C2 step=4") && !(c[0] == "C1 step=4" && c[1] == "C2 step=3") {
		t.Errorf("the background steps printed %q, want steps 3 and 4", c)
	}

	// --help works anywhere and tells the options.
	r := b.run("srun", "--help")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("srun --help: %v", r)
	}
	for _, f := range []string{"--ntasks", "--label", "--cpus-per-task", "--mpi", "--multi-prog", "SLURM_PROCID", "mpiexec.mpich"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("srun --help does not mention %s", f)
		}
	}

	// Outside a job: one line, exit 1.
	cmd := exec.Command(bin("srun"), "-n", "2", "hostname")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LAZARUS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	got, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.Count(string(got), "\n") != 1 ||
		!strings.Contains(string(got), "not inside a Lazarus batch job") {
		t.Errorf("srun outside a job: %v, %q", err, got)
	}
}

// TestBatchSrunMPI: srun -n 4 of an MPI program (testdata/mpi/heat.c)
// in a Slurm job of 2 tasks, for Open MPI and MPICH, writes what mpirun -np 4 does;
// srun -l of a second run (the job's 2 tasks) labels each line with its
// rank; mpirun run directly in the Slurm job works too.
func TestBatchSrunMPI(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, f := range mpiFlavours {
		t.Run(f.name, func(t *testing.T) {
			exe := mpiBuild(t, f)
			mpiCleanShm(t)
			b := newBatch(t, "")
			const steps = 40
			ref := filepath.Join(b.work, "ref.txt")
			want := mpiReference(t, b.work, f.command(exe, ref, steps, 0), ref)
			out := filepath.Join(b.work, "srun.txt")
			script := b.script("mpi.sh", fmt.Sprintf(`#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --output=mpi.out
srun -Q -n 4 --mpi=pmix %s %s %d 0
echo "srun=$?"
srun -l %s %s %d 0
echo "labelled=$?"
%s
echo "mpirun=$?"
`, exe, out, steps, exe, filepath.Join(b.work, "two.txt"), 2,
				strings.Join(f.command(exe, filepath.Join(b.work, "direct.txt"), steps, 0), " ")))
			id := b.qsub(script)
			j := b.waitState(id, "finished", "failed")
			log := b.readFile(filepath.Join(b.work, "mpi.out"))
			// mpirun run directly in a Slurm job finds its slots in the
			// job's SLURM_NODELIST and SLURM_TASKS_PER_NODE (Open MPI
			// refuses a Slurm job without them).
			if j.State != "finished" || !strings.Contains(log, "srun=0\n") || !strings.Contains(log, "labelled=0\n") || !strings.Contains(log, "mpirun=0\n") {
				t.Fatalf("job %s (%s):\n%s", j.State, j.Reason, log)
			}
			if got := b.readFile(out); got != want {
				t.Errorf("srun -n 4 wrote %q, want mpirun's %q", tailOf(got), tailOf(want))
			}
			if got := b.readFile(filepath.Join(b.work, "direct.txt")); got != want {
				t.Errorf("mpirun in the job wrote %q, want %q", tailOf(got), tailOf(want))
			}
			if two := b.readFile(filepath.Join(b.work, "two.txt")); !strings.Contains(two, "done ") {
				t.Errorf("srun -n 2 -l wrote %q", two)
			}
		})
	}
}

// TestBatchSrunCheckpoint: a job whose script waits on srun -n 2 -l (two
// counting tasks, Python processes that fork nothing: a process that ends
// while the tree is frozen fails the checkpoint; srun relaying their
// output) is checkpointed midway as a
// whole and held (qchkpnt -k -h), then released (qrls) and restarted: the
// tasks go on counting where they were and srun ends with their status.
func TestBatchSrunCheckpoint(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, ckptConf)
	script := b.script("count.sh", `#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --output=count.out
srun -l python3 -c 'import os, sys, time
for i in range(40):
    print("n=%d" % i, flush=True)
    time.sleep(0.1)
sys.exit(int(os.environ["SLURM_PROCID"]))'
echo "srun=$?"
`)
	id := b.qsub(script)
	outPath := filepath.Join(b.work, "count.out")
	b.waitFor("both tasks counting", func() bool {
		s := b.readFile(outPath)
		return strings.Contains(s, "0: n=5\n") && strings.Contains(s, "1: n=5\n")
	})
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt -k -h: %v\n%s", r, b.readFile(outPath))
	}
	j := b.waitState(id, "held", "finished", "failed")
	if j.State != "held" || len(j.Checkpoints) == 0 {
		t.Fatalf("after qchkpnt -k -h: %s (%s), %d checkpoints", j.State, j.Reason, len(j.Checkpoints))
	}
	before := b.readFile(outPath)
	if strings.Contains(before, "n=39") {
		t.Fatalf("the tasks were done before the checkpoint:\n%s", before)
	}
	if r := b.run("qrls", jobArg(id)); r.code != 0 {
		t.Fatalf("qrls: %v", r)
	}
	j = b.waitState(id, "finished", "failed")
	out := b.readFile(outPath)
	if j.State != "finished" || len(j.Segments) < 2 || !j.Segments[len(j.Segments)-1].Restart {
		t.Fatalf("job %s (%s), segments %+v:\n%s", j.State, j.Reason, j.Segments, out)
	}
	for rank := 0; rank < 2; rank++ {
		for i := 0; i < 40; i++ {
			if line := fmt.Sprintf("%d: n=%d\n", rank, i); !strings.Contains(out, line) {
				t.Errorf("output lacks %q", line)
			}
		}
	}
	hasAll(t, "output", out, "srun: error: ", ": task 1: Exited with exit code 1\n", "srun=1\n")
}

// TestBatchSrunMPICheckpoint: srun -n 4 of an MPI program, for Open MPI
// and MPICH, checkpointed midway with its launcher and ranks (qchkpnt -k
// -h), released and restarted: the run ends with the bytes of an
// uninterrupted one and srun with status 0. The job runs in a network
// namespace of its own (-l net=private), as TestBatchMPIPowerCut says why.
func TestBatchSrunMPICheckpoint(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, f := range mpiFlavours {
		t.Run(f.name, func(t *testing.T) {
			exe := mpiBuild(t, f)
			mpiCleanShm(t)
			b := newBatch(t, ckptConf)
			const steps = 200
			ref := filepath.Join(b.work, "ref.txt")
			want := mpiReference(t, b.work, f.command(exe, ref, steps, 0), ref)
			out := filepath.Join(b.work, "srun.txt")
			script := b.script("mpi.sh", fmt.Sprintf("#!/bin/bash\n#SBATCH --ntasks=2\n#SBATCH --output=mpi.out\nsrun -Q -n 4 %s %s %d %d\necho \"srun=$?\"\n",
				exe, out, steps, mpiDelay))
			id := b.qsub("-l", "net=private", script)
			b.waitFor("the ranks to be midway", func() bool { return fileLines(out) >= 20 })
			if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 {
				t.Fatalf("qchkpnt -k -h: %v", r)
			}
			if j := b.waitState(id, "held", "finished", "failed"); j.State != "held" {
				t.Fatalf("after qchkpnt -k -h: %s (%s)", j.State, j.Reason)
			}
			if fileLines(out) >= steps {
				t.Fatalf("the run was over before its checkpoint")
			}
			b.mustRun("qrls", jobArg(id))
			j := b.waitState(id, "finished", "failed")
			log := b.readFile(filepath.Join(b.work, "mpi.out"))
			if j.State != "finished" || len(j.Segments) < 2 || !j.Segments[len(j.Segments)-1].Restart || !strings.Contains(log, "srun=0\n") {
				t.Fatalf("job %s (%s), %d segments:\n%s", j.State, j.Reason, len(j.Segments), log)
			}
			mpiWaitOutput(t, out, want)
		})
	}
}

// TestBatchSrunPBSJob: srun in a #PBS job runs as many tasks as its
// PBS_NODEFILE has lines (mpiprocs), with the SLURM_* variables a task
// needs though the job has none of its own; --mpi=pmix of a script starts
// its tasks through Open MPI's launcher (.ci/run installs it), each with
// its rank.
func TestBatchSrunPBSJob(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("pbs.sh", `#!/bin/bash
#PBS -l select=1:ncpus=2:mpiprocs=2
#PBS -j oe
#PBS -o pbs.out
srun sh -c 'echo "P $SLURM_PROCID/$SLURM_NTASKS job=$SLURM_JOB_ID"'
srun -Q -l --mpi=pmix sh -c 'echo "M $SLURM_PROCID/$SLURM_NTASKS"'
echo "mpi=$?"
`)
	id := b.qsub(script)
	j := b.waitState(id, "finished", "failed")
	out := b.readFile(filepath.Join(b.work, "pbs.out"))
	if j.State != "finished" {
		t.Fatalf("job %s (%s):\n%s", j.State, j.Reason, out)
	}
	jid := fmt.Sprint(id)
	hasAll(t, "output", out, "P 0/2 job="+jid+"\n", "P 1/2 job="+jid+"\n", "0: M 0/2\n", "1: M 1/2\n", "mpi=0\n")
}
