/* SIGCHLD ignored: children are reaped by the kernel; none is left, and
 * one made after the restart leaves no zombie. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGCHLD, SIG_IGN);
	pid_t a = fork();
	if (a == 0) _exit(3);
	usleep(100000);
	kobj_wait();
	int st;
	CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child left before");
	pid_t b = fork();
	if (b == 0) _exit(4);
	errno = 0;
	int r = waitpid(b, &st, 0);
	CHECK(r < 0 && errno == ECHILD, "waitpid of a new child %d (%s), want ECHILD", r, strerror(errno));
	return kobj_done();
}
