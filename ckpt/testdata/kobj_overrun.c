/* A periodic POSIX timer (CLOCK_MONOTONIC, every 400 ms) whose signal is
 * blocked and pending: when the program takes it, 1.3 s later, its
 * si_overrun counts the expiries missed meanwhile (at least 2), as does
 * timer_getoverrun; its value and SI_TIMER are kept. A second one aimed
 * at a thread (SIGEV_THREAD_ID) likewise. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static volatile pid_t tid2;
static volatile int go2, overrun2 = -1, code2, value2, getov2;
static timer_t t2;

static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	while (!go2) usleep(1000);
	usleep(1300000);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 6);
	siginfo_t si;
	struct timespec z = {0, 0};
	if (sigtimedwait(&w, &si, &z) == SIGRTMIN + 6) {
		overrun2 = si.si_overrun;
		code2 = si.si_code;
		value2 = si.si_value.sival_int;
		getov2 = timer_getoverrun(t2);
	}
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 5);
	sigaddset(&m, SIGRTMIN + 6);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	timer_t t1;
	struct sigevent e1 = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 5, .sigev_value.sival_int = 4242};
	struct sigevent e2 = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 6, .sigev_value.sival_int = 4343};
	e2._sigev_un._tid = tid2;
	if (timer_create(CLOCK_MONOTONIC, &e1, &t1) || timer_create(CLOCK_MONOTONIC, &e2, &t2)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 400000000}, .it_interval = {0, 400000000}};
	timer_settime(t1, 0, &s, NULL);
	timer_settime(t2, 0, &s, NULL);
	usleep(500000); /* both have fired: their signals pending */
	kobj_wait();
	go2 = 1;
	usleep(1300000); /* at least 3 intervals: 2 missed at the least */
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 5);
	siginfo_t si;
	struct timespec z = {0, 0};
	int sig = sigtimedwait(&w, &si, &z);
	int ov = timer_getoverrun(t1);
	CHECK(sig == SIGRTMIN + 5 && si.si_code == SI_TIMER && si.si_value.sival_int == 4242 && si.si_overrun >= 2 && ov == si.si_overrun,
	      "timer: signal %d code %d value %d overrun %d getoverrun %d", sig, si.si_code, si.si_value.sival_int, si.si_overrun, ov);
	pthread_join(th, NULL);
	CHECK(code2 == SI_TIMER && value2 == 4343 && overrun2 >= 2 && getov2 == overrun2,
	      "thread timer: code %d value %d overrun %d getoverrun %d", code2, value2, overrun2, getov2);
	return kobj_done();
}
