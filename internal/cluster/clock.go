package cluster

import (
	"time"

	"golang.org/x/sys/unix"
)

// Boottime is CLOCK_BOOTTIME: monotonic, shared by every process of the
// machine, and counting time spent suspended (a deadline measured on it
// passes during a suspend, as the lease's does on the etcd members).
func Boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("clock_gettime(CLOCK_BOOTTIME): " + err.Error()) // Linux has had it since 2.6.39
	}
	return time.Duration(ts.Nano())
}
