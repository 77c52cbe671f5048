package integration

// PBS and Slurm job scripts as sites publish them, submitted unchanged
// (only the program lines replaced by ones that print what the job sees):
// every directive is honoured or refused by name (issue 12).

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"lazarus/internal/testenv"
)

// envLines parses the KEY=value lines a job printed.
func envLines(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// A PBS Pro script in the style of the NCAR and NASA examples: select
// with mpiprocs/ompthreads, walltime, name, account, project, joined
// output into a directory, -V, -r n, priority, no mail, umask.
func TestBatchPBSProScript(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	logs := filepath.Join(b.work, "logs")
	os.Mkdir(logs, 0o755)
	sub := filepath.Join(b.work, "case1")
	os.Mkdir(sub, 0o755)
	script := b.script("mpi_job.pbs", `#!/bin/bash
#PBS -N hello_pbs
#PBS -A UABC0001
#PBS -P climate
#PBS -l select=1:ncpus=2:mpiprocs=2:ompthreads=1:mem=64mb
#PBS -l walltime=00:05:00
#PBS -q batch
#PBS -j oe
#PBS -o logs/
#PBS -m n
#PBS -r n
#PBS -p 10
#PBS -W umask=027
#PBS -V

### Set TMPDIR as recommended
cd $PBS_O_WORKDIR
echo "pwd=$(pwd)"
for v in PBS_JOBID PBS_JOBNAME PBS_O_WORKDIR PBS_O_HOST PBS_O_HOME PBS_O_PATH PBS_O_SHELL PBS_O_LOGNAME \
	PBS_O_QUEUE PBS_QUEUE PBS_ENVIRONMENT PBS_NODEFILE NCPUS OMP_NUM_THREADS TMPDIR FROM_SUBMIT LAZARUS_JOBID; do
	eval "echo $v=\$$v"
done
echo "nodes=$(wc -l < $PBS_NODEFILE) uniq=$(sort -u $PBS_NODEFILE)"
echo "tmpmode=$(stat -c %a:%u $TMPDIR)"
touch $TMPDIR/scratch && echo tmpwrite=ok
echo "to stderr" >&2
`)
	// Submitted from a subdirectory, with the script elsewhere: the job
	// runs where qsub ran.
	r := b.runWith(cmdOpts{dir: b.work, env: []string{"FROM_SUBMIT=yes", "SHELL=/bin/bash", "LOGNAME=root"}}, "qsub", script)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("qsub: %v", r)
	}
	id, _ := parseJobID(r.stdout)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" {
		t.Fatalf("job = %+v", j)
	}
	// The job record: every directive honoured.
	if j.Name != "hello_pbs" || j.Account != "UABC0001" || j.Project != "climate" || j.Priority != 10 ||
		j.Queue != "batch" || j.Join != "oe" || j.Rerunnable == nil || *j.Rerunnable || !j.ExportEnv {
		t.Errorf("job record = %+v", j)
	}
	for _, want := range []string{"ncpus=2", "mem=64mb", "walltime=00:05:00", "mpiprocs=2", "ompthreads=1"} {
		if !strings.Contains(j.Resources, want) {
			t.Errorf("resources %q lack %s", j.Resources, want)
		}
	}
	outFile := filepath.Join(logs, fmt.Sprintf("hello_pbs.o%d", id))
	if j.Stdout != outFile {
		t.Errorf("stdout %q, want %q", j.Stdout, outFile)
	}
	out := b.readFile(outFile)
	env := envLines(out)
	host, _ := os.Hostname()
	for k, want := range map[string]string{
		"pwd": b.work, "PBS_JOBID": fmt.Sprintf("%d.%s", id, shortHostname()), "PBS_JOBNAME": "hello_pbs",
		"PBS_O_WORKDIR": b.work, "PBS_O_HOST": host, "PBS_O_SHELL": "/bin/bash", "PBS_O_LOGNAME": "root",
		"PBS_O_QUEUE": "batch", "PBS_QUEUE": "batch", "PBS_ENVIRONMENT": "PBS_BATCH",
		"NCPUS": "2", "OMP_NUM_THREADS": "1", "FROM_SUBMIT": "yes", "LAZARUS_JOBID": strconv.FormatUint(id, 10),
		"nodes": "2 uniq=" + host, "tmpmode": "700:0", "tmpwrite": "ok",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q; output:\n%s", k, env[k], want, out)
		}
	}
	if env["PBS_O_HOME"] == "" || env["PBS_O_PATH"] == "" || env["PBS_NODEFILE"] == "" || env["TMPDIR"] == "" {
		t.Errorf("PBS_O_HOME, PBS_O_PATH, PBS_NODEFILE or TMPDIR unset:\n%s", out)
	}
	if !strings.Contains(out, "to stderr") {
		t.Errorf("-j oe: stderr not in the output file:\n%s", out)
	}
	// TMPDIR and the node file go with the job.
	for _, p := range []string{env["TMPDIR"], env["PBS_NODEFILE"]} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after the job: %v", p, err)
		}
	}
}

