/* kobj3_pgrporphan: a process group whose leader has exited: child A made
 * its group, forked B into it and exited; B stays in group A (a pgid with
 * no process of that pid) and a sibling C joined the group too. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	if (pipe(p)) DIE("pipe");
	pid_t a = fork();
	if (a == 0) {
		setpgid(0, 0);
		pid_t b = fork();
		if (b == 0) {
			pid_t g = getpgrp();
			while (getppid() == g) usleep(1000);
			write(p[1], &g, sizeof g);
			sigset_t cur;
			sigprocmask(SIG_BLOCK, NULL, &cur);
			sigdelset(&cur, SIGUSR1);
			while (!kobj_go) sigsuspend(&cur);
			_exit(getpgrp() == g && getpgid(0) == g ? 0 : 1);
		}
		_exit(0);
	}
	int ws;
	waitpid(a, &ws, 0);
	pid_t g;
	if (read(p[0], &g, sizeof g) != sizeof g || g != a) DIE("set-up: group %d", g);
	pid_t c = fork();
	if (c == 0) {
		if (setpgid(0, a)) _exit(3);
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		_exit(getpgrp() == a ? 0 : 1);
	}
	for (int i = 0; i < 5000 && getpgid(c) != a; i++) usleep(1000);
	if (getpgid(c) != a) DIE("set-up: C not in group");
	pid_t mine = getpgrp();
	kobj_wait();
	CHECK(getpgrp() == mine, "own group %d, want %d", getpgrp(), mine);
	CHECK(getpgid(c) == a, "C's group %d, want %d", getpgid(c), a);
	/* B, orphaned, is no descendant the test signals: let it end too. */
	kill(-a, SIGUSR1);
	waitpid(c, &ws, 0);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "C: %#x", ws);
	/* B is our grandchild, orphaned to init or the test: it checks itself;
	 * the group must have it: kill(-a, 0) succeeds while B lives. */
	return kobj_done();
}
