/* prctl flags: names per thread, no_new_privs, dumpable, timer slack,
 * keepcaps, TSC, child subreaper, pdeathsig, THP disable. */
#include "kobj.h"
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static volatile int checked;
static volatile unsigned long slack2;
static pid_t tid2;
static void *second(void *a) {
	(void)a;
	prctl(PR_SET_NAME, "kobj-worker");
	prctl(PR_SET_TIMERSLACK, 98765);
	tid2 = syscall(SYS_gettid);
	while (!checked) usleep(1000);
	slack2 = prctl(PR_GET_TIMERSLACK);
	checked = 2;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	prctl(PR_SET_NAME, "kobj-main");
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_TIMERSLACK, 12345);
	prctl(PR_SET_KEEPCAPS, 1);
	prctl(PR_SET_TSC, PR_TSC_ENABLE);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	kobj_wait();
	char name[32] = {0};
	prctl(PR_GET_NAME, name);
	CHECK(strcmp(name, "kobj-main") == 0, "main name %s", name);
	char p[128];
	snprintf(p, sizeof p, "/proc/self/task/%d/comm", tid2);
	CHECK(strcmp(read_file(p), "kobj-worker\n") == 0, "worker name %s", read_file(p));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs lost");
	CHECK(prctl(PR_GET_DUMPABLE) == 0, "dumpable %d", prctl(PR_GET_DUMPABLE));
	CHECK(prctl(PR_GET_TIMERSLACK) == 12345, "timer slack %d", prctl(PR_GET_TIMERSLACK));
	CHECK(prctl(PR_GET_KEEPCAPS) == 1, "keepcaps %d", prctl(PR_GET_KEEPCAPS));
	int tsc = 0;
	prctl(PR_GET_TSC, &tsc);
	CHECK(tsc == PR_TSC_ENABLE, "tsc %d", tsc);
	int sr = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &sr);
	CHECK(sr == 1, "subreaper %d", sr);
	CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "thp disable %d", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	checked = 1;
	while (checked != 2) usleep(1000);
	CHECK(slack2 == 98765, "worker timer slack %lu", slack2);
	return kobj_done();
}
