package integration

// A third set of job scripts from public repositories, kept as files in
// testdata/realscripts3 (each ends with a comment that names its
// repository and path and says what was adapted: only what cannot exist
// here, the application run by a stand-in doing the same kind of I/O,
// CPU and memory counts a small host has). Each is submitted as it is,
// from the work directory, and must be honoured as PBS or Slurm honours
// it, or refused in one line that names the script, the line and the
// directive.

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

// realScript3 is one script of testdata/realscripts3 and what its
// submission must give.
type realScript3 struct {
	name    string   // its file in testdata/realscripts3
	args    []string // qsub's options before the script, as its users submit it
	refused string   // a refusal's stderr contains it; "" for a job
	exit    int      // the script's exit status (of each subjob, for an array)
	check   func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo)
}

func realScript3Body(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "realscripts3", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBatchRealScripts3(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, q := range []string{"route", "home-yeo", "Q1", "ptq", "cs6210", "normal", "standard", "short_cpuQ", "shared", "long", "forecast"} {
		b.mustRun("qmgr", "-c", "create queue "+q)
		b.mustRun("qmgr", "-c", "set queue "+q+" enabled = true")
		b.mustRun("qmgr", "-c", "set queue "+q+" started = true")
	}
	host, _ := os.Hostname()
	w := b.work
	for _, d := range []string{filepath.Join(w, "output"), filepath.Join(b.home, "history")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Stand-ins for the applications, and the inputs the scripts read.
	b.script("rumi-64-192-22r", "#!/bin/sh\necho \"rumi $1\"\n")
	b.script("mpirun", "#!/bin/sh\n# -machinefile FILE -np N PROGRAM: PROGRAM once per line of FILE\nwhile read h; do \"$5\"; done < \"$2\"\n")
	b.script("test", "#!/bin/sh\necho \"rank on $(hostname)\"\n")
	b.script("gkeyllser", "#!/bin/sh\necho \"gkeyll $*\"\n")
	if err := os.Mkdir(filepath.Join(w, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.script("sub/run_job.sh", "#!/bin/sh\necho \"run $1 in $PWD\"\n")
	var reads, inputs strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&reads, "reads_%d.fastq\n", i)
		fmt.Fprintf(&inputs, "input_%d\n", i)
	}
	b.script("readFiles.txt", reads.String())
	b.script("inputs.txt", inputs.String())
	file := func(name string) string { return filepath.Join(w, name) }
	subjobFiles := func(t *testing.T, subs []proto.JobInfo, n int, path func(s proto.JobInfo, index int) string, want func(index int) string) {
		t.Helper()
		if len(subs) != n {
			t.Fatalf("%d subjobs, want %d", len(subs), n)
		}
		for _, s := range subs {
			index := jobs.ID(s.ID).Index()
			if got := jobFile(t, path(s, index)); got != want(index) {
				t.Errorf("subjob %s: %s has %q, want %q", jobs.ID(s.ID), path(s, index), got, want(index))
			}
		}
	}
	cshExit := 127
	if _, err := os.Stat("/bin/csh"); err == nil {
		cshExit = 0
	}
	scripts := []realScript3{
		{name: "example_array_impi.bash", refused: "example_array_impi.bash: line 11: #PBS code]: not an option"},
		{
			name: "example_array_impi-1.bash",
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Name != "ArrayJob" || j.Account != "t01" {
					t.Errorf("array %+v", j)
				}
				// PBS_JOBID is PBS's: 1[2].SERVER.
				if len(subs) != 5 {
					t.Fatalf("%d subjobs", len(subs))
				}
				for _, s := range subs {
					i := jobs.ID(s.ID).Index()
					got := jobFile(t, file(fmt.Sprintf("ArrayJob.%d", i)))
					if want := fmt.Sprintf("index %d of %d[%d].%s in %s\n", i, jobs.ID(j.ID).Base(), i, shortHostname(), w); got != want {
						t.Errorf("subjob %d wrote %q, want %q", i, got, want)
					}
				}
			},
		},
		{
			name: "jobrumi-64-192-22r.sh",
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.MailPoints != "abe" || j.MailUsers != "hsn.hadipour@gmail.com" {
					t.Errorf("array %+v", j)
				}
				// -e error: every subjob's error file is that one file.
				subjobFiles(t, subs, 16, func(s proto.JobInfo, i int) string {
					if s.Stderr != file("error") {
						t.Errorf("subjob %d: error file %s", i, s.Stderr)
					}
					return file(fmt.Sprintf("rumi-64-192-22r.o%d.%d", jobs.ID(j.ID).Base(), i))
				}, func(i int) string { return fmt.Sprintf("rumi %d\n", i) })
			},
		},
		{
			name: "multiple_jobs.sh",
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Name != "job_array_example" || j.Queue != "route" || !j.ExportEnv || j.WalltimeSec != 600 {
					t.Errorf("array %+v", j)
				}
				// -o and -e name a directory: NAME.oSEQ.INDEX in it.
				subjobFiles(t, subs, 10, func(_ proto.JobInfo, i int) string {
					return file(fmt.Sprintf("output/job_array_example.o%d.%d", jobs.ID(j.ID).Base(), i))
				}, func(i int) string {
					kind := "odd"
					if i%2 == 0 {
						kind = "even"
					}
					return fmt.Sprintf("I'm an %s indexed job!\nMy job index is: %d\n", kind, i)
				})
			},
		},
		{
			name: "basic_submission.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if got := jobFile(t, file(fmt.Sprintf("output/script_name.o%d", j.ID))); got != "start\nfinished\n" {
					t.Errorf("output %q", got)
				}
				if j.Stderr != file(fmt.Sprintf("output/script_name.e%d", j.ID)) {
					t.Errorf("error file %s", j.Stderr)
				}
			},
		},
		{name: "test_qtools_submitter_wait_for_pbs.sh", refused: "test_qtools_submitter_wait_for_pbs.sh: line 10: #PBS -W depend=afterok:11111: dependency afterok:11111: unknown job id 11111"},
		{name: "mpi1-test.sh", refused: "mpi1-test.sh: line 2: #PBS -l nodes=2:ppn=2: place=scatter with 2 chunks"},
		{
			name: "mpi1-test-1node.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "Q1" || j.Join != "oe" {
					t.Errorf("job record %+v", j)
				}
				want := strings.Repeat("rank on "+host+"\n", 2)
				if got := jobFile(t, file(fmt.Sprintf("mpi1-test-1node.sh.o%d", j.ID))); got != want {
					t.Errorf("output %q, want %q", got, want)
				}
				if _, err := os.Stat(file(fmt.Sprintf("mpi1-test-1node.sh.e%d", j.ID))); err == nil {
					t.Error("-j oe: an error file was written")
				}
			},
		},
		{name: "mpi_test0_4nodes.sh", refused: "mpi_test0_4nodes.sh: line 2: #PBS -l nodes=4:sixcore"},
		{
			name: "isca_job.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "ptq" || j.Account != "Research_Project-161613" || j.MailPoints != "e" ||
					j.MailUsers != "jp492@exeter.ac.uk" || !j.ExportEnv || j.Workdir != w || j.WalltimeSec != 1800 {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "resources", j.Resources, "ncpus=2")
				if got, want := jobFile(t, file(fmt.Sprintf("isca_job.sh.o%d", j.ID))), "isca isca_job.sh 2 "+w+"\n"; got != want {
					t.Errorf("output %q, want %q", got, want)
				}
			},
		},
		{
			name: "batch_clamart2.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// -j eo: both streams in the error file, NAME.eID.
				if j.Name != "nometcas" || j.Join != "eo" {
					t.Errorf("job record %+v", j)
				}
				if got, want := jobFile(t, file(fmt.Sprintf("nometcas.e%d", j.ID))), "on "+host+": 2 processes\nto-err\n"; got != want {
					t.Errorf("error file %q, want %q", got, want)
				}
				if _, err := os.Stat(file(fmt.Sprintf("nometcas.o%d", j.ID))); err == nil {
					t.Error("-j eo: an output file was written")
				}
			},
		},
		{name: "run_gadi.sh", refused: `run_gadi.sh: line 7: #PBS -l software=bcbio: unknown resource "software"`},
		{name: "gzip.sh", refused: `gzip.sh: line 8: #PBS -l jobfs=400GB: unknown resource "jobfs"`},
		{name: "ocelote-interactive.sh", refused: `ocelote-interactive.sh: line 5: #PBS -l select=1:ncpus=6:mem=252gb:pcmem=42gb: select=1:ncpus=6:mem=252gb:pcmem=42gb: chunk resource "pcmem"`},
		{name: "RunJarrod_Skeleton_001.sh", refused: "RunJarrod_Skeleton_001.sh: line 5: #PBS -l nodes=1:ppn=MYPPN: nodes=1:ppn=MYPPN: ncpus=MYPPN"},
		{name: "signal_interrupt.sh", refused: "signal_interrupt.sh: line 5: #SBATCH -C: this sbatch option is not translated"},
		{name: "variable-time-jobs.sh", refused: "variable-time-jobs.sh: line 4: #SBATCH -C: this sbatch option is not translated"},
		{name: "vcs.5.art.sh", refused: "vcs.5.art.sh: line 8: #SBATCH --workdir: this sbatch option is not translated"},
		{name: "array_test.sh", refused: `array_test.sh: line 7: #SBATCH --array: array "SRR8652107,SRR8652105,SRR8670674,SRR1974202": "SRR8652107" is not an index`},
		{name: "p2p-scatterexcl.sh", refused: "p2p-scatterexcl.sh: line 1: #PBS -l place=scatter:excl: place=scatter:excl: excl is not supported on a single host"},
		{
			name: "mySbatchArrayScript.sh",
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Name != "test_array" || j.WalltimeSec != 1800 {
					t.Errorf("array %+v", j)
				}
				hasAll(t, "resources", j.Resources, "mem=1gb")
				subjobFiles(t, subs, 10, func(_ proto.JobInfo, i int) string { return file(fmt.Sprintf("test_array_log.%d.o", i)) },
					func(i int) string { return fmt.Sprintf("job array id %d\nreads_%d.fastq\n", i, i) })
			},
		},
		{
			// Its array comes from the command line (sbatch --array=1-4
			// there; qsub's -J here).
			name: "test_job.sh", args: []string{"-J", "1-4"},
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.WalltimeSec != 900 {
					t.Errorf("walltime %v, want 900 s (--time=0-00:15:00)", j.WalltimeSec)
				}
				hasAll(t, "resources", j.Resources, "mem=1gb")
				subjobFiles(t, subs, 4, func(_ proto.JobInfo, i int) string {
					return file(fmt.Sprintf("slurm-%d_%d.out", jobs.ID(j.ID).Base(), i))
				},
					func(i int) string { return fmt.Sprintf("Processing task %d\ninput_%d\n", i, i) })
			},
		},
		{
			name: "6a_MrBayes.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// %a of a job that is not an array: Slurm's NO_VAL-1.
				want := filepath.Join(b.home, "history", fmt.Sprintf("slurm-%d_4294967294.out", j.ID))
				if j.Stdout != want || j.MailPoints != "abe" || j.MailUsers != "araje002@ucr.edu" {
					t.Errorf("job record %+v, want output %s", j, want)
				}
				hasAll(t, "output", jobFile(t, want), fmt.Sprintf("mb on %s job %d\n", host, j.ID))
			},
		},
		{
			name: "submit_newenv.sh",
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				hasAll(t, "resources", j.Resources, "mem=20mb", "walltime=01:00:00")
				subjobFiles(t, subs, 3, func(_ proto.JobInfo, i int) string { return file(fmt.Sprintf("run_%d.txt", i)) },
					func(i int) string { return fmt.Sprintf("--jobid=%d env=env_%d\n", i, i) })
			},
		},
		{
			name: "pbs-array.sh", exit: 2,
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				// PBS's array exit status: 1 when a subjob exited non-zero.
				if j.ExitStatus == nil || *j.ExitStatus != 1 {
					t.Errorf("array exit status %v, want 1", j.ExitStatus)
				}
				if len(subs) != 4 {
					t.Fatalf("%d subjobs", len(subs))
				}
				for _, s := range subs {
					hasAll(t, "output", jobFile(t, file(fmt.Sprintf("array-ms.o%d.%d", jobs.ID(j.ID).Base(), jobs.ID(s.ID).Index()))), `Syntax error: "(" unexpected`)
				}
			},
		},
		{
			name: "p2p-pack.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "short_cpuQ" || j.Stdout != file("p2p-pack.csv") || j.Stderr != file("p2p-pack.err") {
					t.Errorf("job record %+v", j)
				}
				// select=1:ncpus=2: mpiprocs is 1, the host once in PBS_NODEFILE.
				if got := jobFile(t, j.Stdout); got != "np=1 ncpus=2\n" {
					t.Errorf("output %q", got)
				}
				hasAll(t, "error file", jobFile(t, j.Stderr), "module: command not found")
			},
		},
		{
			name: "pbs.py", args: []string{"-v", "I=x"},
			check: func(t *testing.T, j proto.JobInfo, subs []proto.JobInfo) {
				if j.Priority != 1 || j.Join != "oe" {
					t.Errorf("array %+v", j)
				}
				subjobFiles(t, subs, 9, func(_ proto.JobInfo, i int) string {
					return file(fmt.Sprintf("pbs.py.o%d.%d", jobs.ID(j.ID).Base(), i))
				},
					func(i int) string { return fmt.Sprintf("seed x%d\n", i) })
			},
		},
		{
			name: "24.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Name != "rs4-24" || j.Rerunnable == nil || *j.Rerunnable || !j.ExportEnv || j.MailPoints != "ae" || j.MailUsers != "eshi@pppl.gov" {
					t.Errorf("job record %+v", j)
				}
				hasAll(t, "resources", j.Resources, "mem=4gb", "walltime=32:00:00")
				if got := jobFile(t, file(fmt.Sprintf("rs4-24.o%d", j.ID))); got != "gkeyll -i 24.lua -pc_type lu\n" {
					t.Errorf("output %q", got)
				}
			},
		},
		{name: "gordon_shadow.q", refused: "gordon_shadow.q: line 12: #PBS -d @PANFISH_JOB_CWD@: -d " + w + "/@PANFISH_JOB_CWD@: " + w + "/@PANFISH_JOB_CWD@ is not a directory"},
		{
			name: "gordon_shadow-filled.q",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// -d sub: the job runs there, and its relative -o and -e are
				// there; -W umask=0022 makes them 0644.
				sub := file("sub")
				if j.Workdir != sub || j.Stdout != filepath.Join(sub, "panfish.out") || j.Stderr != filepath.Join(sub, "panfish.err") ||
					j.Queue != "normal" || j.Account != "ddp140" || j.MailPoints != "n" {
					t.Errorf("job record %+v", j)
				}
				if got, want := jobFile(t, j.Stdout), "run job.file in "+sub+"\n"; got != want {
					t.Errorf("output %q, want %q", got, want)
				}
				hasAll(t, "error file", jobFile(t, j.Stderr), "real ", "user ", "sys ")
				if st, err := os.Stat(j.Stdout); err != nil || st.Mode().Perm() != 0o644 {
					t.Errorf("output file: %v, %v, want mode 0644", st.Mode(), err)
				}
			},
		},
		{
			name: "test_script.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Stdout != file("res.txt") || j.WalltimeSec != 3600 {
					t.Errorf("job record %+v (--time=60:00 is an hour)", j)
				}
				hasAll(t, "resources", j.Resources, "mem=200mb")
				if got := jobFile(t, j.Stdout); got != host+"\n" {
					t.Errorf("output %q", got)
				}
			},
		},
		{
			name: "job_test.sl",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				if j.Queue != "long" || j.WalltimeSec != 600 {
					t.Errorf("job record %+v", j)
				}
				if got := jobFile(t, file("res_long.txt")); got != host+"\n" {
					t.Errorf("output %q", got)
				}
			},
		},
		{name: "skypilot-run.sh", refused: "skypilot-run.sh: line 3: #SBATCH --nodes: nodes=2: not translated"},
		{
			name: "skypilot-run-1node.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// %x-%j.out; srun --jobid of the job itself runs in it.
				if got := jobFile(t, file(fmt.Sprintf("test-nodes-%d.out", j.ID))); got != host+"\n" {
					t.Errorf("output %q", got)
				}
			},
		},
		{name: "localdisk.sh", refused: "localdisk.sh: line 5: #SBATCH --nodes: nodes=2: not translated"},
		{
			name: "junk.csh", exit: cshExit,
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// Without /bin/csh the job ran and failed with the shell's
				// 127, the reason in its output, kept (-k oe) in the home
				// directory; with it, it ran.
				home, err := os.UserHomeDir()
				if err != nil {
					t.Fatal(err)
				}
				kept := filepath.Join(home, fmt.Sprintf("test-aqf-Final.o%d", j.ID))
				t.Cleanup(func() { os.Remove(kept) })
				if j.Stdout != kept || j.Queue != "forecast" || j.MailUsers != "v.singh3@herts.ac.uk,x.francis@herts.ac.uk" {
					t.Errorf("job record %+v, want its output kept in %s", j, kept)
				}
				want := "Job terminated\n"
				if cshExit != 0 {
					want = ": /bin/csh: bad interpreter: no such file or directory"
				}
				hasAll(t, "kept output", jobFile(t, kept), want)
			},
		},
		{
			name: "06_C_gigas_RNA_pipeline_bowtie_build.sh",
			check: func(t *testing.T, j proto.JobInfo, _ []proto.JobInfo) {
				// #PBS-l is PBS's -l: the walltime is the script's, not the
				// queue's default, and -j oe holds.
				if j.WalltimeSec != 1000*3600 || j.Join != "oe" {
					t.Errorf("job record %+v, want walltime 1000:00:00 from #PBS-l", j)
				}
				if got := jobFile(t, j.Stdout); !strings.HasPrefix(got, "START ") || !strings.Contains(got, "\nindex built\nSTOP ") {
					t.Errorf("output %q", got)
				}
			},
		},
	}
	type submitted struct {
		s  realScript3
		id jobs.ID
	}
	var subs []submitted
	for _, s := range scripts {
		path := b.script(s.name, realScript3Body(t, s.name))
		r := b.run("qsub", append(s.args, filepath.Base(path))...)
		if s.refused != "" {
			if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, s.refused) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("%s: %v, want one line of refusal with %q", s.name, r, s.refused)
			}
			continue
		}
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: %v", s.name, r)
			continue
		}
		id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
		if err != nil {
			t.Errorf("%s: qsub printed %q", s.name, r.stdout)
			continue
		}
		subs = append(subs, submitted{s, id})
	}
	var arrays []jobs.ID
	for _, sub := range subs {
		t.Run(sub.s.name, func(t *testing.T) {
			j := b.waitEnded(sub.id)
			var subjobs []proto.JobInfo
			wantState, wantExit := "finished", 0
			if sub.s.exit != 0 {
				wantState, wantExit = "failed", sub.s.exit
			}
			if sub.id.IsArrayForm() {
				arrays = append(arrays, sub.id)
				for _, s := range b.status(true, sub.id) {
					if jobs.ID(s.ID).IsSubjob() {
						subjobs = append(subjobs, s)
					}
				}
				for _, s := range subjobs {
					if s.State != wantState || s.ExitStatus == nil || *s.ExitStatus != wantExit {
						t.Errorf("subjob %s: %s (%s), exit status %v, want %s, %d", jobs.ID(s.ID), s.State, s.Reason, s.ExitStatus, wantState, wantExit)
					}
				}
			} else if j.State != wantState || j.ExitStatus == nil || *j.ExitStatus != wantExit {
				t.Fatalf("%s (%s), exit status %v, want %s, %d", j.State, j.Reason, j.ExitStatus, wantState, wantExit)
			}
			sub.s.check(t, j, subjobs)
		})
	}
	// What users type next: qstat -x lists each ended array once, and
	// getopt's letters run together (qstat -fx, -xt) as PBS's qstat takes
	// them.
	list := b.mustRun("qstat", "-x")
	for _, id := range arrays {
		if n := strings.Count(list, "\n"+id.String()+"."); n != 1 {
			t.Errorf("qstat -x lists %s %d times:\n%s", id, n, list)
		}
	}
	if len(subs) > 0 {
		id := subs[0].id.String()
		full := b.mustRun("qstat", "-fx", id)
		hasAll(t, "qstat -fx", full, "Job Id: "+id+".", "job_state = F", "Exit_status = 0")
		hasAll(t, "qstat -xt", b.mustRun("qstat", "-xt", id), id[:len(id)-1]+"1]")
		// -1: the host (PBS's "--" for a job not running) on the job's line.
		for _, line := range strings.Split(b.mustRun("qstat", "-xan1", id), "\n") {
			if strings.HasPrefix(line, id+".") && !strings.HasSuffix(line, " F   --  --") {
				t.Errorf("qstat -xan1: %q, want the array's line to end with its state, elapsed time and --", line)
			}
		}
	}
}

