// Command qsig deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQsig(os.Stdout, os.Stderr), os.Args)) }
