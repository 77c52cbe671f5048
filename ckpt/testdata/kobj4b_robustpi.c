/* kobj4b_robustpi: a robust priority-inheritance mutex (PTHREAD_MUTEX_ROBUST,
 * PTHREAD_PRIO_INHERIT) held by a thread, a second thread blocked on it.
 * After the restart the holder exits without unlocking: the kernel walks
 * its robust list, marks the futex FUTEX_OWNER_DIED and hands it to the
 * waiter, which gets EOWNERDEAD and makes it consistent. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static pthread_mutex_t mu;
static volatile pid_t holder_tid;
static volatile int die, lockret = -1;
static int word(void) { return *(volatile int *)&mu; }

static void *holder(void *a) {
	(void)a;
	holder_tid = syscall(SYS_gettid);
	pthread_mutex_lock(&mu);
	while (!die) usleep(1000);
	return NULL; /* exits holding it */
}
static void *waiter(void *a) {
	(void)a;
	lockret = pthread_mutex_lock(&mu);
	if (lockret == EOWNERDEAD) pthread_mutex_consistent(&mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&mu, &at);
	pthread_t h, w;
	pthread_create(&h, NULL, holder, NULL);
	while (!holder_tid || (word() & 0x3fffffff) != holder_tid) usleep(1000);
	pthread_create(&w, NULL, waiter, NULL);
	for (int i = 0; i < 500 && !(word() & 0x80000000); i++) usleep(10000);
	if (!(word() & 0x80000000)) DIE("no waiter: %#x", word());
	kobj_wait();
	CHECK((word() & 0x3fffffff) == holder_tid, "futex word %#x, want owner %d", word(), holder_tid);
	die = 1;
	pthread_join(h, NULL);
	pthread_join(w, NULL);
	CHECK(lockret == EOWNERDEAD, "waiter's lock: %d (%s), want EOWNERDEAD", lockret, strerror(lockret));
	CHECK(pthread_mutex_lock(&mu) == 0, "relock");
	pthread_mutex_unlock(&mu);
	return kobj_done();
}
