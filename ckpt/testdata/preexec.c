/*
 * preexec: holds 64 MiB of anonymous memory, one word of each page set to
 * a pattern of its generation (before, or after an exec), and runs. On
 * SIGUSR1 (before) it execs itself as "after", whose memory has another
 * pattern, and writes "ready after" to OUTFILE; on SIGUSR2 it checks every
 * page and writes "ok after" or "bad N" and exits. Used by the test of a
 * process that execs between the write-protection made before the freeze
 * and the freeze.
 *
 * usage: preexec OUTFILE [after]
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t execnow, check;
static void on_usr1(int s) { (void)s; execnow = 1; }
static void on_usr2(int s) { (void)s; check = 1; }

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	int after = argc > 2 && strcmp(argv[2], "after") == 0;
	uint64_t pat = after ? 0xa5a5a5a5a5a5a5a5ULL : 0x1234567812345678ULL;
	size_t n = 64 << 20, pages = n / 4096;
	volatile uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < pages; i++)
		p[i * 512] = i ^ pat;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	FILE *out = fopen(argv[1], "a");
	fprintf(out, "ready %s\n", after ? "after" : "before");
	fflush(out);
	for (;;) {
		if (execnow && !after) {
			fclose(out);
			execl("/proc/self/exe", argv[0], argv[1], "after", (char *)NULL);
			return 3;
		}
		if (check) {
			size_t bad = 0;
			for (size_t i = 0; i < pages; i++)
				bad += p[i * 512] != (i ^ pat);
			if (bad)
				fprintf(out, "bad %zu\n", bad);
			else
				fprintf(out, "ok %s\n", after ? "after" : "before");
			fflush(out);
			return 0;
		}
		usleep(1000);
	}
}
