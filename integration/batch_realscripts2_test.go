package integration

// More job scripts from public repositories (found by code search: each
// names its repository and path, or says it is an unnamed excerpt), run
// as TestBatchRealScripts runs its own: honoured, or refused in one line
// that names the directive. Adapted only where the original cannot run on
// one small host (CPU counts, memory, site paths); site queues are made.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

func jobFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("job output: %v", err)
	}
	return string(data)
}

func hasAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q lacks %q", what, got, w)
		}
	}
}

func TestBatchRealScriptsMore(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, q := range []string{"workq", "savio3_htc", "lcilab", "short", "short_cpuQ"} {
		b.mustRun("qmgr", "-c", "create queue "+q)
		b.mustRun("qmgr", "-c", "set queue "+q+" enabled = true")
		b.mustRun("qmgr", "-c", "set queue "+q+" started = true")
	}
	for _, d := range []string{"log", "output", "sub"} {
		os.MkdirAll(filepath.Join(b.work, d), 0o755)
	}
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	scripts := []realScript{
		{
			name: "0job_kit_h12.sh", from: "cyber-hydrology/h12 0job_kit_h12.sh (select=4:ncpus=6:ompthreads=6 made 1:ncpus=2:ompthreads=2; ./run made an echo)",
			body: "#PBS -q workq\n#PBS -S /bin/bash \n#PBS -l select=1:ncpus=2:mpiprocs=1:ompthreads=2\n#PBS -l walltime=24:00:00 \n#PBS -V\n\nNCORE=`cat $PBS_NODEFILE | wc -l`\n\ncd $PBS_O_WORKDIR\n\necho NCORE=$NCORE omp=$OMP_NUM_THREADS\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "workq" || j.Shell != "/bin/bash" || !j.ExportEnv {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, j.Stdout), "NCORE=1 omp=2\n")
			},
		},
		{
			name: "tf_binding.sh", from: "icesw/biom262-hw1 tf_binding.sh (a template: -q <queue name>)",
			body:    "#!/bin/csh\n#PBS -q <queue name>\n#PBS -N <job name>\n#PBS -l nodes=10:ppn=2\n#PBS -l walltime=0:50:00\n",
			refused: "line 2: #PBS name>: not an option",
		},
		{
			name: "qsub_torque_cpu.bash", from: "easybuilders/easybuild-easyconfigs easybuild/easyconfigs/r/RELION/qsub_torque_cpu.bash (a template)",
			body:    "#!/bin/bash\n#PBS -V\n#PBS -N XXXnameXXX\n#PBS -l nodes=XXXmpinodesXXX:ppn=XXXthreadsXXX\n#PBS -l walltime=XXXextra1XXX:00:00\n#PBS -q XXXqueueXXX\n\ncd $PBS_O_WORKDIR\n\nmpirun -n XXXmpinodesXXX XXXcommandXXX\n",
			refused: "line 4: #PBS -l nodes=XXXmpinodesXXX:ppn=XXXthreadsXXX",
		},
		{
			name: "mpich2.pbs", from: "an unnamed 'simple mpich2 job' example (nodes=4:ppn=32 made 1:ppn=2, verylong made batch, mpiexec line dropped): -e twice, $PBS_JOBID in a directive",
			body: "#!/bin/bash\n# Example PBS job script for simple mpich2 job\n\n#PBS -l nodes=1:ppn=2\n#PBS -q batch\n#PBS -N my_job\n#PBS -e my_job.$PBS_JOBID.err\n#PBS -e my_job.$PBS_JOBID.out\n#PBS -V\n\ncd $PBS_O_WORKDIR\nNP=`cat $PBS_NODEFILE|wc -l`\necho \"NP=$NP\"\necho err >&2\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				// PBS expands no variable in a directive: the later -e wins,
				// literally.
				if j.Stderr != filepath.Join(b.work, "my_job.$PBS_JOBID.out") {
					t.Errorf("error file %s", j.Stderr)
				}
				hasAll(t, "output", jobFile(t, j.Stdout), "NP=2\n")
				hasAll(t, "error file", jobFile(t, j.Stderr), "err\n")
			},
		},
		{
			name: "mpiscript", from: "an unnamed ML (Trilinos) mpiscript: nodes=4 is four hosts",
			body:    "#!/bin/sh\n#\n#PBS -N poisson\n#PBS -l walltime=1:00,mem=320kb,cput=1:00,nodes=4\n#PBS -m be\n#\nPROCS=$1\n",
			refused: "line 4: #PBS -l walltime=1:00,mem=320kb,cput=1:00,nodes=4",
		},
		{
			name: "r_wopwop.sh", from: "an unnamed PSU WOPWOP script (nodes=15:ppn=2 made 1:ppn=2): #PBS -q after the commands",
			body:    "#!/bin/sh\n\n#PBS -N WOPWOP3.1\n#PBS -e r_wopwop.err\n#PBS -o r_wopwop.out\n#PBS -l nodes=1:ppn=2\n\n# This job's working directory\necho Working directory is $PBS_O_WORKDIR\ncd $PBS_O_WORKDIR\necho Job Complete\n#PBS -q debug\n",
			refused: "line 12: #PBS: directive after the first command (line 9)",
		},
		{
			name: "wopwop-lionxm.sh", from: "an unnamed PSU WOPWOP script: nodes=1:myrinet:ppn=2, a node property",
			body:    "#!/bin/sh\n\n#PBS -N PSU_WOPWOP\n#PBS -e wopwop.err\n#PBS -o wopwop.out\n#PBS -l nodes=1:myrinet:ppn=2\n#PBS -q lionxm-aero\n#PBS -l walltime=3:00:00\necho hi\n",
			refused: "line 6: #PBS -l nodes=1:myrinet:ppn=2",
		},
		{
			name: "blank_submission.sh", from: "ACharbonneau/RadishScripts blank_submission.sh (a blank template: #PBS -o with no path)",
			body:    "#!/bin/sh -login\n#PBS -o\n#PBS -j oe\n#PBS -l nodes=1:ppn=1,walltime=4:00:00,mem=10gb\n#PBS -M\n#PBS -m abe\n#PBS -r n\n#PBS -N\n\nmodule load YourProgram\n\nbash yourscript.sh\n",
			refused: "line 2: #PBS -o: missing argument",
		},
		{
			name: "blank_submission-filled.sh", from: "ACharbonneau/RadishScripts blank_submission.sh filled in (mem=10gb made 10mb): #!/bin/sh -login",
			// Its #! line: /bin/sh is dash here, which takes no -login (a
			// login bash would): the script's own error on this machine.
			exit: 2,
			body: "#!/bin/sh -login\n#PBS -o radish.out\n#PBS -j oe\n#PBS -l nodes=1:ppn=1,walltime=4:00:00,mem=10mb\n#PBS -M someone@example.com\n#PBS -m abe\n#PBS -r n\n#PBS -N radish\n\n# -o : tells it where to put output from your job\n\nmodule load YourProgram\n\nbash yourscript.sh\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "radish" || j.MailPoints != "abe" || j.Rerunnable == nil || *j.Rerunnable {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, filepath.Join(b.work, "radish.out")), "Illegal option -o")
			},
		},
		{
			name: "openmpiCenQueABC.pbs", from: "an unnamed NYU script (ppn=20,mem=200GB made ppn=2,mem=200mb; mpiexec python made an echo): module purge/load",
			body: "#!/bin/bash\n\n#PBS -l nodes=1:ppn=2,mem=200mb\n#PBS -l walltime=48:00:00\n#PBS -N openmpiCenQueABC\n#PBS -M chh327@example.edu\n#PBS -m abe\n#PBS -j oe\n\nmodule purge\nmodule load mpi4py/openmpi/intel/1.3.1\nmodule load ipython/4.0.0 numpy/intel/1.10.1\n\necho ran\n\n# leave a blank line at the end\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				hasAll(t, "output", jobFile(t, j.Stdout), "module: command not found", "ran\n")
			},
		},
		{
			name: "debug_sho_fit.pbs", from: "an unnamed ORNL CADES script: #PBS -I, walltime=0:00:30:0, group_list, qos",
			body:    "#!/bin/bash\n\n### Start in interactive mode\n#PBS -I\n### Set the job name.\n#PBS -N debug_sho_fit\n#PBS -M someone@ornl.gov\n#PBS -l nodes=1:ppn=36\n#PBS -l walltime=0:00:30:0\n#PBS -W group_list=cades-ccsd\n#PBS -A ccsd\n#PBS -l qos=std\n",
			refused: "line 9: #PBS -l walltime=0:00:30:0",
		},
		{
			name: "get_modules_.pbs", from: "an unnamed Blue Waters script: nodes=1:ppn=1:xe, -e/-o with $PBS_JOBID",
			body:    "#!/bin/bash\n### set the number of nodes\n#PBS -l nodes=1:ppn=1:xe\n#PBS -l walltime=01:00:00\n#PBS -N get_modules_\n#PBS -e ./qsub_output/$PBS_JOBID.err\n#PBS -o ./qsub_output/$PBS_JOBID.out\n##PBS -m bea\n#PBS -W umask=0027\nmodule list\n",
			refused: "line 3: #PBS -l nodes=1:ppn=1:xe",
		},
		{
			name: "modelabc.pbs", from: "an unnamed LBL script ('# !/bin/bash' first line; ppn=24 made 2; paths made the work directory)",
			body: "# !/bin/bash\n#PBS -l nodes=1:ppn=2\n#PBS -N modelabc \n#PBS -m bea\n#PBS -M someone@lbl.gov\n#PBS -e " + filepath.Join(b.work, "modelabc.e") + "\n#PBS -o " + filepath.Join(b.work, "modelabc.o") + "\n\ncd $PBS_O_WORKDIR\nexport NPROCS=`wc -l $PBS_NODEFILE |awk '//{print $1}'`\necho NPROCS=$NPROCS\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "modelabc" || j.MailPoints != "abe" {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, filepath.Join(b.work, "modelabc.o")), "NPROCS=2\n")
			},
		},
		{
			name: "miyabi_job.sh", from: "an unnamed Miyabi (U. Tokyo) script: group_list=${GROUP} is not expanded",
			body:    "#!/bin/bash\n\n#PBS -q batch\n#PBS -l select=1:mpiprocs=1\n#PBS -l walltime=01:00:00\n#PBS -W group_list=${GROUP}  #<-- change to your group\n#PBS -j oe\n#PBJ -N miyabi_job\n#PBS -o miyabi_job.out\n\ncd ${PBS_O_WORKDIR}\nmodule load nvidia\n",
			refused: "line 6: #PBS -W group_list=${GROUP}",
		},
		{
			name: "test_array_job.sh", from: "HarborneD/ARCCA_Python_Tool test_arcca_scripts/test_array_job.sh: --ntasks=80",
			body:    "#!/bin/bash\n\n#SBATCH -J arraytest\n#SBATCH --array=0-4\n#SBATCH -o output-%A_%a-%J.o\n#SBATCH -n 1\n#SBATCH --ntasks=80\n#SBATCH --ntasks-per-node=40\n\necho SLURM_JOB_ID $SLURM_JOB_ID\n",
			refused: "line 8: #SBATCH --ntasks-per-node=40: ncpus=40 is more than",
		},
		{
			name: "job_array.sh", from: "erangvee/jobs-and-slurm-scripts job_array.sh: --qos (accepted, no effect here)",
			body: "#!/bin/bash\n\n#SBATCH --job-name=task_array\n#SBATCH --account=your_account_here\n#SBATCH --qos=your_qos_here\n#SBATCH --ntasks=1\n#SBATCH --mem=512M\n#SBATCH --array=0-4\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 5 || j.Name != "task_array" || j.Account != "your_account_here" || j.MemBytes != 512<<20 {
					t.Errorf("array %+v, %d subjobs", j, len(subs))
				}
			},
		},
		{
			name: "job-array.sh", from: "brown-ccv/slurm job_arrays/job-array.sh",
			body: "#!/bin/bash\n\n# Job Name\n#SBATCH -J arrayjob \n\n# Walltime requested\n#SBATCH -t 0:10:00\n\n# Provide index values (TASK IDs)\n#SBATCH --array=1-2\n\n# Use '%A' for array-job ID, '%J' for job ID and '%a' for task ID\n#SBATCH -e arrayjob-%a.err\n#SBATCH -o arrayjob-%a.out\n\n# single core\n#SBATCH -c 1\n\necho \"Running job array number: \"$SLURM_ARRAY_TASK_ID\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 2 || j.WalltimeSec != 600 {
					t.Fatalf("array %+v, %d subjobs", j, len(subs))
				}
				for i := 1; i <= 2; i++ {
					hasAll(t, "output", jobFile(t, filepath.Join(b.work, fmt.Sprintf("arrayjob-%d.out", i))), fmt.Sprintf("Running job array number: %d\n", i))
				}
			},
		},
		{
			name: "job_submission.sh", from: "KurtSoncco/seiskit comparison/Spatial_width/job_submission.sh (--cpus-per-task=4 made 2, --array=0-31 made 0-3)",
			body: "#!/bin/bash\n#SBATCH --job-name=test\n#SBATCH --account=fc_tfsurrogate\n#SBATCH --partition=savio3_htc\n#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=1\n#SBATCH --cpus-per-task=2\n#SBATCH --time=00:00:30\n#SBATCH --array=0-3\n#SBATCH --output=array_job_%A_task_%a.out\n#SBATCH --error=array_job_%A_task_%a.err\n## Command(s) to run:\necho \"I am task $SLURM_ARRAY_TASK_ID\"\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 4 || j.Queue != "savio3_htc" || j.Account != "fc_tfsurrogate" {
					t.Fatalf("array %+v, %d subjobs", j, len(subs))
				}
				for i, s := range subs {
					want := filepath.Join(b.work, fmt.Sprintf("array_job_%d_task_%d.out", jobs.ID(j.ID).Base(), i))
					if s.Stdout != want {
						t.Errorf("subjob %d writes %s, want %s", i, s.Stdout, want)
					}
					hasAll(t, "output", jobFile(t, want), fmt.Sprintf("I am task %d\n", i))
				}
			},
		},
		{
			name: "env_omp_batch.sh", from: "ncsa/lci-scripts introductory/2026/run_apps_scheduler/Run_apps_scheduler/OpenMP/env_omp_batch.sh (--cpus-per-task=4 made 2; ./env_omp.x made an echo)",
			body: "#!/bin/bash\n\n#SBATCH --job-name=env_omp\n#SBATCH --output=a.out\n#SBATCH --partition=lcilab\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=2\n#SBATCH --time=00:01:00\n\nexport OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK\necho omp=$OMP_NUM_THREADS\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Stdout != filepath.Join(b.work, "a.out") || j.WalltimeSec != 60 {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, j.Stdout), "omp=2\n")
			},
		},
		{
			name: "Optim_Param.sh", from: "SanderStammbach/Cluster Optim_Param.sh: --cpus-per-task=36 with a comment after it",
			body:    "#!/bin/bash\n#SBATCH --job-name=ergotropy\n#SBATCH --time=5:30:00\n#SBATCH --partition=short\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=36         # statt 12x3 externe Tasks\n#SBATCH --mem=468M\n#SBATCH --output=optimale-param%j.out\n",
			refused: "line 7: #SBATCH --cpus-per-task=36: ncpus=36 is more than",
		},
		{
			name: "skeleton.sh", from: "an unnamed LUMI summer-school script: commented-out #SBATCH lines, --reservation",
			body:    "#!/bin/bash\n# #SBATCH --ntasks=4 # For proesses MPI\n# \n\n#SBATCH --job-name=example\n#SBATCH --account=project_462000956\n#SBATCH --partition=small\n#SBATCH --reservation=SummerSchoolCPU\n#SBATCH --time=00:05:00\n",
			refused: "line 8: #SBATCH --reservation",
		},
		{
			name: "ex1.sh", from: "an unnamed LRZ script (--clusters and module lines dropped; ntasks=32, cpus-per-task=4 made 1 and 2): -D ., %N, --export=NONE",
			body: "#!/bin/bash\n#SBATCH -o myjob.%j.%N.out\n#SBATCH -D .\n#SBATCH -J ex1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=2\n#SBATCH --export=NONE\n#SBATCH --time=00:02:00\n\nexport LANG=C\nexport OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK\necho \"In the directory: $PWD tasks $SLURM_NTASKS threads $SLURM_CPUS_PER_TASK from=${FROM_SUBMITTER:-unset}\"\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				want := filepath.Join(b.work, fmt.Sprintf("myjob.%d.%s.out", j.ID, short))
				if j.Stdout != want {
					t.Errorf("output %s, want %s", j.Stdout, want)
				}
				hasAll(t, "output", jobFile(t, want), "In the directory: "+b.work+" tasks 1 threads 2 from=unset\n")
			},
		},
		{
			name: "ex1-chdir.sh", from: "the LRZ script with -D sub: the job runs there, its output too",
			body: "#!/bin/bash\n#SBATCH -o myjob.%4j.out\n#SBATCH -D sub\n#SBATCH -J ex1\necho \"pwd=$PWD\"\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				want := filepath.Join(b.work, "sub", fmt.Sprintf("myjob.%04d.out", j.ID))
				if j.Stdout != want {
					t.Errorf("output %s, want %s", j.Stdout, want)
				}
				hasAll(t, "output", jobFile(t, want), "pwd="+filepath.Join(b.work, "sub")+"\n")
			},
		},
		{
			name: "ex1-badpattern.sh", from: "the LRZ script with a pattern Slurm does not have",
			body:    "#!/bin/bash\n#SBATCH -o myjob.%q.out\necho hi\n",
			refused: "line 2: #SBATCH --output=myjob.%q.out: myjob.%q.out: %q is not a filename pattern",
		},
		{
			name: "hello_omp.sh", from: "an unnamed ETH Euler script: --constraint=EPYC_7763",
			body:    "#!/bin/bash\n#SBATCH --job-name=hello_omp      # Job name    (default: sbatch)\n#SBATCH --output=hello_omp-%j.out # Output file (default: slurm-%j.out)\n#SBATCH --ntasks=1                # Number of tasks\n#SBATCH --constraint=EPYC_7763    # Select node with CPU\n",
			refused: "line 5: #SBATCH --constraint",
		},
		{
			name: "cedar_gpu_node_job.sh", from: "AbtinDjavadifar/ComputeCanada cedar_gpu_node_job.sh: --gres=gpu:4",
			body:    "#!/bin/bash\n#SBATCH --nodes=1\n#SBATCH --gres=gpu:4\n#SBATCH --ntasks-per-node=24\n#SBATCH --exclusive\n#SBATCH --mem=125G\n#SBATCH --time=3:00\nnvidia-smi\n",
			refused: "line 3: #SBATCH --gres",
		},
		{
			name: "slurm.sh", from: "gaurikadiwan/pytorch slurm.sh: a bare #SBATCH line, then --mem=32G on a line of its own (a command), then #SBATCH",
			body:    "#!/bin/bash\n#SBATCH --job-name=test\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=16\n#SBATCH\n--mem=32G\n#SBATCH --partition=gpu\n#SBATCH --gres=gpu:1\n",
			refused: "line 8: #SBATCH: directive after the first command (line 7)",
		},
		{
			name: "sbatch-iastate.sh", from: "an unnamed Iowa State script: --time=2-00:00:00, --exclude",
			body:    "#!/bin/bash\n\n#SBATCH --time=2-00:00:00   # walltime limit (HH:MM:SS)\n#SBATCH --nodes=1   # number of nodes\n#SBATCH --tasks-per-node=1\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=16MB\n#SBATCH --exclude=amp-1,amp-2,amp-3\n",
			refused: "line 8: #SBATCH --exclude",
		},
		{
			name: "sbatch-iastate-2.sh", from: "the Iowa State script without --exclude and --gres: quoted --output, --mail-type=FAIL,END",
			body: "#!/bin/bash\n\n#SBATCH --time=2-00:00:00   # walltime limit (HH:MM:SS)\n#SBATCH --nodes=1   # number of nodes\n#SBATCH --tasks-per-node=1\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=16MB\n#SBATCH --mail-user=someone@iastate.edu   # email address\n#SBATCH --mail-type=FAIL,END\n#SBATCH --output=\"sbatch-%j.out\" # job standard output file (%j replaced by job id)\n\necho args=$@.\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.WalltimeSec != 48*3600 || j.MailPoints != "ae" || j.Stdout != filepath.Join(b.work, fmt.Sprintf("sbatch-%d.out", j.ID)) {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "resources", j.Resources, "mem=16mb", "ncpus=2")
				hasAll(t, "output", jobFile(t, j.Stdout), "args=.\n")
			},
		},
		{
			name: "post.sh", from: "an unnamed Mendieta script: --gpus-per-task",
			body:    "#!/bin/bash\n\n#SBATCH --job-name=\"post\"\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --gpus-per-task=1\n#SBATCH --cpus-per-task=18\n",
			refused: "line 6: #SBATCH --gpus-per-task",
		},
		{
			name: "spaced.sh", from: "an unnamed script with blank lines between directives and spaced arguments (--cpus-per-task 10 made 2, --mem 120000 made 120)",
			body: "#!/bin/bash\n\n#SBATCH --partition short\n\n#SBATCH --nodes 1\n\n#SBATCH --ntasks 1\n\n#SBATCH --cpus-per-task 2\n\n#SBATCH --time 50:00:00\n\n#SBATCH --mem 120\n\n#SBATCH --output slurm-%j.out\n\nhostname\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "short" || j.WalltimeSec != 50*3600 {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "resources", j.Resources, "mem=120mb", "ncpus=2")
				hasAll(t, "output", jobFile(t, j.Stdout), short)
			},
		},
		{
			name: "test_array.sh", from: "an unnamed script (#!/bin/bash -e; --output=log/test_array_%a.out, -t 1 minute)",
			body: "#!/bin/bash -e\n#SBATCH --job-name=test_array\n#SBATCH --output=log/test_array_%a.out\n#SBATCH --time=00:01:00\n#SBATCH --mem=100M\n#SBATCH --array=0-4\n\necho $SLURM_ARRAY_TASK_ID\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, subs []proto.JobInfo) {
				if len(subs) != 5 {
					t.Fatalf("%d subjobs", len(subs))
				}
				for i := range 5 {
					if got := jobFile(t, filepath.Join(b.work, "log", fmt.Sprintf("test_array_%d.out", i))); got != fmt.Sprintf("%d\n", i) {
						t.Errorf("task %d printed %q", i, got)
					}
				}
			},
		},
		{
			name: "echo.sh", from: "an unnamed UW-Madison script: -n 3 on a host of 2 CPUs",
			body:    "#!/bin/bash\n#SBATCH --mail-type=ALL\n#SBATCH --mail-user=someone@wisc.edu\n#SBATCH -o screen/echo_%a.log\n#SBATCH -J echo\n#SBATCH --array=0-9\n#SBATCH -t 1\n#SBATCH -n 3\n",
			refused: "line 8: #SBATCH --ntasks=3: ncpus=3 is more than",
		},
		{
			name: "run.sh", from: "sidenver/quake run.sh: --exclusive",
			body:    "#!/bin/bash\n#SBATCH --ntasks=1\n#SBATCH -t 00:00:30\n#SBATCH --mem-per-cpu=2048\n#SBATCH --exclusive\n\nOMP_NUM_THREADS=$SLURM_NTASKS\n",
			refused: "line 5: #SBATCH --exclusive",
		},
		{
			name: "run-noexcl.sh", from: "sidenver/quake run.sh without --exclusive (./quake made an echo): -t MM:SS, --mem-per-cpu in MB",
			body: "#!/bin/bash\n#SBATCH --ntasks=1\n#SBATCH -t 00:00:30\n#SBATCH --mem-per-cpu=20\n\nOMP_NUM_THREADS=$SLURM_NTASKS\necho $OMP_NUM_THREADS\nexport OMP_NUM_THREADS\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.WalltimeSec != 30 {
					t.Errorf("walltime %v, want 30 s (-t MM:SS)", j.WalltimeSec)
				}
				hasAll(t, "resources", j.Resources, "mem=20mb")
				hasAll(t, "output", jobFile(t, j.Stdout), "1\n")
			},
		},
	}
	example := "#!/bin/bash\n\n\n  # \"name\" of the job (optional)\n#PBS -N my_serial_job         \n\n\n  # requested running time (required!)\n#PBS -l walltime=01:00:00\n\n" +
		"  # specification (required!)\n  #   nodes=   number of nodes; 1 for serial; 1 or more for parallel\n#PBS -l nodes=1:ppn=1\n\n" +
		"  # if you want to be sure to get your private node, simply claim all memory ;-)\n#  #PBS -l pvmem=16000m\n\n\n  # send mail notification (optional)\n#PBS -m e\n\n" +
		"# #PBS -M my.other.address@mail.com\n\n\n  # redirect standard output (-o) and error (-e) (optional)\n#PBS -o stdout\n#PBS -e stderr\n%s\n\n" +
		"  # go to the (current) working directory (optional)\ncd $PBS_O_WORKDIR  \n\n\n  # the program itself\necho Start Job\npwd\nhostname\necho End Job\n"
	scripts = append(scripts,
		realScript{
			name: "example.sh", from: "hpcugent/vsc_user_docs intro-HPC/examples/example.sh: indented comments, #  #PBS commented out",
			body: fmt.Sprintf(example, ""),
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "my_serial_job" || j.MailPoints != "e" || j.Stdout != filepath.Join(b.work, "stdout") || j.Stderr != filepath.Join(b.work, "stderr") {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, j.Stdout), "Start Job\n"+b.work+"\n"+host+"\nEnd Job\n")
			},
		},
		realScript{
			name: "example-d.sh", from: "the same with Torque's #PBS -d sub: it runs there, its output goes there",
			body: fmt.Sprintf(example, "#PBS -d sub"),
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				sub := filepath.Join(b.work, "sub")
				if j.Stdout != filepath.Join(sub, "stdout") || j.Workdir != sub {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "output", jobFile(t, j.Stdout), "Start Job\n"+sub+"\n")
			},
		},
		realScript{
			name: "test1.sh", from: "ivandona/hpc-exercises test1.sh (mem=2gb made 20mb): 'ls –lrt' with an en dash",
			body: "#!/bin/bash\n#PBS -l select=1:ncpus=1:mem=20mb\n# set max execution time\n#PBS -l walltime=0:05:00\n# set the queue\n#PBS -q short_cpuQ\nls –lrt\necho \"hostname: \" && hostname\n",
			check: func(t *testing.T, b *batch, j proto.JobInfo, _ []proto.JobInfo) {
				hasAll(t, "output", jobFile(t, j.Stdout), "hostname: \n"+host+"\n")
				hasAll(t, "error file", jobFile(t, j.Stderr), "ls: cannot access")
			},
		},
	)
	runRealScripts(t, b, scripts)
}

