package ckptui

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// OnUsageError is chkpnt's and restart's answer to an option the flag
// package refuses: one line naming the option as it was written (flag
// says "-compress" for "--compress"), exit status 2 as for every usage
// error, not the whole help.
func OnUsageError(name string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return cli.Exit(fmt.Sprintf("%s (see %s --help)", UsageMessage(err, os.Args[1:]), name), 2)
	}
}

// UsageMessage is err, a usage error of the flag package, with the option
// as the user wrote it among args.
func UsageMessage(err error, args []string) string {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, undefined)
	if !ok {
		return msg
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return "unknown option --" + name
		}
	}
	return "unknown option -" + name
}
