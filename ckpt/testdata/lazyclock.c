/*
 * lazyclock: the workload of BenchmarkLazy. Holds MIB MiB of touched
 * anonymous memory and watches the clock (CLOCK_REALTIME, every 1 ms):
 * a gap of more than 300 ms means it was stopped and restored. It then
 * writes "resumed NS" (its first instruction after the restore, as near as
 * it can tell), reads all of its memory, writes "touched NS HEX" (the
 * time and the sum), and exits 0.
 *
 * usage: lazyclock MIB OUTFILE
 * Prints "ready" to OUTFILE once the memory is touched.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20;
	uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + 1;
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	int64_t last = now();
	for (;;) {
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
		int64_t t = now();
		if (t - last > 300 * 1000 * 1000)
			break;
		last = t;
	}
	int64_t resumed = now();
	fprintf(out, "resumed %lld\n", (long long)resumed);
	fflush(out);
	uint64_t s = 0;
	for (size_t i = 0; i < n / 8; i++)
		s = s * 31 + p[i];
	fprintf(out, "touched %lld %016llx\n", (long long)now(), (unsigned long long)s);
	fclose(out);
	return 0;
}
