/* kobj4b_schedthreads: a scheduling policy per thread: the main thread
 * SCHED_OTHER nice 3, one SCHED_BATCH nice 7, one SCHED_IDLE, one
 * SCHED_FIFO 9 with SCHED_RESET_ON_FORK, one SCHED_RR 4. Each keeps its
 * own after the restart. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define N 4
static volatile pid_t tids[N];
static pthread_barrier_t bar;
static int pol[N] = {SCHED_BATCH, SCHED_IDLE, SCHED_FIFO | SCHED_RESET_ON_FORK, SCHED_RR};
static int prio[N] = {0, 0, 9, 4};
static int nic[N] = {7, 0, 0, 0};

static void *run(void *a) {
	long i = (long)a;
	tids[i] = syscall(SYS_gettid);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_barrier_init(&bar, NULL, N + 1);
	pthread_t th[N];
	for (long i = 0; i < N; i++) pthread_create(&th[i], NULL, run, (void *)i);
	pthread_barrier_wait(&bar);
	setpriority(PRIO_PROCESS, syscall(SYS_gettid), 3);
	for (int i = 0; i < N; i++) {
		struct sched_param sp = {.sched_priority = prio[i]};
		if (sched_setscheduler(tids[i], pol[i], &sp)) DIE("thread %d policy %d: %s", i, pol[i], strerror(errno));
		if (nic[i]) setpriority(PRIO_PROCESS, tids[i], nic[i]);
	}
	kobj_wait();
	CHECK(sched_getscheduler(0) == SCHED_OTHER && getpriority(PRIO_PROCESS, 0) == 3, "main: policy %d nice %d", sched_getscheduler(0), getpriority(PRIO_PROCESS, 0));
	for (int i = 0; i < N; i++) {
		struct sched_param sp;
		int p = sched_getscheduler(tids[i]);
		sched_getparam(tids[i], &sp);
		CHECK(p == pol[i] && sp.sched_priority == prio[i], "thread %d: policy %#x priority %d, want %#x %d", i, p, sp.sched_priority, pol[i], prio[i]);
		if (pol[i] == SCHED_BATCH) CHECK(getpriority(PRIO_PROCESS, tids[i]) == 7, "batch thread nice %d", getpriority(PRIO_PROCESS, tids[i]));
	}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
	return kobj_done();
}
