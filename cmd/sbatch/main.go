// Command sbatch submits a Slurm batch script to lazarusd; see
// internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewSbatch(os.Stdin, os.Stdout, os.Stderr), os.Args)) }
