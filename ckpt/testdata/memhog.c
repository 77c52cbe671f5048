/*
 * memhog: holds MIB MiB of touched, non-zero anonymous memory and keeps a
 * running checksum of it; used by the benchmarks and the large-memory test.
 *
 * usage: memhog MIB OUTFILE [sparse|runs]
 * With "sparse", only one page in 16 is non-zero (the others are written
 * with zeros: present, but all-zero); with "runs", runs of 9 MiB + 12 KiB
 * of data and 3 MiB - 12 KiB of zeros follow one another (data runs of
 * several pieces of a restore's reads, ending anywhere).
 * Prints "ready" to OUTFILE once the memory is touched, then waits. On
 * SIGUSR1 it writes "sum HEX" of the whole buffer and exits 0.
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
	int sparse = argc > 3 && argv[3][0] == 's', runs = argc > 3 && argv[3][0] == 'r';
	for (size_t i = 0; i < n / 8; i++) {
		int zero = sparse && (i / 512) % 16 != 0;
		if (runs)
			zero = (i * 8) % (12 << 20) >= (9 << 20) + (12 << 10);
		p[i] = zero ? 0 : i * 0x9e3779b97f4a7c15ULL + 1;
	}
	signal(SIGUSR1, on_usr1);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	/* Polls rather than pause(): a signal that lands between the test of
	 * done and pause() would leave it waiting forever. */
	while (!done) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	uint64_t s = 0;
	for (size_t i = 0; i < n / 8; i++)
		s = s * 31 + p[i];
	fprintf(out, "sum %016llx\n", (unsigned long long)s);
	fclose(out);
	return 0;
}
