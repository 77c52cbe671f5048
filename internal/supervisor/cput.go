package supervisor

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
)

// cputPoll is how often the CPU time of a job with a cput limit is summed.
const cputPoll = time.Second

// treeCPU is the CPU time the job's tree has used: that of the processes
// we waited for (with what they waited for: RUSAGE_CHILDREN), plus, for
// each live descendant, its own time and that of the children it waited
// for. A process is counted once: while alive in its own line, once
// waited for in its waiter's.
func treeCPU() time.Duration {
	var ru unix.Rusage
	var total time.Duration
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err == nil {
		total = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	pids, _ := proc.Descendants(os.Getpid())
	for _, pid := range pids {
		if st, err := proc.ReadStat(pid); err == nil {
			total += time.Duration(st.CPUTicks) * proc.ClockTick
		}
	}
	return total
}
