/* kobj4b_futexwaitv: a thread blocked in futex_waitv (Linux 5.16) on
 * three words (32-bit private, 32-bit shared, and one with a wait value
 * that must still match), with an absolute CLOCK_MONOTONIC timeout an
 * hour away. After the restart a wake of the third word ends it: the call
 * returns 2. */
#include "kobj.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

static uint32_t w[2] = {5, 6};
static uint32_t *shared;
static volatile long ret = -100;
static volatile int err, started;

static void *run(void *a) {
	(void)a;
	struct futex_waitv v[3] = {
		{.val = 5, .uaddr = (uintptr_t)&w[0], .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE},
		{.val = 9, .uaddr = (uintptr_t)shared, .flags = FUTEX2_SIZE_U32},
		{.val = 6, .uaddr = (uintptr_t)&w[1], .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE},
	};
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += 3600;
	started = 1;
	ret = syscall(SYS_futex_waitv, v, 3, 0, &t, CLOCK_MONOTONIC);
	err = errno;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*shared = 9;
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	while (!started) usleep(1000);
	usleep(200000);
	char st[64];
	snprintf(st, sizeof st, "/proc/self/task/%d/wchan", getpid());
	if (ret != -100) DIE("futex_waitv returned %ld: %s", ret, strerror(err));
	kobj_wait();
	usleep(100000);
	CHECK(ret == -100, "futex_waitv returned %ld (%s) before the wake", ret, strerror(err));
	for (int i = 0; i < 200 && ret == -100; i++) {
		syscall(SYS_futex, &w[1], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		usleep(10000);
	}
	pthread_join(th, NULL);
	CHECK(ret == 2, "futex_waitv %ld (%s), want 2", ret, strerror(err));
	return kobj_done();
}