// A Torque script: nodes=1:ppn=N, separate -o/-e, -S, and a walltime from
// a directive, which is enforced.
func TestBatchTorqueScriptWalltime(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("torque.sh", `#!/nonexistent/interpreter
#PBS -N torque_job
#PBS -l nodes=1:ppn=2
#PBS -l walltime=00:00:02
#PBS -o torque.out
#PBS -e torque.err
#PBS -S /bin/sh
cd $PBS_O_WORKDIR
echo "ncpus=$NCPUS omp=$OMP_NUM_THREADS nodes=$(wc -l < $PBS_NODEFILE)"
echo "np=$PBS_NP num_nodes=$PBS_NUM_NODES ppn=$PBS_NUM_PPN walltime=$PBS_WALLTIME task=$PBS_TASKNUM node=$PBS_NODENUM vnode=$PBS_VNODENUM"
echo started >&2
sleep 300
`)
	id := b.qsub(script)
	j := b.waitState(id, "finished", "failed")
	if j.State != "failed" || !strings.HasPrefix(j.Reason, "walltime exceeded") || !strings.Contains(j.Resources, "walltime=00:00:02") {
		t.Errorf("job = %+v, want failed by its directive's walltime", j)
	}
	if j.Name != "torque_job" || j.Shell != "/bin/sh" {
		t.Errorf("job = %+v", j)
	}
	out := b.readFile(filepath.Join(b.work, "torque.out"))
	if !strings.HasPrefix(out, "ncpus=2 omp=2 nodes=2\nnp=2 num_nodes=1 ppn=2 walltime=2 task=1 node=0 vnode=0\n") {
		t.Errorf("output %q (-S must run the script with /bin/sh, whatever its #! line)", out)
	}
	if got := b.readFile(filepath.Join(b.work, "torque.err")); !strings.HasPrefix(got, "started\n") {
		t.Errorf("error file %q", got)
	}
}

// A Slurm script as site documentation shows them: translated.
func TestBatchSlurmScript(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("relax.slurm", `#!/bin/bash
#SBATCH --job-name=relax
#SBATCH --time=0-00:05:00
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=100M
#SBATCH --partition=batch
#SBATCH --output=%x-%j.out

export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK
cd $SLURM_SUBMIT_DIR
for v in SLURM_JOB_ID SLURM_SUBMIT_DIR SLURM_CPUS_PER_TASK SLURM_JOB_NAME OMP_NUM_THREADS PBS_JOBID SLURM_ARRAY_TASK_ID; do
	eval "echo $v=\$$v"
done
echo "to stderr" >&2
`)
	id := b.qsub(script)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.Name != "relax" || !j.Slurm || !strings.Contains(j.Resources, "ncpus=2") ||
		!strings.Contains(j.Resources, "mem=100mb") || !strings.Contains(j.Resources, "walltime=00:05:00") {
		t.Errorf("job = %+v", j)
	}
	outFile := filepath.Join(b.work, fmt.Sprintf("relax-%d.out", id))
	if j.Stdout != outFile {
		t.Errorf("stdout %q, want %q (%%x-%%j expanded)", j.Stdout, outFile)
	}
	out := b.readFile(outFile)
	env := envLines(out)
	ids := strconv.FormatUint(id, 10)
	for k, want := range map[string]string{
		"SLURM_JOB_ID": ids, "SLURM_SUBMIT_DIR": b.work, "SLURM_CPUS_PER_TASK": "2", "SLURM_JOB_NAME": "relax",
		"OMP_NUM_THREADS": "2", "PBS_JOBID": ids + "." + shortHostname(), "SLURM_ARRAY_TASK_ID": "",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q; output:\n%s", k, env[k], want, out)
		}
	}
	if !strings.Contains(out, "to stderr") {
		t.Errorf("sbatch joins stderr into the output by default:\n%s", out)
	}
}

