/*
 * forest: N processes (a parent and N-1 forked children) that each hold
 * MIB MiB of touched memory, for the tree benchmark.
 *
 * usage: forest N MIB OUTFILE
 * Each process appends "ready" to OUTFILE once its memory is touched, then
 * sleeps until killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void hold(size_t n, const char *out) {
	uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + getpid();
	int fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
	write(fd, "ready\n", 6);
	close(fd);
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	int n = atoi(argv[1]);
	size_t size = (size_t)atol(argv[2]) << 20;
	for (int i = 1; i < n; i++)
		if (fork() == 0)
			hold(size, argv[3]);
	hold(size, argv[3]);
	return 0;
}
