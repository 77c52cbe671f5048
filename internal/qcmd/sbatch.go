package qcmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/config"
	"lazarus/internal/proto"
	"lazarus/jobs"
)

// sbatch is Slurm's submission command on top of qsub's: its options are
// translated by the table that translates #SBATCH lines (jobs.SlurmArgs),
// they replace the script's directives of the same name (Slurm's rule:
// the command line wins), and the request is built and sent by qsub's
// code, so that sbatch and "qsub script-with-#SBATCH" make the same job.

// sbatchKey keeps, in the inner qsub app's Metadata, the *sbatchArgs of
// the command line.
const sbatchKey = "sbatch"

// sbatchArgs is sbatch's command line, split.
type sbatchArgs struct {
	words     []string // translated options, for jobs.SlurmArgs
	ds        []jobs.Directive
	parsable  bool
	wrap      *string
	hold      bool
	wait      bool
	quiet     bool
	ignorePBS bool
	testOnly  bool
	help      bool
	version   bool
	script    string   // "" with --wrap or for standard input
	args      []string // the script's arguments
}

// sbatchMarker is a directive that only says "this job is a Slurm job":
// sbatch's job gets slurm-%j.out and SLURM_* even when its script has no
// #SBATCH line.
const sbatchMarker = "sbatch"

// sbatchOwn are the options sbatch handles itself, not translated into
// qsub options; true: they take an argument.
var sbatchOwn = map[string]bool{
	"--parsable": false, "--wrap": true, "--hold": false, "-H": false,
	"--wait": false, "-W": false, "--quiet": false, "-Q": false, "--ignore-pbs": false,
	"--help": false, "-h": false, "--usage": false, "--version": false, "-V": false,
	"--verbose": false, "-v": false, "--test-only": false,
}

// parseSbatchArgs splits sbatch's arguments as Slurm's getopt does: options
// (--opt=value, --opt value, -o value, -ovalue) up to the script, whose
// arguments follow it.
func parseSbatchArgs(args []string) (*sbatchArgs, error) {
	a := &sbatchArgs{}
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "--" {
			if i+1 < len(args) {
				a.script, a.args = args[i+1], args[i+2:]
			}
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			a.script, a.args = w, args[i+1:]
			break
		}
		name, val, hasVal := w, "", false
		if strings.HasPrefix(w, "--") {
			name, val, hasVal = strings.Cut(w, "=")
		} else if len(w) > 2 {
			name, val, hasVal = w[:2], w[2:], true
		}
		if takes, own := sbatchOwn[name]; own {
			if takes && !hasVal {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option '%s' requires an argument", name)
				}
				i++
				val = args[i]
			} else if !takes && hasVal {
				return nil, fmt.Errorf("option '%s' takes no argument", name)
			}
			switch name {
			case "--parsable":
				a.parsable = true
			case "--wrap":
				a.wrap = &val
			case "--hold", "-H":
				a.hold = true
			case "--wait", "-W":
				a.wait = true
			case "--quiet", "-Q":
				a.quiet = true
			case "--ignore-pbs":
				a.ignorePBS = true
			case "--test-only":
				a.testOnly = true
			case "--help", "-h", "--usage":
				a.help = true
			case "--version", "-V":
				a.version = true
			}
			continue
		}
		known, takes := jobs.SlurmOptionArg(w)
		if !known {
			return nil, fmt.Errorf("unrecognized option '%s': not an sbatch option this system translates (see sbatch --help)", name)
		}
		a.words = append(a.words, w)
		if takes && !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("option '%s' requires an argument", name)
			}
			i++
			a.words = append(a.words, args[i])
		}
	}
	ds, err := jobs.SlurmArgs(a.words)
	if err != nil {
		return nil, err
	}
	a.ds = ds
	return a, nil
}

// wrapScript is the script of sbatch --wrap, as Slurm writes it.
func wrapScript(cmd string) []byte {
	return []byte("#!/bin/sh\n# This script was created by sbatch --wrap.\n\n" + cmd + "\n")
}

