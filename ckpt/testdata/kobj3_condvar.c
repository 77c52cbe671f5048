/* kobj3_condvar: threads mid-wait in pthread_cond_wait, pthread_barrier_wait
 * and a timed-out-later pthread_cond_timedwait go on correctly. */
#include "kobj.h"
#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static int flag, waiting, woke, barred, timed = -1;

static void *cw(void *a) {
	(void)a;
	pthread_mutex_lock(&mu);
	waiting++;
	while (!flag) pthread_cond_wait(&cv, &mu);
	woke++;
	pthread_mutex_unlock(&mu);
	return NULL;
}
static void *bw(void *a) {
	(void)a;
	pthread_mutex_lock(&mu);
	waiting++;
	pthread_mutex_unlock(&mu);
	int r = pthread_barrier_wait(&bar);
	if (r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD) __sync_fetch_and_add(&barred, 1);
	return NULL;
}
static void *tw(void *a) {
	(void)a;
	struct timespec d;
	clock_gettime(CLOCK_REALTIME, &d);
	d.tv_sec += 3600;
	pthread_mutex_lock(&mu);
	waiting++;
	int r = 0;
	while (!flag && r == 0) r = pthread_cond_timedwait(&cv, &mu, &d);
	timed = r;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_barrier_init(&bar, NULL, 3);
	pthread_t t[5];
	pthread_create(&t[0], NULL, cw, NULL);
	pthread_create(&t[1], NULL, cw, NULL);
	pthread_create(&t[2], NULL, bw, NULL);
	pthread_create(&t[3], NULL, bw, NULL);
	pthread_create(&t[4], NULL, tw, NULL);
	for (;;) {
		pthread_mutex_lock(&mu);
		int w = waiting;
		pthread_mutex_unlock(&mu);
		if (w == 5) break;
		usleep(1000);
	}
	usleep(200000);
	kobj_wait();
	CHECK(woke == 0 && barred == 0 && timed == -1, "a waiter left early: woke %d barred %d timed %d", woke, barred, timed);
	int r = pthread_barrier_wait(&bar);
	if (r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD) __sync_fetch_and_add(&barred, 1);
	pthread_mutex_lock(&mu);
	flag = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
	CHECK(woke == 2, "cond waiters woke %d", woke);
	CHECK(barred == 3, "barrier passed by %d", barred);
	CHECK(timed == 0, "timedwait returned %d", timed);
	return kobj_done();
}