// Refused directives name the line and the option, and no job is made.
func TestBatchDirectivesRefused(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	tests := []struct {
		name, script string
		args         []string
		inErr        string
	}{
		{"array list", "#!/bin/bash\n#PBS -N arr\n#PBS -J 1,3\necho $PBS_ARRAY_INDEX\n", nil, "line 3: #PBS -J 1,3"},
		{"dependency on an unknown job", "#!/bin/bash\n#PBS -W depend=afterok:4242\ntrue\n", nil, "line 2: #PBS -W depend=afterok:4242"},
		{"X11", "#!/bin/bash\n#PBS -X\ntrue\n", nil, "line 2: #PBS -X"},
		{"interactive without a terminal", "#!/bin/bash\n#PBS -I\ntrue\n", nil, "-I: standard input is not a terminal"},
		{"two nodes", "#!/bin/bash\n#PBS -l nodes=2:ppn=8\ntrue\n", nil, "line 2: #PBS -l nodes=2:ppn=8"},
		{"more cpus than the host", "#!/bin/bash\n#PBS -l select=1:ncpus=100000\ntrue\n", nil, "line 2: #PBS -l select=1:ncpus=100000"},
		{"unknown queue", "#!/bin/bash\n#PBS -q workq\ntrue\n", nil, "line 2: #PBS -q workq"},
		{"another user", "#!/bin/bash\n#PBS -u nobody\ntrue\n", nil, "line 2: #PBS -u nobody"},
		{"slurm array backwards", "#!/bin/bash\n#SBATCH --array=4-1\ntrue\n", nil, "line 2: #SBATCH --array"},
		{"slurm dependency on an unknown job", "#!/bin/bash\n#SBATCH -d afterok:12\ntrue\n", nil, "line 2: #SBATCH --dependency"},
		{"slurm gres", "#!/bin/bash\n#SBATCH --gres=gpu:1\ntrue\n", nil, "line 2: #SBATCH --gres"},
		{"crlf", "#!/bin/bash\r\n#PBS -N x\r\ntrue\r\n", nil, "line 1: CRLF line end"},
		{"late directive", "#!/bin/bash\nmodule load foo\n#PBS -l walltime=1:00:00\n", nil, "line 3: #PBS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := b.script("refused.sh", tt.script)
			r := b.run("qsub", append(tt.args, script)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.inErr) || r.stdout != "" {
				t.Errorf("got %v, want a refusal with %q", r, tt.inErr)
			}
		})
	}
	if js := b.jobs(); len(js) != 0 {
		t.Errorf("refused submissions made jobs: %+v", js)
	}
}

// The command line wins over directives; -z prints no id; qsub -- runs a
// command with its arguments; -C changes the prefix.
func TestBatchQsubOptionsAndCommand(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("cl.sh", "#!/bin/sh\n#PBS -N scriptname\n#PBS -l walltime=00:00:01\n#LZ -N lzname\necho \"name=$PBS_JOBNAME\"\n")
	id := b.qsub("-N", "cmdline", "-l", "walltime=00:10:00", script)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.Name != "cmdline" || !strings.Contains(j.Resources, "walltime=00:10:00") {
		t.Errorf("job = %+v: the command line must win", j)
	}
	if out := b.readFile(filepath.Join(b.work, fmt.Sprintf("cmdline.o%d", id))); out != "name=cmdline\n" {
		t.Errorf("output %q", out)
	}
	id = b.qsub("-C", "#LZ", script)
	if j := b.waitState(id, "finished", "failed"); j.Name != "lzname" || strings.Contains(j.Resources, "walltime=00:00:01") {
		t.Errorf("with -C '#LZ': %+v", j)
	}
	if r := b.run("qsub", "-z", "-N", "quiet", script); r.code != 0 || r.stdout != "" {
		t.Errorf("qsub -z: %v", r)
	}
	if r := b.run("qsub", b.script("z.sh", "#!/bin/sh\n#PBS -z\ntrue\n")); r.code != 0 || r.stdout != "" {
		t.Errorf("#PBS -z: %v", r)
	}
	r := b.run("qsub", "-N", "cmd", "--", "/bin/sh", "-c", `echo "args:$0:$1"`, "a b")
	if r.code != 0 {
		t.Fatalf("qsub --: %v", r)
	}
	id, _ = parseJobID(r.stdout)
	b.waitState(id, "finished", "failed")
	if out := b.readFile(filepath.Join(b.work, fmt.Sprintf("cmd.o%d", id))); out != "args:/bin/sh:a b\n" && out != "args:a b:\n" {
		t.Errorf("qsub -- output %q", out)
	}
}

