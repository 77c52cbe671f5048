package srun

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"lazarus/jobs"
)

// options are srun's command line, parsed.
type options struct {
	ntasks        int // 0: not given
	ntasksPerNode int
	cpusPerTask   int
	nodes         string
	nodelist      string
	label         bool
	quiet         bool
	output        string
	errput        string
	input         string
	openAppend    bool
	mpi           string
	chdir         string
	export        string
	killBadExit   bool
	wait          time.Duration
	timeLimit     time.Duration
	jobID         string
	multiProg     bool // the program is a --multi-prog file
	help, version bool
	warnings      []string

	// prog and args are the program and its arguments.
	prog string
	args []string
}

// argKind says whether an option takes an argument.
type argKind int

const (
	noArg argKind = iota
	needArg
	optArg // only as --name=value
)

// option is one srun option: its long and short names, whether it takes
// an argument, and what it does.
type option struct {
	long  string
	short byte
	arg   argKind
	apply func(o *options, name, val string) error
}

// ignored is an option that srun accepts as it is, with nothing to do:
// what it asks is what every step gets here.
func ignored(*options, string, string) error { return nil }

// notApplied is an option accepted with a warning: what it asks for
// (binding, memory, frequencies) is not done here, and the tasks run
// without it.
func notApplied(why string) func(*options, string, string) error {
	return func(o *options, name, val string) error {
		if val != "" {
			name += "=" + val
		}
		o.warnings = append(o.warnings, fmt.Sprintf("%s is not applied: %s", name, why))
		return nil
	}
}

// refused is an option that cannot be honoured: an error.
func refused(why string) func(*options, string, string) error {
	return func(_ *options, name, _ string) error { return fmt.Errorf("%s: %s", name, why) }
}

func positive(name, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%s: want a whole number above 0", name, val)
	}
	return n, nil
}

const (
	whyBind = "tasks are not bound to CPUs or memory on this system"
	whyMem  = "the job's memory limit (qsub -l mem) is the only one"
	whyOne  = "a Lazarus job runs on one host"
)

var optionTable = []option{
	{"ntasks", 'n', needArg, func(o *options, name, val string) (err error) {
		o.ntasks, err = positive(name, val)
		return err
	}},
	{"ntasks-per-node", 0, needArg, func(o *options, name, val string) (err error) {
		o.ntasksPerNode, err = positive(name, val)
		return err
	}},
	{"cpus-per-task", 'c', needArg, func(o *options, name, val string) (err error) {
		o.cpusPerTask, err = positive(name, val)
		return err
	}},
	{"nodes", 'N', needArg, func(o *options, _, val string) error { o.nodes = val; return nil }},
	{"nodelist", 'w', needArg, func(o *options, _, val string) error { o.nodelist = val; return nil }},
	{"label", 'l', noArg, func(o *options, _, _ string) error { o.label = true; return nil }},
	{"quiet", 'Q', noArg, func(o *options, _, _ string) error { o.quiet = true; return nil }},
	{"output", 'o', needArg, func(o *options, _, val string) error { o.output = val; return nil }},
	{"error", 'e', needArg, func(o *options, _, val string) error { o.errput = val; return nil }},
	{"input", 'i', needArg, func(o *options, _, val string) error { o.input = val; return nil }},
	{"open-mode", 0, needArg, func(o *options, name, val string) error {
		switch val {
		case "append", "a", "A":
			o.openAppend = true
		case "truncate", "t", "T":
			o.openAppend = false
		default:
			return fmt.Errorf("%s=%s: want append or truncate", name, val)
		}
		return nil
	}},
	{"mpi", 0, needArg, func(o *options, name, val string) error {
		if _, ok := mpiTypes[val]; !ok && !strings.HasPrefix(val, "pmix_v") {
			return fmt.Errorf("%s=%s: unknown MPI type (srun --mpi=list lists them)", name, val)
		}
		o.mpi = val
		return nil
	}},
	{"chdir", 'D', needArg, func(o *options, _, val string) error { o.chdir = val; return nil }},
	{"export", 0, needArg, func(o *options, _, val string) error { o.export = val; return nil }},
	{"kill-on-bad-exit", 'K', optArg, func(o *options, name, val string) error {
		switch val {
		case "", "1":
			o.killBadExit = true
		case "0":
			o.killBadExit = false
		default:
			return fmt.Errorf("%s=%s: want 0 or 1", name, val)
		}
		return nil
	}},
	{"wait", 'W', needArg, func(o *options, name, val string) error {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%s: want a number of seconds", name, val)
		}
		o.wait = time.Duration(n) * time.Second
		return nil
	}},
	{"time", 't', needArg, func(o *options, _, val string) error {
		d, err := jobs.ParseSlurmTime(val)
		if err != nil {
			return err
		}
		o.timeLimit = d
		return nil
	}},
	{"multi-prog", 0, noArg, func(o *options, _, _ string) error { o.multiProg = true; return nil }},
	{"jobid", 0, needArg, func(o *options, _, val string) error { o.jobID = val; return nil }},
	{"job-id", 0, needArg, func(o *options, _, val string) error { o.jobID = val; return nil }},
	{"help", 'h', noArg, func(o *options, _, _ string) error { o.help = true; return nil }},
	{"usage", 0, noArg, func(o *options, _, _ string) error { o.help = true; return nil }},
	{"version", 'V', noArg, func(o *options, _, _ string) error { o.version = true; return nil }},

	// What every step gets here anyway.
	{"exclusive", 0, optArg, ignored},
	{"exact", 0, noArg, ignored},
	{"overlap", 0, noArg, ignored},
	{"oversubscribe", 's', noArg, ignored},
	{"overcommit", 'O', noArg, ignored},
	{"unbuffered", 'u', noArg, ignored},
	{"verbose", 'v', noArg, ignored},
	{"job-name", 'J', needArg, ignored},
	{"account", 'A', needArg, ignored},
	{"partition", 'p', needArg, ignored},
	{"qos", 'q', needArg, ignored},
	{"propagate", 0, optArg, ignored},
	{"immediate", 'I', optArg, ignored},
	{"no-kill", 'k', optArg, ignored},
	{"comment", 0, needArg, ignored},
	{"distribution", 'm', needArg, ignored},
	{"spread-job", 0, noArg, ignored},

	// Accepted, with a warning: not done here.
	{"cpu-bind", 0, needArg, notApplied(whyBind)},
	{"cpu_bind", 0, needArg, notApplied(whyBind)},
	{"mem-bind", 0, needArg, notApplied(whyBind)},
	{"hint", 0, needArg, notApplied(whyBind)},
	{"threads-per-core", 0, needArg, notApplied(whyBind)},
	{"ntasks-per-core", 0, needArg, notApplied(whyBind)},
	{"ntasks-per-socket", 0, needArg, notApplied(whyBind)},
	{"sockets-per-node", 0, needArg, notApplied(whyBind)},
	{"cores-per-socket", 0, needArg, notApplied(whyBind)},
	{"cpu-freq", 0, needArg, notApplied("CPU frequencies are not managed by this system")},
	{"mem", 0, needArg, notApplied(whyMem)},
	{"mem-per-cpu", 0, needArg, notApplied(whyMem)},
	{"network", 0, needArg, notApplied("there is no interconnect to configure on one host")},

	// Refused: cannot be done.
	{"pty", 0, noArg, refused("a batch job has no terminal (qsub -I gives an interactive job)")},
	{"gres", 0, needArg, refused("this system manages no generic resources (GPUs)")},
	{"gpus", 'G', needArg, refused("this system manages no GPUs")},
	{"gpus-per-task", 0, needArg, refused("this system manages no GPUs")},
	{"gpus-per-node", 0, needArg, refused("this system manages no GPUs")},
	{"het-group", 0, needArg, refused("there are no heterogeneous jobs on this system")},
	{"x11", 0, optArg, refused("X11 forwarding is not supported")},
	{"constraint", 'C', needArg, refused("there are no node features on one host")},
	{"exclude", 'x', needArg, refused(whyOne)},
	{"relative", 'r', needArg, refused(whyOne)},
}

