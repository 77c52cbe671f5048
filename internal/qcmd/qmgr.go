package qcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

const qmgrCommands = `COMMANDS:
   create queue NAME [ATTR=VALUE, ...]   create a queue (enabled and started unless set otherwise)
   delete queue NAME                      delete a queue that has no unfinished jobs
   enable queue NAME                      accept submissions
   disable queue NAME                     refuse submissions (queued jobs still run)
   start queue NAME                       let the queue's jobs start
   stop queue NAME                        start no more of its jobs (running ones go on)
   set queue NAME ATTR = VALUE[, ...]     change attributes (see QUEUE ATTRIBUTES)
   list queue [NAME]                      show queues and their job counts
   set server NAME = VALUE                change a setting of lazarus.conf (written in place)
   list server                            show every setting, its value and its default
   hold job ID ...                        like qhold
   release job ID ...                     like qrls
   delete job ID ...                      like qdel
   checkpoint all                         checkpoint every running job (but those of policy n)
   requeue all                            checkpoint, stop and requeue every running job, in its
                                          place in its queue; jobs of policy n: requeued if
                                          rerunnable, else left running. Stops scheduling
   shutdown requeue [deadline=DURATION] [immediate]
                                          requeue all, then stop lazarusd. Jobs that cannot be
                                          checkpointed are tried again until the deadline, then
                                          requeued (rerunnable) or killed; without one they are
                                          left running. Jobs of policy n that are not rerunnable
                                          are waited for (until the deadline), or killed with
                                          immediate ("shutdown immediate" is the same as
                                          "shutdown requeue immediate")
   start scheduling, stop scheduling      let jobs start / start none (running ones go on)
   offline node HOST, online node HOST    as pbsnodes -o HOST / -r HOST (in a cluster, offline
                                          drains the node: its checkpointable jobs migrate;
                                          past the server's drain_timeout the rerunnable jobs
                                          left are requeued; pbsnodes -o --wait follows it)
   shutdown                               stop lazarusd; running jobs keep running
   help, quit, exit

   The verbs create, delete, set and list may be written c, d, s and l, and the
   objects queue, server and job q, s and j (PBS style: "s q batch priority=5").

QUEUE ATTRIBUTES:
   priority          queues with a higher priority are served first (-1024 to 1024, default 0)
   enabled           true or false: accepts submissions
   started           true or false: its jobs may start
   max_running       jobs of the queue running at once (0: no limit)
   max_user_running  jobs of one user in the queue running at once (0: no limit)
   ckpt_min          shortest checkpoint interval of its jobs, hours or a duration (0: none)
   ckpt_default      checkpoint policy of jobs submitted without qsub -c (n, s or an interval)
   ckpt_keep         generations each job keeps to restart from, with those they need (0: the server's checkpoint_keep)
   ckpt_compress     true, false or default: its jobs' images are compressed (default: checkpoint_compress of the server)
   ckpt_full_every   one generation in this many is self-contained, the others incremental
                     (1: all; 0: checkpoint_full_every of the server)`

