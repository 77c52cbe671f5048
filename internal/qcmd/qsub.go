package qcmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
		"qsub [-q queue] [-N name] [-o path] [-e path] [-j oe|eo|n] [-r y|n] [-h]\n"+
			"        [-a [[YYYY]MMDD]hhmm[.SS]] [-l ncpus=N,mem=SIZE,walltime=HH:MM:SS]\n"+
			"        [-v VAR[=value],...] [-V] [-W umask=NNN] [-c n|s|HOURS|DURATION]\n"+
			"        [script | -]",
		`qsub submits the script (a file, or standard input when the script is "-" or
absent) to lazarusd and prints the new job's id. The script is copied at
submission: changing the file afterwards does not change the job.

The job runs as you (uid, gid and groups), in the directory qsub ran in,
without a terminal, with HOME, USER, LOGNAME, SHELL and PATH set as at login
and LAZARUS_JOBID, LAZARUS_JOBNAME, LAZARUS_QUEUE, LAZARUS_NCPUS,
LAZARUS_O_WORKDIR, LAZARUS_O_HOST, LAZARUS_O_HOME, LAZARUS_O_PATH (and the
other LAZARUS_O_* of your HOME, LANG, LOGNAME, MAIL, PATH, SHELL, TZ),
LAZARUS_ENVIRONMENT=LAZARUS_BATCH, plus what -v and -V add. A script whose
first line is not "#!" runs with your login shell.

Standard output and error go to NAME.oID and NAME.eID in the submit directory
unless -o, -e or -j say otherwise. They are created 0600 (yours alone) unless
-W umask=NNN gives the job another umask (022: 0644).

With a root lazarusd the job runs as the init of a PID namespace of its own
(its $$ is 1), so that its whole process tree can be checkpointed (-c,
qchkpnt) and restarted with its pids after a crash (qrestart).

Options go before the script.

`+environmentHelp, stdin, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "q", Usage: "queue to submit to (default: default_queue of lazarusd, \"batch\")"},
		&cli.StringFlag{Name: "N", Usage: "job name (default: the script's file name, or STDIN)"},
		&cli.StringFlag{Name: "o", Usage: "standard output file, or an existing directory for NAME.oID"},
		&cli.StringFlag{Name: "e", Usage: "standard error file, or an existing directory for NAME.eID"},
		&cli.StringFlag{Name: "j", Usage: "join: oe (stderr into the output file), eo (stdout into the error file), n (no)"},
		&cli.StringFlag{Name: "r", Usage: "rerunnable y|n: whether a run lost in a machine crash may start again (default y)"},
		&cli.BoolFlag{Name: "h", DisableDefaultText: true, Usage: "hold the job at submission (qrls releases it)"},
		&cli.StringFlag{Name: "a", Usage: "do not start before [[YYYY]MMDD]hhmm[.SS], local time (a past hhmm means tomorrow)"},
		&cli.StringSliceFlag{Name: "l", Usage: "resources: ncpus=N (default 1), mem=SIZE (b, kb, mb, gb, tb), walltime=[[HH:]MM:]SS; repeatable"},
		&cli.StringSliceFlag{Name: "v", Usage: "variables to export: VAR=value, or VAR for its value here; comma separated, repeatable"},
		&cli.BoolFlag{Name: "V", DisableDefaultText: true, Usage: "export all of qsub's environment to the job"},
		&cli.StringSliceFlag{Name: "W", Usage: "attributes: umask=NNN, the octal umask of the job and of its output and error files (default: the files are 0600); repeatable"},
		&cli.StringFlag{Name: "c", Usage: "checkpoint policy: n (never), s (before maintenance only; the default, unless the queue's ckpt_default says otherwise), or an interval: hours (2, 0.5) or a duration (90m)"},
	}
	app.Action = func(c *cli.Context) error {
		req, err := submitRequest(c)
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
			return err
		}
		fmt.Fprintln(c.App.Writer, reply.ID)
		return nil
	}
	return app
}

