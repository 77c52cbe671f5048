/*
 * textmem: holds MIB MiB of memory that compresses the way a simulation's
 * does: half text-like lines (numbers that change, words that repeat),
 * a quarter pseudo-random words (incompressible), an eighth all-zero pages
 * that were written, the rest a repeating 4 KiB pattern. Used by the
 * compression tests and benchmarks.
 *
 * usage: textmem MIB OUTFILE
 * Computes a checksum of the whole buffer, prints "ready" to OUTFILE and
 * waits. On SIGUSR1 it computes the checksum again: if the memory changed
 * it prints "changed" and exits 1; otherwise it writes "sum HEX" and
 * exits 0.
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

static volatile sig_atomic_t done;
static void on_usr1(int s) { (void)s; done = 1; }

static uint64_t sum(const uint64_t *p, size_t words) {
	uint64_t s = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < words; i++)
		s = (s ^ p[i]) * 0x100000001b3ULL;
	return s;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	size_t text = n / 2, rnd = n / 4, zero = n / 8;
	static const char *words[] = {"pressure", "velocity", "density", "energy", "step", "cell", "flux", "residual"};
	size_t at = 0;
	unsigned long line = 0;
	while (at < text) {
		char buf[160];
		int k = snprintf(buf, sizeof buf, "%08lu %s %s %.6f %ld\n", line, words[line % 8], words[(line / 8) % 8],
				 (double)line * 0.001953125, (long)(line * 37 % 1000003));
		if (at + (size_t)k > text)
			k = (int)(text - at);
		memcpy(p + at, buf, (size_t)k);
		at += (size_t)k;
		line++;
	}
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < rnd / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		((uint64_t *)(p + text))[i] = x;
	}
	memset(p + text + rnd, 0, zero);
	for (size_t i = text + rnd + zero; i < n; i++)
		p[i] = (char)(i % 4096 % 251 + 1);
	uint64_t before = sum((uint64_t *)p, n / 8);
	signal(SIGUSR1, on_usr1);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	while (!done) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (sum((uint64_t *)p, n / 8) != before) {
		fprintf(out, "changed\n");
		fclose(out);
		return 1;
	}
	fprintf(out, "sum %016llx\n", (unsigned long long)before);
	fclose(out);
	return 0;
}
