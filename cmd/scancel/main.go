// Command scancel cancels or signals batch jobs as Slurm's scancel does; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewScancel(os.Stdout, os.Stderr), os.Args)) }
