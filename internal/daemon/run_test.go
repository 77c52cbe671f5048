package daemon

import (
	"slices"
	"strings"
	"testing"

	"lazarus/jobs"
)

func TestJobEnv(t *testing.T) {
	j := &jobs.Job{ID: 42, Name: "sim", Queue: "long", Workdir: "/w",
		Resources: jobs.Resources{NCPUs: 4}, Vars: []string{"A=1", "PATH=/opt/bin"}}
	submit := map[string]string{"HOME": "/home/u", "PATH": "/usr/bin", "SECRET": "x", "LAZARUS_JOBID": "forged"}
	pw := passwd{name: "u", home: "/home/u", shell: "/bin/bash"}
	env := jobEnv(j, submit, pw, jobPlace{host: "host1", tmp: "/s/tmp/42", nodeFile: "/s/aux/42"})
	for _, want := range []string{
		"HOME=/home/u", "USER=u", "LOGNAME=u", "SHELL=/bin/bash", "A=1", "PATH=/opt/bin",
		"LAZARUS_JOBID=42", "LAZARUS_JOBNAME=sim", "LAZARUS_QUEUE=long", "LAZARUS_O_WORKDIR=/w",
		"LAZARUS_O_HOST=host1", "LAZARUS_O_HOME=/home/u", "LAZARUS_O_PATH=/usr/bin", "LAZARUS_NCPUS=4",
		"LAZARUS_ENVIRONMENT=LAZARUS_BATCH",
		"PBS_JOBID=42", "PBS_JOBNAME=sim", "PBS_QUEUE=long", "PBS_O_QUEUE=long", "PBS_O_WORKDIR=/w",
		"PBS_O_HOST=host1", "PBS_O_HOME=/home/u", "PBS_O_PATH=/usr/bin", "PBS_ENVIRONMENT=PBS_BATCH",
		"PBS_NODEFILE=/s/aux/42", "NCPUS=4", "OMP_NUM_THREADS=4", "TMPDIR=/s/tmp/42",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s: %v", want, env)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "SECRET=") || strings.HasPrefix(kv, "SLURM_") {
			t.Errorf("%s exported without -V or #SBATCH", kv)
		}
	}
	j.ExportEnv = true
	env = jobEnv(j, submit, pw, jobPlace{host: "host1", tmp: "/s/tmp/42", nodeFile: "/s/aux/42"})
	if !slices.Contains(env, "SECRET=x") || !slices.Contains(env, "LAZARUS_JOBID=42") || !slices.Contains(env, "PATH=/opt/bin") {
		t.Errorf("with -V (and -v winning, LAZARUS_* last): %v", env)
	}
	// A -V of a job submitted from inside another job must not carry that
	// job's PBS_* or TMPDIR; a -v OMP_NUM_THREADS wins over ncpus.
	submit["PBS_JOBID"], submit["TMPDIR"] = "7", "/tmp/other"
	j.Vars = append(j.Vars, "OMP_NUM_THREADS=1")
	j.Resources.OMPThreads = 2
	j.Attrs.Slurm = true
	env = jobEnv(j, submit, pw, jobPlace{host: "host1", tmp: "/s/tmp/42", nodeFile: "/s/aux/42"})
	for _, want := range []string{"PBS_JOBID=42", "TMPDIR=/s/tmp/42", "OMP_NUM_THREADS=1",
		"SLURM_JOB_ID=42", "SLURM_SUBMIT_DIR=/w", "SLURM_CPUS_PER_TASK=4", "SLURM_JOB_NAME=sim"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s: %v", want, env)
		}
	}
	for _, want := range []string{"SLURM_NODELIST=host1", "SLURM_TASKS_PER_NODE=1", "SLURM_NNODES=1", "LAZARUS_TMPDIR=/s/tmp/42"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s (Open MPI's mpirun needs the first two): %v", want, env)
		}
	}
	// The batch commands' directory ends PATH, once.
	for _, tt := range []struct{ path, want string }{
		{"/opt/bin", "PATH=/opt/bin:/lz/bin"}, {"/lz/bin:/usr/bin", "PATH=/lz/bin:/usr/bin"}, {"", "PATH=/lz/bin"},
	} {
		j.Vars = []string{"PATH=" + tt.path}
		env = jobEnv(j, submit, pw, jobPlace{host: "host1", tmp: "/s/tmp/42", nodeFile: "/s/aux/42", binDir: "/lz/bin"})
		if !slices.Contains(env, tt.want) {
			t.Errorf("PATH %q with the commands in /lz/bin: want %s in %v", tt.path, tt.want, env)
		}
	}
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "SLURM_ARRAY_TASK_ID=") }) {
		t.Error("SLURM_ARRAY_TASK_ID set for a job that is not an array")
	}
}

func TestOutputPath(t *testing.T) {
	tests := []struct{ given, want string }{
		{"", "/w/job.o7"},
		{"/out/", "/out/job.o7"},
		{"/out/x.log", "/out/x.log"},
		{"/out/../y", "/y"},
	}
	j := &jobs.Job{ID: 7, Name: "relax", Owner: jobs.Owner{Name: "u"}}
	for _, tt := range []struct{ in, want string }{
		{"/w/%x-%j.out", "/w/relax-7.out"}, {"/w/%A_%a.log", "/w/7_4294967294.log"},
		{"/w/100%%-%u", "/w/100%-u"}, {"/w/plain", "/w/plain"}, {"/w/job%4j.%t.%s", "/w/job0007.0.batch"},
	} {
		if got := slurmPattern(tt.in, j); got != tt.want {
			t.Errorf("slurmPattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range tests {
		if got := outputPath(tt.given, "/w", "job", "o", 7); got != tt.want {
			t.Errorf("outputPath(%q) = %q, want %q", tt.given, got, tt.want)
		}
	}
}

func TestLookupPasswd(t *testing.T) {
	root := lookupPasswd(0)
	if root.name != "root" || root.home == "" || root.shell == "" {
		t.Errorf("lookupPasswd(0) = %+v", root)
	}
	unknown := lookupPasswd(4000000000)
	if unknown.name != "4000000000" || unknown.shell != "/bin/sh" || unknown.home != "/" {
		t.Errorf("lookupPasswd(unknown) = %+v", unknown)
	}
}

func TestSplitEnv(t *testing.T) {
	got := splitEnv([]byte("A=1\x00B=x=y\x00\x00junk\x00"))
	if len(got) != 2 || got["A"] != "1" || got["B"] != "x=y" {
		t.Errorf("splitEnv = %v", got)
	}
}
