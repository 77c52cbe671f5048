/* kobj5b_overthread: the overrun gathered before the checkpoint by a
 * periodic timer aimed (SIGEV_THREAD_ID) at a second thread that blocks
 * its signal: 20 ms, 600 ms before the checkpoint (about 29 expiries
 * missed). After the restart the thread takes the signal: si_overrun and
 * timer_getoverrun count at least those. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static volatile pid_t tid2;
static volatile int go;
static volatile int sig2 = -1, code2, val2, ov2 = -1, getov2 = -1;
static timer_t t;

static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	while (!go) usleep(1000);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 6);
	siginfo_t si;
	struct timespec z = {0, 0};
	sig2 = sigtimedwait(&w, &si, &z);
	code2 = si.si_code;
	val2 = si.si_value.sival_int;
	ov2 = si.si_overrun;
	getov2 = timer_getoverrun(t);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 6);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	struct sigevent e = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 6, .sigev_value.sival_int = 66};
	e._sigev_un._tid = tid2;
	if (timer_create(CLOCK_MONOTONIC, &e, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 20000000}, .it_interval = {0, 20000000}};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	timer_settime(t, 0, &s, NULL);
	usleep(600000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long missed = ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000) / 20 - 2;
	kobj_wait();
	go = 1;
	pthread_join(th, NULL);
	CHECK(sig2 == SIGRTMIN + 6 && code2 == SI_TIMER && val2 == 66, "thread: signal %d code %d value %d", sig2, code2, val2);
	CHECK(ov2 >= missed && getov2 == ov2, "thread: overrun %d (getoverrun %d), want at least %ld", ov2, getov2, missed);
	return kobj_done();
}
