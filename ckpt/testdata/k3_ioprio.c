/* I/O priority per thread: the main thread best-effort 6, a thread idle. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

#define IOPRIO(c, d) (((c) << 13) | (d))
static int ioget(int tid) { return syscall(SYS_ioprio_get, 1, tid); }
static volatile int tid;
static pthread_barrier_t bar;

static void *run(void *a) {
	(void)a;
	if (syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)) < 0) DIE("ioprio_set idle: %s", strerror(errno));
	tid = gettid();
	pthread_barrier_wait(&bar);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 6)) < 0) DIE("ioprio_set: %s", strerror(errno));
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	while (!tid) usleep(1000);
	kobj_wait();
	int m = ioget(gettid()), o = ioget(tid);
	CHECK(m == IOPRIO(2, 6), "main ioprio %#x, want %#x", m, IOPRIO(2, 6));
	CHECK(o == IOPRIO(3, 0), "thread ioprio %#x, want %#x", o, IOPRIO(3, 0));
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	return kobj_done();
}
