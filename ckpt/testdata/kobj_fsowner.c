/* Signal owners of O_ASYNC descriptors: a pipe owned by our process
 * group (F_SETOWN -pgrp), a pipe owned by a child (F_SETOWN_EX
 * F_OWNER_PID) with F_SETSIG 0 (SIGIO); after the restart each reads back
 * and the child, not us, gets the SIGIO of its pipe. */
#include "kobj.h"
#include <sys/wait.h>

static volatile sig_atomic_t gotio;
static void onio(int s) { (void)s; gotio++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	setpgid(0, 0);
	signal(SIGIO, onio);
	int g[2], c[2], r[2];
	pipe(g);
	pipe(c);
	pipe(r);
	fcntl(g[0], F_SETFL, O_ASYNC | O_NONBLOCK);
	fcntl(g[0], F_SETOWN, -getpgrp());
	pid_t child = fork();
	if (child == 0) {
		close(r[0]);
		kobj_wait();
		for (int i = 0; i < 2000 && !gotio; i++) usleep(1000);
		write(r[1], gotio ? "y" : "n", 1);
		_exit(0);
	}
	fcntl(c[0], F_SETFL, O_ASYNC);
	struct f_owner_ex o = {.type = F_OWNER_PID, .pid = child};
	fcntl(c[0], F_SETOWN_EX, &o);
	fcntl(c[0], F_SETSIG, 0);
	close(r[1]);
	kobj_wait();
	CHECK(fcntl(g[0], F_GETOWN) == -getpgrp(), "group owner %d, want %d", fcntl(g[0], F_GETOWN), -getpgrp());
	struct f_owner_ex got;
	fcntl(c[0], F_GETOWN_EX, &got);
	CHECK(got.type == F_OWNER_PID && got.pid == child, "child owner %d/%d", got.type, got.pid);
	CHECK(fcntl(c[0], F_GETFL) & O_ASYNC, "lost O_ASYNC");
	int before = gotio;
	write(c[1], "x", 1);
	char y = 0;
	read(r[0], &y, 1);
	CHECK(y == 'y', "the child got no SIGIO");
	CHECK(gotio == before, "we got the child's SIGIO");
	write(g[1], "x", 1);
	for (int i = 0; i < 2000 && gotio == before; i++) usleep(1000);
	CHECK(gotio > before, "no SIGIO for the group's pipe");
	waitpid(child, NULL, 0);
	return kobj_done();
}
