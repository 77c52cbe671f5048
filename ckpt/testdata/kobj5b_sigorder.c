/* kobj5b_sigorder: one realtime signal queued by three senders, in an
 * order the restart must keep: sigqueue value 1, then the expiry of a
 * one-shot POSIX timer (SI_TIMER, value 500), then sigqueue value 2, then
 * a second timer's (value 600), then value 3. All blocked. After the
 * restart sigtimedwait takes them in that same order. */
#include "kobj.h"
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sig = SIGRTMIN + 4;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, sig);
	sigprocmask(SIG_BLOCK, &m, NULL);
	timer_t t[2];
	for (int i = 0; i < 2; i++) {
		struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig, .sigev_value.sival_int = 500 + 100 * i};
		if (timer_create(CLOCK_MONOTONIC, &e, &t[i])) DIE("timer_create: %s", strerror(errno));
	}
	struct itimerspec once = {.it_value = {0, 1000000}};
	sigqueue(getpid(), sig, (union sigval){.sival_int = 1});
	timer_settime(t[0], 0, &once, NULL);
	usleep(50000);
	sigqueue(getpid(), sig, (union sigval){.sival_int = 2});
	timer_settime(t[1], 0, &once, NULL);
	usleep(50000);
	sigqueue(getpid(), sig, (union sigval){.sival_int = 3});
	kobj_wait();
	int want[] = {1, 500, 2, 600, 3};
	int wantcode[] = {SI_QUEUE, SI_TIMER, SI_QUEUE, SI_TIMER, SI_QUEUE};
	char got[256] = "";
	int o = 0, bad = 0;
	struct timespec z = {0, 0};
	for (int i = 0; i < 6; i++) {
		siginfo_t si;
		int s = sigtimedwait(&m, &si, &z);
		if (s < 0) {
			if (i < 5) bad = 1;
			break;
		}
		if (i >= 5 || si.si_value.sival_int != want[i] || si.si_code != wantcode[i]) bad = 1;
		o += snprintf(got + o, sizeof got - o, " %d/%d", si.si_value.sival_int, si.si_code);
	}
	CHECK(!bad, "taken:%s, want 1/-1 500/-2 2/-1 600/-2 3/-1", got);
	return kobj_done();
}
