/* kobj3_subreaper: a child subreaper; its grandchild, orphaned when its
 * child exited, is reparented to it and stays so after the restart. */
#include "kobj.h"
#include <sys/prctl.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) DIE("subreaper: %s", strerror(errno));
	pid_t me = getpid();
	int p[2];
	if (pipe(p)) DIE("pipe");
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			close(p[0]);
			while (getppid() != me) usleep(1000);
			if (write(p[1], "r", 1) != 1) _exit(9);
			close(p[1]);
			sigset_t cur;
			sigprocmask(SIG_BLOCK, NULL, &cur);
			sigdelset(&cur, SIGUSR1);
			while (!kobj_go) sigsuspend(&cur);
			_exit(getppid() == me ? 42 : 43);
		}
		_exit(0);
	}
	close(p[1]);
	int ws;
	waitpid(c, &ws, 0);
	char ch;
	if (read(p[0], &ch, 1) != 1) DIE("the grandchild did not say it was reparented");
	int sr = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &sr);
	CHECK(sr == 1, "set-up: subreaper %d", sr);
	kobj_wait();
	sr = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &sr);
	CHECK(sr == 1, "subreaper now %d", sr);
	pid_t w = wait(&ws);
	CHECK(w > 0, "no orphan to reap: %s", strerror(errno));
	CHECK(w > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 42, "the orphan: status %#x (43: its parent was not the subreaper)", ws);
	return kobj_done();
}
