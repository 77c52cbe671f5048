/* kobj4b_joinblocked: a thread blocked in pthread_join of a second
 * thread that runs on (the kernel wakes the joiner through the second's
 * clear_child_tid futex when it ends), and the main thread joins the
 * joiner. After the restart the second thread ends, with a value: the
 * joiner gets it, then the main thread gets the joiner's. */
#include "kobj.h"
#include <pthread.h>

static pthread_t worker;
static int pipefd[2];
static void *work(void *a) {
	(void)a;
	char b;
	read(pipefd[0], &b, 1);
	return (void *)0x1234;
}
static void *joiner(void *a) {
	(void)a;
	void *v = NULL;
	int r = pthread_join(worker, &v);
	return r ? (void *)-1 : (void *)((long)v + 1);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pipe(pipefd);
	pthread_t j;
	pthread_create(&worker, NULL, work, NULL);
	pthread_create(&j, NULL, joiner, NULL);
	usleep(200000);
	kobj_wait();
	write(pipefd[1], "x", 1);
	void *v = NULL;
	pthread_join(j, &v);
	CHECK((long)v == 0x1235, "joiner returned %#lx, want 0x1235", (long)v);
	return kobj_done();
}
