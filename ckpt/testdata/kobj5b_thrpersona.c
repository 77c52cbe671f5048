/* kobj5b_thrpersona: personality is per thread (task_struct): the main
 * thread has ADDR_NO_RANDOMIZE, a second thread READ_IMPLIES_EXEC |
 * UNAME26, a third the default. After the restart each has its own, and
 * uname in the second says 2.6.x. */
#include "kobj.h"
#include <pthread.h>
#include <sys/personality.h>
#include <sys/utsname.h>

static volatile int ready, go;
static int got[2];
static char rel[2][65];
static const int want[2] = {PER_LINUX | READ_IMPLIES_EXEC | UNAME26, PER_LINUX};

static void *worker(void *a) {
	long i = (long)a;
	personality(want[i]);
	__sync_fetch_and_add(&ready, 1);
	while (!go) usleep(1000);
	got[i] = personality(0xffffffff);
	struct utsname u;
	uname(&u);
	snprintf(rel[i], sizeof rel[i], "%s", u.release);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	personality(PER_LINUX | ADDR_NO_RANDOMIZE);
	pthread_t th[2];
	for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, (void *)i);
	while (ready < 2) usleep(1000);
	kobj_wait();
	int m = personality(0xffffffff);
	CHECK(m == (PER_LINUX | ADDR_NO_RANDOMIZE), "main thread personality %#x", m);
	go = 1;
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK(got[i] == want[i], "thread %d personality %#x, want %#x", i, got[i], want[i]);
	}
	CHECK(!strncmp(rel[0], "2.6.", 4), "UNAME26 thread: release %s", rel[0]);
	CHECK(strncmp(rel[1], "2.6.", 4), "default thread: release %s", rel[1]);
	return kobj_done();
}
