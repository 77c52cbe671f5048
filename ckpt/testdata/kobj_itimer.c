/* setitimer ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF with intervals. */
#include "kobj.h"
#include <sys/time.h>

static volatile sig_atomic_t alarms;
static void onalrm(int s) { (void)s; alarms++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGVTALRM, SIG_IGN);
	signal(SIGPROF, SIG_IGN);
	struct itimerval r = {.it_interval = {1000, 0}, .it_value = {1000, 0}};
	struct itimerval v = {.it_interval = {300, 7000}, .it_value = {200, 0}};
	struct itimerval p = {.it_interval = {0, 0}, .it_value = {400, 0}};
	setitimer(ITIMER_REAL, &r, NULL);
	setitimer(ITIMER_VIRTUAL, &v, NULL);
	setitimer(ITIMER_PROF, &p, NULL);
	kobj_wait();
	struct itimerval g;
	getitimer(ITIMER_REAL, &g);
	CHECK(g.it_interval.tv_sec == 1000 && g.it_interval.tv_usec == 0, "real interval %ld.%06ld", g.it_interval.tv_sec, g.it_interval.tv_usec);
	CHECK(g.it_value.tv_sec > 900 && g.it_value.tv_sec <= 1000, "real value %ld", g.it_value.tv_sec);
	getitimer(ITIMER_VIRTUAL, &g);
	CHECK(g.it_interval.tv_sec == 300 && g.it_interval.tv_usec == 7000, "virtual interval %ld.%06ld", g.it_interval.tv_sec, g.it_interval.tv_usec);
	CHECK(g.it_value.tv_sec >= 199 && g.it_value.tv_sec <= 200, "virtual value %ld.%06ld", g.it_value.tv_sec, g.it_value.tv_usec);
	getitimer(ITIMER_PROF, &g);
	CHECK(g.it_interval.tv_sec == 0 && g.it_interval.tv_usec == 0, "prof interval %ld", g.it_interval.tv_sec);
	CHECK(g.it_value.tv_sec >= 399 && g.it_value.tv_sec <= 400, "prof value %ld.%06ld", g.it_value.tv_sec, g.it_value.tv_usec);
	/* And it fires: a short real timer. */
	signal(SIGALRM, onalrm);
	struct itimerval s = {.it_value = {0, 20000}};
	setitimer(ITIMER_REAL, &s, NULL);
	for (int i = 0; i < 300 && !alarms; i++) usleep(10000);
	CHECK(alarms == 1, "SIGALRM %d", alarms);
	return kobj_done();
}
