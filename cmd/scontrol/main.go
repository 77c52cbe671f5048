// Command scontrol shows and changes batch jobs as the part of Slurm's
// scontrol that job scripts use does; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewScontrol(os.Stdout, os.Stderr), os.Args)) }
