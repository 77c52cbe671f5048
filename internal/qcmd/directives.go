package qcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// options are qsub's options from its command line and from the script's
// directives, merged as PBS merges them: the command line wins; -l, -v and
// the attributes of -W add up, the command line's last.
type options struct {
	c  *cli.Context
	ds []jobs.Directive
}

// str returns a single-valued option, and the directive that gave it (nil
// when it came from the command line or was not given).
func (o options) str(name string) (string, *jobs.Directive) {
	if o.c.IsSet(name) {
		return o.c.String(name), nil
	}
	for i := len(o.ds) - 1; i >= 0; i-- {
		if o.ds[i].Opt == name {
			return o.ds[i].Arg, &o.ds[i]
		}
	}
	return "", nil
}

// flag returns a flag given on the command line or in a directive.
func (o options) flag(name string) bool {
	return o.c.Bool(name) || o.has(name)
}

func (o options) has(opt string) bool {
	return slices.ContainsFunc(o.ds, func(d jobs.Directive) bool { return d.Opt == opt })
}

// list returns a repeatable option: the directives' values, then the
// command line's, so that the command line wins where they overlap.
func (o options) list(name string) []string {
	var out []string
	for _, d := range o.ds {
		if d.Opt == name {
			out = append(out, d.Arg)
		}
	}
	return append(out, o.c.StringSlice(name)...)
}

// slurm reports whether the script has #SBATCH directives.
func (o options) slurm() bool {
	return slices.ContainsFunc(o.ds, func(d jobs.Directive) bool { return d.Slurm != "" })
}

// directivePrefix is the prefix of the script's PBS directives: qsub -C,
// else $PBS_DPREFIX, else #PBS. "" means the script is not scanned.
func directivePrefix(c *cli.Context) string {
	if c.IsSet("C") {
		return c.String("C")
	}
	if p, ok := os.LookupEnv("PBS_DPREFIX"); ok {
		return p
	}
	return jobs.DefaultDirectivePrefix
}

// readDirectives parses the script's directives and checks each one as
// the command line's options are checked, so that an error names the line.
func readDirectives(c *cli.Context, script []byte, now time.Time) ([]jobs.Directive, error) {
	prefix := directivePrefix(c)
	if c.IsSet("C") && prefix == "" {
		return nil, nil
	}
	ds, err := sbatchDirectives(c, script, prefix) // jobs.ParseDirectives, with sbatch's command line
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Opt == "N" && d.Slurm != "" {
			// Slurm's names may have blanks (--job-name="My job").
			if err := jobs.ValidateSlurmName(d.Arg); err != nil {
				return nil, lineError(d, err)
			}
			continue
		}
		if err := checkOption(d.Opt, d.Arg, now); err != nil {
			return nil, lineError(d, err)
		}
		if d.Slurm != "" && (d.Opt == "o" || d.Opt == "e") {
			if _, err := jobs.ExpandSlurmFilename(d.Arg, jobs.SlurmFilenameLetters); err != nil {
				return nil, lineError(d, err)
			}
		}
	}
	return ds, nil
}

// lineError names the directive an error comes from.
func lineError(d jobs.Directive, err error) error {
	opt := d.Name()
	if d.Slurm != "" {
		opt = jobs.SlurmPrefix + " " + d.Slurm
	} else if d.Arg != "" {
		opt += " " + d.Arg
	}
	return &jobs.DirectiveError{Line: d.Line, Option: opt, Err: err}
}

// checkOption checks one option's value, from the command line or a
// directive: what can be checked without the daemon.
func checkOption(opt, arg string, now time.Time) error {
	if err := jobs.RefusedOption(opt, arg); err != nil {
		return fmt.Errorf("-%s: %w", opt, err)
	}
	var err error
	switch opt {
	case "N":
		err = jobs.ValidateName(arg)
	case "j":
		_, err = jobs.ParseJoin(arg)
	case "r":
		if arg != "y" && arg != "n" {
			err = fmt.Errorf("-r %q: want y or n", arg)
		}
	case "c":
		_, err = jobs.ParsePolicy(arg)
	case "l":
		_, err = jobs.ParseResources(jobs.Resources{NCPUs: 1}, arg)
	case "a":
		_, err = jobs.ParseAfter(arg, now)
	case "p":
		_, err = jobs.ParsePriority(arg)
	case "k":
		_, err = jobs.ParseKeep(arg)
	case "W":
		_, err = parseW(arg)
	case "v":
		_, err = resolveVars(arg)
	case "o", "e":
		_, err = outputArg(opt, arg, "/")
	case "J":
		_, err = jobs.ParsePBSArray(arg)
	case "t":
		_, err = jobs.ParseArray(arg)
	case "q", "S", "u", "A", "P", "d":
		if arg == "" {
			err = fmt.Errorf("-%s: empty argument", opt)
		}
	}
	return err
}

