/* kobj5a_asyncsig: O_ASYNC with F_SETSIG on descriptors other than pipes
 * and sockets: an inotify instance (SIGRTMIN+5) and a pty master (SIGIO,
 * F_SETSIG 0), both owned by the process. After the restart a file made
 * in the watched directory brings SIGRTMIN+5 with si_fd of the inotify
 * fd, output of the slave SIGIO. */
#include "kobj.h"
#include <sys/inotify.h>
#include <sys/stat.h>

static volatile int got_rt, got_fd = -1, got_io;
static void onrt(int s, siginfo_t *si, void *u) { (void)s; (void)u; got_rt++; got_fd = si->si_fd; }
static void onio(int s) { (void)s; got_io++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa = {.sa_sigaction = onrt, .sa_flags = SA_SIGINFO};
	sigaction(SIGRTMIN + 5, &sa, NULL);
	signal(SIGIO, onio);
	mkdir("watched", 0755);
	int in = inotify_init1(IN_NONBLOCK);
	inotify_add_watch(in, "watched", IN_CREATE);
	fcntl(in, F_SETOWN, getpid());
	fcntl(in, F_SETSIG, SIGRTMIN + 5);
	fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_ASYNC);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m); unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	fcntl(m, F_SETOWN, getpid());
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_ASYNC | O_NONBLOCK);
	kobj_wait();
	CHECK(fcntl(in, F_GETSIG) == SIGRTMIN + 5 && fcntl(in, F_GETOWN) == getpid(), "inotify sig %d own %d", fcntl(in, F_GETSIG), fcntl(in, F_GETOWN));
	CHECK(fcntl(in, F_GETFL) & O_ASYNC, "inotify lost O_ASYNC");
	CHECK(fcntl(m, F_GETFL) & O_ASYNC, "pty lost O_ASYNC");
	CHECK(fcntl(m, F_GETSIG) == 0 && fcntl(m, F_GETOWN) == getpid(), "pty sig %d own %d", fcntl(m, F_GETSIG), fcntl(m, F_GETOWN));
	close(open("watched/new", O_CREAT | O_WRONLY, 0644));
	unlink("watched/new");
	for (int i = 0; i < 100 && !got_rt; i++) usleep(10000);
	CHECK(got_rt >= 1 && got_fd == in, "inotify signal: %d, si_fd %d", got_rt, got_fd);
	write(s, "out", 3);
	for (int i = 0; i < 100 && !got_io; i++) usleep(10000);
	CHECK(got_io >= 1, "no SIGIO from the pty");
	return kobj_done();
}
