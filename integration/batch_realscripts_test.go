package integration

// Job scripts from public repositories (HPC centre examples, course
// material, pipelines), each named by where it comes from, adapted only
// where the original cannot run on one small host (node and CPU counts,
// memory, site paths); their directives are kept as written. Each is
// honoured (names, output paths, join, queues, resources, environment) or
// refused with one line that names the directive: never silently ignored.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// realScript is one published script and what its submission must give.
type realScript struct {
	name, from string
	body       string
	refused    string // a refusal's stderr contains it; "" for a job
	exit       int    // the script's exit status
	// check inspects the ended job (for an array, the array's record and
	// its subjobs').
	check func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo)
}

func TestBatchRealScripts(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	host, _ := os.Hostname()
	server, _, _ := strings.Cut(host, ".")
	if err := os.MkdirAll(filepath.Join(b.work, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	read := func(t *testing.T, path string) string {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("job output: %v", err)
		}
		return string(data)
	}
	in := func(t *testing.T, what, got string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %q lacks %q", what, got, w)
			}
		}
	}
	scripts := []realScript{
		{
			name: "comp5426.pbs", from: "MatthewCheuk221/COMP5426 pbs_script.sh (nodes=4:ppn=2 made 1 node)",
			body: "#!/bin/bash\n#PBS -l walltime=00:04:00,nodes=1:ppn=2,mem=1GB\nmodule load torque\nmodule load mpi/openmpi-x86_64.local\npwd\necho ncpus=$NCPUS\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				in(t, "resources", j.Resources, "ncpus=2", "mem=1gb", "walltime=00:04:00")
				in(t, "output", read(t, j.Stdout), b.work+"\n", "ncpus=2\n")
				// No modules here: the job runs on, and its error file
				// says why each module line did nothing.
				in(t, "error file", read(t, j.Stderr), "module: command not found")
			},
		},
		{
			name: "run01.pbs", from: "Diglet7781/MPI run01.js (ppn=16 made 2; q160p48h@scout made this server's batch)",
			body: "#PBS -N Work01P\n#PBS -l nodes=1:ppn=2\n#PBS -l walltime=0:20:00\n#PBS -q batch@" + server + "\n#PBS -A 193000-990017\n#PBS -o /dev/null\n#PBS -e /dev/null\n#PBS -r n\n#PBS -V\ncd $PBS_O_WORKDIR\n#ulimit -c 0\necho \"np=$NCPUS job=$PBS_JOBNAME\" >& results.01p\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "Work01P" || j.Queue != "batch" || j.Account != "193000-990017" || j.Stdout != "/dev/null" ||
					j.Stderr != "/dev/null" || j.Rerunnable == nil || *j.Rerunnable || !j.ExportEnv {
					t.Errorf("job record %+v", j)
				}
				if got := read(t, filepath.Join(b.work, "results.01p")); got != "np=2 job=Work01P\n" {
					t.Errorf("results.01p = %q", got)
				}
			},
		},
		{
			name: "run01-scout.pbs", from: "Diglet7781/MPI run01.js, its own server",
			body:    "#PBS -N Work01P\n#PBS -q q160p48h@scout\ntrue\n",
			refused: `line 2: #PBS -q q160p48h@scout: -q q160p48h@scout: "scout" is not this server`,
		},
		{
			name: "QCJob_3.sh", from: "biocore/mg-scripts tests/data/qcjob_output/QCJob_3.sh (ppn=16 made 1, paths under the work directory)",
			body: "#!/bin/bash\n#PBS -N qc_Gerwick_6123\n#PBS -q batch\n#PBS -l nodes=1:ppn=1\n#PBS -V\n#PBS -l walltime=24:00:00\n#PBS -l mem=8mb\n" +
				"#PBS -o localhost:" + filepath.Join(b.work, "logs") + "/\n#PBS -e localhost:" + filepath.Join(b.work, "logs") + "/\n#PBS -t 1-3%30\nset -x\ndate\necho ${PBS_JOBID} ${PBS_ARRAYID}\noffset=${PBS_ARRAYID}\nstep=$(( $offset - 0 ))\necho step=$step\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 3 {
					t.Fatalf("-t 1-3: %d subjobs", len(subs))
				}
				for i, s := range subs {
					out := read(t, s.Stdout)
					if filepath.Dir(s.Stdout) != filepath.Join(b.work, "logs") || !strings.Contains(out, fmt.Sprintf("step=%d\n", i+1)) {
						t.Errorf("subjob %d: output %s: %q", i+1, s.Stdout, out)
					}
					in(t, "error file", read(t, s.Stderr), "+ echo")
				}
			},
		},
		{
			name: "client_array.pbs", from: "raghavst/fluid FEMNIST/client_array.pbs (mem=128gb made 128mb)",
			body: "#!/bin/bash\n \n#PBS -l walltime=3:00:00,select=1:ncpus=1:mem=128mb\n#PBS -J 0-3\n#PBS -N femArray0.5\n#PBS -A acct\n#PBS -m abe\n#PBS -M someone@example.com\n" +
				"#PBS -o output_^array_index^.txt\n#PBS -e error_^array_index^.txt\n \n########\n \nmodule load gcc\n\necho I am job index: $PBS_ARRAY_INDEX\ncd $PBS_O_WORKDIR\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Name != "femArray0.5" || j.MailPoints != "abe" || len(subs) != 4 {
					t.Errorf("array %+v, %d subjobs", j, len(subs))
				}
				for i := range 4 {
					out := read(t, filepath.Join(b.work, fmt.Sprintf("output_%d.txt", i)))
					if out != fmt.Sprintf("I am job index: %d\n", i) {
						t.Errorf("output_%d.txt = %q", i, out)
					}
				}
			},
		},
		{
			name: "wrapper.py", from: "a NICS Kraken example (#!/usr/bin/python, os.environ[\"PBS_O_WORKDIR\"])",
			body: "#!/usr/bin/env python3\n\n#PBS -A TG-MCB090174\n#PBS -l walltime=00:30:00\n\nimport os,sys\nos.chdir(os.environ[\"PBS_O_WORKDIR\"])\nprint(\"py\", os.environ[\"PBS_JOBID\"], os.getcwd())\nsys.exit(0)\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if got, want := read(t, j.Stdout), fmt.Sprintf("py %d.%s %s\n", j.ID, server, b.work); got != want {
					t.Errorf("output %q, want %q", got, want)
				}
			},
		},
		{
			name: "mpi_llnl.tcsh", from: "a PBS Pro tutorial (select=40:ncpus=16, place=scatter:excl)",
			body:    "#!/bin/tcsh -f \n#PBS -V\n#PBS -l walltime=2:00:00\n#PBS -l select=1:ncpus=1:mpiprocs=1\n#PBS -l place=scatter:excl\n#PBS -q workq\n\nset echo on\n",
			refused: "line 5: #PBS -l place=scatter:excl",
		},
		{
			name: "array_job.pbs", from: "a uibk.ac.at / hpc.dtu.dk template (no #! line, -t, PBS_ARRAYID)",
			body: "#PBS -l ncpus=1\n#PBS -l mem=64mb\n#PBS -t 1-2\n#PBS -p 5\n\n# Change to current working directory\ncd $PBS_O_WORKDIR\n\nINDEX=$((PBS_ARRAYID-1))\necho index=$INDEX\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Priority != 5 || len(subs) != 2 {
					t.Fatalf("array %+v, %d subjobs", j, len(subs))
				}
				for i, s := range subs {
					if out := read(t, s.Stdout); out != fmt.Sprintf("index=%d\n", i) {
						t.Errorf("subjob %d printed %q", i+1, out)
					}
				}
			},
		},
		{
			name: "multinode.h", from: "jedwards4b/CESM2-Realtime-Forecast ecflow/include/multinode.h (select=9:ncpus=128 made 1:ncpus=2; queue main made batch)",
			body: "#!/bin/bash  \n#PBS -N realtime_task\n#PBS -r n\n#PBS -j oe\n#PBS -o logs/realtime_task.out\n#PBS -S /bin/bash\n" +
				"#PBS -l select=1:ncpus=2:mpiprocs=2:ompthreads=1:mem=230MB\n#PBS -q batch\n#PBS -A P93300606\n#PBS -l walltime=04:00:00\n#PBS -V\n" +
				"echo ncpus=$NCPUS omp=$OMP_NUM_THREADS ranks=$(wc -l < $PBS_NODEFILE) shell=$BASH\necho err >&2\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Stdout != filepath.Join(b.work, "logs", "realtime_task.out") || j.Shell != "/bin/bash" || j.Join != "oe" {
					t.Errorf("job record %+v", j)
				}
				in(t, "output", read(t, j.Stdout), "ncpus=2 omp=1 ranks=2 shell=/bin/bash\n", "err\n")
			},
		},
		{
			name: "submit.sh", from: "leschultz/materials_application_domain_machine_learning examples/template/submit.sh",
			body:    "#PBS -S /bin/bash\n#PBS -m be\n#PBS -q bardeen\n#PBS -l select=1:ncpus=16:mpiprocs=16\n#PBS -l walltime=72:00:00\n#PBS -N job\n\ncd $PBS_O_WORKDIR \n\n./run.sh\n",
			refused: "line 4: #PBS -l select=1:ncpus=16:mpiprocs=16: ncpus=16 is more than",
		},
		{
			name: "submit-small.sh", from: "the same script asking for 2 CPUs: its queue",
			body:    "#PBS -S /bin/bash\n#PBS -m be\n#PBS -q bardeen\n#PBS -l select=1:ncpus=2:mpiprocs=2\n#PBS -l walltime=72:00:00\n#PBS -N job\n\ncd $PBS_O_WORKDIR \n\n./run.sh\n",
			refused: `line 3: #PBS -q bardeen: unknown queue "bardeen"`,
		},
		{
			name: "flux.pbs", from: "a University of Michigan Flux preamble (-l qos=flux)",
			body:    "### PBS preamble\n\n#PBS -N amber\n#PBS -M someone@umich.edu\n#PBS -m ae\n\n#PBS -A someone_flux\n#PBS -l qos=flux\n#PBS -q flux\n",
			refused: `line 8: #PBS -l qos=flux: unknown resource "qos"`,
		},
		{
			name: "gdal.pbs", from: "a GDAL processing script (-k oe with -j oe)",
			exit: 127, // its last line: no module command here
			body: "#!/bin/bash\n\n#PBS -l walltime=40:00:00,nodes=1:ppn=2\n#PBS -m n\n#PBS -k oe\n#PBS -j oe\n\ncd $PBS_O_WORKDIR\n\necho $PBS_JOBID\necho $PBS_O_HOST\necho $PBS_NODEFILE\nmodule load gdal/2.1.3\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				kept := filepath.Join(home, fmt.Sprintf("gdal.pbs.o%d", j.ID))
				t.Cleanup(func() { os.Remove(kept) })
				if j.Stdout != kept || j.KeepFiles != "oe" || j.MailPoints != "n" {
					t.Errorf("job record %+v, want its output kept in %s", j, kept)
				}
				in(t, "kept output", read(t, kept), fmt.Sprintf("%d.%s\n%s\n", j.ID, server, host), "module: command not found")
			},
		},
		{
			name: "job.sh", from: "wzbillings/mlm-cluster-test job.sh (mem=10G made 100M)",
			body: "#!/bin/bash\n#SBATCH --partition=batch\n#SBATCH --job-name=test\n#SBATCH --ntasks=1\n#SBATCH --time=4:00:00\n#SBATCH --mem=100M\n#SBATCH --cpus-per-task=2\n\necho cpus=$SLURM_CPUS_PER_TASK dir=$SLURM_SUBMIT_DIR\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "test" || j.Stdout != filepath.Join(b.work, fmt.Sprintf("slurm-%d.out", j.ID)) {
					t.Errorf("job record %+v", j)
				}
				in(t, "resources", j.Resources, "ncpus=2", "mem=100mb", "walltime=04:00:00")
				in(t, "output", read(t, j.Stdout), "cpus=2 dir="+b.work+"\n")
			},
		},
		{
			name: "template_job.sh", from: "a Slurm template with --constraint",
			body:    "#!/usr/bin/env bash\n#SBATCH -J template_job\n#SBATCH --cpus-per-task=8\n#SBATCH --mem=32gb\n#SBATCH --time=48:00:00\n##SBATCH --gres=gpu:1\n#SBATCH --constraint=cal\nhostname\n",
			refused: "line 7: #SBATCH --constraint",
		},
		{
			name: "template_job2.sh", from: "the same template without --constraint (cpus 8 made 2, mem 32gb made 32mb): %J",
			body: "#!/usr/bin/env bash\n# The name to show in queue lists for this job:\n#SBATCH -J template_job\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=32mb\n#SBATCH --time=48:00:00\n" +
				"# To use GPUs you have to request them:\n##SBATCH --gres=gpu:1\n#SBATCH --error=template_job.%J.err\n#SBATCH --output=template_job.%J.out\nhostname\necho oops >&2\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Stdout != filepath.Join(b.work, fmt.Sprintf("template_job.%d.out", j.ID)) ||
					j.Stderr != filepath.Join(b.work, fmt.Sprintf("template_job.%d.err", j.ID)) {
					t.Errorf("output %s, error %s: %%J is the job id", j.Stdout, j.Stderr)
				}
				in(t, "resources", j.Resources, "walltime=48:00:00")
				in(t, "output", read(t, j.Stdout), host)
				in(t, "error file", read(t, j.Stderr), "oops")
			},
		},
		{
			name: "header_SLURM.sh", from: "boneta/jacques queues/templates/header_SLURM.sh (one file for -o and -e)",
			body: "#!/bin/bash\n#SBATCH -J jacques\n#SBATCH -e logs/jacques.msg\n#SBATCH -o logs/jacques.msg\n#SBATCH -p batch\n#SBATCH -N 1\n#SBATCH --ntasks-per-node=2\n#SBATCH --mem=100M\necho ranks=$SLURM_NTASKS lines=$(wc -l < $PBS_NODEFILE)\necho to-err >&2\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				in(t, "output", read(t, filepath.Join(b.work, "logs", "jacques.msg")), "ranks=2 lines=2\n", "to-err\n")
			},
		},
		{
			name: "SLURM_Header.sh", from: "tudasc/MPI-precompute scripts/SLURM_Header.sh (--cpus-per-task 96 kept: refused)",
			body:    "#!/bin/bash\n\n# same as -n\n#SBATCH --ntasks 2\n\n#SBATCH --mem-per-cpu=3800\n#same as -t\n#SBATCH --time 00:30:00\n\n\n#same as -c\n#SBATCH --cpus-per-task 96\n",
			refused: "line 12: #SBATCH --cpus-per-task=96: ncpus=192 is more than",
		},
		{
			name: "multiple.sh", from: "a Duke example (--ntasks=4 --cpus-per-task=2 made 2 and 1; srun lines made mpirun-free)",
			body: "#!/bin/bash\n#SBATCH --job-name=mulitple\n#SBATCH --mail-type=END,FAIL    \n#SBATCH --mail-user=netid@duke.edu\n#SBATCH --nodes=1\n#SBATCH --ntasks=2  # \n#SBATCH --cpus-per-task=1\n#SBATCH --mem-per-cpu=40M\n" +
				"echo \"CPUS Per task $SLURM_CPUS_PER_TASK tasks $SLURM_NTASKS\"\nbash -c \"echo 'hello 1'\"&\nbash -c \"echo 'hello 2'\"&\nwait\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.MailPoints != "ae" || j.MailUsers != "netid@duke.edu" {
					t.Errorf("mail %q to %q", j.MailPoints, j.MailUsers)
				}
				in(t, "resources", j.Resources, "ncpus=2", "mem=80mb", "mpiprocs=2")
				in(t, "output", read(t, j.Stdout), "CPUS Per task 1 tasks 2\n", "hello 1\n", "hello 2\n")
			},
		},
		{
			name: "partition.sh", from: "a Slurm array example (--job-name with %j, --output=test_slurm.%J)",
			body: "#!/usr/bin/bash\n# Name the job\n#SBATCH --job-name=yourPartition.%j\n\n### Start of Slurm SBATCH definitions\n#SBATCH -a 1-3\n#SBATCH --ntasks=1\n#SBATCH --tasks-per-node=1\n" +
				"#SBATCH --cpus-per-task=1\n#SBATCH --partition=batch\n##SBATCH --gres=gpu:1\n#SBATCH --mem=180M\n##SBATCH --exclusive\n#SBATCH --time=00:20:00\n#SBATCH --output=test_slurm.%J\n\nhostname\necho task=$SLURM_ARRAY_TASK_ID\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 3 {
					t.Fatalf("%d subjobs", len(subs))
				}
				for i, s := range subs {
					if s.Stdout != filepath.Join(b.work, "test_slurm."+jobs.ID(s.ID).String()) {
						t.Errorf("subjob %d writes %s", i+1, s.Stdout)
					}
					in(t, "output", read(t, s.Stdout), fmt.Sprintf("task=%d\n", i+1))
				}
			},
		},
		{
			name: "ecflow.sh", from: "an ecFlow Slurm header (--export=STHOST=..., --qos, accepted with no effect)",
			body: "#!/bin/bash\n#SBATCH --job-name=fc\n#SBATCH --qos=nf\n#SBATCH --export=STHOST=sc1\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "fc" || j.ExportEnv {
					t.Errorf("ecflow.sh: %+v", j)
				}
			},
		},
		{
			name: "ecflow2.sh", from: "the same header without --qos: --export of a variable only",
			body: "#!/bin/bash\n#SBATCH --job-name=fc2\n#SBATCH --export=STHOST=sc1\n#SBATCH --cpus-per-task=1\necho sthost=$STHOST submitter=${FROM_SUBMITTER:-unset}\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.ExportEnv {
					t.Errorf("--export=STHOST=sc1 exports the whole environment: %+v", j)
				}
				in(t, "output", read(t, j.Stdout), "sthost=sc1 submitter=unset\n")
			},
		},
		{
			name: "ppn16.pbs", from: "a Torque example asking for more CPUs than this host has",
			body:    "#!/bin/bash\n#PBS -N big\n#PBS -l nodes=1:ppn=16\n#PBS -l walltime=01:00:00\nmpirun ./a.out\n",
			refused: "line 3: #PBS -l nodes=1:ppn=16: ncpus=16 is more than",
		},
	}
	runRealScripts(t, b, scripts)
}

