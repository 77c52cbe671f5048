package ckpt

// Sessions and process groups whose leader has exited. A daemon made the
// classic way forks, the child calls setsid and forks again, and the
// child exits: the grandchild runs on in a session (and a process group)
// whose id is the pid of a process that is gone. Its parent is then the
// tree's subreaper (a batch job's supervisor, `chkpnt -r` of a shell that
// set PR_SET_CHILD_SUBREAPER), or init. A process group whose leader
// exited (a shell's pipeline whose first command ended) is the same. The
// kernel makes a session or a group only with the id of the process that
// calls setsid or setpgid, so the restart makes such a leader for the
// moment: a ghost, cloned by the parent of the member that came into the
// session or group from outside it (the entry), with the leader's old pid
// (set_tid); the ghost calls setsid (or setpgid(0, 0), in its parent's
// session), clones the entry with CLONE_PARENT, so that the entry is the
// parent's child as it was, in the ghost's session and group, and exits;
// the parent reaps it (wait4 injected) and the SIGCHLD it sent is taken
// away before the program runs. The entry's own descendants in the
// session or group are cloned by it, and are in it by inheritance.
//
// Refused at checkpoint, naming the process: a leader that is still alive
// outside the tree, a process whose session and group both lack a leader
// and differ, a group without a leader in another session than the
// entry's parent's, entries of one session or group with different
// parents (one ghost has one parent), an entry with an exit signal other
// than SIGCHLD (a CLONE_PARENT child takes the ghost's), and a process
// outside the tree in such a session or group (its id could not be given
// back while it lives: checkGroups).

