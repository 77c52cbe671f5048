// Command qrun deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQrun(os.Stdout, os.Stderr), os.Args)) }