// parseW parses one -W argument: attribute=value pairs, comma separated
// (a value with commas in quotes). Only umask and group_list are
// attributes this system honours; the others are refused by name.
func parseW(arg string) (map[string]string, error) {
	items, err := splitVars(arg)
	if err != nil {
		return nil, fmt.Errorf("-W %s: unbalanced quote", arg)
	}
	out := map[string]string{}
	for _, item := range items {
		name, val, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || val == "" {
			return nil, fmt.Errorf("-W %s: want attribute=value", item)
		}
		switch name {
		case "umask":
			if _, err := jobs.ParseUmask(val); err != nil {
				return nil, fmt.Errorf("-W %w", err)
			}
		case "group_list":
		case "depend":
			if _, err := jobs.ParseDepend(val); err != nil {
				return nil, fmt.Errorf("-W %w", err)
			}
		case "block": // qsub waits for the job and exits with its status
			if !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false") {
				return nil, fmt.Errorf("-W block=%s: want true or false", val)
			}
		case "stagein", "stageout", "sandbox":
			return nil, fmt.Errorf("-W %s: file staging is meaningless with one host and is not supported", name)
		case "interactive": // PBS's attribute behind -I
			if !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false") {
				return nil, fmt.Errorf("-W interactive=%s: want true or false", val)
			}
		case "x11":
			return nil, fmt.Errorf("-W x11: X11 forwarding is not supported: this system forwards no X display to jobs")
		default:
			return nil, fmt.Errorf("-W %s: attribute not supported (supported: umask, group_list, depend, interactive, block)", name)
		}
		out[name] = val
	}
	return out, nil
}

// wAttrs merges every -W: the directives', then the command line's.
func (o options) wAttrs() (map[string]string, error) {
	out := map[string]string{}
	for _, arg := range o.list("W") {
		m, err := parseW(arg)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// resolveVars turns a -v list into NAME=value entries, taking the value of
// a bare NAME from qsub's environment.
func resolveVars(list string) ([]string, error) {
	vars, err := splitVars(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range vars {
		kv = strings.TrimSpace(kv)
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
		out = append(out, kv)
	}
	return out, nil
}

// outputArg resolves -o/-e: PBS's [hostname:]path, where the host must be
// this one; a relative path is relative to cwd (to the home directory
// after a host name, as PBS has it).
func outputArg(opt, p, cwd string) (string, error) {
	if host, rest, ok := strings.Cut(p, ":"); ok && !strings.Contains(host, "/") {
		if !thisHost(host) {
			return "", fmt.Errorf("-%s %s: output to another host is not supported (this system has one host)", opt, p)
		}
		p = rest
		if !filepath.IsAbs(p) {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("-%s %s: %w", opt, p, err)
			}
			dir := strings.HasSuffix(p, "/")
			p = filepath.Join(home, p)
			if dir {
				p += "/" // a directory: the default name goes in it
			}
		}
	}
	if p == "" {
		return "", fmt.Errorf("-%s: empty path", opt)
	}
	if !filepath.IsAbs(p) {
		dir := strings.HasSuffix(p, "/")
		p = filepath.Join(cwd, p)
		if dir {
			p += "/" // a directory: the default name goes in it
		}
	}
	return p, nil
}

func thisHost(h string) bool {
	if h == "localhost" || h == "" {
		return true
	}
	me, err := os.Hostname()
	if err != nil {
		return false
	}
	short := func(s string) string { s, _, _ = strings.Cut(s, "."); return s }
	return short(h) == short(me)
}

// blame names the directives a refusal of the daemon is about: those
// whose argument (or one of its items) the message quotes. A refusal of
// the total CPUs or memory (ncpus=16 from nodes=1:ppn=16) is the last
// resource directive that asks for them (a refused place=, the one that
// asks for the chunks: nodes=2:ppn=8 is place=scatter), unless the command line has -l
// (cmdRes), which may be the one.
func blame(err error, ds []jobs.Directive, cmdRes bool) error {
	var pe *proto.Error
	if !errors.As(err, &pe) || pe.Code == proto.CodeUnavailable || pe.Code == proto.CodeInternal {
		return err
	}
	msg := strings.ToLower(pe.Message)
	for _, d := range ds {
		if d.Arg == "" {
			continue
		}
		items := append([]string{d.Arg}, strings.FieldsFunc(d.Arg, func(r rune) bool { return r == ',' || r == ':' || r == '+' })...)
		for _, it := range items {
			if len(it) >= 2 && strings.Contains(msg, strings.ToLower(it)) {
				return lineError(d, err)
			}
		}
	}
	if name, _, ok := strings.Cut(msg, "="); ok && !cmdRes && pe.Code == proto.CodeBadRequest {
		asks := map[string][]string{
			"ncpus": {"ncpus", "ppn", "nodes", "procs", "select", "--cpus-per-task"},
			"mem":   {"mem"},
			"place": {"place", "nodes", "select"},
		}[name]
		for i := len(ds) - 1; i >= 0; i-- {
			d := ds[i]
			if d.Opt == jobs.SlurmNTasks && name == "ncpus" {
				return lineError(d, err) // --ntasks=N: N tasks of their CPUs
			}
			if d.Opt != "l" && d.Opt != jobs.SlurmMemPerCPU {
				continue
			}
			for _, a := range asks {
				if strings.Contains(strings.ToLower(d.Arg), a) || strings.HasPrefix(d.Slurm, a) ||
					name == "mem" && d.Opt == jobs.SlurmMemPerCPU {
					return lineError(d, err)
				}
			}
		}
	}
	return err
}
