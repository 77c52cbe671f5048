/*
 * slowsum: memhog's memory and checksum, summed slowly: used by the test
 * that kills the server of a lazy restore while the job is summing.
 *
 * usage: slowsum MIB OUTFILE
 * Prints "ready" to OUTFILE once the memory is touched, then waits. On
 * SIGUSR1 it sums the buffer 1 MiB at a time with a 2 ms pause after each,
 * writing "summing" after the first MiB, then "sum HEX", and exits 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done;
static void on_usr1(int s) { (void)s; done = 1; }

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20;
	uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + 1;
	signal(SIGUSR1, on_usr1);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	while (!done) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	uint64_t s = 0;
	const size_t mib = (1 << 20) / 8;
	for (size_t i = 0; i < n / 8; i++) {
		s = s * 31 + p[i];
		if ((i + 1) % mib == 0) {
			if (i + 1 == mib) {
				fprintf(out, "summing\n");
				fflush(out);
			}
			struct timespec ts = {0, 2 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	fprintf(out, "sum %016llx\n", (unsigned long long)s);
	fclose(out);
	return 0;
}
