package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	"lazarus/ckpt"
)

// The status descriptor (--status-fd N) is how liblazarus's restart(3)
// learns the outcome: restart writes one line to it, "ok PID" as soon as
// the process is restored ("ok PID STUB" with -W: STUB is the ended
// process the root was cloned from, also the caller's child, which the
// library reaps), or "errno N NAME MESSAGE" (ckpt.StatusLine; usage
// errors are EINVAL).

var (
	statusFile *os.File // nil: no --status-fd, or the line is written
	engineErr  error    // the engine's error, before it is turned into an exit
)

var statusFlag = &cli.IntFlag{Name: "status-fd", Value: -1, Usage: "write the outcome as one line to descriptor `N` (ok PID, or errno N NAME MESSAGE; for liblazarus)"}

func openStatus(c *cli.Context) {
	if fd := c.Int("status-fd"); fd >= 0 {
		statusFile = os.NewFile(uintptr(fd), fmt.Sprintf("status-fd %d", fd))
	}
}

// writeStatus writes the line once: err is the restore's outcome, or what
// the command ends with; pid the restored root's, stub the stub's (0: none).
func writeStatus(err error, pid, stub int) {
	if statusFile == nil {
		return
	}
	extra := ""
	if err == nil {
		extra = strconv.Itoa(pid)
		if stub > 0 {
			extra += " " + strconv.Itoa(stub)
		}
	} else if engineErr != nil {
		err = engineErr
	} else {
		err = fmt.Errorf("%v: %w", err, syscall.EINVAL)
	}
	statusFile.WriteString(ckpt.StatusLine(err, extra))
	statusFile.Close()
	statusFile = nil
}
