// Command qchkpnt checkpoints running batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQchkpnt(os.Stdout, os.Stderr), os.Args)) }