// originVars are sent even without -V: the job sees them as LAZARUS_O_*.
var originVars = []string{"HOME", "LANG", "LOGNAME", "PATH", "MAIL", "SHELL", "TZ"}

func submitRequest(c *cli.Context) (*proto.SubmitRequest, error) {
	args := c.Args().Slice()
	if len(args) > 1 {
		return nil, fmt.Errorf("unexpected argument %q after the script (options go before the script)", args[1])
	}
	script := ""
	if len(args) == 1 {
		script = args[0]
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("cannot find the current directory: %w", err)
	}
	req := &proto.SubmitRequest{
		Name: c.String("N"), Queue: c.String("q"), Workdir: cwd,
		Join: c.String("j"), Rerunnable: c.String("r"), Hold: c.Bool("h"),
		Resources: c.StringSlice("l"), ExportEnv: c.Bool("V"), Checkpoint: c.String("c"),
	}
	if script == "" || script == "-" {
		req.Script, err = io.ReadAll(c.App.Reader)
		if err != nil {
			return nil, fmt.Errorf("read the script from standard input: %w", err)
		}
	} else {
		req.ScriptName = script
		req.Script, err = os.ReadFile(script)
		if err != nil {
			return nil, fmt.Errorf("cannot read script %s: %w", script, unwrapPath(err))
		}
	}
	if len(bytes.TrimSpace(req.Script)) == 0 {
		return nil, fmt.Errorf("the script is empty")
	}
	if len(req.Script) > proto.MaxScript {
		return nil, fmt.Errorf("the script is %d bytes, more than the %d a job script may have", len(req.Script), proto.MaxScript)
	}
	// Checked here too, for a message that names the option.
	if _, err := jobs.ParseJoin(req.Join); err != nil {
		return nil, err
	}
	if r := req.Rerunnable; r != "" && r != "y" && r != "n" {
		return nil, fmt.Errorf("-r %q: want y or n", r)
	}
	if req.Checkpoint != "" {
		if _, err := jobs.ParsePolicy(req.Checkpoint); err != nil {
			return nil, err
		}
	}
	res := jobs.Resources{NCPUs: 1}
	for _, l := range req.Resources {
		if res, err = jobs.ParseResources(res, l); err != nil {
			return nil, err
		}
	}
	if a := c.String("a"); a != "" {
		req.After, err = jobs.ParseAfter(a, time.Now())
		if err != nil {
			return nil, err
		}
	}
	for _, flag := range []struct {
		name string
		dst  *string
	}{{"o", &req.Stdout}, {"e", &req.Stderr}} {
		p := c.String(flag.name)
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = strings.TrimSuffix(p, "/") + "/"
		}
		*flag.dst = p
	}
	for _, list := range c.StringSlice("W") {
		for _, attr := range strings.Split(list, ",") {
			name, val, _ := strings.Cut(attr, "=")
			if name != "umask" {
				return nil, fmt.Errorf("-W %q: unknown attribute (known: umask=NNN)", attr)
			}
			if _, err := jobs.ParseUmask(val); err != nil {
				return nil, err
			}
			req.Umask = val
		}
	}
	for _, list := range c.StringSlice("v") {
		vars, err := splitVars(list)
		if err != nil {
			return nil, err
		}
		for _, kv := range vars {
			if err := jobs.ValidateVar(kv); err != nil {
				return nil, err
			}
			if !strings.Contains(kv, "=") {
				val, ok := os.LookupEnv(kv)
				if !ok {
					return nil, fmt.Errorf("-v %s: the variable is not set here", kv)
				}
				kv += "=" + val
			}
			req.Vars = append(req.Vars, kv)
		}
	}
	if req.ExportEnv {
		req.Env = os.Environ()
	} else {
		for _, k := range originVars {
			if v, ok := os.LookupEnv(k); ok {
				req.Env = append(req.Env, k+"="+v)
			}
		}
	}
	return req, nil
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
