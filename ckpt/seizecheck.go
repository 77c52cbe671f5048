package ckpt

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tasks that cannot be frozen. A task traced by another (a debugger, a
// strace, a tracer of the tree itself) cannot be attached again: ptrace
// allows one tracer; it is refused at once, naming the tracer. A parent
// waiting in vfork(2) for its child, which runs on its memory, sleeps
// where no ptrace request reaches it (wait_for_vfork_done, killable
// only) until the child execs or exits: posix_spawn, system and popen
// wait so for a child that execs at once, so the checkpoint waits a few
// seconds for the vfork to end (waitVfork) and only then refuses,
// naming both.

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
	return d.waitVfork(tid)
}

// vforkWaitLimit bounds the wait for a vfork to end (waitVfork);
// vforkPoll is how often it looks.
const (
	vforkWaitLimit = 5 * time.Second
	vforkPoll      = 5 * time.Millisecond
)

// waitVfork waits, up to vforkWaitLimit, for task tid of d to come out of
// a vfork (posix_spawn, system and popen make one: their child execs at
// once), and refuses it, naming the child, if it does not. Nothing of d
// is attached yet: the child, not frozen either (children are frozen
// after their parent), runs on to its exec or exit; what the freeze holds
// already is let go as on any refusal.
func (d *dumper) waitVfork(tid int) error {
	if !inVfork(d.pid, tid) {
		return nil
	}
	ctx := context.Background()
	if d.tree != nil && d.tree.ctx != nil {
		ctx = d.tree.ctx
	}
	child, childComm := vforkChild(d.pid, tid)
	d.log.Info(fmt.Sprintf("%s(%d): tid %d waits in vfork for its child %s(%d): the checkpoint waits up to %v for the child to exec or exit", d.comm, d.pid, tid, childComm, child, vforkWaitLimit))
	deadline := time.Now().Add(vforkWaitLimit)
	tick := time.NewTicker(vforkPoll)
	defer tick.Stop()
	for inVfork(d.pid, tid) {
		if time.Now().After(deadline) {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
				": tid %d waits in vfork for its child %s(%d), which runs on its memory and did not exec or exit within %v: it cannot be checkpointed until the child execs or exits", tid, childComm, child, vforkWaitLimit)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// vforkChild finds the child task tid of pid waits for in vfork: the one
// of its children on its address space (kcmp); 0 if it is gone.
func vforkChild(pid, tid int) (int, string) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, tid))
	for _, f := range strings.Fields(string(b)) {
		c, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if r, err := kcmp(tid, c, kcmpVM); err == nil && r == 0 {
			comm := "?"
			if st, err := readStat(c); err == nil {
				comm = st.Comm
			}
			return c, comm
		}
	}
	return 0, "?"
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
