package ckpt

// Some blocking calls end with EINTR when their thread is stopped, even
// with no signal handler: the kernel documents it for stop signals
// (signal(7): epoll_wait, sigtimedwait, semop with a timeout,
// io_getevents, sockets with SO_RCVTIMEO...), and PTRACE_INTERRUPT is
// such a stop. Left as it is, the checkpoint would make a waiting thread
// of the running job fail with EINTR, and the restarted one too.
//
// At the freeze stop such a thread is in get_signal, its call already
// returned -EINTR in rax. The checkpoint turns it into -ERESTARTNOHAND:
// when the thread goes on without a signal to handle, the kernel's
// arch_do_signal_or_restart makes the call again (rip back over the
// syscall instruction, rax from orig_rax); when a signal with a handler
// is delivered at the same time, handle_signal turns it back into EINTR,
// exactly what the thread would have seen from that signal alone. The
// call is made again with its original arguments: a relative timeout is
// waited whole again, which the calls' contract (at least the time asked
// for) allows. connect is left out: made again it would fail (EALREADY).

import (
	"golang.org/x/sys/unix"
)

const erestartNoHand = 514 // ERESTARTNOHAND

// eintrOnStop are the calls the kernel ends with EINTR on a stop.
var eintrOnStop = map[int]bool{
	unix.SYS_RT_SIGTIMEDWAIT: true, unix.SYS_EPOLL_WAIT: true, unix.SYS_EPOLL_PWAIT: true,
	unix.SYS_EPOLL_PWAIT2: true, unix.SYS_SEMOP: true, unix.SYS_SEMTIMEDOP: true,
	unix.SYS_IO_GETEVENTS: true, unix.SYS_IO_PGETEVENTS: true,
	unix.SYS_RECVFROM: true, unix.SYS_RECVMSG: true, unix.SYS_ACCEPT: true, unix.SYS_ACCEPT4: true,
}

// undoStopEINTR makes the call thread tid was in, and that our freeze
// ended with EINTR, restart instead (the registers r, set in the thread
// and changed in place). A thread of a job stopped by job control keeps
// its EINTR: the stop was the job's own.
func undoStopEINTR(tid int, r *unix.PtraceRegs) error {
	if int64(r.Orig_rax) < 0 || int64(r.Rax) != -int64(unix.EINTR) || !eintrOnStop[int(r.Orig_rax)] {
		return nil
	}
	was := r.Rax
	r.Rax = ^uint64(erestartNoHand - 1) // -ERESTARTNOHAND
	if err := ptraceSetRegs(tid, r); err != nil {
		r.Rax = was
		return err
	}
	return nil
}
