/* A thread blocked in waitpid for a running child; the child exits 7
 * after SIGUSR1 and the thread's waitpid gives its status. */
#include "kobj.h"
#include <pthread.h>
#include <sys/wait.h>

static pid_t child;
static int st = -1, r = -2, err;

static void *run(void *a) {
	(void)a;
	r = waitpid(child, &st, 0);
	err = errno;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	child = fork();
	if (child == 0) {
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		_exit(7);
	}
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	usleep(100000);
	kobj_wait();
	pthread_join(th, NULL);
	CHECK(r == child, "waitpid %d (%s), want %d", r, strerror(err), child);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "status %#x, want exit 7", st);
	return kobj_done();
}
