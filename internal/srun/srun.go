// Package srun is Slurm's srun inside a Lazarus batch job: it runs N
// tasks of a program (a job step) as its own children, so that they stay
// in the job's process tree, which checkpoints capture whole; each task
// gets the SLURM_* variables of its rank; their output is srun's (with
// --label, each line after its rank); srun passes its signals on and ends
// with the worst status of its tasks. An MPI program is started by its
// own MPI's launcher instead (mpi.go). Outside a job srun refuses to run.
//
// Its command line is Slurm's, parsed as getopt_long does (-n4, -n 4,
// --ntasks=4, the program ends the options); NewApp wraps it in the
// cli.App every command has, with no flags of urfave/cli's own.
package srun

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// NewApp builds srun.
func NewApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	r := &runner{stdin: stdin, stdout: stdout, stderr: stderr}
	return &cli.App{
		Name:            "srun",
		Usage:           "run the tasks of a job step inside a Lazarus batch job",
		UsageText:       "srun [options] program [args...]",
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelp:        true,
		HideVersion:     true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			return r.run(c.Args().Slice())
		},
	}
}

// Main runs srun with args (os.Args) and returns its exit status: the
// worst of its tasks', or 1 (2 when the program could not be started)
// with a one-line message. Started by an MPI launcher as a rank's shim,
// it execs the rank's program instead.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if spec, ok := os.LookupEnv(shimEnv); ok {
		if rankOf() >= 0 {
			return shim(spec, stderr)
		}
		// Not a rank (a launcher's helper that runs srun): an srun of
		// its own.
		os.Unsetenv(shimEnv)
	}
	app := NewApp(stdin, stdout, stderr)
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "srun: error: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "srun: error: %v\n", err)
	return 1
}

const helpText = `Usage: srun [options] program [args...]

srun runs a job step inside a Lazarus batch job (a script submitted with
qsub, with #SBATCH or #PBS lines): N tasks of the program, as children of
srun, in the job's process tree, so that checkpoints (qsub -c, qchkpnt) and
restarts capture them with the rest of the job. Each task gets
SLURM_PROCID (its rank, 0 to N-1), SLURM_LOCALID, SLURM_NODEID (0),
SLURM_NTASKS, SLURM_STEP_ID (0, 1, ... for the job's successive sruns),
SLURM_JOB_ID and the job's other variables. Their standard output and
error are srun's. srun passes SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1,
SIGUSR2, SIGALRM and SIGCONT on to its tasks, waits for all of them and
exits with the highest of their exit codes (128 + the signal for a task a
signal killed), printing "srun: error: HOST: task N: ..." for each that
failed. Outside a batch job srun refuses to run.

A program linked with Open MPI or MPICH (read from its ELF file and its
libraries) is started by that MPI's launcher, mpirun.openmpi or
mpiexec.mpich, with -n N: its ranks are MPI processes of one world. For a
program whose MPI srun cannot see (a script, python3 with mpi4py),
--mpi=pmix (or openmpi) or --mpi=pmi2 (or mpich) has its tasks started by
that MPI's launcher; --mpi=none runs plain processes.

Options:
  -n, --ntasks=N            number of tasks (default: $SLURM_NTASKS, the
                            job's --ntasks, else the lines of
                            $PBS_NODEFILE, else 1)
      --ntasks-per-node=N   the same, on this job's one node
  -c, --cpus-per-task=N     CPUs per task (SLURM_CPUS_PER_TASK of the tasks)
  -N, --nodes=N[-M]         1 (a Lazarus job runs on one host)
  -w, --nodelist=HOST       this host only
  -l, --label               start each line of output with its task's rank
  -o, --output=PATTERN      standard output to a file (%t task, %j job, %s
                            step, %J job.step, %N host, %n node, %u user,
                            %x job name, %%); "none": discarded; with %t
                            one file per task; standard error too, unless -e
  -e, --error=PATTERN       standard error to a file
  -i, --input=MODE          all (default: srun's standard input), none, a
                            task number (only that task reads it), or a file
      --open-mode=append|truncate   for -o and -e (default truncate)
  -D, --chdir=DIR           where the tasks run
      --export=ALL|NONE|[ALL,]NAME[=value],...   the tasks' environment
  -K, --kill-on-bad-exit[=0|1]  end the step when a task fails
  -W, --wait=SECONDS        end the step that long after the first task ended
  -t, --time=TIME           the step's time limit (Slurm's forms)
      --mpi=TYPE            none, pmix, pmi2, openmpi, mpich; list
  -Q, --quiet               no warnings
  -h, --help                this help
  -V, --version             srun's version

Accepted as they are (every step gets what they ask here): --exclusive,
--exact, --overlap, -s, -O, -u, -v, -J, -A, -p, -q, -m, --propagate.
Accepted with a warning (not applied: tasks are not bound, the job's
memory limit is the only one): --cpu-bind, --mem-bind, --hint, --mem,
--mem-per-cpu, --threads-per-core, --ntasks-per-core, --cpu-freq...
--multi-prog: the program is a file of lines "RANKS PROGRAM [ARGS...]"
(RANKS 0,2-3 or *; %t the task, %o its offset in the range), plain
programs only.
Refused: --pty, --gres and --gpus*, --het-group, --x11,
-C, -x, -r, --nodes above 1, and any option not listed.
`
