/* kobj4b_alarmpend: a periodic ITIMER_REAL (every 300 ms) whose SIGALRM is
 * blocked and pending: the kernel re-arms such a timer only when the
 * signal is taken, so getitimer says 0 left, interval 300 ms. After the
 * restart the signal is still pending, taken once, and the timer then
 * fires again (its interval was not lost with the value 0). */
#include "kobj.h"
#include <sys/time.h>
#include <time.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGALRM);
	sigprocmask(SIG_BLOCK, &m, NULL);
	struct itimerval it = {.it_interval = {0, 300000}, .it_value = {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	usleep(500000);
	sigset_t p;
	sigpending(&p);
	if (!sigismember(&p, SIGALRM)) DIE("SIGALRM not pending");
	kobj_wait();
	sigpending(&p);
	CHECK(sigismember(&p, SIGALRM), "SIGALRM no longer pending");
	struct itimerval g;
	getitimer(ITIMER_REAL, &g);
	CHECK(g.it_interval.tv_sec == 0 && g.it_interval.tv_usec == 300000, "interval %ld.%06ld", g.it_interval.tv_sec, g.it_interval.tv_usec);
	CHECK(g.it_value.tv_sec == 0 && g.it_value.tv_usec == 0, "value %ld.%06ld, want 0 (the timer waits for its signal to be taken)", g.it_value.tv_sec, g.it_value.tv_usec);
	struct timespec z = {0, 0};
	CHECK(sigtimedwait(&m, NULL, &z) == SIGALRM, "SIGALRM not taken");
	CHECK(sigtimedwait(&m, NULL, &z) == -1, "SIGALRM taken twice at once");
	struct timespec t = {5, 0};
	CHECK(sigtimedwait(&m, NULL, &t) == SIGALRM, "the timer does not fire again: %s", strerror(errno));
	return kobj_done();
}
