/* kobj4b_sleeprem: threads in a relative nanosleep (1000 s) and a
 * relative clock_nanosleep on CLOCK_BOOTTIME (2000 s) across the
 * checkpoint; after it a SIGUSR2 (handler, no SA_RESTART) interrupts each:
 * EINTR, and the time left is what was left of the sleep (not a fresh
 * 1000 s from the restart, never more than asked). */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static void onusr2(int s) { (void)s; }
static volatile pid_t tids[2];
static int rets[2], errs[2];
static struct timespec rems[2], starts[2];

static void *sleeper(void *a) {
	long i = (long)a;
	tids[i] = syscall(SYS_gettid);
	struct timespec d = {i ? 2000 : 1000, 0};
	clock_gettime(CLOCK_BOOTTIME, &starts[i]);
	if (i == 0) {
		rets[i] = nanosleep(&d, &rems[i]);
		errs[i] = errno;
	} else {
		rets[i] = clock_nanosleep(CLOCK_BOOTTIME, 0, &d, &rems[i]);
		errs[i] = 0;
	}
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa = {.sa_handler = onusr2};
	sigaction(SIGUSR2, &sa, NULL);
	pthread_t th[2];
	for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, sleeper, (void *)i);
	while (!tids[0] || !tids[1]) usleep(1000);
	usleep(100000);
	kobj_wait();
	struct timespec now;
	for (int i = 0; i < 2; i++) syscall(SYS_tgkill, getpid(), tids[i], SIGUSR2);
	for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
	clock_gettime(CLOCK_BOOTTIME, &now);
	CHECK(rets[0] == -1 && errs[0] == EINTR, "nanosleep %d %s, want EINTR", rets[0], strerror(errs[0]));
	CHECK(rets[1] == EINTR, "clock_nanosleep %d, want EINTR", rets[1]);
	for (int i = 0; i < 2; i++) {
		long want = i ? 2000 : 1000;
		long slept = now.tv_sec - starts[i].tv_sec;
		CHECK(rems[i].tv_sec < want && rems[i].tv_sec > want - 600, "sleep %d: %ld s left of %ld", i, rems[i].tv_sec, want);
		(void)slept;
	}
	return kobj_done();
}
