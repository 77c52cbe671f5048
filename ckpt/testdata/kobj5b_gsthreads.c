/* kobj5b_gsthreads: a GS base per thread (arch_prctl ARCH_SET_GS): the
 * main thread 0x7000, three others each the address of a block of their
 * own, read through %gs. After the restart each thread reads its own
 * base back (ARCH_GET_GS) and its own block through %gs. */
#include "kobj.h"
#include <asm/prctl.h>
#include <pthread.h>
#include <sys/syscall.h>

#define NT 3
static long block[NT][4];
static volatile int ready, go;
static unsigned long base[NT];
static long through[NT];

static long gs_read(void) {
	long v;
	__asm__ volatile("movq %%gs:8, %0" : "=r"(v));
	return v;
}

static void *worker(void *a) {
	long i = (long)a;
	block[i][1] = 1000 + i;
	syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)block[i]);
	__sync_fetch_and_add(&ready, 1);
	while (!go) usleep(1000);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &base[i]);
	through[i] = gs_read();
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	syscall(SYS_arch_prctl, ARCH_SET_GS, 0x7000UL);
	pthread_t th[NT];
	for (long i = 0; i < NT; i++) pthread_create(&th[i], NULL, worker, (void *)i);
	while (ready < NT) usleep(1000);
	kobj_wait();
	unsigned long m = 0;
	syscall(SYS_arch_prctl, ARCH_GET_GS, &m);
	CHECK(m == 0x7000, "main thread GS base %#lx", m);
	go = 1;
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		CHECK(base[i] == (unsigned long)block[i] && through[i] == 1000 + i, "thread %d: GS base %#lx (want %p), reads %ld", i, base[i], (void *)block[i], through[i]);
	}
	return kobj_done();
}
