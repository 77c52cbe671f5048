package ckpt

// What a thread may have of its own apart from its process, in the
// kernel's task_struct rather than in what the threads share: its
// credentials (struct cred: the raw setresuid, setgroups, setfsuid
// change only the calling thread; glibc's wrappers change every thread,
// the system calls do not) and its personality. Each is recorded for
// the thread only when it differs from the main thread's, and each
// thread gets its own back.

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// collectThreadCreds records th's credentials, read from its
// /proc/PID/task/TID/status, when they differ from the process's (the
// main thread's, m.Creds).
func (d *dumper) collectThreadCreds(th *thread) error {
	if th.TID == d.pid {
		return nil
	}
	s, err := readStatus(th.TID)
	if err != nil {
		return fmt.Errorf("%s(%d): status of tid %d: %w", d.comm, d.pid, th.TID, err)
	}
	c := creds{UID: s.UID, GID: s.GID, Groups: s.Groups}
	if !sameCreds(c, d.meta.Creds) {
		th.Creds = &c
	}
	return nil
}

func sameCreds(a, b creds) bool {
	return a.UID == b.UID && a.GID == b.GID && slices.Equal(a.Groups, b.Groups)
}

// threadCreds returns the credentials thread i is restored with.
func (m *imageMeta) threadCreds(i int) creds {
	if i < len(m.Threads) && m.Threads[i].Creds != nil {
		return *m.Threads[i].Creds
	}
	return m.Creds
}

// checkThreadCreds applies the bounds and the owner rules to the
// threads' own credentials: a thread may not be what its process may
// not (checkOwner).
func checkThreadCreds(m *imageMeta, owner func(c creds) error) error {
	for _, th := range m.Threads {
		if th.Creds == nil {
			continue
		}
		if len(th.Creds.Groups) > maxGroups {
			return fmt.Errorf("%w: tid %d: %d groups, at most %d", ErrCorrupt, th.TID, len(th.Creds.Groups), maxGroups)
		}
		if owner != nil {
			if err := owner(*th.Creds); err != nil {
				return err
			}
		}
	}
	return nil
}

// restoreThreadPersonality gives the current injection thread its own
// personality when it is not the one it inherited from the main thread.
func (b *builder) restoreThreadPersonality(th thread) error {
	if th.Personality == nil || *th.Personality == b.p.meta.Personality {
		return nil
	}
	if _, err := b.call("personality", unix.SYS_PERSONALITY, *th.Personality); err != nil {
		return fmt.Errorf("personality %#x (tid %d): %w", *th.Personality, th.TID, err)
	}
	return nil
}

// ownPermittedCaps is the checkpointer's permitted capability set (the
// calling thread's, as /proc/thread-self/status says it).
func ownPermittedCaps() (uint64, error) {
	s, err := readTaskSec(os.Getpid(), unix.Gettid())
	if err != nil {
		return 0, err
	}
	return s.prm, nil
}

// checkTimerTarget refuses a POSIX timer aimed (SIGEV_THREAD_ID) at a
// thread that has exited: the kernel keeps the timer, and its expiries
// signal no one. A restored timer can be aimed only at a thread alive at
// its timer_create, and aimed at another (the main thread) its
// expiries would signal the process where they signalled nothing.
func (d *dumper) checkTimerTarget(pt posixTimer) error {
	if pt.Notify&sigevThreadID == 0 || slices.Contains(d.tids, pt.TID) {
		return nil
	}
	return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
		"POSIX timer %d is aimed (SIGEV_THREAD_ID) at thread %d, which has exited: its expiries signal no one, and a restored timer can be aimed only at a living thread", pt.ID, pt.TID)}
}
