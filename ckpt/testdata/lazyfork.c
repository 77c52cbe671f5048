/*
 * lazyfork: holds MIB MiB of patterned anonymous memory, then, on
 * SIGUSR1, changes the shape of its memory while a lazy restore may still
 * be loading it: forks a child that checks every word, drops a quarter
 * (MADV_DONTNEED: must read as zeros), moves another quarter (mremap to a
 * new address: must keep its content) and checks the rest.
 *
 * usage: lazyfork MIB OUTFILE
 * Prints "ready" to OUTFILE, then after SIGUSR1
 * "child C dontneed D remap R rest S" (each 1 when right) and exits 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
static uint64_t f(size_t i) { return i * 0x9e3779b97f4a7c15ULL + 1; }

static int check(uint64_t *p, size_t from, size_t to) {
	for (size_t i = from; i < to; i++)
		if (p[i - from] != f(i))
			return 0;
	return 1;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20, w = n / 8, q = w / 4;
	uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < w; i++)
		p[i] = f(i);
	signal(SIGUSR1, on_usr1);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	while (!go) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pid_t c = fork();
	if (c == 0)
		_exit(check(p, 0, w) ? 0 : 1);
	int ws = 0;
	waitpid(c, &ws, 0);
	int child = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
	/* The second quarter is dropped: zeros from now on. */
	madvise(p + q, q * 8, MADV_DONTNEED);
	int dontneed = 1;
	for (size_t i = q; i < 2 * q; i++)
		if (p[i] != 0)
			dontneed = 0;
	/* The last quarter moves. */
	void *dst = mmap(NULL, q * 8, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *m = mremap(p + 3 * q, q * 8, q * 8, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	int remap = m != MAP_FAILED && check(m, 3 * q, 4 * q);
	int rest = check(p, 0, q) && check(p + 2 * q, 2 * q, 3 * q);
	fprintf(out, "child %d dontneed %d remap %d rest %d\n", child, dontneed, remap, rest);
	fclose(out);
	return 0;
}
