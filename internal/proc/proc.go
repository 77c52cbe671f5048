// Package proc reads process facts from /proc that the daemon and the job
// supervisor rely on: a process's start time (to tell a live process from
// a later one that reuses its pid), the boot id (pids of another boot mean
// nothing), and a process's descendants.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is the part of /proc/PID/stat we use.
type Stat struct {
	PID       int
	PPID      int
	State     byte
	StartTime uint64 // clock ticks after boot; with the boot id, unique per process
	// CPUTicks is the process's user and system time with that of the
	// children it waited for (utime+stime+cutime+cstime), in clock ticks.
	CPUTicks uint64
}

// ClockTick is the unit of /proc/PID/stat times: USER_HZ, 100 on Linux.
const ClockTick = 10 * time.Millisecond

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return parseStat(pid, b)
}

// parseStat parses a stat line. The command name (field 2) may hold spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(pid int, b []byte) (Stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 4 is ppid, field 22 starttime.
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: malformed: %v", pid, err)
	}
	var ticks uint64
	for _, k := range []int{11, 12, 13, 14} { // fields 14-17
		n, _ := strconv.ParseInt(f[k], 10, 64)
		ticks += uint64(max(n, 0))
	}
	return Stat{PID: pid, PPID: ppid, State: f[0][0], StartTime: start, CPUTicks: ticks}, nil
}

// BootID returns this boot's random id (/proc/sys/kernel/random/boot_id).
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Identity names one process for all time: pid, start time and boot.
type Identity struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	BootID    string `json:"boot_id"`
}

// IdentityOf returns the identity of process pid as it is now.
func IdentityOf(pid int) (Identity, error) {
	st, err := ReadStat(pid)
	if err != nil {
		return Identity{}, err
	}
	boot, err := BootID()
	if err != nil {
		return Identity{}, err
	}
	return Identity{PID: pid, StartTime: st.StartTime, BootID: boot}, nil
}

// Alive reports whether the process id names is still running (a zombie
// is not running).
func (id Identity) Alive() bool {
	if id.PID <= 0 {
		return false
	}
	now, err := IdentityOf(id.PID)
	if err != nil || now != id {
		return false
	}
	st, err := ReadStat(id.PID)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// Descendants returns the pids of every descendant of root (not root
// itself), from one scan of /proc. Processes that appear or go during the
// scan may be missed or listed: callers that kill a tree scan again until
// nothing is left.
func Descendants(root int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		children[st.PPID] = append(children[st.PPID], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}
