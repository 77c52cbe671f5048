package ckpt

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Network namespaces of the tree.
//
// sock_diag answers only about the sockets of the network namespace its
// netlink socket belongs to (a socket's namespace is that of the task that
// created it, for its whole life). A tree that runs in a network namespace
// of its own (a batch job with qsub -l net=private) has its unix sockets
// there, invisible to a netlink socket of ours: for each such namespace a
// netlink socket is made inside it, by a thread that enters the namespace
// for the moment (setns(CLONE_NEWNET) changes the calling thread only).
// Socket inode numbers are unique on the machine, so a question may be put
// to every namespace in turn: only the one the socket lives in answers.

// diagNets holds a netlink socket per foreign network namespace of the
// trees being checkpointed, by namespace inode, with a count of the trees
// that use it.
var diagNets struct {
	sync.Mutex
	ns map[uint64]*nsDiag
}

type nsDiag struct {
	fd   int
	refs int
}

// netNSIno returns the inode of the network namespace of pid (0: self).
func netNSIno(pid int) (uint64, error) {
	path := "/proc/thread-self/ns/net"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/ns/net", pid)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// diagNamespaces makes sock_diag see the sockets of pids' network
// namespaces beside ours, until release is called. A namespace that
// cannot be entered leaves its sockets undescribed (they are then refused
// as sockets, as before).
func diagNamespaces(pids []int) (release func()) {
	self, err := netNSIno(0)
	if err != nil {
		return func() {}
	}
	diagNets.Lock()
	defer diagNets.Unlock()
	if diagNets.ns == nil {
		diagNets.ns = map[uint64]*nsDiag{}
	}
	var held []uint64
	for _, pid := range pids {
		ino, err := netNSIno(pid)
		if err != nil || ino == self || contains(held, ino) {
			continue
		}
		n := diagNets.ns[ino]
		if n == nil {
			fd, err := netlinkIn(pid)
			if err != nil {
				continue
			}
			n = &nsDiag{fd: fd}
			diagNets.ns[ino] = n
		}
		n.refs++
		held = append(held, ino)
	}
	return func() {
		diagNets.Lock()
		defer diagNets.Unlock()
		for _, ino := range held {
			if n := diagNets.ns[ino]; n != nil {
				if n.refs--; n.refs == 0 {
					unix.Close(n.fd)
					delete(diagNets.ns, ino)
				}
			}
		}
	}
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// netlinkIn makes a sock_diag netlink socket in the network namespace of
// pid, on a thread that enters it for the moment (netns.go).
func netlinkIn(pid int) (int, error) {
	fd := -1
	err := inNetOf(pid, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return err
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("sock_diag in the network namespace of pid %d: %w", pid, err)
	}
	return fd, nil
}

// diagUnix asks the kernel (sock_diag) about the unix socket with inode
// ino: in our network namespace first, then in each namespace of the
// trees being checkpointed.
func diagUnix(ino uint64) (*unixDiag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, err
	}
	u, first := diagUnixOn(fd, ino)
	unix.Close(fd)
	if first == nil {
		return u, nil
	}
	// The namespaces are asked under the lock: a question is one
	// netlink round trip, and one netlink socket takes one at a time.
	diagNets.Lock()
	defer diagNets.Unlock()
	for _, n := range diagNets.ns {
		if u, err := diagUnixOn(n.fd, ino); err == nil {
			return u, nil
		}
	}
	return nil, first
}

// pids lists the live processes of the tree.
func (t *dumpTree) pids() []int {
	var pids []int
	for _, d := range t.procs {
		if !d.zombie {
			pids = append(pids, d.pid)
		}
	}
	return pids
}
