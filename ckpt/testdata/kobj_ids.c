/* Process group and session: the process made itself a session leader
 * with a child in another process group of it. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0) {
			setpgid(0, 0);
			for (;;) pause();
		}
		pid_t me = getpid();
		kobj_wait();
		CHECK(getsid(0) == me && getpgrp() == me, "sid %d pgrp %d, want %d", getsid(0), getpgrp(), me);
		CHECK(getpgid(g) == g && getsid(g) == me, "child pgid %d sid %d", getpgid(g), getsid(g));
		kill(g, SIGKILL);
		waitpid(g, NULL, 0);
		exit(kobj_done());
	}
	while (!kobj_go) sigsuspend(&kobj_old);
	kill(c, SIGUSR1);
	for (;;) {
		int st;
		if (waitpid(c, &st, 0) == c) return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
}
