/* kobj3_waitthread: a thread blocked in waitpid on a running child across
 * the checkpoint gets the child's status after it. */
#include "kobj.h"
#include <pthread.h>
#include <sys/wait.h>

static pid_t c;
static int st = -1;
static pid_t got;

static void *waiter(void *a) {
	(void)a;
	got = waitpid(c, &st, 0);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	c = fork();
	if (c == 0) {
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		_exit(5);
	}
	pthread_t t;
	pthread_create(&t, NULL, waiter, NULL);
	usleep(100000);
	kobj_wait();
	pthread_join(t, NULL);
	CHECK(got == c, "waitpid returned %d, want %d", got, c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "status %#x", st);
	return kobj_done();
}
