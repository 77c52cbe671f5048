// Command qhold holds queued batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQhold(os.Stdout, os.Stderr), os.Args)) }
