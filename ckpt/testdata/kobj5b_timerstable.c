/* kobj5b_timerstable: a table of POSIX timers with holes in their ids
 * (timers 1 and 3 deleted): SIGEV_NONE on CLOCK_BOOTTIME, SIGEV_SIGNAL on
 * CLOCK_TAI, SIGEV_THREAD_ID to a second thread on CLOCK_MONOTONIC, one
 * never armed, one armed absolute on CLOCK_REALTIME. /proc/self/timers is
 * the same after the restart, the deleted ids are still free
 * (timer_gettime says EINVAL), each keeps its interval, and a new timer
 * takes the lowest free id as the kernel would have given. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static volatile pid_t tid2;
static volatile int stop;
static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	while (!stop) usleep(1000);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 7);
	sigaddset(&m, SIGRTMIN + 8);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	timer_t t[7];
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	struct sigevent sig = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 7, .sigev_value.sival_ptr = (void *)0x1234567890abcdefUL};
	struct sigevent thr = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 8, .sigev_value.sival_int = -5};
	thr._sigev_un._tid = tid2;
	clockid_t clk[7] = {CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_TAI, CLOCK_MONOTONIC, CLOCK_MONOTONIC, CLOCK_MONOTONIC, CLOCK_REALTIME};
	struct sigevent *ev[7] = {&none, &sig, &sig, &sig, &thr, &sig, &sig};
	for (int i = 0; i < 7; i++)
		if (timer_create(clk[i], ev[i], &t[i])) DIE("timer_create %d: %s", i, strerror(errno));
	if ((long)t[0] != 0 || (long)t[6] != 6) DIE("timer ids %ld..%ld", (long)t[0], (long)t[6]);
	timer_delete(t[1]);
	timer_delete(t[3]);
	struct itimerspec a = {.it_value = {3000, 0}, .it_interval = {1, 250000000}};
	timer_settime(t[0], 0, &a, NULL);
	struct itimerspec b = {.it_value = {4000, 0}, .it_interval = {0, 0}};
	timer_settime(t[2], 0, &b, NULL);
	struct itimerspec c = {.it_value = {5000, 0}, .it_interval = {2, 0}};
	timer_settime(t[4], 0, &c, NULL);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec d = {.it_value = {now.tv_sec + 6000, 0}, .it_interval = {3, 0}};
	timer_settime(t[6], TIMER_ABSTIME, &d, NULL);
	char before[4096];
	snprintf(before, sizeof before, "%s", read_file("/proc/self/timers"));
	kobj_wait();
	CHECK(!strcmp(read_file("/proc/self/timers"), before), "/proc/self/timers:\n%s\nwas\n%s", read_file("/proc/self/timers"), before);
	struct itimerspec g;
	CHECK(timer_gettime(t[1], &g) < 0 && errno == EINVAL, "deleted timer 1 answers");
	CHECK(timer_gettime(t[3], &g) < 0 && errno == EINVAL, "deleted timer 3 answers");
	long wantiv[7] = {1, 0, 0, 0, 2, 0, 3}, wantmax[7] = {3000, 0, 4000, 0, 5000, 0, 6000};
	for (int i = 0; i < 7; i++) {
		if (i == 1 || i == 3) continue;
		timer_gettime(t[i], &g);
		CHECK(g.it_interval.tv_sec == wantiv[i] && (i || g.it_interval.tv_nsec == 250000000), "timer %d interval %ld.%09ld", i, g.it_interval.tv_sec, g.it_interval.tv_nsec);
		CHECK(g.it_value.tv_sec <= wantmax[i] && g.it_value.tv_sec >= wantmax[i] - 100 * (wantmax[i] > 0), "timer %d value %ld", i, g.it_value.tv_sec);
	}
	timer_t n;
	timer_create(CLOCK_MONOTONIC, &none, &n);
	CHECK((long)n == 1 || (long)n == 7, "a new timer gets id %ld", (long)n);
	stop = 1;
	pthread_join(th, NULL);
	return kobj_done();
}
