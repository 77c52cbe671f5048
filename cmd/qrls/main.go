// Command qrls releases held batch jobs; see internal/qcmd.
package main

import (
	"os"

	"lazarus/internal/qcmd"
)

func main() { os.Exit(qcmd.Main(qcmd.NewQrls(os.Stdout, os.Stderr), os.Args)) }