// sbatchDirectives merges the script's directives with sbatch's command
// line (when c is sbatch's inner qsub): an option given on the command
// line replaces the script's lines of the same option; then come the
// command line's, which win over PBS directives of the same meaning as
// qsub's own options win.
func sbatchDirectives(c *cli.Context, script []byte, prefix string) ([]jobs.Directive, error) {
	a, ok := c.App.Metadata[sbatchKey].(*sbatchArgs)
	if !ok {
		return jobs.ParseDirectives(script, prefix)
	}
	if a.ignorePBS {
		prefix = ""
	}
	ds, err := jobs.ParseDirectives(script, prefix)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	for _, d := range a.ds {
		given[slurmName(d.Slurm)] = true
	}
	// The default names come first: the script's -J and the command
	// line's win over them.
	var out []jobs.Directive
	switch {
	case a.wrap != nil:
		out = append(out, jobs.Directive{Opt: "N", Arg: "wrap"}) // Slurm's name of a --wrap job
	case a.script == "" || a.script == "-":
		out = append(out, jobs.Directive{Opt: "N", Arg: "sbatch"}) // and of a script from standard input
	}
	for _, d := range ds {
		if d.Slurm == "" || !given[slurmName(d.Slurm)] {
			out = append(out, d)
		}
	}
	out = append(out, jobs.Directive{Opt: sbatchMarker, Slurm: "sbatch"})
	out = append(out, a.ds...)
	if a.hold {
		out = append(out, jobs.Directive{Opt: "h"})
	}
	return out, nil
}

// slurmName is the option of a translated directive's Slurm field,
// "--time=10" → "--time".
func slurmName(s string) string {
	name, _, _ := strings.Cut(s, "=")
	return name
}

// sbatchError is Slurm's form of an error: "sbatch: error: ...".
func sbatchError(err error) error {
	if err == nil || errors.Is(err, errReported) {
		return err
	}
	var ec cli.ExitCoder
	code := 1
	if errors.As(err, &ec) {
		if ec.Error() == "" {
			return err // an exit status alone (--wait)
		}
		code = ec.ExitCode()
	}
	// An option of the command line is a directive of line 0 to qsub's
	// code: name the option as it was given, without a line.
	var de *jobs.DirectiveError
	if errors.As(err, &de) && de.Line == 0 {
		err = fmt.Errorf("%s: %w", strings.TrimPrefix(de.Option, jobs.SlurmPrefix+" "), de.Err)
	}
	return cli.Exit("error: "+err.Error(), code)
}

