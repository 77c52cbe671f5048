/*
 * threadhog: NTHREADS threads holding MIB MiB of touched memory in total,
 * for the multithreaded benchmark.
 * usage: threadhog NTHREADS MIB OUTFILE
 * Writes "ready" once every thread has touched its share, then sleeps.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static pthread_barrier_t ready;
static size_t share;

static void *hold(void *arg) {
	uint64_t *p = mmap(NULL, share, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < share / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + (uintptr_t)arg;
	pthread_barrier_wait(&ready);
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	int n = atoi(argv[1]);
	share = ((size_t)atol(argv[2]) << 20) / n;
	pthread_barrier_init(&ready, NULL, n + 1);
	for (long i = 0; i < n; i++) {
		pthread_t t;
		pthread_create(&t, NULL, hold, (void *)i);
	}
	pthread_barrier_wait(&ready);
	FILE *out = fopen(argv[3], "w");
	fprintf(out, "ready\n");
	fclose(out);
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
}
