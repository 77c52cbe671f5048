/* kobj5b_timerstale: the signal of a deleted timer: a periodic timer
 * fired with its signal (SIGRTMIN+1) blocked, then was deleted. The
 * kernel leaves the signal pending (sigpending shows it) but drops it
 * when it is taken (a timer signal is delivered only for its timer as it
 * is). A second, one-shot, timer fired on SIGRTMIN+2 and is kept: its
 * signal is a real one. After the restart both show in sigpending;
 * sigtimedwait gets nothing of SIGRTMIN+1, and SIGRTMIN+2 with its
 * value and SI_TIMER. */
#include "kobj.h"
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int s1 = SIGRTMIN + 1, s2 = SIGRTMIN + 2;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, s1);
	sigaddset(&m, s2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	timer_t t1, t2;
	struct sigevent e1 = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = s1, .sigev_value.sival_int = 1};
	struct sigevent e2 = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = s2, .sigev_value.sival_int = 2};
	if (timer_create(CLOCK_MONOTONIC, &e1, &t1) || timer_create(CLOCK_MONOTONIC, &e2, &t2)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec p = {.it_value = {0, 1000000}, .it_interval = {0, 5000000}};
	struct itimerspec o = {.it_value = {0, 1000000}};
	timer_settime(t1, 0, &p, NULL);
	timer_settime(t2, 0, &o, NULL);
	usleep(50000);
	timer_delete(t1);
	sigset_t pend;
	sigpending(&pend);
	if (!sigismember(&pend, s1) || !sigismember(&pend, s2)) DIE("pending: %d %d", sigismember(&pend, s1), sigismember(&pend, s2));
	kobj_wait();
	sigpending(&pend);
	CHECK(sigismember(&pend, s1) && sigismember(&pend, s2), "pending: SIGRTMIN+1 %d, SIGRTMIN+2 %d", sigismember(&pend, s1), sigismember(&pend, s2));
	struct timespec z = {0, 0};
	siginfo_t si;
	sigset_t only1;
	sigemptyset(&only1);
	sigaddset(&only1, s1);
	int r = sigtimedwait(&only1, &si, &z);
	CHECK(r < 0, "the deleted timer's signal was delivered (code %d value %d)", si.si_code, si.si_value.sival_int);
	r = sigtimedwait(&m, &si, &z);
	CHECK(r == s2 && si.si_code == SI_TIMER && si.si_value.sival_int == 2, "second timer: %d code %d value %d", r, si.si_code, si.si_value.sival_int);
	r = sigtimedwait(&m, &si, &z);
	CHECK(r < 0, "more: %d", r);
	return kobj_done();
}
