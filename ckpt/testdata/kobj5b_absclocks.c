/* kobj5b_absclocks: threads asleep in clock_nanosleep TIMER_ABSTIME on
 * CLOCK_BOOTTIME, CLOCK_TAI and CLOCK_REALTIME, each 1.5 s ahead at the
 * checkpoint, and one on CLOCK_PROCESS_CPUTIME_ID relative (200 ms of the
 * process's CPU, which a spinning thread uses after the restart). After
 * the restart each returns 0, not before its deadline on its own clock. */
#include "kobj.h"
#include <pthread.h>
#include <time.h>

static const clockid_t clk[3] = {CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_REALTIME};
static struct timespec dl[3];
static volatile int r[4] = {-1, -1, -1, -1}, early[3], asleep, spin;

static void *sleeper(void *a) {
	long i = (long)a;
	__sync_fetch_and_add(&asleep, 1);
	int e;
	do e = clock_nanosleep(clk[i], TIMER_ABSTIME, &dl[i], NULL);
	while (e == EINTR);
	r[i] = e;
	struct timespec now;
	clock_gettime(clk[i], &now);
	early[i] = now.tv_sec < dl[i].tv_sec || (now.tv_sec == dl[i].tv_sec && now.tv_nsec < dl[i].tv_nsec);
	return NULL;
}

static void *cpusleeper(void *a) {
	(void)a;
	struct timespec d = {0, 200000000}, rem;
	__sync_fetch_and_add(&asleep, 1);
	int e;
	while ((e = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &d, &rem)) == EINTR) d = rem;
	r[3] = e;
	spin = 0;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_t th[4];
	for (long i = 0; i < 3; i++) {
		clock_gettime(clk[i], &dl[i]);
		dl[i].tv_sec += 2;
		pthread_create(&th[i], NULL, sleeper, (void *)i);
	}
	pthread_create(&th[3], NULL, cpusleeper, NULL);
	while (asleep < 4) usleep(1000);
	usleep(300000);
	kobj_wait();
	spin = 1;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do clock_gettime(CLOCK_MONOTONIC, &b);
	while (spin && b.tv_sec - a.tv_sec < 20);
	for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++) CHECK(r[i] == 0 && !early[i], "clock %d: returned %d, early %d", clk[i], r[i], early[i]);
	CHECK(r[3] == 0, "CPU-time sleep returned %d", r[3]);
	return kobj_done();
}
