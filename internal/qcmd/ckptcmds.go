package qcmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"lazarus/config"
	"lazarus/internal/proto"
	"lazarus/jobs"
)

// NewQchkpnt builds qchkpnt.
func NewQchkpnt(stdout, stderr io.Writer) *cli.App {
	app := newApp("qchkpnt", "checkpoint running batch jobs",
		"qchkpnt [-i HOURS] [-k [-h]] [--no-wait] job-id ...",
		`qchkpnt checkpoints each job given: the whole process tree of the job is
saved into a new checkpoint generation, while the job runs on, and qchkpnt
waits until the images are durable on disk. It prints the generation, its
size, how long it took and how long the job was stopped for it.

-i sets (or changes) the job's checkpoint policy, as qsub -c takes it: n
(never), s (only before maintenance) or an interval: hours (2, 0.5) or a
duration (90m). The next periodic checkpoint is due one interval after the
last one. For a job that is not running, -i only changes the policy.

-k stops the job once it is checkpointed and puts it back in its queue, in
its place: it restarts from that checkpoint when the scheduler next runs it.
With -h it is held instead, until qrls or qrestart.

--no-wait returns as soon as the checkpoint has started; qstat -f shows how
it ended.

A job whose chunks (qsub -l select) run on several hosts of a cluster is
refused ("not checkpointable: spans N hosts"): its ranks would have to be
frozen together. Its periodic checkpoints are skipped, and qstat -f says
so in its comment.

A job keeps its newest checkpoint_keep generations (lazarus.conf; a queue's
ckpt_keep overrides it). A checkpoint that fails (no space left, a network
socket the engine cannot save) changes nothing: the job runs on, its
previous generation stays its newest, and qstat -f shows why.

You may checkpoint your own jobs; root and operators anyone's.
Exit status: 0 when every checkpoint is durable (or, with --no-wait, has
started), else 1 (each failure says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "i", Usage: "set the checkpoint policy: n, s, or an interval in hours (2, 0.5) or a duration (90m)"},
		&cli.BoolFlag{Name: "k", DisableDefaultText: true, Usage: "stop the job once checkpointed and requeue it"},
		&cli.BoolFlag{Name: "h", DisableDefaultText: true, Usage: "with -k: hold the job instead"},
		&cli.BoolFlag{Name: "no-wait", DisableDefaultText: true, Usage: "return once the checkpoint has started"},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() == 0 {
			return fmt.Errorf("no job id given (see qchkpnt --help)")
		}
		if c.Bool("h") && !c.Bool("k") {
			return fmt.Errorf("-h holds a job that -k stops; give both")
		}
		if iv := c.String("i"); iv != "" {
			if _, err := jobs.ParsePolicy(iv); err != nil {
				return err
			}
		}
		ids, err := parseIDs(c.Args().Slice())
		if err != nil {
			return err
		}
		if c.Bool("attach") {
			if len(ids) != 1 {
				return fmt.Errorf("--attach: give one job id (one terminal, one job)")
			}
			return attachRestart(c, uint64(ids[0]), c.Int("g"))
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		failed := false
		for _, id := range ids {
			req := proto.CheckpointRequest{ID: uint64(id), Interval: c.String("i"), Stop: c.Bool("k"),
				Hold: c.Bool("h"), NoWait: c.Bool("no-wait")}
			var r proto.CheckpointReply
			if err := client.Call(c.Context, proto.OpCheckpoint, req, &r); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "qchkpnt: %v\n", err)
				failed = true
				continue
			}
			fmt.Fprintln(c.App.Writer, describeCheckpoint(r, req))
		}
		if failed {
			return errReported
		}
		return nil
	}
	return app
}

func describeCheckpoint(r proto.CheckpointReply, req proto.CheckpointRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: ", jobs.ID(r.ID))
	switch {
	case r.Size > 0:
		fmt.Fprintf(&b, "checkpoint %d durable in %s (%s, %.2fs, job stopped %.3fs)",
			r.Gen, r.Dir, formatBytes(r.Size), r.Secs, r.Frozen)
		switch {
		case req.Stop && r.State == "held":
			b.WriteString("; job stopped and held")
		case req.Stop:
			b.WriteString("; job stopped and " + r.State)
		}
	case r.Gen > 0:
		fmt.Fprintf(&b, "checkpoint %d in progress", r.Gen)
	default:
		fmt.Fprintf(&b, "%s", r.State)
	}
	if req.Interval != "" {
		fmt.Fprintf(&b, "; checkpoint policy %s", r.Policy)
	}
	return b.String()
}

// formatBytes prints a size the way ls -lh would.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func parseIDs(args []string) ([]jobs.ID, error) {
	var ids []jobs.ID
	for _, a := range args {
		more, err := jobs.ParseIDs(a) // N[1-5]: each subjob of the range
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// NewQrestart builds qrestart.
func NewQrestart(stdout, stderr io.Writer) *cli.App {
	app := newApp("qrestart", "restart batch jobs from their checkpoints",
		"qrestart [-g GENERATION] job-id ...\n   qrestart --attach [-g GENERATION] job-id\n   qrestart -f IMAGE [-N name] [-q queue] [-o path] [-j oe|eo|n] [-c policy] [-h]",
		`qrestart asks for each job given to restart from a checkpoint: its newest good
generation, or generation -g (see qstat -f). The job keeps its id and its
accounting; the restart is a new run. A requeued or held job restarts when
the scheduler next runs it (a held one is released); a finished or failed
job is requeued, to run again from that checkpoint. A running job must be
stopped first (qchkpnt -k).

Requeued jobs, and jobs whose run a machine crash cut short, restart from
their newest good checkpoint without being asked. If a checkpoint cannot be
restored, the job falls back to the previous generation, then, if it is
rerunnable, to its script's beginning; qstat -f shows each step.

-f adopts a checkpoint taken by hand (chkpnt, chkpnt -r: IMAGE is the root
process's image) into a new batch job of yours, which restarts from it; its
id is printed. You must own every checkpointed process. The image files are
copied into the batch system's spool: the files you name may be removed
afterwards. Descriptors that were the control terminal are pointed to the
job's output file (the CONVEX -F rule): batch jobs have no terminal.
-N, -q, -o, -j, -c and -h are as for qsub; the job is not rerunnable.

--attach restarts one interactive job (qsub -I) from its checkpoint on a
new terminal: this one, put in raw mode and relayed as qsub -I relays it.
The job must be stopped (qhold, qchkpnt -k, a requeue, a crash); without
--attach an interactive job restarts in batch, the descriptors that were
its terminal pointed to its output file (reads from them find end of
file). The shell's state (its variables, a program it runs) comes back;
qrestart exits with the shell's exit status. Run from a terminal.

You may restart your own jobs; root and operators anyone's.
Exit status: 0, or 1 if any job could not be restarted (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.IntFlag{Name: "g", Usage: "checkpoint generation to restart from (default: the newest good one)"},
		&cli.StringFlag{Name: "f", Usage: "adopt this checkpoint image (taken by chkpnt) into a new batch job"},
		&cli.StringFlag{Name: "N", Usage: "with -f: job name (default: the command name of the image)"},
		&cli.StringFlag{Name: "q", Usage: "with -f: queue (default: default_queue)"},
		&cli.StringFlag{Name: "o", Usage: "with -f: output file, or an existing directory for NAME.oID"},
		&cli.StringFlag{Name: "j", Usage: "with -f: oe (the default) or n: whether standard error goes to the output file too"},
		&cli.StringFlag{Name: "c", Usage: "with -f: checkpoint policy (as qsub -c)"},
		&cli.BoolFlag{Name: "h", DisableDefaultText: true, Usage: "with -f: hold the job"},
		&cli.BoolFlag{Name: "attach", DisableDefaultText: true, Usage: "restart an interactive job on this terminal (see above)"},
	}
	app.Action = func(c *cli.Context) error {
		if image := c.String("f"); image != "" {
			if c.Bool("attach") {
				return fmt.Errorf("--attach: a job adopted with -f is a batch job")
			}
			return adopt(c, image)
		}
		for _, f := range []string{"N", "q", "o", "j", "c", "h"} {
			if c.IsSet(f) {
				return fmt.Errorf("-%s goes with -f", f)
			}
		}
		if c.NArg() == 0 {
			return fmt.Errorf("no job id given (see qrestart --help)")
		}
		if c.Int("g") < 0 {
			return fmt.Errorf("-g %d: not a generation", c.Int("g"))
		}
		ids, err := parseIDs(c.Args().Slice())
		if err != nil {
			return err
		}
		if c.Bool("attach") {
			if len(ids) != 1 {
				return fmt.Errorf("--attach: give one job id (one terminal, one job)")
			}
			return attachRestart(c, uint64(ids[0]), c.Int("g"))
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		failed := false
		for _, id := range ids {
			var r proto.JobReply
			if err := client.Call(c.Context, proto.OpRestart, proto.RestartRequest{ID: uint64(id), Gen: c.Int("g")}, &r); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "qrestart: %v\n", err)
				failed = true
				continue
			}
			fmt.Fprintf(c.App.Writer, "job %s: %s; it restarts when the scheduler next runs it\n", jobs.ID(r.ID), r.State)
		}
		if failed {
			return errReported
		}
		return nil
	}
	return app
}

func adopt(c *cli.Context, image string) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: -f takes an image, not job ids", c.Args().First())
	}
	if c.IsSet("g") {
		return fmt.Errorf("-g goes with job ids, not -f")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		keep := strings.HasSuffix(p, "/")
		p = filepath.Join(wd, p)
		if keep {
			p += "/"
		}
		return p
	}
	out := abs(c.String("o"))
	if fi, err := os.Stat(out); out != "" && err == nil && fi.IsDir() && !strings.HasSuffix(out, "/") {
		out += "/"
	}
	req := proto.AdoptRequest{
		Image: abs(image), Workdir: wd, Name: c.String("N"), Queue: c.String("q"), Stdout: out,
		Join: c.String("j"), Checkpoint: c.String("c"), Hold: c.Bool("h"),
		Key: proto.NewKey(),
	}
	var reply proto.SubmitReply
	if err := proto.CallRetry(c.Context, config.StateDir(""), proto.OpAdopt, req, &reply); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, fullID(reply.ID, reply.Server))
	return nil
}
