/* kobj3_timerslack: the timer slack is per thread: main 50 us, a thread
 * 123457 ns; each keeps its own. Thread names and nice values too. */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static volatile int tid, go;
static long tslack = -1, tnice = -100;
static char tname[32];

static void *th(void *a) {
	(void)a;
	prctl(PR_SET_TIMERSLACK, 123457);
	prctl(PR_SET_NAME, "k3-worker");
	setpriority(PRIO_PROCESS, 0, 9);
	tid = syscall(SYS_gettid);
	while (!go) usleep(1000);
	tslack = prctl(PR_GET_TIMERSLACK);
	prctl(PR_GET_NAME, tname);
	errno = 0;
	tnice = getpriority(PRIO_PROCESS, 0);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_TIMERSLACK, 50000);
	prctl(PR_SET_NAME, "k3-main");
	setpriority(PRIO_PROCESS, 0, 3);
	pthread_t t;
	pthread_create(&t, NULL, th, NULL);
	while (!tid) usleep(1000);
	kobj_wait();
	go = 1;
	pthread_join(t, NULL);
	CHECK(prctl(PR_GET_TIMERSLACK) == 50000, "main slack %d", prctl(PR_GET_TIMERSLACK));
	CHECK(tslack == 123457, "thread slack %ld", tslack);
	char n[32] = {0};
	prctl(PR_GET_NAME, n);
	CHECK(strcmp(n, "k3-main") == 0, "main name %s", n);
	CHECK(strcmp(tname, "k3-worker") == 0, "thread name %s", tname);
	CHECK(getpriority(PRIO_PROCESS, 0) == 3, "main nice %d", getpriority(PRIO_PROCESS, 0));
	CHECK(tnice == 9, "thread nice %ld", tnice);
	return kobj_done();
}
