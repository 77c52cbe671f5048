// Command qrestart restarts batch jobs from their checkpoints, and adopts
// checkpoints taken by hand into new batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQrestart(os.Stdout, os.Stderr), os.Args)) }
