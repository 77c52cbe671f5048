/* kobj3_absleep: a thread in clock_nanosleep TIMER_ABSTIME on
 * CLOCK_MONOTONIC and one in a relative nanosleep, both across the
 * checkpoint, return 0 no earlier than their deadline. */
#include "kobj.h"
#include <pthread.h>
#include <time.h>

static struct timespec dl;
static int r1 = -1, r2 = -1, early1, early2;
static struct timespec start2;

static int before(struct timespec a, struct timespec b) {
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}
static void *abs_t(void *a) {
	(void)a;
	r1 = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	early1 = before(now, dl);
	return NULL;
}
static void *rel_t(void *a) {
	(void)a;
	struct timespec d = {2, 0}, rem;
	clock_gettime(CLOCK_MONOTONIC, &start2);
	r2 = nanosleep(&d, &rem);
	struct timespec now, want = start2;
	want.tv_sec += 2;
	clock_gettime(CLOCK_MONOTONIC, &now);
	early2 = before(now, want);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 2;
	pthread_t a, b;
	pthread_create(&a, NULL, abs_t, NULL);
	pthread_create(&b, NULL, rel_t, NULL);
	usleep(100000);
	kobj_wait();
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK(r1 == 0, "clock_nanosleep returned %d", r1);
	CHECK(!early1, "clock_nanosleep returned before its deadline");
	CHECK(r2 == 0, "nanosleep returned %d (%s)", r2, strerror(errno));
	CHECK(!early2, "nanosleep returned before its 2 s");
	return kobj_done();
}
