/* A pidfd of a child that exited (status 42) and is not reaped yet: after
 * the restart it is readable, and waitid(P_PIDFD) reaps the child with
 * its status; a pidfd of a reaped child says ESRCH. */
#include "kobj.h"
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int pidfd_open(pid_t p) { return syscall(SYS_pidfd_open, p, 0); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t z = fork();
	if (z == 0) _exit(42);
	pid_t g = fork();
	if (g == 0) _exit(0);
	int pz = pidfd_open(z), pg = pidfd_open(g);
	if (pz < 0 || pg < 0) DIE("pidfd_open: %s", strerror(errno));
	waitpid(g, NULL, 0);
	siginfo_t si;
	for (;;) {
		memset(&si, 0, sizeof si);
		waitid(P_PID, z, &si, WEXITED | WNOWAIT);
		if (si.si_pid == z) break;
	}
	kobj_wait();
	struct pollfd p = {pz, POLLIN, 0};
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLIN), "zombie's pidfd not readable");
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PIDFD, pz, &si, WEXITED) == 0 && si.si_pid == z && si.si_status == 42, "waitid: %s pid %d status %d", strerror(errno), si.si_pid, si.si_status);
	errno = 0;
	CHECK(syscall(SYS_pidfd_send_signal, pg, 0, NULL, 0) < 0 && errno == ESRCH, "reaped child's pidfd: %s", strerror(errno));
	return kobj_done();
}
