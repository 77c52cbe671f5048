package jobs

import (
	"errors"
	"strings"
)

// SlurmArgs translates options of sbatch's command line as the same
// options on #SBATCH lines are translated (Line is 0, Slurm the option
// as given): one table for both, so that the command line and the
// script never disagree on what an option means. Errors are the
// option's own, without the line.
func SlurmArgs(words []string) ([]Directive, error) {
	ds, err := slurmDirectives(0, words)
	var de *DirectiveError
	if errors.As(err, &de) {
		return nil, &SlurmArgError{Option: strings.TrimPrefix(de.Option, SlurmPrefix+" "), Err: de.Err}
	}
	return ds, err
}

// SlurmArgError is a refused sbatch option of the command line.
type SlurmArgError struct {
	Option string // "--time", "--qos"
	Err    error
}

func (e *SlurmArgError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *SlurmArgError) Unwrap() error { return e.Err }

// SlurmOptionArg reports whether word ("--time", "--time=5", "-t", "-t5")
// names an sbatch option this system translates, and whether that option
// takes an argument: what a command-line parser needs to know to tell
// options from the script's name.
func SlurmOptionArg(word string) (known, arg bool) {
	switch {
	case strings.HasPrefix(word, "--"):
		name, _, _ := strings.Cut(word[2:], "=")
		if o := lookupSlurmLong(name); o != nil {
			return true, o.arg
		}
	case len(word) >= 2 && word[0] == '-':
		for _, o := range slurmOptions {
			if o.short == word[1:2] {
				return true, o.arg
			}
		}
	}
	return false, false
}

// lookupSlurmLong finds a long option by its name or, as Slurm's
// getopt_long does, by a prefix of it that no other option has (--out is
// --output; --mem is itself, not --mem-per-cpu). nil: none, or ambiguous.
func lookupSlurmLong(name string) *slurmOption {
	for k := range slurmOptions {
		if slurmOptions[k].long == name {
			return &slurmOptions[k]
		}
	}
	var found *slurmOption
	for k := range slurmOptions {
		if name != "" && strings.HasPrefix(slurmOptions[k].long, name) {
			if found != nil {
				return nil // ambiguous
			}
			found = &slurmOptions[k]
		}
	}
	return found
}