import (
	"context"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// ghostLeader is imageMeta.Ghost, set for an entry (see above).
type ghostLeader struct {
	PID     int   `json:"pid"`               // the leader's pid: the session's or group's id
	NSPID   int   `json:"nspid,omitempty"`   // in the innermost PID namespace
	NSPids  []int `json:"nspids,omitempty"`  // at each level from the root's (as imageMeta.NSPids)
	Session bool  `json:"session,omitempty"` // it led a session (setsid); else a group of its parent's session
}

// planGhosts sets Ghost for every entry of a session or process group of
// the tree whose leader exited, or refuses one the restart could not make
// (see above). It returns the ids of those sessions and groups.
func (t *dumpTree) planGhosts(in map[int]*dumper, root *dumper) (map[int]*dumper, error) {
	ghosts := map[int]*dumper{}
	parentOf := map[int]*dumper{}
	for _, d := range t.procs {
		if d == root || d.zombie || d.parent == nil {
			continue
		}
		sid, pgid := d.stat.SID, d.stat.PGID
		needS := in[sid] == nil && sid != root.stat.SID
		needG := in[pgid] == nil && pgid != root.stat.PGID
		if needG && !needS && t.opts.Choices.skip(pgid) {
			t.log.Warn(fmt.Sprintf("%s(%d): its process group %d is led by %d, left out of the checkpoint: it comes back in the root's group", d.comm, d.pid, pgid, pgid))
			continue
		}
		if !needS && !needG {
			continue
		}
		refuse := func(format string, args ...any) error {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(format, args...)}
		}
		id, what := pgid, "process group"
		if needS {
			if needG && pgid != sid {
				return nil, refuse("its session %d and its process group %d are both led by no process of the tree (their leaders exited or are outside it): the restart could not make them again", sid, pgid)
			}
			id, what = sid, "session"
		}
		par := d.parent
		if needS && par.stat.SID == id || !needS && par.stat.PGID == id {
			continue // in it by inheritance from its parent, an entry or below one
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", id)); err == nil {
			return nil, refuse("its %s %d is led by no process of the tree (its leader is outside it): the restart could not make that %s again", what, id, what)
		}
		if !needS && d.stat.SID != par.stat.SID {
			return nil, refuse("its process group %d, whose leader exited, is in session %d, not in its parent's %d: the restart could not make that group again", id, d.stat.SID, par.stat.SID)
		}
		if q := parentOf[id]; q != nil && q != par {
			return nil, refuse("its %s %d, whose leader exited, has members that came into it from two parents, %s(%d) and %s(%d): the restart could not make it again", what, id, q.comm, q.pid, par.comm, par.pid)
		}
		if d.stat.ExitSignal != int(unix.SIGCHLD) {
			return nil, refuse("its %s %d had a leader that exited, and it reports its own end to its parent with signal %d, not SIGCHLD: the restart could not make it again", what, id, d.stat.ExitSignal)
		}
		parentOf[id] = par
		g := &ghostLeader{PID: id, Session: needS}
		st, err := readStatus(d.pid)
		if err != nil {
			return nil, fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		level, err := d.nsLevelOf()
		if err != nil {
			return nil, fmt.Errorf("%s(%d): %w", d.comm, d.pid, err)
		}
		ids := st.NSpgid
		if needS {
			ids = st.NSsid
		}
		// As the member's own pids are kept (collect, recordPIDNamespace):
		// the innermost when in a PID namespace, every level from the
		// root's when below it.
		if len(ids) > 1 {
			g.NSPID = ids[len(ids)-1]
		}
		if len(ids) > level+1 {
			g.NSPids = append([]int(nil), ids[level:]...)
		}
		d.meta.Ghost = g
		ghosts[id] = d
	}
	return ghosts, nil
}

// checkGhost is checkMeta's part for Ghost.
func checkGhost(m *imageMeta) error {
	g := m.Ghost
	if g == nil {
		return nil
	}
	want := m.PGID
	if g.Session {
		want = m.SID
	}
	if g.PID <= 0 || g.PID != want || g.PID == m.PID || len(g.NSPids) != len(m.NSPids) || (g.NSPID != 0) != (m.NSPID != 0) ||
		len(g.NSPids) > 0 && g.NSPID != g.NSPids[len(g.NSPids)-1] {
		return fmt.Errorf("%w: ghost leader %+v of pid %d (session %d, group %d)", ErrCorrupt, *g, m.PID, m.SID, m.PGID)
	}
	return nil
}

// cloneGhosted clones p's children in cs that enter a session or group
// whose leader exited, each through its ghost (see above), and returns the
// others, for createChildren to clone.
func (r *restorer) cloneGhosted(ctx context.Context, p *rproc, cs []*rproc, afterUnshare bool) ([]*rproc, error) {
	var rest []*rproc
	var order []int
	entries := map[int][]*rproc{}
	for _, c := range cs {
		if c.meta.Ghost == nil || c.cow.heir {
			rest = append(rest, c)
			continue
		}
		id := c.meta.Ghost.PID
		if len(entries[id]) == 0 {
			order = append(order, id)
		}
		entries[id] = append(entries[id], c)
	}
	for _, id := range order {
		cs := entries[id]
		if afterUnshare {
			return nil, r.fail(cs[0], fmt.Errorf("its session or process group %d had a leader that exited, and its parent made a PID namespace for it: not restorable", id))
		}
		if err := r.ghost(ctx, p, cs); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// ghost makes the leader of the session or group of cs (p's children) for
// the moment, clones them out of it, and has p reap it.
func (r *restorer) ghost(ctx context.Context, p *rproc, cs []*rproc) error {
	g := cs[0].meta.Ghost
	what := "process group"
	if g.Session {
		what = "session"
	}
	gp := &rproc{meta: &imageMeta{Comm: fmt.Sprintf("%s-leader", cs[0].comm()), PID: g.PID, NSPID: g.NSPID, NSPids: g.NSPids,
		Zombie: &zombie{}}, closed: map[int]bool{}, parent: p}
	fail := func(err error) error {
		return r.fail(cs[0], fmt.Errorf("the %s %d, whose leader had exited: %w", what, g.PID, err))
	}
	pid, err := r.clone(ctx, p.b, gp, 0)
	if err != nil {
		return err
	}
	gp.pid = pid
	if gp.b, err = newBuilder(r, gp, pid, p.b.scratch); err != nil {
		return fail(err)
	}
	if g.Session {
		_, err = gp.b.call("setsid", unix.SYS_SETSID)
	} else {
		_, err = gp.b.call("setpgid", unix.SYS_SETPGID, 0, 0)
	}
	if err != nil {
		gp.b.mem.Close()
		return fail(err)
	}
	for _, c := range cs {
		if f := c.tableFlags(); f != 0 {
			gp.b.mem.Close()
			return r.fail(c, fmt.Errorf("it shares its parent's descriptor table or working directory and enters the %s %d, whose leader had exited: not restorable", what, g.PID))
		}
		cpid, err := r.clone(ctx, gp.b, c, c.nsCloneFlags()|unix.CLONE_PARENT)
		if err != nil {
			gp.b.mem.Close()
			return err
		}
		c.pid = cpid
		if c.b, err = newBuilder(r, c, cpid, gp.b.scratch); err != nil {
			gp.b.mem.Close()
			return r.fail(c, err)
		}
	}
	inside := pid
	if st, err := readStatus(pid); err == nil && len(st.NSpid) > 0 {
		inside = st.NSpid[len(st.NSpid)-1]
	}
	if err := r.becomeZombie(gp); err != nil {
		return fail(fmt.Errorf("its exit: %w", err))
	}
	if _, err := p.b.call("wait4", unix.SYS_WAIT4, uint64(inside), 0, unix.WALL, 0); err != nil {
		return fail(fmt.Errorf("reap it: %w", err))
	}
	// Reaped: its pid is no longer ours to clean up (it may be anyone's).
	r.created = slices.DeleteFunc(r.created, func(x int) bool { return x == pid })
	p.reapedGhost = true
	return nil
}