// TestBatchRealDependencyChains runs the submission scripts of
// gjbex/training-material Pbs/JobDepedencies (submit_nok_ok.sh and
// submit_nok_nok.sh: qsub -W depend=afterok / afternotok on a job that
// fails, with -v after=ID,state=...) and NCAR/ior_scaling
// scripts/submit_pbs_1.sh (a chain of afterany), unchanged but for the
// job scripts' names, with the batch commands on PATH.
func TestBatchRealDependencyChains(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	b.script("fail.pbs", "#!/bin/bash\n#PBS -l walltime=00:01:00\necho failing\nexit 1\n")
	b.script("succeed.pbs", "#!/bin/bash\n#PBS -l walltime=00:01:00\necho \"after=$after state=$state\"\n")
	for _, n := range []string{"1", "2", "4"} {
		b.script("ior_n"+n+".pbs", "#!/bin/bash\n#PBS -N ior_n"+n+"\n#PBS -j oe\ndate +%s%N > "+filepath.Join(b.work, "ior_n"+n+".t")+"\nsleep 0.2\n")
	}
	env := []string{"PATH=" + binDir + ":/usr/bin:/bin"}
	chain := func(name, body string) []string {
		path := b.script(name, body)
		cmd := exec.Command("/bin/bash", path)
		cmd.Dir, cmd.Env = b.work, append(b.env(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return strings.Fields(string(out))
	}
	ok := chain("submit_nok_ok.sh", "#!/bin/bash -l\n\njob_id=`qsub fail.pbs`\nif [ $? ]\nthen\n    echo ${job_id}\n    qsub -W depend=afterok:${job_id} \\\n         -v after=${job_id},state=ok   \\\n         succeed.pbs\nfi\n")
	nok := chain("submit_nok_nok.sh", "#!/bin/bash -l\n\njob_id=`qsub fail.pbs`\nif [ $? ]\nthen\n    echo ${job_id}\n    qsub -W depend=afternotok:${job_id} \\\n         -v after=${job_id},state=nok   \\\n         succeed.pbs\nfi\n")
	ior := chain("submit_pbs_1.sh", "#!/bin/bash\n\nior_n1=$(qsub ior_n1.pbs)\necho \"N=1 Job: $ior_n1\"\n\nior_n2=$(qsub -W depend=afterany:$ior_n1 ior_n2.pbs)\necho \"N=2 Job: $ior_n2\"\n\nior_n4=$(qsub -W depend=afterany:$ior_n2 ior_n4.pbs)\necho \"N=4 Job: $ior_n4\"\n")
	id := func(s string) uint64 {
		n, err := parseJobID(s)
		if err != nil {
			t.Fatalf("job id %q: %v", s, err)
		}
		return n
	}
	if len(ok) != 2 || len(nok) != 2 || len(ior) != 9 {
		t.Fatalf("printed %q, %q, %q", ok, nok, ior)
	}
	// afterok on a job that failed: deleted without running.
	if j := b.waitState(id(ok[1]), "finished", "failed"); j.State != "failed" || !strings.Contains(j.Reason, "can never be satisfied") {
		t.Errorf("afterok on a failed job: %s (%s)", j.State, j.Reason)
	}
	// afternotok on it: runs, with -v's variables.
	j := b.waitState(id(nok[1]), "finished", "failed")
	if j.State != "finished" {
		t.Fatalf("afternotok on a failed job: %s (%s)", j.State, j.Reason)
	}
	hasAll(t, "output", jobFile(t, j.Stdout), "after="+nok[0]+" state=nok\n")
	// The afterany chain runs in order.
	var times []string
	for _, n := range []int{2, 5, 8} {
		b.waitState(id(ior[n]), "finished")
	}
	for _, n := range []string{"1", "2", "4"} {
		times = append(times, strings.TrimSpace(jobFile(t, filepath.Join(b.work, "ior_n"+n+".t"))))
	}
	if !(times[0] < times[1] && times[1] < times[2]) || len(times[0]) != len(times[2]) {
		t.Errorf("afterany chain ran out of order: %q", times)
	}
}
