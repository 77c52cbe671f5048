package ckpt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// collectUnopenedMqueues saves the named POSIX message queues of the
// tree's own IPC namespace that no member has open (seen: the inodes of
// those it has): they live on in the namespace, and a program may
// mq_open one again at any time. Nothing lists a namespace's queues but
// its mqueue filesystem, which shows the namespace of the task that
// mounts it (mqueue_get_tree); so an OS thread of ours joins the IPC
// namespace (inIPCNS), takes a mount namespace of its own (unshare
// CLONE_NEWNS, everything made private so nothing propagates out),
// mounts the filesystem on a temporary directory and opens each queue
// there: a file of it opened by open(2) is a queue description like one
// of mq_open. The thread exits with its goroutine, and its mount
// namespace with it.
func (t *dumpTree) collectUnopenedMqueues(st *sysvIPC, nsPath string, seen map[uint64]bool, members map[int]bool) error {
	root := t.procs[0]
	var found []posixMq
	var refusal string
	err := inIPCNS(nsPath, func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: %w", err)
		}
		dir, err := os.MkdirTemp("", "lazarus-mqueue-")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		if err := unix.Mount("mqueue", dir, "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount mqueue: %w", err)
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(ents) > mqQueuesMax {
			return fmt.Errorf("%d POSIX message queues, more than %d", len(ents), mqQueuesMax)
		}
		for _, e := range ents {
			fd, err := unix.Open(filepath.Join(dir, e.Name()), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			if errors.Is(err, unix.ENOENT) {
				continue // unlinked meanwhile (by no member: the tree is frozen)
			}
			if err != nil {
				return fmt.Errorf("POSIX message queue /%s: %w", e.Name(), err)
			}
			var s unix.Stat_t
			if err := unix.Fstat(fd, &s); err != nil || seen[s.Ino] {
				unix.Close(fd)
				if err != nil {
					return fmt.Errorf("POSIX message queue /%s: %w", e.Name(), err)
				}
				continue
			}
			q, refuse, err := readMqueueFD(fd, posixMq{Ino: s.Ino, Name: "/" + e.Name()}, members, t.opts.CheckOnly)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("POSIX message queue %s: %w", q.Name, err)
			}
			if refuse != "" {
				refusal = refuse
				return nil
			}
			found = append(found, q)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s(%d): IPC namespace: %w", root.comm, root.pid, err)
	}
	if refusal != "" {
		if err := root.uncheckpointable(-1, refusal); err != nil {
			return err
		}
		return nil
	}
	slices.SortFunc(found, func(a, b posixMq) int { return strings.Compare(a.Name, b.Name) })
	for _, q := range found {
		st.Mqueue = append(st.Mqueue, q)
		t.log.Info(fmt.Sprintf("%s(%d) POSIX message queue %s (open in no process): %d messages", root.comm, root.pid, q.Name, len(q.Messages)))
	}
	return nil
}
