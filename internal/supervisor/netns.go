package supervisor

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// A job with qsub -l net=private runs in a network namespace of its own.
//
// The namespace is the supervisor's: Start creates the supervisor with
// CLONE_NEWNET, so the job's script (started by it) and a restored tree
// (whose sockets ckpt.Restart creates in the supervisor, where a socket
// belongs to the namespace of the task that made it) are in it, and each
// run, first or restarted, gets a fresh one. The supervisor needs no
// network: it talks to nothing but files (the run directory, whose paths
// reach across namespaces). The namespace has only a loopback interface,
// down when created; the supervisor brings it up. Every TCP connection of
// the job is then between processes of the job, so it is saved and made
// again (TCP repair) at each checkpoint, and two restarts of one image
// bind the same ports in two namespaces without colliding. The job has no
// network beyond its host's loopback: no outside address, no name server
// but a file, no connection to another job or to the host's services.
//
// The checkpoint helper stays in the host's namespace: repair mode works on
// a socket of any namespace for a process with CAP_NET_ADMIN in its owner
// (the initial user namespace), and ckpt asks sock_diag in the job's.

// netFlags are the clone flags of the supervisor of spec.
func netFlags(spec *Spec) uintptr {
	if spec.PrivateNet {
		return syscall.CLONE_NEWNET
	}
	return 0
}

// loopbackUp brings up lo in our network namespace (SIOCSIFFLAGS with
// IFF_UP on a socket of the namespace).
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network namespace: lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network namespace: bring lo up: %w", err)
	}
	return nil
}
