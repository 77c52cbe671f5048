// Command qsub submits a batch job to lazarusd; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQsub(os.Stdin, os.Stdout, os.Stderr), os.Args)) }
