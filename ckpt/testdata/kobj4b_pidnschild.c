/* kobj4b_pidnschild: a child that made a PID namespace of its own
 * (unshare CLONE_NEWPID) and forked its init into it: the init sees
 * itself as pid 1 and its parent as 0; its NSpid line is the same after
 * the restart, and it still reaps an orphan of its namespace. */
#include "kobj.h"
#include <sched.h>
#include <sys/wait.h>

static void wait_usr1(void) {
	kobj_go = 0;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int p[2];
	pipe(p);
	pid_t mid = fork();
	if (mid == 0) {
		if (unshare(CLONE_NEWPID)) {
			write(p[1], "n", 1);
			_exit(2);
		}
		pid_t init = fork();
		if (init == 0) {
			int ok = getpid() == 1 && getppid() == 0;
			write(p[1], ok ? "y" : "n", 1);
			wait_usr1();
			int good = getpid() == 1 && getppid() == 0;
			pid_t o = fork();
			if (o == 0) _exit(5);
			int st;
			good = good && waitpid(o, &st, 0) == o && WEXITSTATUS(st) == 5 && o == 2;
			_exit(good ? 0 : 1);
		}
		int st;
		waitpid(init, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
	}
	char b;
	if (read(p[0], &b, 1) != 1 || b != 'y') DIE("no PID namespace child");
	kobj_wait();
	int st;
	waitpid(mid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the namespace's init: status %#x (1: not pid 1 or its orphan not reaped)", st);
	return kobj_done();
}