// runRealScripts submits each script (qsub SCRIPT, with FROM_SUBMITTER=yes
// in qsub's environment), checks each refusal, then waits for each job and
// runs its check.
func runRealScripts(t *testing.T, b *batch, scripts []realScript) {
	type submitted struct {
		s  realScript
		id jobs.ID
	}
	var subs []submitted
	for _, s := range scripts {
		path := b.script(s.name, s.body)
		r := b.runWith(cmdOpts{env: []string{"FROM_SUBMITTER=yes"}}, "qsub", path)
		if s.refused != "" {
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, s.refused) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("%s (%s): %v, want one line of refusal with %q", s.name, s.from, r, s.refused)
			}
			continue
		}
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s (%s): %v", s.name, s.from, r)
			continue
		}
		id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
		if err != nil {
			t.Errorf("%s: qsub printed %q", s.name, r.stdout)
			continue
		}
		subs = append(subs, submitted{s, id})
	}
	for _, sub := range subs {
		t.Run(sub.s.name, func(t *testing.T) {
			j := b.waitEnded(sub.id)
			var subjobs []proto.JobInfo
			if sub.id.IsArrayForm() {
				for _, s := range b.status(true, sub.id) {
					if jobs.ID(s.ID).IsSubjob() {
						subjobs = append(subjobs, s)
					}
				}
				for _, s := range subjobs {
					if s.State != "finished" {
						t.Errorf("subjob %s: %s (%s)", jobs.ID(s.ID), s.State, s.Reason)
					}
				}
			} else if sub.s.exit != 0 {
				if j.State != "failed" || !strings.Contains(j.Reason, fmt.Sprintf("exit status %d", sub.s.exit)) {
					t.Fatalf("%s: %s (%s), want exit status %d", sub.s.name, j.State, j.Reason, sub.s.exit)
				}
			} else if j.State != "finished" {
				t.Fatalf("%s (%s): %s (%s)", sub.s.name, sub.s.from, j.State, j.Reason)
			}
			sub.s.check(t, b, j, subjobs)
		})
	}
}
