package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"lazarus/internal/proc"
	"lazarus/jobs"
)

// watcher learns when supervisors end. It holds a pidfd for each (a pidfd
// becomes readable when its process exits, whether or not it is our child,
// and signals sent through it cannot reach a process that reused the pid)
// and waits for them all with one epoll in one goroutine, which Stop ends.
type watcher struct {
	log    *slog.Logger
	epfd   int
	stopfd int // eventfd: written by stop
	onExit func(jobs.ID)
	done   chan struct{}

	mu    sync.Mutex
	byJob map[jobs.ID]*watched
	byFD  map[int32]*watched
}

type watched struct {
	job   jobs.ID
	pid   int
	pidfd int
	child bool // ours to reap
}

func newWatcher(log *slog.Logger, onExit func(jobs.ID)) (_ *watcher, retErr error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	stopfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	w := &watcher{
		log: log, epfd: epfd, stopfd: stopfd, onExit: onExit, done: make(chan struct{}),
		byJob: map[jobs.ID]*watched{}, byFD: map[int32]*watched{},
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stopfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stopfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(stopfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	go w.run()
	return w, nil
}

// errGone is returned by adopt when the process is not the one expected.
var errGone = errors.New("supervisor is gone")

// add watches a supervisor we started (our child, not yet reaped, so its
// pid cannot have been reused).
func (w *watcher) add(job jobs.ID, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	return w.register(&watched{job: job, pid: pid, pidfd: fd, child: true})
}

// adopt watches a supervisor a previous daemon started, if the process
// with its pid is still the one id names.
func (w *watcher) adopt(job jobs.ID, id proc.Identity) error {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err == unix.ESRCH {
		return errGone
	}
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	// Checked after opening: if it matches now, the pidfd is that process.
	if !id.Alive() {
		unix.Close(fd)
		return errGone
	}
	return w.register(&watched{job: job, pid: id.PID, pidfd: fd})
}

func (w *watcher) register(x *watched) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.byJob[x.job]; ok {
		unix.Close(x.pidfd)
		return fmt.Errorf("job %s already has supervisor %d", x.job, old.pid)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(x.pidfd)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, x.pidfd, &ev); err != nil {
		unix.Close(x.pidfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	w.byJob[x.job] = x
	w.byFD[int32(x.pidfd)] = x
	return nil
}

// signal sends sig to a job's supervisor; false if it is not watched.
func (w *watcher) signal(job jobs.ID, sig unix.Signal) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.byJob[job]
	if !ok {
		return false, nil
	}
	if err := unix.PidfdSendSignal(x.pidfd, sig, nil, 0); err != nil && err != unix.ESRCH {
		return true, os.NewSyscallError("pidfd_send_signal", err)
	}
	return true, nil
}

func (w *watcher) run() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			w.log.Error("epoll_wait failed; supervisors are no longer watched", "error", err)
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == w.stopfd {
				return
			}
			w.mu.Lock()
			x, ok := w.byFD[ev.Fd]
			if ok {
				delete(w.byFD, ev.Fd)
				delete(w.byJob, x.job)
				unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, x.pidfd, nil)
				unix.Close(x.pidfd)
			}
			w.mu.Unlock()
			if !ok {
				continue
			}
			if x.child {
				var ws unix.WaitStatus
				for {
					if _, err := unix.Wait4(x.pid, &ws, unix.WNOHANG, nil); err != unix.EINTR {
						break
					}
				}
			}
			w.log.Debug("supervisor ended", "job_id", x.job, "pid", x.pid)
			w.onExit(x.job)
		}
	}
}

// stop ends the watching goroutine (after the exit it is handling, if any)
// and closes the pidfds. Supervisors are not touched.
func (w *watcher) stop() {
	var one = [8]byte{1}
	unix.Write(w.stopfd, one[:])
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.byJob {
		unix.Close(x.pidfd)
	}
	w.byJob, w.byFD = map[jobs.ID]*watched{}, map[int32]*watched{}
	unix.Close(w.epfd)
	unix.Close(w.stopfd)
}
