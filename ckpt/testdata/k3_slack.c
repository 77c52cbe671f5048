/* Timer slack per thread: main 123456 ns, a thread 777 ns. */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>

static pthread_barrier_t bar;
static long tslack = -1;

static void *run(void *a) {
	(void)a;
	prctl(PR_SET_TIMERSLACK, 777UL);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	tslack = prctl(PR_GET_TIMERSLACK);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_TIMERSLACK, 123456UL);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	pthread_barrier_wait(&bar);
	kobj_wait();
	long m = prctl(PR_GET_TIMERSLACK);
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	CHECK(m == 123456, "main timer slack %ld", m);
	CHECK(tslack == 777, "thread timer slack %ld", tslack);
	return kobj_done();
}
