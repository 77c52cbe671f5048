/* kobj4b_pimutex: a priority-inheritance mutex (PTHREAD_PRIO_INHERIT,
 * FUTEX_LOCK_PI) held by thread A, with thread B blocked in
 * pthread_mutex_lock and thread C in pthread_mutex_clocklock (FUTEX_LOCK_PI2,
 * CLOCK_MONOTONIC, 1 h) on it. After the restart A unlocks: B and C each
 * get it in turn, and the futex word names its owner's tid. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static pthread_mutex_t mu;
static volatile pid_t tidA;
static volatile int release, got, errB = -1, errC = -1;
static int word(void) { return *(volatile int *)&mu; }

static void *holder(void *a) {
	(void)a;
	tidA = syscall(SYS_gettid);
	pthread_mutex_lock(&mu);
	while (!release) usleep(1000);
	pthread_mutex_unlock(&mu);
	return NULL;
}
static void *locker(void *a) {
	if (a) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += 3600;
		errC = pthread_mutex_clocklock(&mu, CLOCK_MONOTONIC, &t);
	} else
		errB = pthread_mutex_lock(&mu);
	__sync_fetch_and_add(&got, 1);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&mu, &at);
	pthread_t a, b, c;
	pthread_create(&a, NULL, holder, NULL);
	while (!tidA || (word() & 0x3fffffff) != tidA) usleep(1000);
	pthread_create(&b, NULL, locker, NULL);
	pthread_create(&c, NULL, locker, (void *)1);
	for (int i = 0; i < 500 && !(word() & 0x80000000); i++) usleep(10000);
	usleep(100000);
	if (!(word() & 0x80000000)) DIE("no waiter on the PI futex: %#x", word());
	kobj_wait();
	CHECK((word() & 0x3fffffff) == tidA, "futex word %#x, want owner %d", word(), tidA);
	CHECK(got == 0, "%d lockers got a held mutex", got);
	release = 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	CHECK(got == 2 && errB == 0 && errC == 0, "lockers: %d got it, errors %d %d", got, errB, errC);
	CHECK(word() == 0, "futex word %#x after all unlocked", word());
	return kobj_done();
}
