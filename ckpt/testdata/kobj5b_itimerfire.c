/* kobj5b_itimerfire: ITIMER_VIRTUAL (50 ms, every 30 ms) and ITIMER_PROF
 * (70 ms, every 40 ms) of CPU time, with handlers; the program has used
 * almost none of it at the checkpoint. After the restart getitimer gives
 * their intervals and values not above what was set (a tick more at the
 * most), and spinning in user space fires both, 3 times each. */
#include "kobj.h"
#include <sys/time.h>
#include <time.h>

static volatile int vt, prof;
static void onvt(int s) { (void)s; vt++; }
static void onprof(int s) { (void)s; prof++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGVTALRM, onvt);
	signal(SIGPROF, onprof);
	struct itimerval v = {.it_interval = {0, 30000}, .it_value = {0, 50000}};
	struct itimerval p = {.it_interval = {0, 40000}, .it_value = {0, 70000}};
	setitimer(ITIMER_VIRTUAL, &v, NULL);
	setitimer(ITIMER_PROF, &p, NULL);
	kobj_wait();
	struct itimerval g;
	getitimer(ITIMER_VIRTUAL, &g);
	CHECK(g.it_interval.tv_usec == 30000 && g.it_value.tv_usec <= 60000 && g.it_value.tv_usec > 0 && vt == 0, "virtual: %ld/%ld fired %d", g.it_interval.tv_usec, g.it_value.tv_usec, vt);
	getitimer(ITIMER_PROF, &g);
	CHECK(g.it_interval.tv_usec == 40000 && g.it_value.tv_usec <= 80000 && g.it_value.tv_usec > 0 && prof == 0, "prof: %ld/%ld fired %d", g.it_interval.tv_usec, g.it_value.tv_usec, prof);
	/* User time (the vDSO's clock, no system call), bounded by 20 s of
	 * wall time on a busy machine. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do clock_gettime(CLOCK_MONOTONIC, &b);
	while ((vt < 3 || prof < 3) && b.tv_sec - a.tv_sec < 20);
	CHECK(vt >= 3 && prof >= 3, "SIGVTALRM %d and SIGPROF %d times in %ld s of spinning", vt, prof, (long)(b.tv_sec - a.tv_sec));
	getitimer(ITIMER_VIRTUAL, &g);
	CHECK(g.it_interval.tv_usec == 30000, "virtual interval %ld after it fired", g.it_interval.tv_usec);
	return kobj_done();
}