// qsub -p orders the waiting jobs of a queue.
func TestBatchPriorityOrder(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "slots = 1\n")
	b.mustRun("qmgr", "-c", "stop scheduling")
	low := b.qsub("-p", "-5", b.script("low.sh", "#!/bin/sh\ndate +%s%N\n"))
	mid := b.qsub(b.script("mid.sh", "#!/bin/sh\ndate +%s%N\n"))
	high := b.qsub(b.script("high.sh", "#!/bin/sh\n#PBS -p 100\ndate +%s%N\n"))
	b.mustRun("qmgr", "-c", "start scheduling")
	var starts []int64
	for _, id := range []uint64{high, mid, low} {
		j := b.waitState(id, "finished")
		starts = append(starts, j.Segments[0].Start.UnixNano())
	}
	if !(starts[0] < starts[1] && starts[1] < starts[2]) {
		t.Errorf("start times high %d, mid %d, low %d: want that order", starts[0], starts[1], starts[2])
	}
}

// -l cput is enforced on the job's whole tree: a child burning CPU is
// counted.
func TestBatchCPUTimeLimit(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	id := b.qsub(b.script("burn.sh", "#!/bin/sh\n#PBS -l cput=00:00:02\nsh -c 'while :; do :; done' &\nwait\n"))
	j := b.waitState(id, "finished", "failed")
	if j.State != "failed" || !strings.HasPrefix(j.Reason, "cput exceeded") {
		t.Errorf("job = %+v, want failed by cput", j)
	}
	if j.CPUSec < 2 {
		t.Errorf("cpu %.2fs: killed before its limit", j.CPUSec)
	}
}

// TMPDIR lives as long as the job: a job restarted from a checkpoint finds
// the file it had open there, and the directory goes when the job ends.
func TestBatchTmpdirAcrossRestart(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	out := filepath.Join(b.work, "tmp.out")
	id := b.qsub("-j", "oe", "-o", out, b.script("tmp.sh", `#!/bin/sh
exec 3>"$TMPDIR/scratch"
echo "tmpdir=$TMPDIR"
echo before >&3
i=0
while [ $i -lt 60 ]; do echo "tick $i"; i=$((i+1)); sleep 0.2; done
echo after >&3
echo "scratch=$(tr '\n' ' ' < "$TMPDIR/scratch")"
`))
	b.waitState(id, "running")
	b.waitLines(out, 3)
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	tmp := envLines(b.readFile(out))["tmpdir"]
	if st, err := os.Stat(filepath.Join(tmp, "scratch")); err != nil || st.Size() == 0 {
		t.Fatalf("the held job's TMPDIR %q lost its file: %v", tmp, err)
	}
	if r := b.run("qrestart", jobArg(id)); r.code != 0 {
		t.Fatalf("qrestart: %v", r)
	}
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 || j.Segments[1].Generation == 0 {
		t.Fatalf("job = %+v", j)
	}
	if env := envLines(b.readFile(out)); env["scratch"] != "before after " {
		t.Errorf("scratch file %q after the restart, want both lines", env["scratch"])
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("TMPDIR %s left after the job: %v", tmp, err)
	}
}

// -W group_list runs the job with another of the submitter's groups, and
// refuses one the submitter is not in; -k o keeps the output in the home
// directory under its default name.
func TestBatchGroupListAndKeep(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	grp, err := user.LookupGroupId("100")
	if err != nil {
		testenv.Unavailable(t, "no group 100 on this machine")
	}
	script := b.script("grp.sh", "#!/bin/sh\n#PBS -W group_list="+grp.Name+"\n#PBS -j oe\nid -g\n")
	// Submitted by root with group 100 among its groups.
	cred := &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0, 100}}
	id := b.qsubWith(cmdOpts{cred: cred}, script)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || j.GID != 100 || j.Group != grp.Name {
		t.Errorf("job = %+v", j)
	}
	if out := b.readFile(j.Stdout); out != "100\n" {
		t.Errorf("id -g printed %q, want 100", out)
	}
	// Without the group: refused, naming the line.
	r := b.runWith(cmdOpts{cred: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0}}}, "qsub", script)
	if r.code == 0 || !strings.Contains(r.stderr, "line 2: #PBS -W group_list="+grp.Name) || !strings.Contains(r.stderr, "not a member") {
		t.Errorf("group_list of a group not ours: %v", r)
	}

	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	id = b.qsub("-N", "kept", "-k", "o", "-o", filepath.Join(b.work, "ignored.out"), b.script("k.sh", "#!/bin/sh\necho kept\n"))
	kept := filepath.Join(home, fmt.Sprintf("kept.o%d", id))
	t.Cleanup(func() { os.Remove(kept) })
	j = b.waitState(id, "finished", "failed")
	if j.Stdout != kept || j.KeepFiles != "o" {
		t.Errorf("job = %+v, want its output in %s", j, kept)
	}
	if out := b.readFile(kept); out != "kept\n" {
		t.Errorf("kept output %q", out)
	}
}