// TestBatchRealScripts3Chains runs two submission scripts as they are,
// with the batch commands on PATH: grshukla/ABA_project qsub.sh (an
// afterany chain of jobs whose scripts are in subdirectories; its first
// four links) and burlen/H3D-IO runConfigKraken/qsub-deptest.sh (an
// afterok chain asking for Cray's -l size=12, which every qsub refuses,
// so that each later qsub gets an empty job id to depend on).
func TestBatchRealScripts3Chains(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	for _, n := range []string{"21", "22", "23", "24"} {
		dir := filepath.Join(b.work, "sim"+n)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prod.pbs"), []byte("#!/bin/bash\n#PBS -l walltime=00:01:00\ncd $PBS_O_WORKDIR\ndate +%s%N >> chain.t\necho sim"+n+" $PBS_JOBNAME\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.script("date.qsub", "#!/bin/bash\ndate\n")
	// Each script's exit status is its last qsub's.
	run := func(name string, wantExit int) (string, string) {
		path := b.script(name, realScript3Body(t, name))
		cmd := exec.Command("/bin/bash", path)
		cmd.Dir, cmd.Env = b.work, append(b.env(), "PATH="+binDir+":/usr/bin:/bin")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code != wantExit {
			t.Fatalf("%s: %v, exit status %d (%s)", name, err, code, stderr.String())
		}
		return string(out), stderr.String()
	}
	out, errs := run("aba-qsub.sh", 0)
	ids := strings.Fields(out)
	if len(ids) != 4 || errs != "" {
		t.Fatalf("aba-qsub.sh printed %q, %q", out, errs)
	}
	for i, s := range ids {
		id, err := parseJobID(s)
		if err != nil {
			t.Fatalf("job id %q: %v", s, err)
		}
		j := b.waitState(id, "finished", "failed")
		// The job is named after the script's file and runs, and writes its
		// output, where qsub ran, not where the script is.
		want := filepath.Join(b.work, fmt.Sprintf("prod.pbs.o%d", id))
		if j.State != "finished" || j.Stdout != want {
			t.Fatalf("link %d: %s (%s), output %s, want %s", i+1, j.State, j.Reason, j.Stdout, want)
		}
		if got := jobFile(t, want); got != fmt.Sprintf("sim%d prod.pbs\n", 21+i) {
			t.Errorf("link %d printed %q", i+1, got)
		}
	}
	times := strings.Fields(jobFile(t, filepath.Join(b.work, "chain.t")))
	for i := 1; i < len(times); i++ {
		if len(times) != 4 || times[i-1] >= times[i] {
			t.Errorf("afterany chain ran out of order: %q", times)
			break
		}
	}
	out, errs = run("qsub-deptest.sh", 1)
	if out != "" || strings.Count(errs, `unknown resource "size"`) != 3 {
		t.Errorf("qsub-deptest.sh: printed %q, errors %q: want -l size refused by each qsub", out, errs)
	}
	if left := b.jobs(); len(left) != 4 {
		t.Errorf("%d jobs, want the 4 of the chain", len(left))
	}
}

// shortHostname is the server's name by default (lazarus.conf has no
// server_name): what qsub prints after the job's number, and PBS_JOBID
// has.
func shortHostname() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return h
}
