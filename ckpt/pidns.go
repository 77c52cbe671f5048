package ckpt

// PID namespaces made inside the checkpointed tree. The restart gives
// the tree one PID namespace, the root's (a batch job's own, or the
// restarter's): a member in a namespace its parent made (clone or unshare
// CLONE_NEWPID inside the tree), or one whose children go to a namespace
// other than its own (unshare CLONE_NEWPID), would come back in the
// wrong one, with its pid taken (pid 1 of the parent's namespace), or its
// next child in the wrong place. Refused, naming it.

import (
	"fmt"
	"os"
)

// checkPIDNamespace refuses pid when it is in another PID namespace than
// its parent in the tree (parent 0: the root), or makes its children in
// another than its own.
func (d *dumper) checkPIDNamespace(pid, parent int) error {
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return nil // a kernel without namespaces, or gone: seizing says
	}
	if forChildren, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", pid)); err == nil && forChildren != own {
		return &UncheckpointableError{Comm: d.comm, PID: pid, FD: -1, Msg: fmt.Sprintf(
			"made a PID namespace for its children (unshare CLONE_NEWPID: %s, its own %s): a PID namespace made inside the tree is not checkpointable yet", forChildren, own)}
	}
	if parent == 0 {
		return nil
	}
	if theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", parent)); err == nil && theirs != own {
		return &UncheckpointableError{Comm: d.comm, PID: pid, FD: -1, Msg: fmt.Sprintf(
			"is in a PID namespace (%s) its parent %d made (CLONE_NEWPID inside the tree; the parent's is %s): a PID namespace made inside the tree is not checkpointable yet", own, parent, theirs)}
	}
	return nil
}
