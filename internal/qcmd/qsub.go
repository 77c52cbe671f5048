package qcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/config"
	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewQsub builds qsub.
func NewQsub(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := newApp("qsub", "submit a batch job",
		"qsub [-q queue] [-N name] [-o path] [-e path] [-j oe|eo|n] [-k keep] [-r y|n] [-h]\n"+
			"        [-a [[[[CC]YY]MM]DD]hhmm[.SS]] [-l resources] [-v VAR[=value],...] [-V]\n"+
			"        [-c checkpoint] [-A account] [-P project] [-p priority] [-S shell]\n"+
			"        [-u user] [-W umask=NNN,group_list=GROUP,depend=LIST] [-J range] [-C prefix] [-z]\n"+
			"        [script | - | -- command [args...]]\n"+
			"qsub -I [options] [script]",
		`qsub submits the script (a file, or standard input when the script is "-" or
absent) to lazarusd and prints the new job's id. The script is copied at
submission: changing the file afterwards does not change the job. After
"--", qsub submits a job that runs the command with its arguments instead.

DIRECTIVES. Lines of the script that start with #PBS (the prefix of -C, else
of $PBS_DPREFIX; -C "" reads none), before its first command, give options
as on the command line, which wins over them: "#PBS -l walltime=1:00:00".
No variable is expanded in a directive (#PBS -e out.$PBS_JOBID is that name).
Lines that start with #SBATCH are translated from Slurm: --job-name (-J),
--time (-t), --mem, --mem-per-cpu, --cpus-per-task (-c), --ntasks (-n) and
--ntasks-per-node (mpiprocs of cpus-per-task CPUs each; srun runs that many tasks),
--nodes=1 (-N), --array (-a: a list, 1,6-7,12%2), --dependency (-d: after,
afterok, afternotok, afterany; "," all, "?" one of them),
--output (-o) and --error (-e) with %j %J %x %A %a %u %N %n %t %s %% (and
zero padding, %4j), --chdir (-D: where the job runs), --partition (-p, the
queue), --account (-A), --requeue, --no-requeue, --export=ALL|NONE|
[ALL,]NAME[=value],... (only the variables named, as -v, unless ALL; a Slurm
job gets the submitter's environment by default), --mail-type (NONE, BEGIN,
END, FAIL, ALL: -m n, b, e, a, abe) and --mail-user (-M); its
output goes to slurm-%j.out, with standard error, by default. Everything
else is refused, as is any option this system does not honour: the
error names the line and the option. Refused too: a script with CRLF line
ends, a directive after the first command or an indented #SBATCH (PBS
and Slurm would ignore them; an indented #PBS, or #PBS-l with no blank, is
a directive, as in PBS), -X, -G, -R, and --nodes above 1 (use -l
select=N:...:place=scatter).

CHUNKS. -l select=N:ncpus=..:mem=..:mpiprocs=..:ompthreads=.. asks for N
chunks, each on one host; kinds join with "+" (select=1:ncpus=4+2:ncpus=1);
nodes=N:ppn=M is select=N:ncpus=M:mpiprocs=M with place=scatter. -l
place=free|pack|scatter[:excl|:shared]: each chunk where it fits, all on
one node, each on a node of its own; excl: nothing else on the nodes
while the job runs. In a cluster the script starts on the first chunk's
node, the others are held for the run; a job that never fits the nodes
gets a "Can Never Run" comment (qstat -f). On a single host every chunk
goes on the host; scatter of several chunks and excl are refused. A run
on several hosts cannot be checkpointed (qchkpnt refuses it; a drain
reruns it).

Mail (-m, -M): PBS's messages, sent through lazarusd's sendmail (lazarus.conf
sendmail, mail_from) to the -M list, or to you: a when the system ends the
job (it could not start, was lost, deleted, over its walltime, cput or mem),
b when a run begins (also a restart from a checkpoint), e when it ends by
itself; -m n sends none. The default is a, as in PBS. Mail never changes
what happens to the job.

The job runs as you (uid, gid and groups; -W group_list picks another of
your groups), in the directory qsub ran in, without a terminal (but see
INTERACTIVE JOBS), with HOME,
USER, LOGNAME, SHELL and PATH set as at login, plus what -v and -V add (PATH
then ends with the batch commands' directory, for srun, if it lacks it), and
PBS's variables: PBS_JOBID (N.SERVER, as qsub prints it), PBS_JOBNAME, PBS_QUEUE, PBS_O_QUEUE,
PBS_O_WORKDIR, PBS_O_HOST, PBS_O_HOME, PBS_O_PATH, PBS_O_SHELL, PBS_O_LOGNAME
(and PBS_O_LANG, PBS_O_MAIL, PBS_O_TZ), PBS_ENVIRONMENT=PBS_BATCH,
PBS_NODEFILE (each chunk's host once per mpiprocs, 1 unless the chunk
says; a job of -l ncpus=N without a select, N times; rewritten, at the same path, at every start
and restart), NCPUS and OMP_NUM_THREADS (of the first chunk: ompthreads,
else ncpus), and TMPDIR, a directory of the
job's own (mode 0700) that lives as long as the job, across checkpoints and
restarts (LAZARUS_TMPDIR names it too, whatever the script does to TMPDIR). A job
from #SBATCH lines also gets SLURM_JOB_ID, SLURM_JOB_NAME,
SLURM_SUBMIT_DIR, SLURM_SUBMIT_HOST, SLURM_CPUS_PER_TASK, SLURM_NTASKS,
SLURM_TASKS_PER_NODE, SLURM_JOB_NUM_NODES, SLURM_NNODES, SLURM_JOB_NODELIST,
SLURM_NODELIST and SLURM_JOB_PARTITION. The same
values are also in LAZARUS_JOBID, LAZARUS_JOBNAME, LAZARUS_QUEUE,
LAZARUS_NCPUS, LAZARUS_O_WORKDIR, LAZARUS_O_HOST, LAZARUS_O_* and
LAZARUS_ENVIRONMENT=LAZARUS_BATCH. A script whose first line is not "#!"
runs with your login shell (with -S, always with that shell).

Standard output and error go to NAME.oID and NAME.eID in the submit directory
unless -o, -e, -j or -k say otherwise. They are created 0600 (yours alone)
unless -W umask=NNN gives the job another umask (022: 0644).

-c takes this system's forms, n (never), s (before maintenance only) or an
interval: a bare number is HOURS (the CONVEX guide's unit: -c 2 is every two
hours), or a duration (90m). It also takes PBS's forms, where the numbers
are MINUTES: c=30 and w=30 (every 30 minutes of wall time: this system
counts wall time for both), c and w (the queue's ckpt_default interval; if
it has none, never), u (as s). So "qsub -c 30" checkpoints every 30 hours,
"qsub -c w=30" every 30 minutes.

With a root lazarusd the job runs as the init of a PID namespace of its own
(its $$ is 1), so that its whole process tree can be checkpointed (-c,
qchkpnt) and restarted with its pids after a crash (qrestart).

JOB ARRAYS. -J start-end[:step][%max] (#PBS -J, #SBATCH --array; Torque's
-t, which also takes a list, 1-4,10[%max]) submits one
array job, N[].SERVER, of subjobs N[i] that share its script: each runs it
once, as a job of its own (checkpointed, held, requeued, restarted on its
own), with PBS_ARRAY_INDEX (and Torque's PBS_ARRAYID), PBS_ARRAY_ID
(N[].SERVER) and PBS_JOBID (N[i].SERVER; LAZARUS_JOBID N[i]); from
#SBATCH, SLURM_ARRAY_TASK_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_COUNT,
_MIN, _MAX. Output goes to NAME.oN.i (^array_index^ in a -o path is the
index; %A and %a in Slurm's). %max bounds the subjobs running at once (one
held or requeued does not count). qstat shows the array (Q, B once begun,
F), qstat -t its subjobs (X once ended); qdel, qhold and qrls take N[], N[i]
or a range N[1-5]. The array has its own Q, D and E accounting records.

DEPENDENCIES. -W depend=TYPE:ID[:ID...][,TYPE:ID...] with TYPE after (once
ID started), afterok (ended with status 0), afternotok (ended otherwise),
afterany (ended), before, beforeok, beforenotok, beforeany (the jobs named
wait for this one), on:COUNT (wait for COUNT before-dependencies); ID may be
an array N[] (afterok: every subjob ended with 0) or a subjob N[i]. The job
waits held (Hold_Types s, with a comment); when a dependency can never be
met it is deleted without running (failed, its comment says why). A
dependency on an unknown job is refused.

INTERACTIVE JOBS. -I (#PBS -I, -W interactive=true) submits a job that is
queued and scheduled as any other; qsub prints "qsub: waiting for job N to
start", then "qsub: job N ready" once it runs. The job runs your login
shell (-S: that shell) as a login shell, in your home directory, in the
job's namespaces, with PBS_ENVIRONMENT=PBS_INTERACTIVE and qsub's TERM, on
a pseudo terminal whose other side is this terminal: qsub puts it in raw
mode, relays both ways, passes window size changes on (SIGWINCH), puts
your terminal's settings back however it ends, and exits with the shell's
exit status. A script's directives are read, its commands not run. "~." at
the start of a line ends the session. Standard input must be a terminal.
qsub ending while the job waits deletes the job; while it runs, the job is
killed ("interactive session ended" in qstat -f -x). The job is
checkpointable; stopped by a checkpoint (qhold, qchkpnt -k), it resumes on
a terminal with qrestart --attach, else restarts in batch with its
terminal pointed to its output file. -X is refused: no X11 forwarding.

Options go before the script.

`+environmentHelp, stdin, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "q", Usage: "queue to submit to (default: default_queue of lazarusd, \"batch\")"},
		&cli.StringFlag{Name: "F", Usage: "arguments of the script ($1, $2...): one string, split at blanks, quotes keeping blanks in a word: -F \"in.dat 'a b'\""},
		&cli.StringFlag{Name: "N", Usage: "job name (default: the script's file name, the command's, or STDIN)"},
		&cli.StringFlag{Name: "o", Usage: "standard output file, or an existing directory for NAME.oID; [host:]path, host this one"},
		&cli.StringFlag{Name: "e", Usage: "standard error file, or an existing directory for NAME.eID; [host:]path, host this one"},
		&cli.StringFlag{Name: "j", Usage: "join: oe (stderr into the output file), eo (stdout into the error file), n (no)"},
		&cli.StringFlag{Name: "k", Usage: "keep: o, e (the stream goes to NAME.oID, NAME.eID in your home directory, as PBS keeps it), d (written directly to its path: what this system always does), n (no)"},
		&cli.StringFlag{Name: "r", Usage: "rerunnable y|n: whether a run lost in a machine crash may start again (default y)"},
		&cli.BoolFlag{Name: "h", DisableDefaultText: true, Usage: "hold the job at submission (qrls releases it)"},
		&cli.StringFlag{Name: "a", Usage: "do not start before [[[[CC]YY]MM]DD]hhmm[.SS], local time (a past hhmm means tomorrow)"},
		&cli.StringSliceFlag{Name: "l", Usage: "resources: ncpus=N (default 1), mem=SIZE (b, kb, mb, gb, tb), walltime=[[HH:]MM:]SS, cput=[[HH:]MM:]SS (CPU time of the whole job), select=[N:]ncpus=N:mem=SIZE[:mpiprocs=N][:ompthreads=N][+...] (chunks), nodes=N[:ppn=M], procs=N, place=free|pack|scatter|vscatter[:shared|excl|exclhost], net=private|host (private: a network namespace of its own with loopback only, fresh at each restart; no network outside the job); repeatable"},
		&cli.StringSliceFlag{Name: "v", Usage: "variables to export: VAR=value, or VAR for its value here; comma separated, repeatable"},
		&cli.BoolFlag{Name: "V", DisableDefaultText: true, Usage: "export all of qsub's environment to the job"},
		&cli.StringFlag{Name: "c", Usage: "checkpoint policy: n, s, HOURS (2, 0.5), a duration (90m), or PBS's c, w, c=MINUTES, w=MINUTES, u (see above)"},
		&cli.StringFlag{Name: "A", Usage: "account string, recorded with the job (Account_Name)"},
		&cli.StringFlag{Name: "P", Usage: "project, recorded with the job"},
		&cli.StringFlag{Name: "p", Usage: "priority, -1024 to 1023 (default 0): higher starts first among its queue's waiting jobs"},
		&cli.StringFlag{Name: "S", Usage: "shell that runs the script, path[@host][,path@host...] (default: its #! line, else your login shell)"},
		&cli.StringFlag{Name: "u", Usage: "user to run as, user[@host][,...]: only you"},
		&cli.StringSliceFlag{Name: "W", Usage: "attributes: umask=NNN (of the job and its output files; default: the files are 0600), group_list=GROUP[@host][,...] (one of your groups), depend=TYPE:ID[:ID...][,...] (see DEPENDENCIES), interactive=true (as -I); repeatable"},
		&cli.StringFlag{Name: "C", Usage: "directive prefix (default $PBS_DPREFIX, else #PBS); \"\" reads no directives"},
		&cli.BoolFlag{Name: "z", DisableDefaultText: true, Usage: "do not print the job id"},
		&cli.StringFlag{Name: "d", Usage: "Torque's: the directory the job runs in (default: the current one)"},
		&cli.BoolFlag{Name: "f", DisableDefaultText: true, Usage: "accepted for PBS: qsub never runs in the background"},
		&cli.StringFlag{Name: "m", Usage: "mail when the job is aborted (a), begins (b), ends (e), or n for none; default a"},
		&cli.StringFlag{Name: "M", Usage: "who gets the job's mail: user[@host],... (default: you)"},
		&cli.StringFlag{Name: "J", Usage: "array job: subjobs start-end[:step][%max running at once] (see JOB ARRAYS)"},
		&cli.StringFlag{Name: "t", Usage: "Torque's array option: subjobs as indices and ranges, 1-10,15[%max running at once]; PBS_ARRAYID is the index (see JOB ARRAYS)"},
		&cli.StringFlag{Name: "R", Usage: "refused: output files are always kept"},
		&cli.BoolFlag{Name: "I", DisableDefaultText: true, Usage: "interactive job: once it starts, your login shell runs on a terminal relayed to this one (see INTERACTIVE JOBS)"},
		&cli.BoolFlag{Name: "X", DisableDefaultText: true, Usage: "refused: no X11 forwarding"},
		&cli.BoolFlag{Name: "G", DisableDefaultText: true, Usage: "refused: a PBS feature of Windows"},
	}
	app.Action = func(c *cli.Context) error {
		req, ds, err := submitRequest(c)
		if err != nil {
			return err
		}
		// The key makes a retry safe: when the connection breaks before
		// the reply, the job may be stored or not; sent again with the
		// same key, the submission gets the job that was stored, if one
		// was, instead of a second one.
		req.Key = proto.NewKey()
		var reply proto.SubmitReply
		if err := proto.CallRetry(c.Context, config.StateDir(""), proto.OpSubmit, req, &reply); err != nil {
			err = blame(err, ds, len(c.StringSlice("l")) > 0)
			var de *jobs.DirectiveError
			if errors.As(err, &de) && req.ScriptName != "" {
				// As for a refusal qsub finds itself: the script, then its line.
				err = fmt.Errorf("%s: %w", req.ScriptName, err)
			}
			return err
		}
		if req.Interactive {
			return interactiveQsub(c, reply)
		}
		o := options{c: c, ds: ds}
		if !o.flag("z") {
			fmt.Fprintln(c.App.Writer, fullID(reply.ID, reply.Server))
		}
		if w, err := o.wAttrs(); err == nil && strings.EqualFold(w["block"], "true") {
			// -W block=true: qsub returns once the job has ended, with
			// its exit status (1 for one killed or ended otherwise).
			return sbatchWait(c, jobs.ID(reply.ID))
		}
		return nil
	}
	return app
}

