/* kobj5b_overpre: the overrun a blocked timer signal has gathered before
 * the checkpoint: a 20 ms periodic CLOCK_MONOTONIC timer runs 600 ms with
 * its signal blocked (about 29 expiries missed). After the restart, its
 * siginfo's si_overrun and timer_getoverrun count at least those (the
 * clock went on meanwhile: more is right, fewer lost some). */
#include "kobj.h"
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sig = SIGRTMIN + 5;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, sig);
	sigprocmask(SIG_BLOCK, &m, NULL);
	struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig, .sigev_value.sival_int = 3};
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &e, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 20000000}, .it_interval = {0, 20000000}};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	timer_settime(t, 0, &s, NULL);
	usleep(600000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long missed = ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000) / 20 - 2;
	kobj_wait();
	siginfo_t si;
	struct timespec z = {0, 0};
	int got = sigtimedwait(&m, &si, &z);
	int ov = timer_getoverrun(t);
	CHECK(got == sig && si.si_code == SI_TIMER && si.si_value.sival_int == 3, "signal %d code %d value %d", got, si.si_code, si.si_value.sival_int);
	CHECK(si.si_overrun >= missed && ov == si.si_overrun, "overrun %d (getoverrun %d), want at least %ld", si.si_overrun, ov, missed);
	return kobj_done();
}
