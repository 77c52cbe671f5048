package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memCgroup is a job's memory cgroup: cgroup v2 where the memory controller
// is on the unified hierarchy, else the v1 memory hierarchy.
type memCgroup struct {
	dir string
	v2  bool
}

const (
	cgroupRoot   = "/sys/fs/cgroup"
	cgroupV1Mem  = "/sys/fs/cgroup/memory"
	cgroupParent = "lazarus"
)

// newMemCgroup creates a cgroup limiting the job to limit bytes (and no
// swap beyond that, where the kernel lets us say so). It is the run's own,
// named lazarus/job-ID-PID, PID the supervisor's: two daemons on one host
// (nodes of a test cluster, two sites' state directories) both have a job
// 1, and the next run of a job (a restart from the checkpoint that stopped
// this one) may begin before this run's supervisor has left its cgroup.
// Sharing one, each would get the other's limit, processes, OOM kills and
// CPU time.
func newMemCgroup(jobID uint64, limit int64) (_ *memCgroup, retErr error) {
	name := runCgroupName(jobID)
	lim := strconv.FormatInt(limit, 10)
	var c *memCgroup
	if ctl, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil &&
		strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
		parent := filepath.Join(cgroupRoot, cgroupParent)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
		for _, d := range []string{cgroupRoot, parent} {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
				return nil, fmt.Errorf("enable the memory controller in %s: %w", d, err)
			}
		}
		c = &memCgroup{dir: filepath.Join(parent, name), v2: true}
	} else if _, err := os.Stat(filepath.Join(cgroupV1Mem, "memory.limit_in_bytes")); err == nil {
		c = &memCgroup{dir: filepath.Join(cgroupV1Mem, cgroupParent, name)}
	} else {
		return nil, errors.New("no memory cgroup controller on this machine")
	}
	os.Remove(c.dir) // a leftover of a run that crashed; fails harmlessly if busy
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			os.Remove(c.dir)
		}
	}()
	if c.v2 {
		if err := c.write("memory.max", lim); err != nil {
			return nil, err
		}
		c.write("memory.swap.max", "0") // absent without swap accounting
		return c, nil
	}
	if err := c.write("memory.limit_in_bytes", lim); err != nil {
		return nil, err
	}
	c.write("memory.memsw.limit_in_bytes", lim) // absent without swap accounting
	return c, nil
}

func (c *memCgroup) write(file, val string) error {
	return os.WriteFile(filepath.Join(c.dir, file), []byte(val), 0)
}

// add moves a process into the cgroup.
func (c *memCgroup) add(pid int) error {
	return c.write("cgroup.procs", strconv.Itoa(pid))
}

// procs lists the processes in the cgroup.
func (c *memCgroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// oomKills returns how many processes the kernel killed for exceeding the
// limit (memory.events in v2, memory.oom_control in v1).
func (c *memCgroup) oomKills() int {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// remove deletes the cgroup once its processes are gone (the kernel may
// take a moment to let go of an exited one).
func (c *memCgroup) remove() error {
	var err error
	for range 50 {
		if err = os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
