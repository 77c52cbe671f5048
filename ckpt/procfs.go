package ckpt

import (
	"bufio"
	"bytes"
	"fmt"
	"iter"
	"os"
	"strconv"
	"strings"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	Start, End uint64
	Perms      string // "rwxp"
	Offset     uint64
	Major      uint32
	Minor      uint32
	Inode      uint64
	Path       string
}

func (m mapping) shared() bool { return len(m.Perms) == 4 && m.Perms[3] == 's' }

func (m mapping) prot() int {
	p := 0
	if m.Perms[0] == 'r' {
		p |= protRead
	}
	if m.Perms[1] == 'w' {
		p |= protWrite
	}
	if m.Perms[2] == 'x' {
		p |= protExec
	}
	return p
}

const (
	protRead  = 0x1
	protWrite = 0x2
	protExec  = 0x4
)

func parseMaps(data []byte) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// start-end perms offset dev inode [path]
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("parse maps line %q", line)
		}
		var m mapping
		se := strings.SplitN(f[0], "-", 2)
		if len(se) != 2 {
			return nil, fmt.Errorf("parse maps line %q", line)
		}
		var err error
		if m.Start, err = strconv.ParseUint(se[0], 16, 64); err != nil {
			return nil, fmt.Errorf("parse maps line %q: %w", line, err)
		}
		if m.End, err = strconv.ParseUint(se[1], 16, 64); err != nil {
			return nil, fmt.Errorf("parse maps line %q: %w", line, err)
		}
		m.Perms = f[1]
		if m.Offset, err = strconv.ParseUint(f[2], 16, 64); err != nil {
			return nil, fmt.Errorf("parse maps line %q: %w", line, err)
		}
		dev := strings.SplitN(f[3], ":", 2)
		if len(dev) == 2 {
			ma, _ := strconv.ParseUint(dev[0], 16, 32)
			mi, _ := strconv.ParseUint(dev[1], 16, 32)
			m.Major, m.Minor = uint32(ma), uint32(mi)
		}
		m.Inode, _ = strconv.ParseUint(f[4], 10, 64)
		if len(f) > 5 {
			// The path is everything after the fifth column; it may hold spaces.
			rest := line
			for i := 0; i < 5; i++ {
				rest = strings.TrimLeft(rest, " ")
				if j := strings.IndexByte(rest, ' '); j >= 0 {
					rest = rest[j:]
				}
			}
			m.Path = strings.TrimLeft(rest, " ")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// procStat holds the fields of /proc/PID/stat the engine uses.
type procStat struct {
	Comm       string
	State      byte
	Flags      uint64 // the kernel's PF_* flags of the task
	PPID       int
	PGID       int
	SID        int
	TTYNr      int
	Nice       int
	ExitSignal int // sent to the parent when it ends (clone's exit_signal)
	Threads    int
	StartTime  uint64
	StartCode  uint64
	EndCode    uint64
	StartStack uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	ExitCode   int
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

func parseStat(data []byte) (procStat, error) {
	var s procStat
	// comm is in parentheses and may itself hold spaces or parentheses.
	open := bytes.IndexByte(data, '(')
	close := bytes.LastIndexByte(data, ')')
	if open < 0 || close < open {
		return s, fmt.Errorf("parse stat %q", data)
	}
	s.Comm = string(data[open+1 : close])
	f := strings.Fields(string(data[close+1:]))
	// f[0] is field 3 (state) of proc(5).
	field := func(n int) uint64 {
		i := n - 3
		if i < 0 || i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	ifield := func(n int) int {
		i := n - 3
		if i < 0 || i >= len(f) {
			return 0
		}
		v, _ := strconv.Atoi(f[i])
		return v
	}
	if len(f) < 50 {
		return s, fmt.Errorf("parse stat: %d fields", len(f)+2)
	}
	s.State = f[0][0]
	s.Flags = field(9)
	s.PPID = ifield(4)
	s.PGID = ifield(5)
	s.SID = ifield(6)
	s.TTYNr = ifield(7)
	s.Nice = ifield(19)
	s.Threads = ifield(20)
	s.StartTime = field(22)
	s.StartCode = field(26)
	s.EndCode = field(27)
	s.StartStack = field(28)
	s.ExitSignal = ifield(38)
	s.StartData = field(45)
	s.EndData = field(46)
	s.StartBrk = field(47)
	s.ArgStart = field(48)
	s.ArgEnd = field(49)
	s.EnvStart = field(50)
	s.EnvEnd = field(51)
	s.ExitCode = ifield(52)
	return s, nil
}

// procStatus holds the fields of /proc/PID/status the engine uses.
type procStatus struct {
	UID    [4]int // real, effective, saved, fs
	GID    [4]int
	Groups []int
	Umask  int
	Tgid   int
	NSpid  []int
	NSpgid []int // the process group's id at each PID namespace level
	NSsid  []int // the session's
}

func readStatus(pid int) (procStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	var s procStatus
	s.Umask = -1
	for k, v := range keyValues(data) {
		f := strings.Fields(v)
		ints := func() []int {
			var out []int
			for _, x := range f {
				n, err := strconv.Atoi(x)
				if err == nil {
					out = append(out, n)
				}
			}
			return out
		}
		switch k {
		case "Uid":
			copy(s.UID[:], ints())
		case "Gid":
			copy(s.GID[:], ints())
		case "Groups":
			s.Groups = ints()
		case "Umask":
			if len(f) == 1 {
				n, err := strconv.ParseInt(f[0], 8, 32)
				if err == nil {
					s.Umask = int(n)
				}
			}
		case "Tgid":
			if n := ints(); len(n) == 1 {
				s.Tgid = n[0]
			}
		case "NSpid":
			s.NSpid = ints()
		case "NSpgid":
			s.NSpgid = ints()
		case "NSsid":
			s.NSsid = ints()
		}
	}
	return s, nil
}

// rlimit is one resource limit; math.MaxUint64 is RLIM_INFINITY.
type rlimit struct {
	Cur uint64 `json:"cur"`
	Max uint64 `json:"max"`
}

// readLimits reads /proc/PID/limits, which root can read for any process even
// without CAP_SYS_RESOURCE (prlimit on another user's process fails here).
func readLimits(pid int) ([]rlimit, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return nil, err
	}
	return parseLimits(data)
}

// limitNames is the order of /proc/PID/limits rows, which is the RLIMIT_*
// numbering.
var limitNames = []string{
	"Max cpu time", "Max file size", "Max data size", "Max stack size",
	"Max core file size", "Max resident set", "Max processes", "Max open files",
	"Max locked memory", "Max address space", "Max file locks", "Max pending signals",
	"Max msgqueue size", "Max nice priority", "Max realtime priority", "Max realtime timeout",
}

func parseLimits(data []byte) ([]rlimit, error) {
	out := make([]rlimit, len(limitNames))
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		for i, name := range limitNames {
			if !strings.HasPrefix(line, name+" ") {
				continue
			}
			f := strings.Fields(line[len(name):])
			if len(f) < 2 {
				return nil, fmt.Errorf("parse limits line %q", line)
			}
			parse := func(s string) (uint64, error) {
				if s == "unlimited" {
					return ^uint64(0), nil
				}
				return strconv.ParseUint(s, 10, 64)
			}
			var err error
			if out[i].Cur, err = parse(f[0]); err != nil {
				return nil, fmt.Errorf("parse limits line %q: %w", line, err)
			}
			if out[i].Max, err = parse(f[1]); err != nil {
				return nil, fmt.Errorf("parse limits line %q: %w", line, err)
			}
			found++
		}
	}
	if found != len(limitNames) {
		return nil, fmt.Errorf("parse limits: found %d of %d limits", found, len(limitNames))
	}
	return out, nil
}

// fdInfo holds /proc/PID/fdinfo/N.
type fdInfo struct {
	Pos   int64
	Flags int
	MntID int
	Ino   uint64
	Locks []fileLock
}

func readFdInfo(pid, fd int) (fdInfo, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return fdInfo{}, err
	}
	var fi fdInfo
	for k, v := range keyValues(data) {
		switch k {
		case "pos":
			fi.Pos, _ = strconv.ParseInt(v, 10, 64)
		case "flags":
			n, _ := strconv.ParseInt(v, 8, 64)
			fi.Flags = int(n)
		case "mnt_id":
			fi.MntID, _ = strconv.Atoi(v)
		case "ino":
			fi.Ino, _ = strconv.ParseUint(v, 10, 64)
		case "lock":
			// lock:	1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF
			f := strings.Fields(v)
			if len(f) < 8 || f[2] != "ADVISORY" {
				continue
			}
			l := fileLock{Kind: f[1], Write: f[3] == "WRITE", End: -1}
			l.Start, _ = strconv.ParseInt(f[6], 10, 64)
			if f[7] != "EOF" {
				l.End, _ = strconv.ParseInt(f[7], 10, 64)
			}
			if f[1] == "FLOCK" || f[1] == "POSIX" || f[1] == "OFDLCK" {
				fi.Locks = append(fi.Locks, l)
			}
		}
	}
	return fi, nil
}

// cpuFlags returns the "flags" of the first CPU in /proc/cpuinfo.
func cpuFlags() []string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	for k, v := range keyValues(data) {
		if strings.TrimSpace(k) == "flags" {
			return strings.Fields(v)
		}
	}
	return nil
}

// keyValues yields the "key: value" lines of a /proc file, the value
// trimmed.
func keyValues(data []byte) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && !yield(k, strings.TrimSpace(v)) {
				return
			}
		}
	}
}