// errUsage marks a command line error.
var errUsage = errors.New("usage")

// parseArgs reads srun's options, up to the program (the first word that
// is not an option, or the word after "--"), as getopt_long does: -n4,
// -n 4, --ntasks=4, --ntasks 4, a unique prefix of a long name.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case w == "--":
			if i+1 < len(args) {
				o.prog, o.args = args[i+1], args[i+2:]
			}
			return o, nil
		case strings.HasPrefix(w, "--"):
			name, val, hasVal := strings.Cut(w[2:], "=")
			opt, err := findLong(name)
			if err != nil {
				return nil, err
			}
			shown := "--" + opt.long
			switch opt.arg {
			case noArg:
				if hasVal {
					return nil, fmt.Errorf("%w: option '%s' doesn't allow an argument", errUsage, shown)
				}
			case needArg:
				if !hasVal {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("%w: option '%s' requires an argument", errUsage, shown)
					}
					i++
					val = args[i]
				}
			}
			if err := opt.apply(o, shown, val); err != nil {
				return nil, err
			}
		case len(w) > 1 && w[0] == '-':
			for k := 1; k < len(w); k++ {
				opt := findShort(w[k])
				if opt == nil {
					return nil, fmt.Errorf("%w: invalid option -- '%c'", errUsage, w[k])
				}
				shown := "--" + opt.long
				if opt.arg != needArg {
					if err := opt.apply(o, shown, ""); err != nil {
						return nil, err
					}
					continue
				}
				val := strings.TrimPrefix(w[k+1:], "=")
				if k+1 >= len(w) {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("%w: option requires an argument -- '%c'", errUsage, w[k])
					}
					i++
					val = args[i]
				}
				if err := opt.apply(o, shown, val); err != nil {
					return nil, err
				}
				break
			}
		default:
			o.prog, o.args = w, args[i+1:]
			return o, nil
		}
	}
	return o, nil
}

// findLong finds a long option by its name or a unique prefix of it.
func findLong(name string) (*option, error) {
	var found []*option
	for k := range optionTable {
		switch {
		case optionTable[k].long == name:
			return &optionTable[k], nil
		case name != "" && strings.HasPrefix(optionTable[k].long, name):
			found = append(found, &optionTable[k])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: unrecognized option '--%s'", errUsage, name)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: option '--%s' is ambiguous", errUsage, name)
}

func findShort(c byte) *option {
	for k := range optionTable {
		if optionTable[k].short == c {
			return &optionTable[k]
		}
	}
	return nil
}
