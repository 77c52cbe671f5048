/*
 * memjob: a job that holds memory, for the batch system's checkpoint tests
 * and benchmarks.
 *
 * usage: memjob [-t] [-s] MIB
 *
 * It fills MIB MiB with pseudo-random bytes (pages of zeros would not be
 * saved), prints "ready", then looks every 20 ms for files in its working
 * directory: "grow" makes it add 8 MiB more (it prints "grown"); "touch"
 * makes it write one page in 20 again, with the values it holds (a
 * different twentieth each time: the pages are written, the checksum
 * does not change; it prints "touched"); "stop"
 * makes it print a checksum of all its memory and exit 0. So the checksum
 * tells whether a restarted memjob got its memory back intact. -t starts a
 * second thread; -s keeps a netlink socket open, which the engine cannot
 * checkpoint.
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t state = 88172645463325252ULL;

static void fill(uint64_t *p, size_t n) {
	for (size_t i = 0; i < n; i++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		p[i] = state;
	}
}

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv) {
	int thread = 0, sock = 0, a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "-t") == 0)
			thread = 1;
		else if (strcmp(argv[a], "-s") == 0)
			sock = 1;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: memjob [-t] [-s] MIB\n");
		return 2;
	}
	size_t words = (size_t)atol(argv[a]) << 17; /* MiB of 8-byte words */
	uint64_t *mem = malloc((words + (8u << 17) * 64) * 8);
	if (!mem) {
		perror("malloc");
		return 1;
	}
	fill(mem, words);
	if (thread) {
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
	}
	if (sock) {
		/* A netlink socket: one the engine cannot checkpoint (TCP, UDP
		 * and unix sockets it can). */
		int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	struct timespec tick = {0, 20 * 1000 * 1000};
	for (;;) {
		if (access("grow", F_OK) == 0 && unlink("grow") == 0) {
			fill(mem + words, 8u << 17);
			words += 8u << 17;
			printf("grown\n");
			fflush(stdout);
		}
		if (access("touch", F_OK) == 0 && unlink("touch") == 0) {
			static size_t touches;
			/* Whole pages: from the first page boundary in mem. */
			uintptr_t base = ((uintptr_t)mem + 4095) & ~(uintptr_t)4095;
			size_t pages = (words * 8 - (base - (uintptr_t)mem)) / 4096;
			for (size_t pg = touches++ % 20; pg < pages; pg += 20) {
				volatile uint64_t *v = (volatile uint64_t *)(base + pg * 4096);
				for (size_t w = 0; w < 512; w++)
					v[w] = v[w];
			}
			printf("touched\n");
			fflush(stdout);
		}
		if (access("stop", F_OK) == 0) {
			uint64_t h = 1469598103934665603ULL;
			for (size_t i = 0; i < words; i++)
				h = (h ^ mem[i]) * 1099511628211ULL;
			printf("checksum %016llx of %zu MiB\n", (unsigned long long)h, words >> 17);
			return 0;
		}
		nanosleep(&tick, NULL);
	}
}
