/* kobj5b_timerign: a periodic timer (30 ms) whose signal, SIGRTMIN+3,
 * is ignored: the kernel sets its expiries aside while it is ignored.
 * After the restart the program installs a handler: the timer's signals
 * come again, with its value and SI_TIMER, and timer_gettime still gives
 * its interval. */
#include "kobj.h"
#include <time.h>

static volatile int got, val, code;
static void onsig(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	got++;
	val = si->si_value.sival_int;
	code = si->si_code;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sig = SIGRTMIN + 3;
	signal(sig, SIG_IGN);
	struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig, .sigev_value.sival_int = 33};
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &e, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 30000000}, .it_interval = {0, 30000000}};
	timer_settime(t, 0, &s, NULL);
	usleep(200000);
	kobj_wait();
	struct itimerspec g;
	timer_gettime(t, &g);
	CHECK(g.it_interval.tv_sec == 0 && g.it_interval.tv_nsec == 30000000, "interval %ld.%09ld", g.it_interval.tv_sec, g.it_interval.tv_nsec);
	struct sigaction sa = {.sa_sigaction = onsig, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(sig, &sa, NULL);
	for (int i = 0; i < 3000 && got < 3; i++) usleep(1000);
	CHECK(got >= 3 && val == 33 && code == SI_TIMER, "after the handler: %d signals, value %d code %d", got, val, code);
	return kobj_done();
}
