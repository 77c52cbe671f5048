// Command sacct shows batch jobs' accounting as Slurm's sacct does; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewSacct(os.Stdout, os.Stderr), os.Args)) }
