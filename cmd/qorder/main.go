// Command qorder deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQorder(os.Stdout, os.Stderr), os.Args)) }
