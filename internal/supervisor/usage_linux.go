package supervisor

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
)

// usageMeter measures what a run uses: CPU time and peak memory of the
// whole tree.
//
// CPU time is not only what wait4 reports: when the init of a job's PID
// namespace dies before its children (a checkpoint that stops the job
// sends SIGKILL to every process at once, as does the end of the kill
// grace), the kernel's zap_pid_ns_processes sets SIGCHLD to SIG_IGN in the
// dying init, so the remaining children are reaped automatically and
// their CPU time is added to nobody's RUSAGE_CHILDREN: such a run recorded
// 0 CPU. A CPU accounting cgroup counts every task that ran in it however
// it was reaped (cgroup v2 cpu.stat, or v1 cpuacct), so it is the measure
// where there is one; without one, the largest of the tree's CPU time
// sampled while it ran and wait4's total.
//
// Memory is sampled: the sum over the tree's processes of VmRSS (PBS's
// mem) and of VmSize (vmem), the largest sums kept; wait4's ru_maxrss (the
// largest single process) bounds mem from below for a run too short to
// be sampled.
type usageMeter struct {
	cpuDir  string // the accounting cgroup; "" without one
	v2      bool
	created bool // ours to remove

	cpu      time.Duration // largest sampled tree CPU time
	rss, vsz int64
	// before: CPU time the placed processes had used before they were
	// moved into the cgroup, which charged it elsewhere (a restored tree
	// runs already when it is placed).
	before time.Duration
}

// usagePoll is how often the tree's memory is sampled.
const usagePoll = time.Second

const cgroupV1CPU = "/sys/fs/cgroup/cpuacct"

// newUsageMeter sets up the CPU accounting of a run: in the memory cgroup
// (cgroup v2, one cgroup holds every controller's view), else in a cgroup
// of its own. Without a usable cgroup (not root, none mounted) it samples.
func newUsageMeter(jobID uint64, mem *memCgroup) *usageMeter {
	m := &usageMeter{}
	// One cgroup per run, not per job: the next run of a job (a restart
	// from the checkpoint that stopped this one) may begin before this
	// run's supervisor has read its CPU time, and must not reset it.
	name := runCgroupName(jobID)
	switch {
	case mem != nil && mem.v2:
		m.cpuDir, m.v2 = mem.dir, true
	case fileExists(filepath.Join(cgroupRoot, "cgroup.controllers")):
		dir := filepath.Join(cgroupRoot, cgroupParent, name)
		os.Remove(dir)
		if os.MkdirAll(dir, 0o755) == nil {
			m.cpuDir, m.v2, m.created = dir, true, true
		}
	case fileExists(filepath.Join(cgroupV1CPU, "cpuacct.usage")):
		dir := filepath.Join(cgroupV1CPU, cgroupParent, name)
		os.Remove(dir)
		if os.MkdirAll(dir, 0o755) == nil {
			m.cpuDir, m.created = dir, true
		}
	}
	return m
}

// runCgroupName is the name of a run's cgroups under lazarus/: job-ID-PID,
// PID the supervisor's.
func runCgroupName(jobID uint64) string {
	return "job-" + strconv.FormatUint(jobID, 10) + "-" + strconv.Itoa(os.Getpid())
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// add puts a process of the job into the accounting cgroup.
func (m *usageMeter) add(pid int) error {
	if m.cpuDir == "" || (m.v2 && !m.created) {
		return nil // no cgroup, or the memory cgroup, which place fills
	}
	var used time.Duration
	if st, err := proc.ReadStat(pid); err == nil {
		used = time.Duration(st.CPUTicks) * proc.ClockTick
	}
	if err := os.WriteFile(filepath.Join(m.cpuDir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return err
	}
	m.before += used
	return nil
}

// sample measures the live tree below the supervisor.
func (m *usageMeter) sample() {
	pids, _ := proc.Descendants(os.Getpid())
	var rss, vsz int64
	for _, pid := range pids {
		r, v := procMem(pid)
		rss += r
		vsz += v
	}
	m.rss, m.vsz = max(m.rss, rss), max(m.vsz, vsz)
	if m.cpuDir == "" {
		m.cpu = max(m.cpu, treeCPU())
	}
}

// procMem reads VmRSS and VmSize of a process, in bytes.
func procMem(pid int) (rss, vsz int64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, x := range []struct {
			key string
			to  *int64
		}{{"VmRSS:", &rss}, {"VmSize:", &vsz}} {
			if v, ok := strings.CutPrefix(line, x.key); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				*x.to = kb << 10
			}
		}
	}
	return rss, vsz
}

// finish returns the run's CPU time (user, system) and peak memory, ru
// being RUSAGE_CHILDREN once every process was waited for, and removes
// the cgroup it created.
func (m *usageMeter) finish(ru *unix.Rusage) (user, sys time.Duration, rss, vsz int64) {
	user, sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	if u, s, ok := m.cgroupCPU(); ok && u+s+m.before > user+sys {
		u += m.before // counted as user time, as the samples are
		user, sys = u, s
	} else if m.cpu > user+sys {
		// Sampled: what wait4 missed is counted as user time.
		user = m.cpu - sys
	}
	rss = max(m.rss, ru.Maxrss<<10)
	vsz = max(m.vsz, rss)
	if m.created {
		for range 50 {
			if err := os.Remove(m.cpuDir); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return user, sys, rss, vsz
}

// cgroupCPU reads the accounting cgroup's user and system CPU time.
func (m *usageMeter) cgroupCPU() (user, sys time.Duration, ok bool) {
	if m.cpuDir == "" {
		return 0, 0, false
	}
	if m.v2 {
		b, err := os.ReadFile(filepath.Join(m.cpuDir, "cpu.stat"))
		if err != nil {
			return 0, 0, false
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, _ := strings.Cut(line, " ")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "user_usec":
				user = time.Duration(n) * time.Microsecond
			case "system_usec":
				sys = time.Duration(n) * time.Microsecond
			}
		}
		return user, sys, true
	}
	read := func(f string) (time.Duration, bool) {
		b, err := os.ReadFile(filepath.Join(m.cpuDir, f))
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return time.Duration(n), err == nil
	}
	u, ok1 := read("cpuacct.usage_user")
	s, ok2 := read("cpuacct.usage_sys")
	return u, s, ok1 && ok2
}
