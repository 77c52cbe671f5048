package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Fencing (cluster mode, package cluster): the daemon writes its node's
// deadline, a CLOCK_BOOTTIME instant before which the node's lease is
// certainly alive, to a fence file after every renewal; each supervisor
// of the node reads it every FencePoll and kills its job at once when the
// deadline has passed. The job is then dead before the lease expires,
// which is when the server may restart it elsewhere: a node cut off from
// etcd, or whose daemon is stopped, never runs a second copy. A fence
// file that cannot be read counts as a passed deadline.

// FencePoll is how often a supervisor reads its fence file.
const FencePoll = time.Second

// FenceReason is the reason recorded for a run killed by its fence.
const FenceReason = "fenced: the node lost its cluster lease"

// WriteFence records a deadline (CLOCK_BOOTTIME) in a fence file.
func WriteFence(path string, deadline time.Duration) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(int64(deadline), 10)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fenced reports whether the deadline of a fence file has passed.
func fenced(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return true, err
	}
	d, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return true, fmt.Errorf("fence file %s: %w", path, err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return true, err
	}
	return ts.Nano() >= d, nil
}
