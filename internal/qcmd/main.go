// Package qcmd holds the batch user commands (qsub, qstat, qdel, qhold,
// qrls, qchkpnt, qrestart, qmgr, and PBS's qalter, qsig, qrerun, qmove,
// qselect, qorder, qrun, qterm, pbsnodes, and Slurm's sbatch, squeue,
// scancel, sacct): one function per command builds its *cli.App, which tests
// can run with their own writers; Main runs one and turns its error into a
// one-line message and an exit status. The commands talk to lazarusd
// through package proto; they never touch the state directory otherwise.
package qcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"lazarus/config"
	"lazarus/internal/ckptui"
	"lazarus/internal/proto"
	"lazarus/jobs"
)

func init() {
	// Help is --help only, for every batch command: qsub's -h means "hold",
	// as in PBS, and urfave/cli treats any flag named like its help flag as
	// a request for help.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", DisableDefaultText: true, Usage: "show help"}
}

// Main runs app with args and returns the exit status. Every error ends
// up as one line "NAME: message" on the app's ErrWriter.
func Main(app *cli.App, args []string) int {
	app.ExitErrHandler = func(*cli.Context, error) {} // exit codes are decided here
	if app.OnUsageError == nil {
		app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%s (see %s --help)", ckptui.UsageMessage(err, args), app.Name)
		}
	}
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	args = getoptArgs(app, args)
	app.Metadata[rawArgsKey] = args
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintf(app.ErrWriter, "%s: %s\n", app.Name, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(app.ErrWriter, "%s: %s\n", app.Name, err)
	return 1
}

// rawArgsKey keeps, in the app's Metadata, the arguments Main ran it
// with (qsub tells a command after "--" from a script with them).
const rawArgsKey = "args"

// errReported is returned by commands that already printed their errors
// (one per job, say) and only need a non-zero exit status.
var errReported = cli.Exit("", 1)

// newApp fills what every command has in common.
func newApp(name, usage, usageText, description string, stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                      name,
		Usage:                     usage,
		UsageText:                 usageText,
		Description:               description,
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true,
		CustomAppHelpTemplate:     helpTemplate,
	}
}

// helpTemplate is urfave/cli's, for commands that have no subcommands.
var helpTemplate = strings.ReplaceAll(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS:")

// environmentHelp ends every command's description.
const environmentHelp = `ENVIRONMENT:
   LAZARUS_HOME   state directory of the lazarusd to talk to (default ` + config.DefaultStateDir + `)`

// dial connects to the daemon of $LAZARUS_HOME.
func dial(ctx context.Context) (*proto.Client, error) {
	return proto.Dial(ctx, config.StateDir(""))
}

// call runs one request on a fresh connection.
func call(ctx context.Context, op string, req, reply any) error {
	c, err := dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, op, req, reply)
}

// fullID is a job id as PBS prints it: N.SERVER (N when the daemon names
// no server).
func fullID(id uint64, server string) string {
	if server == "" {
		return jobs.ID(id).String()
	}
	return jobs.ID(id).String() + "." + server
}

// getoptArgs rewrites the options PBS's commands take the way getopt
// does, which Go's flag parsing does not: letters run together (qstat
// -fx is -f -x) and a value attached to its letter (qsub -lwalltime=1:00,
// -Nname, -koe). An argument whose whole name is one of the app's flags
// (qstat -Qf, say) is left alone, as is one with a letter the app does
// not know, whose error then names it. Operands end the options, as
// they do for getopt: nothing after the first is rewritten.
func getoptArgs(app *cli.App, args []string) []string {
	flags := map[string]struct{ value bool }{}
	for _, f := range app.Flags {
		value := false
		if v, ok := f.(cli.DocGenerationFlag); ok {
			value = v.TakesValue()
		}
		for _, n := range f.Names() {
			flags[n] = struct{ value bool }{value}
		}
	}
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' || a[1] == '-' {
			if a == "--" || a == "-" || a[0] != '-' {
				return append(out, args[i:]...) // the operands
			}
			out = append(out, a) // --long
			continue
		}
		name, _, hasValue := strings.Cut(a[1:], "=")
		if f, ok := flags[name]; ok {
			out = append(out, a)
			if f.value && !hasValue && i+1 < len(args) {
				i++
				out = append(out, args[i]) // its value, whatever it looks like
			}
			continue
		}
		split, next, ok := splitLetters(flags, a[1:])
		if !ok {
			out = append(out, a)
			continue
		}
		out = append(out, split...)
		if next && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// splitLetters splits "fx" into -f -x and "lwalltime=1" into -l
// walltime=1; next says the last letter takes its value from the next
// argument. ok is false if a letter is not a flag.
func splitLetters(flags map[string]struct{ value bool }, s string) (out []string, next, ok bool) {
	for j, r := range s {
		f, known := flags[string(r)]
		if !known || r >= 0x80 {
			return nil, false, false
		}
		out = append(out, "-"+string(r))
		if f.value {
			if rest := s[j+1:]; rest != "" {
				return append(out, rest), false, true
			}
			return out, true, true
		}
	}
	return out, false, true
}
