/* POSIX timers on every clock: CLOCK_PROCESS_CPUTIME_ID and
 * CLOCK_THREAD_CPUTIME_ID (periodic), CLOCK_BOOTTIME, CLOCK_TAI and an
 * absolute CLOCK_REALTIME one. /proc/self/timers (id, signal, notify,
 * clock) is the same; each keeps its interval and a remaining time not
 * above what was left; the CPU-time timer then fires with its value. */
#include "kobj.h"
#include <time.h>

static volatile int got, gotval;
static void oncpu(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	got++;
	gotval = si->si_value.sival_int;
}

static double ts(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa = {.sa_sigaction = oncpu, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(SIGRTMIN + 4, &sa, NULL);
	clockid_t clocks[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_REALTIME};
	timer_t t[5];
	struct itimerspec set[5] = {
		{.it_value = {0, 400000000}, .it_interval = {0, 300000000}},
		{.it_value = {30, 0}, .it_interval = {7, 0}},
		{.it_value = {4000, 0}, .it_interval = {100, 0}},
		{.it_value = {5000, 0}},
		{.it_value = {0, 0}},
	};
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	set[4].it_value.tv_sec = now.tv_sec + 6000;
	for (int i = 0; i < 5; i++) {
		struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 4 + (i > 0), .sigev_value.sival_int = 100 + i};
		if (timer_create(clocks[i], &e, &t[i])) DIE("timer_create %d: %s", i, strerror(errno));
		if (timer_settime(t[i], i == 4 ? TIMER_ABSTIME : 0, &set[i], NULL)) DIE("settime %d", i);
	}
	sigset_t blk;
	sigemptyset(&blk);
	sigaddset(&blk, SIGRTMIN + 5);
	sigprocmask(SIG_BLOCK, &blk, NULL);
	char before[4096];
	snprintf(before, sizeof before, "%s", read_file("/proc/self/timers"));
	struct itimerspec left[5];
	for (int i = 0; i < 5; i++) timer_gettime(t[i], &left[i]);
	/* The CPU-time timer must not fire before the checkpoint: no CPU is
	 * spent in kobj_wait. */
	kobj_wait();
	const char *after = read_file("/proc/self/timers");
	CHECK(strcmp(before, after) == 0, "/proc/self/timers:\n%s\nwas\n%s", after, before);
	for (int i = 0; i < 5; i++) {
		struct itimerspec g;
		timer_gettime(t[i], &g);
		CHECK(ts(g.it_interval) == ts(set[i].it_interval), "timer %d interval %.3f", i, ts(g.it_interval));
		CHECK(ts(g.it_value) > 0 && ts(g.it_value) <= ts(left[i].it_value) + 0.001,
		      "timer %d left %.3f, was %.3f", i, ts(g.it_value), ts(left[i].it_value));
	}
	CHECK(got == 0, "CPU timer fired early (%d)", got);
	/* Spend CPU until the process CPU-time timer fires twice. */
	struct timespec c0, c;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	while (got < 2 && ts(c) - ts(c0) < 20);
	CHECK(got >= 2 && gotval == 100, "CPU timer: %d signals, value %d after %.2f s CPU", got, gotval, ts(c) - ts(c0));
	return kobj_done();
}