// NewQmgr builds qmgr.
func NewQmgr(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := newApp("qmgr", "manage batch queues, the server and jobs",
		"qmgr -c 'COMMAND'\n   qmgr < commands",
		`qmgr runs one command (-c), or commands read one per line from standard input,
with a "Qmgr: " prompt when that is a terminal. Lines starting with '#' are
ignored. Anyone may list; only root and operators (operators in
lazarus.conf) may manage queues and the server, or other users' jobs; a user
may hold, release and delete their own jobs.

Exit status: 0, or 1 if a command failed (reading from standard input, qmgr
goes on with the next line and reports each failure with its line number).

`+qmgrCommands+`

`+environmentHelp, stdin, stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "c", Usage: "run this command and exit"},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q (quote the command: qmgr -c 'list queue')", c.Args().First())
		}
		m := &qmgr{out: c.App.Writer}
		defer m.close()
		if c.IsSet("c") {
			err := m.run(c.Context, c.String("c"))
			if errors.Is(err, errQuit) {
				return nil
			}
			return err
		}
		interactive := isTerminal(c.App.Reader)
		sc := bufio.NewScanner(c.App.Reader)
		failed := false
		for n := 1; ; n++ {
			if interactive {
				fmt.Fprint(c.App.Writer, "Qmgr: ")
			}
			if !sc.Scan() {
				break
			}
			err := m.run(c.Context, sc.Text())
			if errors.Is(err, errQuit) {
				break
			}
			if err != nil {
				failed = true
				if interactive {
					fmt.Fprintf(c.App.ErrWriter, "qmgr: %v\n", err)
				} else {
					fmt.Fprintf(c.App.ErrWriter, "qmgr: line %d: %v\n", n, err)
				}
				var pe *proto.Error
				if !errors.As(err, &pe) && !errors.Is(err, errSyntax) {
					return errReported // lazarusd is gone: the next lines would fail too
				}
			}
		}
		if interactive {
			fmt.Fprintln(c.App.Writer)
		}
		if err := sc.Err(); err != nil {
			return err
		}
		if failed {
			return errReported
		}
		return nil
	}
	return app
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

var (
	errQuit   = errors.New("quit")
	errSyntax = errors.New("syntax error")
)

type qmgr struct {
	out    io.Writer
	client *proto.Client
}

func (m *qmgr) close() {
	if m.client != nil {
		m.client.Close()
	}
}

func (m *qmgr) call(ctx context.Context, op string, req, reply any) error {
	if m.client == nil {
		c, err := dial(ctx)
		if err != nil {
			return err
		}
		m.client = c
	}
	return m.client.Call(ctx, op, req, reply)
}

func syntax(format string, args ...any) error {
	return fmt.Errorf("%w: %s (try help)", errSyntax, fmt.Sprintf(format, args...))
}

var verbs = map[string]string{"c": "create", "d": "delete", "s": "set", "l": "list", "p": "list", "print": "list"}
var objects = map[string]string{"q": "queue", "s": "server", "j": "job"}

