// Command qterm deletes batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQterm(os.Stdout, os.Stderr), os.Args)) }