// originVars are sent even without -V: the job sees them as LAZARUS_O_*.
var originVars = []string{"HOME", "LANG", "LOGNAME", "PATH", "MAIL", "SHELL", "TZ"}

func submitRequest(c *cli.Context) (*proto.SubmitRequest, []jobs.Directive, error) {
	now := time.Now()
	args := c.Args().Slice()
	command := dashDash(c)
	if len(args) > 1 && !command {
		return nil, nil, fmt.Errorf("unexpected argument %q after the script (options go before the script; a command and its arguments go after --)", args[1])
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot find the current directory: %w", err)
	}
	req := &proto.SubmitRequest{Workdir: cwd}
	interactive := c.Bool("I")
	for _, arg := range c.StringSlice("W") {
		if m, err := parseW(arg); err == nil && strings.EqualFold(m["interactive"], "true") {
			interactive = true
		}
	}
	switch {
	case command && len(args) == 0:
		return nil, nil, fmt.Errorf("no command after --")
	case command:
		// qsub -- cmd args: the job runs the command with its arguments.
		req.ScriptName = args[0]
		req.Script = commandScript(args)
	case interactive && len(args) == 0:
		// Standard input is the job's terminal, not a script.
		req.Script = []byte(interactiveScript)
	case interactive && args[0] == "-":
		return nil, nil, fmt.Errorf("-I: the script cannot come from standard input, which is the job's terminal (name a file)")
	case len(args) == 0 || args[0] == "-":
		req.Script, err = io.ReadAll(c.App.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("read the script from standard input: %w", err)
		}
	default:
		req.ScriptName = args[0]
		req.Script, err = os.ReadFile(args[0])
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read script %s: %w", args[0], unwrapPath(err))
		}
	}
	if c.IsSet("F") {
		switch {
		case command:
			return nil, nil, fmt.Errorf("-F: the arguments of a command go after it, after --")
		case interactive:
			return nil, nil, fmt.Errorf("-F: an interactive job runs no script to give arguments to")
		}
		if req.Args, err = jobs.SplitArgs(c.String("F")); err != nil {
			return nil, nil, fmt.Errorf("-F %s: %w", c.String("F"), err)
		}
	}
	if len(bytes.TrimSpace(req.Script)) == 0 {
		return nil, nil, fmt.Errorf("the script is empty")
	}
	if len(req.Script) > proto.MaxScript {
		return nil, nil, fmt.Errorf("the script is %d bytes, more than the %d a job script may have", len(req.Script), proto.MaxScript)
	}
	// The command line's own options are checked first, by name.
	for _, name := range singleOptions {
		if c.IsSet(name) {
			if err := checkOption(name, c.String(name), now); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, name := range []string{"l", "v", "W"} {
		for _, v := range c.StringSlice(name) {
			if err := checkOption(name, v, now); err != nil {
				return nil, nil, err
			}
		}
	}
	if c.Bool("X") {
		return nil, nil, checkX11()
	}
	if c.Bool("G") {
		return nil, nil, fmt.Errorf("-G: %w", jobs.RefusedOption("G", ""))
	}
	var ds []jobs.Directive
	if !command {
		if ds, err = readDirectives(c, req.Script, now); err != nil {
			if name := req.ScriptName; name != "" {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			return nil, nil, err
		}
	}
	o := options{c: c, ds: ds}
	if dir, d := o.str(jobs.Chdir); dir != "" {
		// Torque's -d, sbatch --chdir: the job runs there, and relative
		// paths of its output are relative to it (so is PBS_O_WORKDIR,
		// SLURM_SUBMIT_DIR).
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			err := fmt.Errorf("-d %s: %s is not a directory", dir, dir)
			if d != nil {
				err = fmt.Errorf("%s: %w", req.ScriptName, lineError(*d, err))
			}
			return nil, nil, err
		}
		cwd = filepath.Clean(dir)
		req.Workdir = cwd
	}
	req.Name, _ = o.str("N")
	req.Queue, _ = o.str("q")
	req.Join, _ = o.str("j")
	req.Rerunnable, _ = o.str("r")
	req.Checkpoint, _ = o.str("c")
	req.Account, _ = o.str("A")
	req.MailPoints, _ = o.str("m")
	req.MailUsers, _ = o.str("M")
	req.Project, _ = o.str("P")
	req.Priority, _ = o.str("p")
	req.Keep, _ = o.str("k")
	req.Shell, _ = o.str("S")
	req.UserList, _ = o.str("u")
	req.Hold = o.flag("h")
	req.Resources = o.list("l")
	if ntasks, d := o.str(jobs.SlurmNTasks); d != nil {
		// --ntasks=N: N MPI processes of --cpus-per-task CPUs each.
		res := jobs.Resources{NCPUs: 1}
		for _, l := range req.Resources {
			res, _ = jobs.ParseResources(res, l)
		}
		n, _ := strconv.Atoi(ntasks)
		if n > 1<<20 || res.NCPUs > 1<<20 {
			return nil, nil, lineError(*d, fmt.Errorf("%d tasks of %d CPUs: too many", n, res.NCPUs))
		}
		req.Resources = append(req.Resources, fmt.Sprintf("select=1:ncpus=%d:mpiprocs=%d:ompthreads=%d", n*res.NCPUs, n, res.NCPUs))
	}
	if perCPU, d := o.str(jobs.SlurmMemPerCPU); d != nil {
		// --mem-per-cpu: memory for the job's CPUs, as they end up.
		res := jobs.Resources{NCPUs: 1}
		for _, l := range req.Resources {
			res, _ = jobs.ParseResources(res, l)
		}
		n, _ := strconv.ParseInt(perCPU, 10, 64)
		if n > math.MaxInt64/int64(res.NCPUs) {
			return nil, nil, lineError(*d, fmt.Errorf("%d CPUs of %s: too much memory", res.NCPUs, jobs.FormatSize(n)))
		}
		req.Resources = append(req.Resources, "mem="+jobs.FormatSize(n*int64(res.NCPUs)))
	}
	req.Slurm = o.slurm()
	req.Signal, _ = o.str(jobs.SlurmSignalOpt)
	if mode, _ := o.str(jobs.SlurmOpenMode); mode == "append" {
		req.OpenAppend = true
	}
	// A Slurm job gets the submitter's environment unless it says
	// --export=NONE, as sbatch does.
	req.ExportEnv = o.flag("V") || req.Slurm && !o.has(jobs.SlurmExportNone)
	w, err := o.wAttrs()
	if err != nil {
		return nil, nil, err
	}
	req.Umask, req.GroupList, req.Depend = w["umask"], w["group_list"], w["depend"]
	if req.Interactive = o.flag("I") || strings.EqualFold(w["interactive"], "true"); req.Interactive {
		switch {
		case command:
			return nil, nil, fmt.Errorf("-I: an interactive job runs your login shell; it takes no command")
		case c.IsSet("J") || o.has("J") || c.IsSet("t") || o.has("t") || o.has(jobs.SlurmArray):
			return nil, nil, fmt.Errorf("-I: an array job (-J) cannot be interactive")
		case len(args) > 0 && args[0] == "-":
			return nil, nil, fmt.Errorf("-I: the script cannot come from standard input, which is the job's terminal (name a file)")
		}
		if _, err := terminalOf(c.App.Reader, "-I"); err != nil {
			return nil, nil, err
		}
	}
	if dep, d := o.str(jobs.SlurmDependency); d != nil {
		if req.Depend != "" {
			return nil, nil, lineError(*d, fmt.Errorf("-W depend is given too: give one of them"))
		}
		req.Depend, req.DependSlurm = dep, true
	}
	// The command line's -J wins over the script's --array.
	if list, _ := o.str("J"); list != "" {
		a, err := jobs.ParsePBSArray(list)
		if err != nil {
			return nil, nil, err
		}
		req.Array = a.Spec()
	} else if list, d := o.str("t"); list != "" {
		// Torque's -t takes a list, as #SBATCH --array does.
		a, err := jobs.ParseArray(list)
		if err == nil && a.Len() < 2 {
			err = fmt.Errorf("an array has at least two subjobs")
		}
		if err != nil {
			if d != nil {
				return nil, nil, lineError(*d, err)
			}
			return nil, nil, fmt.Errorf("-t %s: %w", list, err)
		}
		req.Array = a.Spec()
	} else if list, d := o.str(jobs.SlurmArray); d != nil {
		a, err := jobs.ParseArray(list)
		if err != nil {
			return nil, nil, lineError(*d, err)
		}
		req.Array = a.Spec()
	}
	if a, _ := o.str("a"); a != "" {
		if req.After, err = jobs.ParseAfter(a, now); err != nil {
			return nil, nil, err
		}
	}
	for _, flag := range []struct {
		name string
		dst  *string
	}{{"o", &req.Stdout}, {"e", &req.Stderr}} {
		p, _ := o.str(flag.name)
		if p == "" {
			continue
		}
		if p, err = outputArg(flag.name, p, cwd); err != nil {
			return nil, nil, err
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = strings.TrimSuffix(p, "/") + "/"
		}
		*flag.dst = p
	}
	if req.Slurm {
		// sbatch's defaults: slurm-%j.out in the submit directory, and
		// standard error with standard output unless --error names a file.
		if req.Stdout == "" && req.Join != "eo" {
			req.Stdout = filepath.Join(cwd, "slurm-%j.out")
			if req.Array != "" {
				req.Stdout = filepath.Join(cwd, "slurm-%A_%a.out")
			}
		}
		if req.Stderr == "" && req.Join == "" {
			req.Join = "oe"
		}
	}
	for _, list := range o.list("v") {
		vars, err := resolveVars(list)
		if err != nil {
			return nil, nil, err
		}
		req.Vars = append(req.Vars, vars...)
	}
	if req.ExportEnv {
		req.Env = os.Environ()
	} else {
		for _, k := range originVars {
			if v, ok := os.LookupEnv(k); ok {
				req.Env = append(req.Env, k+"="+v)
			}
		}
		if v, ok := os.LookupEnv("TERM"); ok && req.Interactive {
			req.Env = append(req.Env, "TERM="+v) // the type of the terminal relayed
		}
	}
	return req, ds, nil
}

// singleOptions are qsub's options that take one value.
var singleOptions = []string{"N", "q", "j", "r", "c", "a", "o", "e", "A", "P", "p", "k", "S", "u", "m", "M", "J", "t", "R", "d"}

// dashDash reports whether qsub's operands came after "--": a command and
// its arguments rather than a script. urfave/cli drops the "--", so the
// raw arguments (kept by Main) say.
func dashDash(c *cli.Context) bool {
	raw, _ := c.App.Metadata[rawArgsKey].([]string)
	rest := c.Args().Slice()
	for i, a := range raw {
		if a == "--" && slices.Equal(raw[i+1:], rest) {
			return true
		}
	}
	return false
}

// commandScript is the script of qsub -- cmd args: it execs the command
// (found in the job's PATH when it has no "/"), so that the job's process
// is the command itself.
func commandScript(args []string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nexec")
	for _, a := range args {
		b.WriteString(" '" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	b.WriteString("\n")
	return []byte(b.String())
}

// splitVars splits a -v list on commas outside quotes, and removes the
// quotes around a value: -v 'A=1,B="x,y"' gives A=1 and B=x,y.
func splitVars(list string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	for _, r := range list {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote = r
		case r == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("-v %s: unbalanced quote", list)
	}
	out = append(out, cur.String())
	var kept []string
	for _, kv := range out {
		if kv != "" {
			kept = append(kept, kv)
		}
	}
	return kept, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
