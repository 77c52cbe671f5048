package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// POSIX message queues (mq_open). A queue descriptor is a file of the
// mqueue filesystem of the IPC namespace, named like a path ("/name");
// opened again by that name it would be another file, or none. Its
// messages can only be read by taking them from the queue, and taking
// them from a queue that a process waits on, or that has an mq_notify
// registration, wakes the one or fires the other: the running job would
// change. A queue descriptor is refused at checkpoint time.

const mqueueMagic = 0x19800202 // MQUEUE_MAGIC

// mqueueRefusal says why descriptor fd of pid, a POSIX message queue,
// cannot be checkpointed; "" if it is not one.
func mqueueRefusal(pid, fd int, link string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st); err != nil || st.Type != mqueueMagic {
		return ""
	}
	return fmt.Sprintf(": POSIX message queue %s is not checkpointable (its messages cannot be saved without taking them from the queue)", link)
}
