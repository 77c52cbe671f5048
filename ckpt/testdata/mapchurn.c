/*
 * mapchurn: a thread maps, marks MADV_DONTFORK, writes and unmaps small
 * regions all the time (as a JIT or a garbage collector does), while
 * the main thread counts in a region of its own. A checkpoint taken while
 * it runs meets a layout that changes as the checkpoint begins.
 *
 * usage: mapchurn READYFILE; on SIGUSR1 writes "count N" to READYFILE.out
 * (N the main thread's count, checked against its copy) and exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t done;
static void onusr1(int s) { (void)s; done = 1; }

static void *churn(void *arg) {
	(void)arg;
	for (unsigned i = 0;; i++) {
		size_t n = (size_t)(1 + i % 16) << 16;
		char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		if (i % 2)
			madvise(p, n, MADV_DONTFORK);
		memset(p, (int)i, n);
		munmap(p, n);
		if (i % 8 == 0)
			usleep(200);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	signal(SIGUSR1, onusr1);
	long *count = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (count == MAP_FAILED)
		return 1;
	pthread_t th;
	pthread_create(&th, NULL, churn, NULL);
	FILE *f = fopen(argv[1], "w");
	fclose(f);
	long mine = 0;
	while (!done) {
		mine++;
		for (int i = 0; i < 1 << 17; i += 512)
			count[i] = mine;
	}
	char out[4096];
	snprintf(out, sizeof out, "%s.out", argv[1]);
	f = fopen(out, "w");
	for (int i = 0; i < 1 << 17; i += 512)
		if (count[i] != mine) {
			fprintf(f, "word %d: %ld, want %ld\n", i, count[i], mine);
			fclose(f);
			return 1;
		}
	fprintf(f, "count %ld\n", mine);
	fclose(f);
	return 0;
}
