/* POSIX timers: SIGEV_SIGNAL with a value, SIGEV_THREAD_ID aimed at a
 * second thread, SIGEV_NONE, and one with an overrun count. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static pid_t tid2;
static volatile int thread_got, thread_value;
static pthread_t th;

static void onrt(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	if (syscall(SYS_gettid) == tid2) { thread_got++; thread_value = si->si_value.sival_int; }
}

static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	for (;;) pause();
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	sigaddset(&m, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	struct sigaction sa = {.sa_sigaction = onrt, .sa_flags = SA_SIGINFO};
	sigaction(SIGRTMIN + 2, &sa, NULL);
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	timer_t t1, t2, t3, t4;
	struct sigevent e1 = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1, .sigev_value.sival_int = 77};
	struct sigevent e2 = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 2, .sigev_value.sival_int = 88};
	e2._sigev_un._tid = tid2;
	struct sigevent e3 = {.sigev_notify = SIGEV_NONE};
	if (timer_create(CLOCK_MONOTONIC, &e1, &t1) || timer_create(CLOCK_MONOTONIC, &e2, &t2) ||
	    timer_create(CLOCK_REALTIME, &e3, &t3) || timer_create(CLOCK_MONOTONIC, &e1, &t4))
		DIE("timer_create: %s", strerror(errno));
	struct itimerspec s1 = {.it_value = {5000, 0}, .it_interval = {5000, 0}};
	timer_settime(t1, 0, &s1, NULL);
	struct itimerspec s3 = {.it_value = {6000, 0}};
	timer_settime(t3, 0, &s3, NULL);
	/* t4 fires every ms, its signal blocked: it overruns. */
	struct itimerspec s4 = {.it_value = {0, 1000000}, .it_interval = {0, 1000000}};
	timer_settime(t4, 0, &s4, NULL);
	/* (Disarming it would drop its pending signal.) */
	usleep(50000);
	kobj_wait();
	struct itimerspec g;
	timer_gettime(t1, &g);
	CHECK(g.it_interval.tv_sec == 5000 && g.it_value.tv_sec > 4900, "t1 %ld/%ld", g.it_value.tv_sec, g.it_interval.tv_sec);
	timer_gettime(t3, &g);
	CHECK(g.it_interval.tv_sec == 0 && g.it_value.tv_sec > 5900 && g.it_value.tv_sec <= 6000, "t3 %ld", g.it_value.tv_sec);
	CHECK((long)t1 == 0 && (long)t2 == 1 && (long)t3 == 2 && (long)t4 == 3, "ids %ld %ld %ld %ld", (long)t1, (long)t2, (long)t3, (long)t4);
	/* t4's signal is pending with its overrun. */
	siginfo_t si;
	struct timespec z = {0, 0};
	int sig = sigtimedwait(&(sigset_t){0}, &si, &z);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 1);
	sig = sigtimedwait(&w, &si, &z);
	/* Its overrun count is not checked here: it depends on how long the
	 * signal waited (the kobjproc case "overrun" checks it). */
	CHECK(sig == SIGRTMIN + 1 && si.si_code == SI_TIMER && si.si_value.sival_int == 77, "t4 signal %d code %d value %d overrun %d", sig, si.si_code, si.si_value.sival_int, si.si_overrun);
	struct itimerspec s2 = {.it_value = {0, 10000000}};
	timer_settime(t2, 0, &s2, NULL);
	for (int i = 0; i < 300 && !thread_got; i++) usleep(10000);
	CHECK(thread_got == 1 && thread_value == 88, "thread timer: %d signals, value %d", thread_got, thread_value);
	return kobj_done();
}