// NewSbatch builds sbatch.
func NewSbatch(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := newApp("sbatch", "submit a batch script (Slurm's command)",
		"sbatch [options] [script [args...]]\nsbatch [options] --wrap=COMMAND",
		`sbatch submits a batch script to lazarusd, as Slurm's sbatch does, and
prints "Submitted batch job N" (with --parsable, N alone). The script is a
file, or standard input when none is named; its first line must start with
"#!". The job is made as qsub makes it from a script with #SBATCH lines (see
qsub --help, DIRECTIVES): the same options are translated, in the same way,
and options of the command line replace the script's #SBATCH lines of the
same option. #PBS lines are read too, as Slurm's sbatch reads them, unless
--ignore-pbs. The job runs in the submit directory (or --chdir) with the
submitter's environment (--export), writes slurm-%j.out (slurm-%A_%a.out for
an array) unless --output/--error say otherwise, and gets SLURM_JOB_ID and
the other SLURM_* variables as well as PBS's.

OPTIONS TRANSLATED (as on #SBATCH lines):
   -J, --job-name=NAME        -t, --time=TIME          --mem=SIZE
   --mem-per-cpu=SIZE         -c, --cpus-per-task=N    -n, --ntasks=N
   --ntasks-per-node=N        -N, --nodes=1            -o, --output=PATTERN
   -e, --error=PATTERN        -p, --partition=QUEUE    -A, --account=NAME
   -D, --chdir=DIR            --requeue, --no-requeue  --export=ALL|NONE|[ALL,]VAR[=value],...
   --mail-type=TYPE,...       --mail-user=USER         -a, --array=LIST[%MAX]
   -d, --dependency=TYPE:ID[:ID...][,|?...] (after, afterok, afternotok, afterany;
       ID may be an array N or an array task N_I)
   --signal=[B:]SIG[@TIME]    SIG is sent TIME seconds (60 by default) before
                              the --time limit: with B:, to the script alone
                              (which gets it only if it traps it, as a bash
                              script does with trap ... SIG), else to every
                              other process of the job; then, at the limit,
                              the job is killed as without it
   --open-mode=append|truncate  append to the output and error files (a
                              requeued or rerun job adds to them) or not
Accepted with no effect here (they tune a scheduler or nodes this host does
not have, and change nothing the job computes): -q, --qos; --comment; --hint;
--threads-per-core; --ntasks-per-core; --get-user-env; --time-min (the job
gets --time); --kill-on-invalid-dep (such a job is cancelled anyway);
--wait-all-nodes; --nice. --mail-type also takes TIME_LIMIT[_90|_80|_50]
(the abort mail) and REQUEUE, ARRAY_TASKS, INVALID_DEPEND, STAGE_OUT (no
mail of their own).
Output patterns: %j %J (job id), %x (name), %A %a (array job and task), %u
(user), %N %n %t %s, %% (zero padded with a width: %4a).

OPTIONS OF SBATCH ITSELF:
   --parsable      print the job id alone
   --wrap=COMMAND  the job runs COMMAND with /bin/sh (a script "#!/bin/sh" with
                   that line); the job's default name is "wrap"
                   (of a script from standard input: "sbatch")
   -H, --hold      submit the job held (scontrol release is qrls here)
   -W, --wait      return when the job has ended, with its exit status (1 when
                   a signal or the system ended it; of an array, 0 when every
                   task exited 0, else 1, or 2 when the system ended one)
   -Q, --quiet     print no "Submitted batch job" line
   --test-only     check the script and options, submit nothing, and print
                   on standard error Slurm's estimate: "sbatch: Job N to
                   start at TIME using C processors on nodes HOST in
                   partition QUEUE" (N: the id it would likely get)
   --ignore-pbs    do not read the script's #PBS lines
   -v, --verbose   accepted, ignored
   -V, --version   print the version

Any other option is refused, by name, before anything is submitted (Slurm
options this system cannot honour, as --gres, --constraint, --exclusive,
--nodes above 1, are refused the same way on #SBATCH lines).
Arguments after the script are refused: jobs here take none (put them in
the script, or use --wrap).

Job ids are Lazarus's: an array job is N; its tasks are N_I in squeue,
scancel and sacct (N[I] in qstat).
Exit status: 0; 1 on any error ("sbatch: error: ..."); with --wait, the
job's exit status.

`+environmentHelp, stdin, stdout, stderr)
	app.SkipFlagParsing = true
	app.HideHelp = true
	app.Action = func(c *cli.Context) error {
		a, err := parseSbatchArgs(c.Args().Slice())
		if err != nil {
			return sbatchError(err)
		}
		if a.help {
			return cli.ShowAppHelp(c)
		}
		if a.version {
			fmt.Fprintln(c.App.Writer, "slurm-compatible sbatch of Lazarus")
			return nil
		}
		return sbatchError(runSbatch(c, a))
	}
	return app
}

