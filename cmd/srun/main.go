// Command srun runs the tasks of a job step inside a batch job; see
// internal/srun.
package main

import (
	"os"

	"lazarus/internal/srun"
)

func main() { os.Exit(srun.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
