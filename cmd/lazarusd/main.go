// Command lazarusd is the Lazarus batch daemon; see internal/daemon.
package main

import (
	"os"

	"lazarus/internal/daemon"
)

func main() { os.Exit(daemon.Main(os.Args, os.Stdout, os.Stderr)) }
