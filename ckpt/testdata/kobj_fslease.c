/* A write lease (F_SETLEASE F_WRLCK) signalling with SIGRTMIN+2
 * (F_SETSIG): after the restart F_GETLEASE says so, and another process
 * opening the file breaks it: the holder gets SIGRTMIN+2 with si_fd. */
#include "kobj.h"
#include <sys/wait.h>

static volatile sig_atomic_t leasefd = -1;
static void onlease(int s, siginfo_t *si, void *u) { (void)s; (void)u; leasefd = si->si_fd; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("leased", O_RDWR | O_CREAT | O_TRUNC, 0644);
	close(fd);
	fd = open("leased", O_RDWR);
	struct sigaction sa = {.sa_sigaction = onlease, .sa_flags = SA_SIGINFO};
	sigaction(SIGRTMIN + 2, &sa, NULL);
	if (fcntl(fd, F_SETSIG, SIGRTMIN + 2) || fcntl(fd, F_SETLEASE, F_WRLCK)) DIE("lease: %s", strerror(errno));
	kobj_wait();
	CHECK(fcntl(fd, F_GETLEASE) == F_WRLCK, "F_GETLEASE %d", fcntl(fd, F_GETLEASE));
	CHECK(fcntl(fd, F_GETSIG) == SIGRTMIN + 2, "F_GETSIG %d", fcntl(fd, F_GETSIG));
	pid_t c = fork();
	if (c == 0) {
		int x = open("leased", O_RDONLY | O_NONBLOCK);
		_exit(x < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	int ws;
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "another open did not find the lease");
	for (int i = 0; i < 1000 && leasefd < 0; i++) usleep(1000);
	CHECK(leasefd == fd, "lease break signal for fd %d", (int)leasefd);
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return kobj_done();
}
