/*
 * slowsum: holds MIB MiB of anonymous memory (compressible: each value is
 * repeated over 512 bytes) and sums it slowly: used by the tests of lazy
 * restores that kill the server, or look at the job while pages are still
 * missing.
 *
 * usage: slowsum MIB OUTFILE [pause]
 * Prints "ready" to OUTFILE once the memory is touched, then waits. SIGUSR2
 * then rewrites one page in 20 (a different one each time) and prints
 * "step N". On SIGUSR1 it sums the buffer 1 MiB at a time with a 2 ms pause
 * after each, writing "summing" after the first MiB (with "pause": then
 * waiting for a SIGUSR2 before going on), then "sum HEX", and exits 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done, usr2;
static void on_usr1(int s) { (void)s; done = 1; }
static void on_usr2(int s) { (void)s; usr2++; }

static void nap(long ms) {
	struct timespec ts = {0, ms * 1000 * 1000};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20;
	int pause_at_first = argc > 3 && strcmp(argv[3], "pause") == 0;
	uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++)
		p[i] = (i / 64) * 0x9e3779b97f4a7c15ULL + 1;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	int steps = 0;
	while (!done) {
		while (steps < usr2) {
			steps++;
			for (size_t pg = steps % 20; pg < n / 4096; pg += 20)
				for (size_t w = 0; w < 512; w++)
					p[pg * 512 + w] ^= (uint64_t)steps << 32 | pg;
			fprintf(out, "step %d\n", steps);
			fflush(out);
		}
		nap(20);
	}
	int seen = usr2;
	uint64_t s = 0;
	const size_t mib = (1 << 20) / 8;
	for (size_t i = 0; i < n / 8; i++) {
		s = s * 31 + p[i];
		if ((i + 1) % mib == 0) {
			if (i + 1 == mib) {
				fprintf(out, "summing\n");
				fflush(out);
				while (pause_at_first && usr2 == seen)
					nap(20);
			}
			nap(2);
		}
	}
	fprintf(out, "sum %016llx\n", (unsigned long long)s);
	fclose(out);
	return 0;
}
