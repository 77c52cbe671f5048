package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"lazarus/ckpt"
)

// The status descriptor (--status-fd N) is how liblazarus's chkpnt(3)
// learns the outcome: chkpnt writes one line to it as it ends, "ok", or
// "errno N NAME MESSAGE" (ckpt.StatusLine; usage errors are EINVAL). With
// --self-channel it is the write end of the pipe the caller waits on (see
// ckpt.SelfRestarted).

var (
	statusFile *os.File // nil: no --status-fd
	engineErr  error    // the engine's error, before it is turned into an exit
)

var statusFlags = []cli.Flag{
	&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "write the outcome as one line to descriptor `N` (ok, or errno N NAME MESSAGE; for liblazarus)"},
	&cli.IntFlag{Name: "self-channel", Usage: "descriptor `N` of the target is the pipe on which it waits for this checkpoint of itself; restored with \"restarted\" queued (for liblazarus)"},
}

func openStatus(c *cli.Context) {
	if fd := c.Int("status-fd"); fd >= 0 {
		statusFile = os.NewFile(uintptr(fd), fmt.Sprintf("status-fd %d", fd))
	}
}

// writeStatus writes the final line; err is what the command ends with.
func writeStatus(err error) {
	if statusFile == nil {
		return
	}
	if err != nil {
		if engineErr != nil {
			err = engineErr
		} else {
			err = fmt.Errorf("%v: %w", err, syscall.EINVAL)
		}
	}
	// The reader may be gone (CHKPNT_KILL of the caller itself).
	statusFile.WriteString(ckpt.StatusLine(err, ""))
	statusFile.Close()
}
