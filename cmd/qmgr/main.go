// Command qmgr manages batch queues, the server and jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQmgr(os.Stdin, os.Stdout, os.Stderr), os.Args)) }
