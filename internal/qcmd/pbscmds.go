package qcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// PBS's everyday commands (OpenPBS qsig.1B, qrerun.1B, qmove.1B,
// qselect.1B, qrun.1B, qterm.1B, qalter.1B, pbsnodes.8B).

// eachJob sends one request per job id, each error on its own line.
func eachJob(c *cli.Context, ids []jobs.ID, req func(id jobs.ID) (string, any)) error {
	client, err := dial(c.Context)
	if err != nil {
		return err
	}
	defer client.Close()
	failed := false
	for _, id := range ids {
		op, body := req(id)
		if err := client.Call(c.Context, op, body, nil); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "%s: %v\n", c.App.Name, err)
			failed = true
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func needIDs(c *cli.Context, from int) ([]jobs.ID, error) {
	args := c.Args().Slice()
	if len(args) <= from {
		return nil, fmt.Errorf("no job id given (see %s --help)", c.App.Name)
	}
	return parseIDs(args[from:])
}

// NewQsig builds qsig.
func NewQsig(stdout, stderr io.Writer) *cli.App {
	app := newApp("qsig", "send a signal to batch jobs", "qsig [-s signal] job-id ...",
		`qsig sends a signal (default SIGTERM) to each running job given: to its
script and every process of its tree (the job's PID namespace when lazarusd
runs as root). The signal is a name, with or without SIG (TERM, SIGUSR1,
usr1), or a number. A job that has
just started gets the signal once its script runs (qsig waits up to 30 seconds
for that, then refuses). A job that is being checkpointed is refused: signal it
when the checkpoint is done.

-s suspend (root and operators, as in PBS) stops every process of the job and
shows it S in qstat; -s resume lets it go on. STOP and CONT, which owners may
send, do the same. The suspension is recorded with the job: a job restarted
from a checkpoint (after a power cut, a qhold...) comes back suspended if it
was, and running if it was resumed, whatever its image holds. As in OpenPBS,
a suspended job is not charged for walltime and releases its CPUs and memory
to other jobs: -s resume (or CONT) resumes it at once if they are free, else
marks it for resumption, and it stays S until they are. qdel of a suspended
job resumes it so that it gets SIGTERM, then SIGKILL.

You may signal your own jobs; root and operators anyone's.
Exit status: 0, or 1 if any job could not be signalled (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{&cli.StringFlag{Name: "s", Value: "TERM", Usage: "the signal"}}
	app.Action = func(c *cli.Context) error {
		sig := c.String("s")
		ids, err := needIDs(c, 0)
		if err != nil {
			return err
		}
		return eachJob(c, ids, func(id jobs.ID) (string, any) {
			return proto.OpSignal, proto.SignalRequest{ID: uint64(id), Signal: sig}
		})
	}
	return app
}

// NewQrerun builds qrerun.
func NewQrerun(stdout, stderr io.Writer) *cli.App {
	app := newApp("qrerun", "kill and requeue running batch jobs", "qrerun [-W force | -f] job-id ...",
		`qrerun kills each running job given (SIGTERM to its tree, then SIGKILL after
kill_grace) and puts it back in its queue: it starts again from its newest
good checkpoint if it has one (Lazarus's restart), else from the beginning.
Its run ends with Exit_status -11 (PBS's JOB_EXEC_RERUN). A job that is not
rerunnable (qsub -r n) is refused unless -W force (or -f) is given.

Only root and operators may rerun jobs, as in PBS.
Exit status: 0, or 1 if any job could not be rerun (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "W", Usage: "force: rerun a job that is not rerunnable"},
		&cli.BoolFlag{Name: "f", DisableDefaultText: true, Usage: "the same as -W force"},
	}
	app.Action = func(c *cli.Context) error {
		if w := c.String("W"); w != "" && w != "force" {
			return fmt.Errorf("-W %q: the only one is -W force", w)
		}
		force := c.Bool("f") || c.String("W") == "force"
		ids, err := needIDs(c, 0)
		if err != nil {
			return err
		}
		return eachJob(c, ids, func(id jobs.ID) (string, any) {
			return proto.OpRerun, proto.RerunRequest{ID: uint64(id), Force: force}
		})
	}
	return app
}

// NewQmove builds qmove.
func NewQmove(stdout, stderr io.Writer) *cli.App {
	app := newApp("qmove", "move batch jobs to another queue, or a running job to another node", "qmove destination job-id ...\n   qmove -n host job-id",
		`qmove moves each job given to the destination queue (a queue name, or
QUEUE@SERVER with this server's name). Only jobs that wait to run (queued,
held) can be moved; the queue must exist and be enabled.

qmove -n HOST JOB (in a cluster) moves one running job to node HOST: the
job is checkpointed, stopped, and restarted on HOST from that checkpoint,
under the same id. One line is printed as each step is done. It is refused
for a job that is not running or cannot be checkpointed (qsub -c n), and
for a node that is unknown, down, offline, the job's own, or without room
for the job now (slots, memory). If the checkpoint fails the job runs on
where it was.

You may move your own jobs; root and operators anyone's.
Exit status: 0, or 1 if any job could not be moved (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "n", Usage: "move the running job to this node (cluster)"},
	}
	app.Action = func(c *cli.Context) error {
		if c.IsSet("n") {
			return moveToNode(c)
		}
		if c.NArg() < 2 {
			return fmt.Errorf("want a destination and job ids (see qmove --help)")
		}
		dest, _, _ := strings.Cut(c.Args().First(), "@")
		if dest == "" {
			return fmt.Errorf("destination %q: want a queue name", c.Args().First())
		}
		ids, err := needIDs(c, 1)
		if err != nil {
			return err
		}
		return eachJob(c, ids, func(id jobs.ID) (string, any) {
			return proto.OpMove, proto.MoveRequest{ID: uint64(id), Queue: dest}
		})
	}
	return app
}

// NewQrun builds qrun.
func NewQrun(stdout, stderr io.Writer) *cli.App {
	app := newApp("qrun", "start batch jobs now", "qrun [-H host] job-id ...",
		`qrun starts each queued job given now, whatever the scheduler's order and
the limits (max_running, slots, memory) say, as PBS's qrun does. -H, if
given, must name this host. Held jobs are not started: release them first.

Only root and operators may run qrun.
Exit status: 0, or 1 if any job could not be started (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{&cli.StringFlag{Name: "H", Usage: "the host to run on: this one"}}
	app.Action = func(c *cli.Context) error {
		ids, err := needIDs(c, 0)
		if err != nil {
			return err
		}
		if h := c.String("H"); h != "" {
			var ping proto.PingReply
			if err := call(c.Context, proto.OpPing, nil, &ping); err != nil {
				return err
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSuffix(h, ")"), "("), ":")
			name, _, _ = strings.Cut(name, ".")
			host, _ := os.Hostname()
			host, _, _ = strings.Cut(host, ".")
			if name != ping.Server && name != host {
				return fmt.Errorf("-H %s: this system has one host, %s", h, ping.Server)
			}
		}
		return eachJob(c, ids, func(id jobs.ID) (string, any) {
			return proto.OpRun, proto.JobRequest{ID: uint64(id)}
		})
	}
	return app
}

// NewQterm builds qterm.
func NewQterm(stdout, stderr io.Writer) *cli.App {
	app := newApp("qterm", "stop the batch server", "qterm [-t quick|delay|immediate] [--deadline DURATION] [server]",
		`qterm stops lazarusd, as PBS's qterm stops its server:

   -t quick       (the default) lazarusd stops; running jobs keep running and
                  the next lazarusd takes them over (qmgr -c shutdown).
   -t delay       every running job that can be checkpointed is checkpointed,
                  stopped and requeued, a rerunnable one without a checkpoint
                  policy is requeued, the others are waited for; then lazarusd
                  stops (qmgr -c "shutdown requeue").
   -t immediate   as delay, but the jobs that would be waited for are killed
                  (qmgr -c "shutdown requeue immediate").

--deadline DURATION (Lazarus's, with -t delay): the jobs still running at the
deadline are killed (qmgr -c "shutdown requeue deadline=DURATION").

The progress of delay and immediate is printed as it goes. A server name, if
given, must be this server's. Only root and operators may stop the server.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "t", Value: "quick", Usage: "quick, delay or immediate"},
		&cli.DurationFlag{Name: "deadline", Usage: "with -t delay: kill the jobs still running after this long"},
	}
	app.Action = func(c *cli.Context) error {
		deadline := c.Duration("deadline")
		if deadline < 0 || deadline > 0 && c.String("t") != "delay" {
			return fmt.Errorf("--deadline goes with -t delay, and is positive")
		}
		client, err := dial(c.Context)
		if err != nil {
			return err
		}
		defer client.Close()
		if c.NArg() > 0 {
			var ping proto.PingReply
			if err := client.Call(c.Context, proto.OpPing, nil, &ping); err != nil {
				return err
			}
			if s, _, _ := strings.Cut(c.Args().First(), "."); s != ping.Server {
				return fmt.Errorf("server %q: this is %s", c.Args().First(), ping.Server)
			}
		}
		switch c.String("t") {
		case "quick":
			return client.Call(c.Context, proto.OpShutdown, nil, nil)
		case "delay", "immediate":
			client.Progress = func(s string) { fmt.Fprintln(c.App.Writer, s) }
			var reply proto.MaintainReply
			return client.Call(c.Context, proto.OpMaintain,
				proto.MaintainRequest{Shutdown: true, Requeue: true, Immediate: c.String("t") == "immediate",
					DeadlineS: int64((deadline + time.Second - 1) / time.Second)}, &reply)
		}
		return fmt.Errorf("-t %q: want quick, delay or immediate", c.String("t"))
	}
	return app
}

// NewQalter builds qalter.
func NewQalter(stdout, stderr io.Writer) *cli.App {
	app := newApp("qalter", "change batch jobs", "qalter [-l resources] [-N name] [-o path] [-e path] [-j oe|eo|n] [-h u|o|s|n] [-c policy] [-p priority] [-a time] [-r y|n] [-A account] job-id ...",
		`qalter changes the attributes of each job given, with qsub's options and
values. A job that waits to run (queued, held) may change all of them; of a
running job only the name (-N), priority (-p), account (-A), rerun flag (-r)
and checkpoint policy (-c) may change: PBS's own rule for a running job's
resources and paths, which are in use, is followed by refusing them. -h sets
a hold (u, o, s: the job is held) or removes it (n: it is released). -l is
checked against this machine as qsub's is. An array job (N[]) is altered as a
whole, for its subjobs that have not started; a subjob is refused, as PBS
refuses it.

You may alter your own jobs; root and operators anyone's.
Exit status: 0, or 1 if any job could not be altered (each says why).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringSliceFlag{Name: "l", Usage: "resources, as qsub -l"},
		&cli.StringFlag{Name: "N", Usage: "job name"},
		&cli.StringFlag{Name: "o", Usage: "output path"},
		&cli.StringFlag{Name: "e", Usage: "error path"},
		&cli.StringFlag{Name: "j", Usage: "join: oe, eo or n"},
		&cli.StringFlag{Name: "h", Usage: "hold types: u, o, s, or n to release"},
		&cli.StringFlag{Name: "c", Usage: "checkpoint policy, as qsub -c"},
		&cli.StringFlag{Name: "p", Usage: "priority, -1024 to 1023"},
		&cli.StringFlag{Name: "a", Usage: "not before [[[[CC]YY]MM]DD]hhmm[.SS]"},
		&cli.StringFlag{Name: "r", Usage: "rerunnable: y or n"},
		&cli.StringFlag{Name: "A", Usage: "account"},
	}
	app.Action = func(c *cli.Context) error {
		ids, err := needIDs(c, 0)
		if err != nil {
			return err
		}
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		abs := func(p string) string {
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			if _, path, ok := strings.Cut(p, ":"); ok && filepath.IsAbs(path) {
				return path // host:path, PBS's form
			}
			keepSlash := strings.HasSuffix(p, "/")
			p = filepath.Join(wd, p)
			if keepSlash {
				p += "/"
			}
			return p
		}
		req := proto.AlterRequest{
			Resources: c.StringSlice("l"), Name: c.String("N"), Stdout: abs(c.String("o")), Stderr: abs(c.String("e")),
			Join: c.String("j"), Hold: c.String("h"), Checkpoint: c.String("c"), Priority: c.String("p"),
			Rerunnable: c.String("r"), Account: c.String("A"),
		}
		if a := c.String("a"); a != "" {
			t, err := jobs.ParseAfter(a, time.Now())
			if err != nil {
				return err
			}
			req.After = t
		}
		return eachJob(c, ids, func(id jobs.ID) (string, any) {
			r := req
			r.ID = uint64(id)
			return proto.OpAlter, r
		})
	}
	return app
}

// NewPbsnodes builds pbsnodes.
func NewPbsnodes(stdout, stderr io.Writer) *cli.App {
	app := newApp("pbsnodes", "show this host, mark it offline or online", "pbsnodes [-a] [-l] [-F json] [host]\n   pbsnodes -o [--wait] [--drain-timeout DURATION] [-C comment] [host]\n   pbsnodes -r [-C comment] [host]",
		`pbsnodes shows this host, the one node of the system, as PBS does: its
state (free, job-busy when every slot is assigned, offline), its slots
(resources_available.ncpus, from lazarus.conf slots) and memory, what running
jobs hold (resources_assigned) and their ids. -l lists it only when it is
offline. -F json prints the same in PBS's JSON shape.

-o marks it offline: no job starts any more (running ones go on), as qmgr
-c "stop scheduling" does; -r marks it online again. -C gives the comment
shown with it. Only root and operators may use -o and -r.

In a cluster (etcd_endpoints), pbsnodes shows every node (HOST: that one),
down when its lease expired; -l lists the offline and down ones. -o HOST
marks node HOST offline (default: this one): the server starts nothing more
on it and migrates its checkpointable jobs away (each is checkpointed,
stopped and restarted on another node from that checkpoint); jobs that are
not checkpointable run on to their end. -r HOST puts it back online.

A drain has a deadline when --drain-timeout DURATION (such as 30m) is given
with -o, or the server's drain_timeout is set (qmgr -c "set server
drain_timeout = 1h"; default 0, none): once it has passed, the jobs still
running on the node (not checkpointable, or whose checkpoint failed) are
requeued if they are rerunnable (killed and run again on another node) and
left to finish there if not. pbsnodes -a shows the node offline,draining
while jobs are left on it, with their ids and the deadline (drain_by).

--wait (with -o) follows the drain: one line per job of the node as it is
checkpointed, stopped, restarted on another node, requeued or ends there,
then a summary. It returns once no job is left on the node (exit status
0), or, past the deadline, once only jobs left to finish remain, which it
names (exit status 1).

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.BoolFlag{Name: "a", DisableDefaultText: true, Usage: "every node"},
		&cli.BoolFlag{Name: "l", DisableDefaultText: true, Usage: "list the node if it is offline"},
		&cli.BoolFlag{Name: "o", DisableDefaultText: true, Usage: "mark offline"},
		&cli.BoolFlag{Name: "r", DisableDefaultText: true, Usage: "mark online"},
		&cli.StringFlag{Name: "C", Usage: "comment"},
		&cli.StringFlag{Name: "F", Usage: "output format: json"},
		&cli.BoolFlag{Name: "wait", DisableDefaultText: true, Usage: "with -o: follow the drain, one line per job, until the node has none left"},
		&cli.StringFlag{Name: "drain-timeout", Usage: "with -o: the drain's deadline from now (such as 30m); default: the server's drain_timeout"},
	}
	app.Action = func(c *cli.Context) error {
		if c.Bool("o") && c.Bool("r") {
			return fmt.Errorf("-o and -r exclude each other")
		}
		if (c.Bool("wait") || c.IsSet("drain-timeout")) && !c.Bool("o") {
			return fmt.Errorf("--wait and --drain-timeout go with -o")
		}
		var drainTimeout time.Duration
		if c.IsSet("drain-timeout") {
			t, err := time.ParseDuration(c.String("drain-timeout"))
			if err != nil || t <= 0 {
				return fmt.Errorf("--drain-timeout %q: want a duration such as 30m or 2h", c.String("drain-timeout"))
			}
			drainTimeout = t
		}
		if f := c.String("F"); f != "" && f != "json" {
			return fmt.Errorf("-F %q: the only format is json", f)
		}
		var n proto.NodeInfo
		req := proto.NodesRequest{Offline: c.Bool("o"), Online: c.Bool("r"), Comment: c.String("C"), DrainTimeoutSec: drainTimeout.Seconds()}
		host := c.Args().First()
		short, _, _ := strings.Cut(host, ".")
		if req.Offline || req.Online {
			req.Node = short
		}
		if err := call(c.Context, proto.OpNodes, req, &n); err != nil {
			return err
		}
		list := n.Nodes // a cluster's nodes
		if len(list) == 0 {
			list = []proto.NodeInfo{n}
		}
		if host != "" {
			var found []proto.NodeInfo
			var names []string
			for _, x := range list {
				names = append(names, x.Name)
				if x.Name == short {
					found = append(found, x)
				}
			}
			if len(found) == 0 {
				if len(n.Nodes) == 0 {
					return fmt.Errorf("%s: unknown node (this system has one: %s)", host, n.Name)
				}
				return fmt.Errorf("%s: unknown node (the nodes are %s)", host, strings.Join(names, ", "))
			}
			list = found
		}
		if req.Offline && c.Bool("wait") {
			target := short
			if target == "" {
				target = n.Name
			}
			return waitDrain(c.Context, c.App.Writer, target, n)
		}
		if req.Offline || req.Online {
			return nil
		}
		if c.Bool("l") {
			for _, x := range list {
				if strings.HasPrefix(x.State, "offline") || x.State == "down" {
					fmt.Fprintf(c.App.Writer, "%-20s %-15s %s\n", x.Name, x.State, x.Comment)
				}
			}
			return nil
		}
		nodes := newObject()
		for i, x := range list {
			attrs := nodeAttrs(x)
			if c.String("F") == "json" {
				obj := newObject()
				for _, a := range attrs {
					if a.resource != "" {
						sub, _ := obj.vals[a.name].(*jsonObject)
						if sub == nil {
							sub = newObject()
							obj.set(a.name, sub)
						}
						sub.set(a.resource, jsonValue(a))
						continue
					}
					obj.set(a.name, jsonValue(a))
				}
				nodes.set(x.Name, obj)
				continue
			}
			if i > 0 {
				fmt.Fprintln(c.App.Writer)
			}
			fmt.Fprintln(c.App.Writer, x.Name)
			for _, a := range attrs {
				name := a.name
				if a.resource != "" {
					name += "." + a.resource
				}
				fmt.Fprintf(c.App.Writer, "     %s = %s\n", name, a.value)
			}
		}
		if c.String("F") == "json" {
			root := newObject()
			root.set("timestamp", time.Now().Unix())
			root.set("pbs_version", "lazarus")
			root.set("pbs_server", n.Server)
			root.set("nodes", nodes)
			b, err := json.MarshalIndent(root, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s\n", b)
			return nil
		}
		fmt.Fprintln(c.App.Writer)
		return nil
	}
	return app
}

// NewQselect builds qselect.
func NewQselect(stdout, stderr io.Writer) *cli.App {
	app := newApp("qselect", "select batch jobs, print their ids", "qselect [-s states] [-u users] [-q queue] [-N name] [-A account] [-h hold] [-p [op]priority] [-r y|n] [-l resource.op.value,...] [-x|-H]",
		`qselect prints the ids (N.SERVER) of the jobs that pass every filter
given, one a line, in id order, as PBS's qselect does:

   -s STATES    PBS state letters: Q (queued), W (waiting for qsub -a), H
                (held), R (running), E (exiting), F (finished: needs -x or -H)
   -u USERS     owners, comma separated
   -q QUEUE     the queue (QUEUE or QUEUE@SERVER)
   -N NAME      the job name
   -A ACCOUNT   the account (qsub -A)
   -h HOLD      u, o, s: held jobs; n: jobs not held
   -p [op]N     priority, with op one of .eq. .ne. .lt. .le. .gt. .ge.
                (default .eq.)
   -r y|n       rerunnable or not
   -l R.op.V    resources: ncpus, mem, walltime, cput, with the same ops
                (ncpus.ge.2,walltime.lt.01:00:00)
   -x           finished jobs too; -H finished jobs only

Filters on what only a job's owner sees (account, rerun flag, priority) do
not select other users' jobs unless you may see them (query_other_jobs,
operators). Exit status: 0, or 1 on an error.

`+environmentHelp, nil, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "s", Usage: "states"}, &cli.StringFlag{Name: "u", Usage: "users"},
		&cli.StringFlag{Name: "q", Usage: "queue"}, &cli.StringFlag{Name: "N", Usage: "name"},
		&cli.StringFlag{Name: "A", Usage: "account"}, &cli.StringFlag{Name: "h", Usage: "hold types"},
		&cli.StringFlag{Name: "p", Usage: "priority"}, &cli.StringFlag{Name: "r", Usage: "rerunnable"},
		&cli.StringSliceFlag{Name: "l", Usage: "resource filters"},
		&cli.BoolFlag{Name: "x", DisableDefaultText: true, Usage: "finished jobs too"},
		&cli.BoolFlag{Name: "H", DisableDefaultText: true, Usage: "finished jobs only"},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q (see qselect --help)", c.Args().First())
		}
		f, err := parseSelect(c)
		if err != nil {
			return err
		}
		var reply proto.StatusReply
		if err := call(c.Context, proto.OpStatus, proto.StatusRequest{Full: true}, &reply); err != nil {
			return err
		}
		for _, j := range reply.Jobs {
			if f.match(j, reply.Now) {
				fmt.Fprintln(c.App.Writer, fullID(j.ID, reply.Server))
			}
		}
		return nil
	}
	return app
}

// selectFilter is what qselect's options ask for.
type selectFilter struct {
	states, users     []string
	queue, name, acct string
	hold, rerun       string
	prio              *cmpFilter
	res               []resFilter
	x, h              bool
}

type cmpFilter struct {
	op string // eq ne lt le gt ge
	n  float64
}

func (f cmpFilter) ok(v float64) bool {
	switch f.op {
	case "ne":
		return v != f.n
	case "lt":
		return v < f.n
	case "le":
		return v <= f.n
	case "gt":
		return v > f.n
	case "ge":
		return v >= f.n
	}
	return v == f.n
}

type resFilter struct {
	name string
	cmpFilter
}

// parseOp reads "[.op.]value".
func parseOp(s string) (op, rest string) {
	for _, o := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
		if r, ok := strings.CutPrefix(s, "."+o+"."); ok {
			return o, r
		}
	}
	return "eq", s
}

func parseSelect(c *cli.Context) (selectFilter, error) {
	f := selectFilter{users: splitList(c.String("u")), name: c.String("N"), acct: c.String("A"),
		hold: c.String("h"), rerun: c.String("r"), x: c.Bool("x"), h: c.Bool("H")}
	f.queue, _, _ = strings.Cut(c.String("q"), "@")
	for _, r := range c.String("s") {
		if !strings.ContainsRune("QWHRSEF", r) {
			return f, fmt.Errorf("-s %q: state %q: want letters of Q W H R S E F", c.String("s"), r)
		}
		f.states = append(f.states, string(r))
	}
	switch f.hold {
	case "", "u", "o", "s", "n":
	default:
		return f, fmt.Errorf("-h %q: want u, o, s or n", f.hold)
	}
	switch f.rerun {
	case "", "y", "n":
	default:
		return f, fmt.Errorf("-r %q: want y or n", f.rerun)
	}
	if p := c.String("p"); p != "" {
		op, v := parseOp(p)
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, fmt.Errorf("-p %q: want [.op.]number", p)
		}
		f.prio = &cmpFilter{op, float64(n)}
	}
	for _, l := range c.StringSlice("l") {
		for _, item := range strings.Split(l, ",") {
			name, rest, ok := strings.Cut(item, ".")
			if !ok {
				return f, fmt.Errorf("-l %q: want resource.op.value", item)
			}
			op, v := parseOp("." + rest)
			var n float64
			switch name {
			case "ncpus":
				k, err := strconv.Atoi(v)
				if err != nil {
					return f, fmt.Errorf("-l %q: %w", item, err)
				}
				n = float64(k)
			case "mem":
				k, err := jobs.ParseSize(v)
				if err != nil {
					return f, fmt.Errorf("-l %q: %w", item, err)
				}
				n = float64(k)
			case "walltime", "cput":
				d, err := jobs.ParseWalltime(v)
				if err != nil {
					return f, fmt.Errorf("-l %q: %w", item, err)
				}
				n = d.Seconds()
			default:
				return f, fmt.Errorf("-l %q: resource %q: want ncpus, mem, walltime or cput", item, name)
			}
			f.res = append(f.res, resFilter{name, cmpFilter{op, n}})
		}
	}
	return f, nil
}

func (f selectFilter) match(j proto.JobInfo, now time.Time) bool {
	st := pbsJobState(j, now)
	terminal := jobs.State(j.State).Terminal()
	switch {
	case terminal && !f.x && !f.h, !terminal && f.h:
		return false
	case len(f.states) > 0 && !contains(f.states, st):
		return false
	case len(f.users) > 0 && !contains(f.users, j.User) && !contains(f.users, strconv.FormatUint(uint64(j.UID), 10)):
		return false
	case f.queue != "" && j.Queue != f.queue, f.name != "" && j.Name != f.name:
		return false
	case f.hold == "n" && j.Hold, f.hold != "" && f.hold != "n" && !j.Hold:
		return false
	}
	if f.acct != "" && (j.SummaryOnly || j.Account != f.acct) {
		return false
	}
	if f.rerun != "" {
		if j.SummaryOnly || j.Rerunnable == nil || *j.Rerunnable != (f.rerun == "y") {
			return false
		}
	}
	if f.prio != nil && (j.SummaryOnly || !f.prio.ok(float64(j.Priority))) {
		return false
	}
	for _, r := range f.res {
		var v float64
		switch r.name {
		case "ncpus":
			v = float64(j.NCPUs)
		case "mem":
			v = float64(j.MemBytes)
		case "walltime":
			v = j.WalltimeSec
		case "cput":
			v = j.CPUTimeSec
		}
		if !r.ok(v) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// NewQorder builds qorder.
func NewQorder(stdout, stderr io.Writer) *cli.App {
	app := newApp("qorder", "exchange the places of two batch jobs", "qorder job-id job-id",
		`qorder exchanges the places of two jobs that wait to run (queued, held), as
PBS's qorder does: each takes the other's queue, priority and place among
jobs of equal priority, so that each starts when the other would have.

You must be allowed to manage both jobs (your own; root and operators
anyone's). Exit status: 0, or 1 if the jobs could not be exchanged.

`+environmentHelp, nil, stdout, stderr)
	app.Action = func(c *cli.Context) error {
		if c.NArg() != 2 {
			return fmt.Errorf("want two job ids (see qorder --help)")
		}
		ids, err := parseIDs(c.Args().Slice())
		if err != nil {
			return err
		}
		return call(c.Context, proto.OpOrder, proto.OrderRequest{A: uint64(ids[0]), B: uint64(ids[1])}, nil)
	}
	return app
}

// nodeAttrs are the attributes pbsnodes shows of a node.
func nodeAttrs(n proto.NodeInfo) []attr {
	var jl []string
	for _, id := range n.Jobs {
		jl = append(jl, fullID(id, n.Server)+"/0")
	}
	attrs := []attr{
		{name: "Mom", value: n.Name}, {name: "ntype", value: "PBS"}, {name: "state", value: n.State},
		{name: "pcpus", value: strconv.Itoa(n.Slots), number: true},
	}
	if len(jl) > 0 {
		attrs = append(attrs, attr{name: "jobs", value: strings.Join(jl, ", ")})
	}
	attrs = append(attrs,
		attr{name: "resources_available", resource: "host", value: n.Name},
		attr{name: "resources_available", resource: "mem", value: pbsSize(n.MemBytes)},
		attr{name: "resources_available", resource: "ncpus", value: strconv.Itoa(n.Slots), number: true},
		attr{name: "resources_available", resource: "vnode", value: n.Name},
		attr{name: "resources_assigned", resource: "mem", value: pbsSize(n.AssignedMem)},
		attr{name: "resources_assigned", resource: "ncpus", value: strconv.Itoa(n.Assigned), number: true},
	)
	if n.Comment != "" {
		attrs = append(attrs, attr{name: "comment", value: n.Comment})
	}
	if !n.DrainBy.IsZero() {
		attrs = append(attrs, attr{name: "drain_by", value: n.DrainBy.Local().Format("Mon Jan _2 15:04:05 2006")})
	}
	return attrs
}
