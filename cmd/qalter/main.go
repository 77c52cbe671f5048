// Command qalter deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQalter(os.Stdout, os.Stderr), os.Args)) }
