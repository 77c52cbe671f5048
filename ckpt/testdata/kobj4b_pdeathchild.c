/* kobj4b_pdeathchild: a grandchild with PR_SET_PDEATHSIG SIGUSR2 (a
 * handler) whose parent, a middle child, ends after the restart: the
 * grandchild gets SIGUSR2 and is reparented to the root (a child
 * subreaper), which reaps both; the grandchild tells how it ended. */
#include "kobj.h"
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t death;
static void onusr2(int s) { (void)s; death = 1; }

static void wait_usr1(void) {
	kobj_go = 0;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t root = getpid();
	int p[2];
	pipe(p);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t g = fork();
		if (g == 0) {
			signal(SIGUSR2, onusr2);
			prctl(PR_SET_PDEATHSIG, SIGUSR2);
			write(p[1], "y", 1);
			wait_usr1();
			/* After SIGUSR1: wait for the parent's death. */
			sigset_t cur;
			sigprocmask(SIG_BLOCK, NULL, &cur);
			sigdelset(&cur, SIGUSR2);
			for (int i = 0; i < 100 && !death; i++) {
				struct timespec t = {0, 50000000};
				nanosleep(&t, NULL);
			}
			int sig = 0;
			prctl(PR_GET_PDEATHSIG, &sig);
			_exit(death && sig == SIGUSR2 && getppid() == root ? 0 : 10 + death * 2 + (sig == SIGUSR2));
		}
		wait_usr1();
		usleep(100000);
		_exit(0);
	}
	char b;
	if (read(p[0], &b, 1) != 1) DIE("grandchild");
	kobj_wait();
	int st, n = 0;
	pid_t r;
	while ((r = waitpid(-1, &st, 0)) > 0) {
		n++;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			kobj_fail("%s %d: status %#x", r == mid ? "middle child" : "grandchild", r, st);
		}
	}
	CHECK(n == 2, "%d processes reaped, want 2", n);
	return kobj_done();
}