// run runs one command line.
func (m *qmgr) run(ctx context.Context, line string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	words := strings.Fields(line)
	verb := strings.ToLower(words[0])
	if v, ok := verbs[verb]; ok {
		verb = v
	}
	switch verb {
	case "quit", "exit", "q":
		return errQuit
	case "help", "?":
		fmt.Fprintln(m.out, qmgrCommands)
		return nil
	case "shutdown":
		if len(words) == 1 {
			return m.call(ctx, proto.OpShutdown, nil, nil)
		}
		req, err := parseShutdown(words[1:])
		if err != nil {
			return err
		}
		return m.maintain(ctx, req)
	case "checkpoint", "requeue":
		if len(words) != 2 || strings.ToLower(words[1]) != "all" {
			return syntax("%s all", verb)
		}
		return m.maintain(ctx, proto.MaintainRequest{Requeue: verb == "requeue"})
	case "start", "stop":
		if len(words) == 2 && strings.ToLower(words[1]) == "scheduling" {
			return m.call(ctx, proto.OpScheduling, proto.SchedulingRequest{On: verb == "start"}, nil)
		}
	case "offline", "online":
		// As pbsnodes -o / -r HOST: in a cluster, offline drains the node.
		if len(words) != 3 || strings.ToLower(words[1]) != "node" {
			return syntax("%s node HOST", verb)
		}
		host, _, _ := strings.Cut(words[2], ".")
		var n proto.NodeInfo
		if err := m.call(ctx, proto.OpNodes, proto.NodesRequest{Offline: verb == "offline", Online: verb == "online", Node: host}, &n); err != nil {
			return err
		}
		if len(n.Nodes) == 0 && host != n.Name {
			return fmt.Errorf("%s: unknown node (this system has one: %s)", words[2], n.Name)
		}
		return nil
	}
	if len(words) < 2 {
		return syntax("%q needs an object: queue, server or job", words[0])
	}
	object := strings.ToLower(words[1])
	if o, ok := objects[object]; ok {
		object = o
	}
	rest := words[2:]
	switch object + " " + verb {
	case "queue create":
		if len(rest) == 0 {
			return syntax("create queue NAME [ATTR=VALUE, ...]")
		}
		attrs, err := assignments(strings.Join(rest[1:], " "))
		if err != nil {
			return err
		}
		var reply proto.QueueReply
		if err := m.call(ctx, proto.OpQueueCreate, proto.QueueRequest{Name: rest[0], Attrs: attrs}, &reply); err != nil {
			return err
		}
		return nil
	case "queue delete":
		if len(rest) != 1 {
			return syntax("delete queue NAME")
		}
		return m.call(ctx, proto.OpQueueDelete, proto.QueueRequest{Name: rest[0]}, nil)
	case "queue enable", "queue disable", "queue start", "queue stop":
		if len(rest) != 1 {
			return syntax("%s queue NAME", verb)
		}
		attr := map[string]proto.Attribute{
			"enable": {Name: "enabled", Value: "true"}, "disable": {Name: "enabled", Value: "false"},
			"start": {Name: "started", Value: "true"}, "stop": {Name: "started", Value: "false"},
		}[verb]
		return m.call(ctx, proto.OpQueueSet, proto.QueueRequest{Name: rest[0], Attrs: []proto.Attribute{attr}}, nil)
	case "queue set":
		if len(rest) < 2 {
			return syntax("set queue NAME ATTR = VALUE")
		}
		attrs, err := assignments(strings.Join(rest[1:], " "))
		if err != nil {
			return err
		}
		return m.call(ctx, proto.OpQueueSet, proto.QueueRequest{Name: rest[0], Attrs: attrs}, nil)
	case "queue list":
		if len(rest) > 1 {
			return syntax("list queue [NAME]")
		}
		req := proto.QueueRequest{}
		if len(rest) == 1 {
			req.Name = rest[0]
		}
		var reply proto.QueuesReply
		if err := m.call(ctx, proto.OpQueueList, req, &reply); err != nil {
			return err
		}
		for i, q := range reply.Queues {
			if i > 0 {
				fmt.Fprintln(m.out)
			}
			printQueue(m.out, q)
		}
		return nil
	case "server set":
		attrs, err := assignments(strings.Join(rest, " "))
		if err != nil {
			return err
		}
		if len(attrs) != 1 {
			return syntax("set server NAME = VALUE")
		}
		return m.call(ctx, proto.OpServerSet, proto.ServerSetRequest{Name: attrs[0].Name, Value: attrs[0].Value}, nil)
	case "server list":
		if len(rest) > 0 {
			return syntax("list server")
		}
		var reply proto.ServerReply
		if err := m.call(ctx, proto.OpServerList, nil, &reply); err != nil {
			return err
		}
		printServer(m.out, reply)
		return nil
	case "job hold", "job release", "job delete":
		if len(rest) == 0 {
			return syntax("%s job ID ...", verb)
		}
		op := map[string]string{"hold": proto.OpHold, "release": proto.OpRelease, "delete": proto.OpDelete}[verb]
		var errs []error
		for _, a := range rest {
			id, err := jobs.ParseID(a)
			if err == nil {
				err = m.call(ctx, op, proto.JobRequest{ID: uint64(id)}, nil)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return joinErrors(errs)
	}
	return syntax("unknown command %q", strings.Join(words[:2], " "))
}

// parseShutdown parses the words after "shutdown": requeue,
// deadline=DURATION, immediate.
func parseShutdown(words []string) (proto.MaintainRequest, error) {
	req := proto.MaintainRequest{Shutdown: true, Requeue: true}
	requeue := false
	for _, w := range words {
		switch lw := strings.ToLower(w); {
		case lw == "requeue":
			requeue = true
		case lw == "immediate":
			req.Immediate = true
		case strings.HasPrefix(lw, "deadline="):
			d, err := time.ParseDuration(w[len("deadline="):])
			if err != nil || d <= 0 {
				return req, syntax("%s: want deadline=DURATION, such as deadline=10m", w)
			}
			req.DeadlineS = int64(max(d.Round(time.Second), time.Second) / time.Second)
		default:
			return req, syntax("shutdown [requeue [deadline=DURATION] [immediate]]: unknown %q", w)
		}
	}
	if !requeue && !req.Immediate {
		return req, syntax("shutdown [requeue [deadline=DURATION] [immediate]]")
	}
	return req, nil
}

// maintain runs a maintenance command, printing its progress as it comes.
func (m *qmgr) maintain(ctx context.Context, req proto.MaintainRequest) error {
	if m.client == nil {
		c, err := dial(ctx)
		if err != nil {
			return err
		}
		m.client = c
	}
	m.client.Progress = func(s string) { fmt.Fprintln(m.out, s) }
	defer func() { m.client.Progress = nil }()
	var reply proto.MaintainReply
	return m.client.Call(ctx, proto.OpMaintain, req, &reply)
}

// joinErrors keeps errors on one line, and keeps a protocol error's type
// so that a failure of one job does not stop a script.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &proto.Error{Code: proto.CodeBadRequest, Message: strings.Join(msgs, "; ")}
}

// assignments parses "a = 1, b=2" into attributes.
func assignments(s string) ([]proto.Attribute, error) {
	var out []proto.Attribute
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(part, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" || strings.ContainsAny(name, " \t") {
			return nil, syntax("%q: want ATTR = VALUE", strings.TrimSpace(part))
		}
		out = append(out, proto.Attribute{Name: name, Value: val})
	}
	return out, nil
}

