// Command qdel deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQdel(os.Stdout, os.Stderr), os.Args)) }
