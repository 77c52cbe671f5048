/*
 * compute: a deterministic computation for checkpoint/restart tests.
 *
 * usage: compute OUTFILE STEPS [DATAFILE]
 *
 * Each step updates a heap array, a stack array and (with DATAFILE) a
 * private file mapping, mixes in floating point, and appends one line to
 * OUTFILE. It sleeps a little between steps (nanosleep, and gettimeofday
 * through the vDSO) so a test can checkpoint it midway. SIGUSR1 is counted
 * by a handler; the count goes into the output, so a handler that does not
 * survive a restart changes the result. The last line is a checksum of
 * every piece of state.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;

static void on_usr1(int sig) { (void)sig; usr1++; }

static uint64_t mix(uint64_t h, uint64_t v) {
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

static uint64_t step_stack(int depth, uint64_t seed) {
	volatile uint64_t local[64];
	for (int i = 0; i < 64; i++)
		local[i] = seed * (i + 1) + depth;
	if (depth == 0) {
		uint64_t s = 0;
		for (int i = 0; i < 64; i++)
			s = mix(s, local[i]);
		return s;
	}
	return mix(step_stack(depth - 1, seed + 1), local[depth % 64]);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: compute OUTFILE STEPS [DATAFILE]\n");
		return 2;
	}
	int steps = atoi(argv[2]);
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	size_t n = 1 << 20; /* 8 MiB of heap */
	uint64_t *heap = malloc(n * sizeof *heap);
	for (size_t i = 0; i < n; i++)
		heap[i] = i * 2654435761u;
	unsigned char *map = NULL;
	size_t maplen = 0;
	if (argc > 3) {
		int fd = open(argv[3], O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[3]);
			return 1;
		}
		maplen = st.st_size;
		map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		close(fd);
	}
	double x = 1.0;
	uint64_t h = 1469598103934665603ULL;
	for (int s = 0; s < steps; s++) {
		for (size_t i = s % 7; i < n; i += 7)
			heap[i] = mix(heap[i], s);
		if (map)
			for (size_t i = (s * 4096) % maplen; i < maplen; i += 8192)
				map[i] += s;
		x = x * 1.0000001 + sin(x) / (s + 1);
		h = mix(h, step_stack(32, s));
		h = mix(h, heap[(s * 7919) % n]);
		if (map)
			h = mix(h, map[(s * 131) % maplen]);
		struct timeval tv;
		gettimeofday(&tv, NULL);
		fprintf(out, "step %d x=%.12f h=%016llx t=%d\n", s, x, (unsigned long long)h, tv.tv_sec > 1000000000);
		fflush(out);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	uint64_t total = h;
	for (size_t i = 0; i < n; i++)
		total = mix(total, heap[i]);
	for (size_t i = 0; map && i < maplen; i++)
		total = mix(total, map[i]);
	fprintf(out, "done x=%.12f total=%016llx usr1=%d\n", x, (unsigned long long)total, (int)usr1);
	fclose(out);
	return 0;
}