func printQueue(w io.Writer, q proto.QueueInfo) {
	title := "Queue " + q.Name
	if q.Default {
		title += " (default queue)"
	}
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "    priority = %d\n    enabled = %t\n    started = %t\n    max_running = %d\n    max_user_running = %d\n",
		q.Priority, q.Enabled, q.Started, q.MaxRunning, q.MaxUserRunning)
	fmt.Fprintf(w, "    ckpt_min = %s\n    ckpt_default = %s\n    ckpt_keep = %d\n", q.CkptMin, q.CkptDefault, q.CkptKeep)
	if q.CkptCompress != "" {
		fmt.Fprintf(w, "    ckpt_compress = %s\n", q.CkptCompress)
	}
	if q.CkptFullEvery != 0 {
		fmt.Fprintf(w, "    ckpt_full_every = %d\n", q.CkptFullEvery)
	}
	if q.NetDefault != "" {
		fmt.Fprintf(w, "    net_default = %s\n", q.NetDefault)
	}
	var states []string
	for s := range q.Counts {
		states = append(states, s)
	}
	sort.Strings(states)
	var counts []string
	for _, s := range states {
		counts = append(counts, fmt.Sprintf("%s %d", s, q.Counts[s]))
	}
	if len(counts) == 0 {
		counts = []string{"none"}
	}
	fmt.Fprintf(w, "    jobs = %s\n", strings.Join(counts, ", "))
}

func printServer(w io.Writer, s proto.ServerReply) {
	fmt.Fprintln(w, "Server")
	fmt.Fprintf(w, "    state_dir = %s\n    config_file = %s\n    started = %s\n    protocol = %d\n",
		s.StateDir, s.ConfigFile, stamp(s.Started), s.Version)
	if s.StateDirProblem != "" {
		fmt.Fprintf(w, "    state_dir_problem = %s\n", s.StateDirProblem)
	}
	width := 0
	for _, st := range s.Settings {
		width = max(width, len(st.Name)+3+len(st.Value))
	}
	for _, st := range s.Settings {
		line := st.Name + " = " + st.Value
		fmt.Fprintf(w, "    %-*s  # %s (default %s)\n", width, line, st.Doc, st.Default)
	}
}
