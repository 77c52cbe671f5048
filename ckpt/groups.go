package ckpt

import (
	"fmt"
	"os"
	"strconv"
)

// Process groups and sessions. A restart gives every member its old pid;
// the kernel refuses a pid that is still the id of a process group or of a
// session (clone3 set_tid: EEXIST), even when no process has it. So a
// member that leads a group or a session with members outside the tree
// could never come back while they live: the checkpoint refuses it, naming
// one of them.

// checkGroups refuses a tree whose process groups or sessions, led by one
// of its members, have members outside the tree.
func (t *dumpTree) checkGroups() error {
	in := map[int]*dumper{}
	for _, d := range t.procs {
		in[d.pid] = d
	}
	// A member's group is made again by its leader (a member), or is the
	// root's, which the restarted root inherits. Any other (its leader
	// exited, or is outside the tree) the restart could not make again:
	// the member would come back in the root's group.
	// A member's group is made again by its leader (a member), or is the
	// root's, which the restarted root inherits, or is made by a ghost of
	// its leader, which had exited (ghost.go); so is its session.
	ghosts := map[int]*dumper{}
	if root := in[t.rootPID]; root != nil {
		var err error
		if ghosts, err = t.planGhosts(in, root); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || in[pid] != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		for _, g := range []struct {
			id   int
			what string
		}{{st.PGID, "process group"}, {st.SID, "session"}} {
			if d := ghosts[g.id]; d != nil {
				return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
					"its %s %d, whose leader exited, has a member outside the tree: %s(%d) (the id could not be given back while that process lives)",
					g.what, g.id, st.Comm, pid)}
			}
			if d := in[g.id]; d != nil {
				if t.opts.Choices.skip(pid) {
					// Left out by the user (chkpnt -i): the guide's
					// caution, made precise.
					t.log.Warn(fmt.Sprintf("%s(%d): its %s %d keeps %s(%d), left out of the checkpoint: the image cannot be restarted while that process lives",
						d.comm, d.pid, g.what, g.id, st.Comm, pid))
					continue
				}
				return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
					"its %s %d has a member outside the tree: %s(%d) (its pid could not be given back while that process lives)",
					g.what, g.id, st.Comm, pid)}
			}
		}
	}
	return nil
}

// pidHolder says what holds pid on this machine when no process has it:
// a thread of a process (its tid), the process group or the session of
// one; "" if a process has it (the CONVEX message "pid N for COMM in use"
// says that already) or nothing is found.
func pidHolder(pid int) string {
	if _, err := readStat(pid); err == nil {
		if st, err := readStatus(pid); err == nil && st.Tgid != pid && st.Tgid > 0 {
			if leader, err := readStat(st.Tgid); err == nil {
				return fmt.Sprintf("as a thread of %s(%d)", leader.Comm, st.Tgid)
			}
		}
		return ""
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		switch pid {
		case st.PGID:
			return fmt.Sprintf("as the process group of %s(%d)", st.Comm, p)
		case st.SID:
			return fmt.Sprintf("as the session of %s(%d)", st.Comm, p)
		}
	}
	return ""
}
