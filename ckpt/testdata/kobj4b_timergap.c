/* kobj4b_timergap: POSIX timer ids with a gap: timers 0, 1, 2 and 3 made,
 * 1 and 3 deleted; after the restart 0 and 2 exist with their values
 * (signals SIGRTMIN and SIGRTMIN+2, sival 100 and 102), 1 and 3 do not,
 * and a timer made then gets an id above theirs. (Not necessarily 4, the
 * one it gets without a checkpoint: the kernel's next-id counter shows
 * nowhere, and a restore makes ids 0 to 2 only.) */
#include "kobj.h"
#include <stdint.h>
#include <time.h>

static timer_t mk(int sig, int val, long sec) {
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig};
	ev.sigev_value.sival_int = val;
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec it = {.it_value = {sec, 0}, .it_interval = {sec, 0}};
	timer_settime(t, 0, &it, NULL);
	return t;
}

static const char *timers_line(long id) {
	static char out[512];
	char want[32];
	snprintf(want, sizeof want, "ID: %ld\n", id);
	const char *b = read_file("/proc/self/timers");
	const char *p = strstr(b, want);
	out[0] = 0;
	if (p) {
		size_t n = strcspn(p, "\n") + 1;
		n += strcspn(p + n, "\n") + 1;
		n += strcspn(p + n, "\n") + 1;
		n += strcspn(p + n, "\n");
		snprintf(out, sizeof out, "%.*s", (int)n, p);
	}
	return out;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	timer_t t[4];
	for (int i = 0; i < 4; i++) t[i] = mk(SIGRTMIN + i, 100 + i, 1000 + i);
	if ((intptr_t)t[0] != 0 || (intptr_t)t[3] != 3) DIE("ids %ld..%ld, want 0..3", (long)(intptr_t)t[0], (long)(intptr_t)t[3]);
	timer_delete(t[1]);
	timer_delete(t[3]);
	char before0[512], before2[512];
	snprintf(before0, sizeof before0, "%s", timers_line(0));
	snprintf(before2, sizeof before2, "%s", timers_line(2));
	kobj_wait();
	CHECK(strcmp(timers_line(0), before0) == 0, "timer 0 %s, want %s", timers_line(0), before0);
	CHECK(strcmp(timers_line(2), before2) == 0, "timer 2 %s, want %s", timers_line(2), before2);
	struct itimerspec g;
	errno = 0;
	CHECK(timer_gettime((timer_t)1, &g) == -1 && errno == EINVAL, "timer 1 exists (%s)", strerror(errno));
	errno = 0;
	CHECK(timer_gettime((timer_t)3, &g) == -1 && errno == EINVAL, "timer 3 exists (%s)", strerror(errno));
	CHECK(timer_gettime(t[2], &g) == 0 && g.it_interval.tv_sec == 1002 && g.it_value.tv_sec <= 1002 && g.it_value.tv_sec > 900, "timer 2 interval %ld value %ld", g.it_interval.tv_sec, g.it_value.tv_sec);
	CHECK(timer_gettime(t[0], &g) == 0 && g.it_interval.tv_sec == 1000, "timer 0 interval %ld", g.it_interval.tv_sec);
	timer_t n = mk(SIGRTMIN + 5, 5, 50);
	CHECK((intptr_t)n > 2, "a new timer has id %ld, want one above 2", (long)(intptr_t)n);
	return kobj_done();
}
