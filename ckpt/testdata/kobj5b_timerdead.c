/* kobj5b_timerdead: a periodic POSIX timer aimed (SIGEV_THREAD_ID) at a
 * thread that has since exited: the kernel finds no task to signal and
 * its expiries send nothing. A restored timer could be aimed only at a
 * living thread (the main one: it would signal the process), so the
 * checkpoint refuses it; the program, left running, still gets nothing
 * after several intervals and timer_gettime still gives its 50 ms
 * interval. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static volatile pid_t tid2;
static volatile int made;
static void *brief(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	while (!made) usleep(1000);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sig = SIGRTMIN + 6;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, sig);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pthread_t th;
	pthread_create(&th, NULL, brief, NULL);
	while (!tid2) usleep(1000);
	/* Created while the thread lives, armed once it is gone. */
	struct sigevent e = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = sig, .sigev_value.sival_int = 9};
	e._sigev_un._tid = tid2;
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &e, &t)) DIE("timer_create: %s", strerror(errno));
	made = 1;
	pthread_join(th, NULL);
	usleep(20000);
	struct itimerspec s = {.it_value = {0, 50000000}, .it_interval = {0, 50000000}};
	timer_settime(t, 0, &s, NULL);
	usleep(200000);
	sigset_t p;
	sigpending(&p);
	if (sigismember(&p, sig)) DIE("the dead thread's timer signalled the process before the checkpoint");
	kobj_wait();
	usleep(300000);
	sigpending(&p);
	CHECK(!sigismember(&p, sig), "the timer of an exited thread signals the process after the restart");
	struct itimerspec g;
	timer_gettime(t, &g);
	CHECK(g.it_interval.tv_sec == 0 && g.it_interval.tv_nsec == 50000000, "interval %ld.%09ld", g.it_interval.tv_sec, g.it_interval.tv_nsec);
	return kobj_done();
}
