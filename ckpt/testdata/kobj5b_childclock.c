/* kobj5b_childclock: a POSIX timer of the parent on its child's process
 * CPU clock (clock_getcpuclockid of the child): 30 ms of the child's CPU
 * time, one shot. The child spins once it has SIGUSR1. After the restart
 * /proc/self/timers is the same, and the timer fires with its value once
 * the child has spun. */
#include "kobj.h"
#include <sys/wait.h>
#include <time.h>

static volatile int fired, val;
static void ontimer(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	fired++;
	val = si->si_value.sival_int;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = fork();
	if (c == 0) {
		kobj_wait();
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		do clock_gettime(CLOCK_MONOTONIC, &b);
		while (b.tv_sec - a.tv_sec < 3);
		_exit(0);
	}
	int sig = SIGRTMIN + 2;
	struct sigaction sa = {.sa_sigaction = ontimer, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(sig, &sa, NULL);
	clockid_t cid;
	if (clock_getcpuclockid(c, &cid)) DIE("clock_getcpuclockid");
	struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig, .sigev_value.sival_int = 47};
	timer_t t;
	if (timer_create(cid, &e, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 30000000}};
	timer_settime(t, 0, &s, NULL);
	char before[4096];
	snprintf(before, sizeof before, "%s", read_file("/proc/self/timers"));
	kobj_wait();
	CHECK(!strcmp(read_file("/proc/self/timers"), before), "/proc/self/timers:\n%s\nwas\n%s", read_file("/proc/self/timers"), before);
	for (int i = 0; i < 4000 && !fired; i++) usleep(1000);
	CHECK(fired == 1 && val == 47, "the child's CPU timer fired %d times, value %d", fired, val);
	int st;
	waitpid(c, &st, 0);
	return kobj_done();
}
