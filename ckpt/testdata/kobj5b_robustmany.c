/* kobj5b_robustmany: four threads, each holding its own robust mutex,
 * each with its own robust list head (get_robust_list of its tid). After
 * the restart each head is where it was, and when the threads exit
 * without unlocking, the main thread gets EOWNERDEAD on each mutex. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

#define NT 4
static pthread_mutex_t mu[NT];
static volatile pid_t tids[NT];
static volatile int held, go;

static void *holder(void *a) {
	long i = (long)a;
	tids[i] = syscall(SYS_gettid);
	pthread_mutex_lock(&mu[i]);
	__sync_fetch_and_add(&held, 1);
	while (!go) usleep(1000);
	return NULL; /* exits holding it */
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_t th[NT];
	for (long i = 0; i < NT; i++) {
		pthread_mutex_init(&mu[i], &at);
		pthread_create(&th[i], NULL, holder, (void *)i);
	}
	while (held < NT) usleep(1000);
	void *head0[NT];
	size_t len0[NT];
	for (int i = 0; i < NT; i++)
		if (syscall(SYS_get_robust_list, tids[i], &head0[i], &len0[i])) DIE("get_robust_list: %s", strerror(errno));
	kobj_wait();
	for (int i = 0; i < NT; i++) {
		void *h;
		size_t l;
		int e = syscall(SYS_get_robust_list, tids[i], &h, &l);
		CHECK(!e && h == head0[i] && l == len0[i], "thread %d: robust head %p/%zu, was %p/%zu", i, h, l, head0[i], len0[i]);
	}
	go = 1;
	for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
	for (int i = 0; i < NT; i++) {
		int r = pthread_mutex_lock(&mu[i]);
		CHECK(r == EOWNERDEAD, "mutex %d: lock %d (%s), want EOWNERDEAD", i, r, strerror(r));
	}
	return kobj_done();
}
