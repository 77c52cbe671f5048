package ckpt

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Tasks that cannot be frozen. A task traced by another (a debugger, a
// strace, a tracer of the tree itself) cannot be attached again: ptrace
// allows one tracer. A parent waiting in vfork(2) for its child, which
// runs on its memory, sleeps where no ptrace request reaches it
// (wait_for_vfork_done) until the child execs or exits. Both are refused
// at once, with what holds them, rather than failing the attach or
// waiting out the stop timeout.

// tracerOf returns the pid of the task tracing tid, 0 if none.
func tracerOf(pid, tid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			if n == os.Getpid() {
				return 0
			}
			return n
		}
	}
	return 0
}

// checkSeizable refuses task tid of d if it is traced or waits in vfork.
func (d *dumper) checkSeizable(tid int) error {
	if tr := tracerOf(d.pid, tid); tr != 0 {
		comm := "?"
		if st, err := readStat(tr); err == nil {
			comm = st.Comm
		}
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(": tid %d is traced by %s(%d): a traced task cannot be checkpointed", tid, comm, tr)}
	}
	if inVfork(d.pid, tid) {
		return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(": tid %d waits in vfork for a child that runs on its memory: it cannot be checkpointed until the child execs or exits", tid)}
	}
	return nil
}

// inVfork reports whether task tid of pid is in vfork, or in a clone or
// clone3 with CLONE_VFORK (posix_spawn), waiting for its child:
// /proc/PID/syscall shows the call it is blocked in and its arguments.
func inVfork(pid, tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return false
	}
	arg0, _ := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
	switch nr {
	case unix.SYS_VFORK:
		return true
	case unix.SYS_CLONE:
		return arg0&unix.CLONE_VFORK != 0
	case unix.SYS_CLONE3:
		var flags [8]byte
		if readMemory(pid, flags[:], arg0) != nil {
			return false
		}
		return binary.LittleEndian.Uint64(flags[:])&unix.CLONE_VFORK != 0
	}
	return false
}
