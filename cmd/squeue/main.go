// Command squeue lists batch jobs as Slurm's squeue does; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewSqueue(os.Stdout, os.Stderr), os.Args)) }
