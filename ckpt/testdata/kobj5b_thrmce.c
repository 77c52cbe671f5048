/* kobj5b_thrmce: per-thread prctl state set by each thread for itself:
 * the machine-check kill policy (early in the second thread, late in
 * the third, the default in the main one), the TSC mode (SIGSEGV in the
 * third only) and the timer slack (3 us, 9 ms, the default 50 us). After
 * the restart each thread has its own. */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>

static volatile int ready, go;
static int mce[3], tsc[3];
static long slack[3];

static void read3(int i) {
	mce[i] = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	tsc[i] = 0;
	prctl(PR_GET_TSC, &tsc[i], 0, 0, 0);
	slack[i] = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
}

static void *worker(void *a) {
	long i = (long)a;
	if (i == 1) {
		prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0);
		prctl(PR_SET_TIMERSLACK, 3000, 0, 0, 0);
	} else {
		prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, 0);
		prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0);
		prctl(PR_SET_TIMERSLACK, 9000000, 0, 0, 0);
	}
	__sync_fetch_and_add(&ready, 1);
	while (!go) usleep(1000);
	read3(i);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_t th[3];
	for (long i = 1; i < 3; i++) pthread_create(&th[i], NULL, worker, (void *)i);
	while (ready < 2) usleep(1000);
	int mce0 = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	kobj_wait();
	go = 1;
	for (int i = 1; i < 3; i++) pthread_join(th[i], NULL);
	read3(0);
	CHECK(mce[0] == mce0 && tsc[0] == PR_TSC_ENABLE && slack[0] == 50000, "main: mce %d (was %d) tsc %d slack %ld", mce[0], mce0, tsc[0], slack[0]);
	CHECK(mce[1] == PR_MCE_KILL_EARLY && tsc[1] == PR_TSC_ENABLE && slack[1] == 3000, "thread 1: mce %d tsc %d slack %ld", mce[1], tsc[1], slack[1]);
	CHECK(mce[2] == PR_MCE_KILL_LATE && tsc[2] == PR_TSC_SIGSEGV && slack[2] == 9000000, "thread 2: mce %d tsc %d slack %ld", mce[2], tsc[2], slack[2]);
	return kobj_done();
}