// runSbatch builds the job with qsub's code and submits it.
func runSbatch(c *cli.Context, a *sbatchArgs) error {
	var script []byte
	switch {
	case a.wrap != nil && a.script != "":
		return fmt.Errorf("script arguments not permitted with --wrap option")
	case a.wrap != nil:
		script = wrapScript(*a.wrap)
	case a.script == "" || a.script == "-":
		b, err := io.ReadAll(c.App.Reader)
		if err != nil {
			return fmt.Errorf("read the script from standard input: %w", err)
		}
		script = b
	default:
		b, err := os.ReadFile(a.script)
		if err != nil {
			return fmt.Errorf("unable to open file %s: %w", a.script, unwrapPath(err))
		}
		script = b
	}
	if !bytes.HasPrefix(script, []byte("#!")) {
		return fmt.Errorf("this does not look like a batch script: the first line must start with #! followed by the path to an interpreter (for instance: #!/bin/sh)")
	}
	inner := NewQsub(bytes.NewReader(script), c.App.Writer, c.App.ErrWriter)
	inner.Name = "sbatch"
	argv := []string{"sbatch", "-"}
	if a.script != "" && a.script != "-" && a.wrap == nil {
		argv = []string{"sbatch", a.script}
	}
	inner.Metadata = map[string]any{rawArgsKey: argv, sbatchKey: a}
	inner.ExitErrHandler = func(*cli.Context, error) {}
	var id jobs.ID
	inner.Action = func(ic *cli.Context) error {
		req, ds, err := submitRequest(ic)
		if err != nil {
			return err
		}
		if a.wrap != nil {
			req.ScriptName = ""
		}
		req.Args = a.args // $1... of the script, as sbatch passes them
		if a.testOnly {
			return sbatchTestOnly(ic, req)
		}
		req.Key = proto.NewKey()
		var reply proto.SubmitReply
		if err := proto.CallRetry(ic.Context, config.StateDir(""), proto.OpSubmit, req, &reply); err != nil {
			return blame(err, ds, false)
		}
		id = jobs.ID(reply.ID).Base()
		return nil
	}
	if err := inner.RunContext(c.Context, argv); err != nil {
		return err
	}
	if a.testOnly {
		return nil
	}
	switch {
	case a.parsable:
		fmt.Fprintln(c.App.Writer, id)
	case !a.quiet:
		fmt.Fprintf(c.App.Writer, "Submitted batch job %d\n", id)
	}
	if a.wait {
		return sbatchWait(c, id)
	}
	return nil
}

// sbatchTestOnly is sbatch --test-only: the job is checked as for a
// submission on this side (its directives, its paths) and not sent;
// what is printed is Slurm's estimate line, on standard error: the id it
// would likely get, a start now (or at --begin) on this host, its CPUs,
// its queue.
func sbatchTestOnly(c *cli.Context, req *proto.SubmitRequest) error {
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	var status proto.StatusReply
	if err := client.Call(c.Context, proto.OpStatus, proto.StatusRequest{}, &status); err != nil {
		return err
	}
	next := uint64(1)
	for _, j := range status.Jobs {
		next = max(next, uint64(jobs.ID(j.ID).Base())+1)
	}
	queue := req.Queue
	if queue == "" {
		var server proto.ServerReply
		if err := client.Call(c.Context, proto.OpServerList, nil, &server); err != nil {
			return err
		}
		for _, s := range server.Settings {
			if s.Name == "default_queue" {
				queue = s.Value
			}
		}
	}
	res := jobs.Resources{NCPUs: 1}
	for _, l := range req.Resources {
		if res, err = jobs.ParseResources(res, l); err != nil {
			return err
		}
	}
	start := status.Now
	if req.After.After(start) {
		start = req.After
	}
	fmt.Fprintf(c.App.ErrWriter, "sbatch: Job %d to start at %s using %d processors on nodes %s in partition %s\n",
		next, slurmStamp(start, ""), res.NCPUs, thisNode(), queue)
	return nil
}

// sbatchWait waits for the job to end and returns its exit status as
// sbatch --wait does: the script's, 1 when it ended otherwise (killed,
// deleted, over a limit); an array's is PBS's (0, 1, 2), not Slurm's
// highest of its tasks.
func sbatchWait(c *cli.Context, id jobs.ID) error {
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	for {
		var reply proto.StatusReply
		if err := client.Call(c.Context, proto.OpStatus, proto.StatusRequest{IDs: []uint64{uint64(id)}, History: true}, &reply); err != nil {
			return err
		}
		if len(reply.Jobs) == 0 {
			return fmt.Errorf("job %d: no longer known to lazarusd", id)
		}
		j := reply.Jobs[0]
		if st := jobs.State(j.State); st.Terminal() {
			code := 0
			if j.ExitStatus != nil {
				code = *j.ExitStatus
			} else if st == jobs.Failed {
				code = 1
			}
			if code < 0 || code > 255 {
				code = 1 // killed by a signal, or ended by the system
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		}
		wait := proto.WaitRequest{Jobs: []proto.WaitJob{{ID: j.ID, State: j.State}}, TimeoutMS: (30 * time.Second).Milliseconds()}
		if err := client.Call(c.Context, proto.OpWait, wait, &proto.WaitReply{}); err != nil {
			return err
		}
	}
}
