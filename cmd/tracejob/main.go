// Command tracejob prints a batch job's story; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewTracejob(os.Stdout, os.Stderr), os.Args)) }
