// Command qstat shows batch jobs and queues; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQstat(os.Stdout, os.Stderr), os.Args)) }
