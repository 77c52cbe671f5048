/* kobj5b_thrcpuclock: a POSIX timer on the CPU clock of another thread
 * (pthread_getcpuclockid of a worker), periodic, 20 ms of that thread's
 * CPU time. /proc/self/timers says the same after the restart, and the
 * timer fires once the worker has spun 20 ms more, with its value;
 * clock_gettime of that clock works and is not above the worker's CPU
 * time by more than its run. */
#include "kobj.h"
#include <pthread.h>
#include <time.h>

static volatile int go, stop, fired, val;
static void ontimer(int s, siginfo_t *si, void *u) {
	(void)s; (void)u;
	fired++;
	val = si->si_value.sival_int;
}

static void *worker(void *a) {
	(void)a;
	while (!go) usleep(1000);
	while (!stop) __asm__ volatile("" ::: "memory");
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int sig = SIGRTMIN + 3;
	struct sigaction sa = {.sa_sigaction = ontimer, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(sig, &sa, NULL);
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	clockid_t cid;
	if (pthread_getcpuclockid(th, &cid)) DIE("pthread_getcpuclockid");
	struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig, .sigev_value.sival_int = 31};
	timer_t t;
	if (timer_create(cid, &e, &t)) DIE("timer_create: %s", strerror(errno));
	struct itimerspec s = {.it_value = {0, 20000000}, .it_interval = {0, 20000000}};
	timer_settime(t, 0, &s, NULL);
	char before[4096];
	snprintf(before, sizeof before, "%s", read_file("/proc/self/timers"));
	kobj_wait();
	CHECK(!strcmp(read_file("/proc/self/timers"), before), "/proc/self/timers:\n%s\nwas\n%s", read_file("/proc/self/timers"), before);
	struct timespec now;
	CHECK(clock_gettime(cid, &now) == 0, "clock_gettime of the worker's clock: %s", strerror(errno));
	go = 1;
	for (int i = 0; i < 3000 && fired < 2; i++) usleep(1000);
	stop = 1;
	pthread_join(th, NULL);
	CHECK(fired >= 2 && val == 31, "the worker's CPU timer fired %d times, value %d", fired, val);
	return kobj_done();
}