// PBS's -c forms: minutes, and the queue's interval.
func TestBatchCheckpointPBSForms(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	script := b.script("c.sh", "#!/bin/sh\n#PBS -c w=30\ntrue\n")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "30m"},                 // the directive: 30 minutes
		{[]string{"-c", "30"}, "30"}, // the command line wins, in hours
		{[]string{"-c", "c"}, "n"},   // the queue has no interval: never
	}
	for _, tt := range tests {
		id := b.qsub(append(append([]string{"-h"}, tt.args...), script)...)
		if j := b.job(id); j.Checkpoint != tt.want {
			t.Errorf("qsub %q: checkpoint %q, want %q", tt.args, j.Checkpoint, tt.want)
		}
	}
	b.mustRun("qmgr", "-c", "set queue batch ckpt_default = 2")
	id := b.qsub("-h", "-c", "w", script)
	if j := b.job(id); j.Checkpoint != "2" {
		t.Errorf("qsub -c w: checkpoint %q, want the queue's 2 (hours)", j.Checkpoint)
	}
}

// An ordinary user's job: TMPDIR is that user's (mode 0700), the node file
// readable, and PBS_O_LOGNAME that of qsub's environment.
func TestBatchTmpdirOwnedByUser(t *testing.T) {
	t.Parallel()
	cred := nobody(t)
	b := newBatch(t, "")
	script := b.script("u.sh", "#!/bin/sh\n#PBS -j oe\necho \"tmp=$(stat -c %a:%u \"$TMPDIR\") nodes=$(wc -l < \"$PBS_NODEFILE\") login=$PBS_O_LOGNAME\"\ntouch \"$TMPDIR/x\" && echo write=ok\n")
	id := b.qsubWith(cmdOpts{cred: cred, env: []string{"LOGNAME=nobody"}}, script)
	j := b.waitState(id, "finished", "failed")
	out := b.readFile(j.Stdout)
	want := fmt.Sprintf("tmp=700:%d nodes=1 login=nobody\nwrite=ok\n", cred.Uid)
	if j.State != "finished" || out != want {
		t.Errorf("job %+v printed %q, want %q", j, out, want)
	}
}

// qsub -W block=true (OpenPBS's): qsub prints the job id, waits for the
// job to end and exits with its exit status.
func TestBatchQsubBlock(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, c := range []struct {
		body string
		code int
	}{{"#!/bin/sh\nsleep 1\nexit 3\n", 3}, {"#!/bin/sh\n#PBS -W block=true\ntrue\n", 0}} {
		s := b.script(fmt.Sprintf("block%d.sh", c.code), c.body)
		args := []string{s}
		if c.code != 0 {
			args = []string{"-W", "block=true", s}
		}
		r := b.run("qsub", args...)
		id := strings.TrimSpace(r.stdout)
		if r.code != c.code || id == "" || strings.Contains(id, "\n") {
			t.Fatalf("qsub -W block=true (exit %d): %v", c.code, r)
		}
		n, _, _ := strings.Cut(id, ".")
		num, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			t.Fatalf("job id %q", id)
		}
		if j := b.job(num); j.State != "finished" && j.State != "failed" {
			t.Errorf("qsub returned with the job %s", j.State)
		}
	}
	if r := b.run("qsub", "-W", "block=maybe", b.script("x.sh", "#!/bin/sh\ntrue\n")); r.code == 0 || !strings.Contains(r.stderr, "want true or false") {
		t.Errorf("-W block=maybe: %v", r)
	}
}

// qdel -W force (OpenPBS's) deletes as qdel does; Torque's -W DELAY is
// refused, naming kill_grace.
func TestBatchQdelForce(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	s := b.script("held.sh", "#!/bin/sh\ntrue\n")
	id := b.qsub("-h", s)
	if r := b.run("qdel", "-W", "30", jobArg(id)); r.code == 0 || !strings.Contains(r.stderr, "kill_grace") {
		t.Errorf("qdel -W 30: %v", r)
	}
	if r := b.run("qdel", "-Wforce", jobArg(id)); r.code != 0 || r.stderr != "" {
		t.Fatalf("qdel -Wforce: %v", r)
	}
	if n := len(b.jobs()); n != 0 {
		t.Errorf("%d jobs after qdel -W force of the held one", n)
	}
}
