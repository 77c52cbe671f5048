/*
 * ckstep: a deterministic computation for the chkpnt/restart end-to-end
 * tests (integration/ckpt_cli_test.go).
 *
 * usage: ckstep [-s] [-t] OUTFILE STEPS DELAY_MS [EXIT]
 *
 * Each of STEPS steps mixes a heap array and a floating-point value into a
 * hash and writes one line "step I HASH" to OUTFILE (flushed), then sleeps
 * DELAY_MS milliseconds, so a test can checkpoint it midway. The output
 * depends on STEPS only, never on the timing, so a run that was
 * checkpointed, killed and restarted must write the very bytes an
 * uninterrupted run writes. The last line is "done HASH"; then the program
 * exits with status EXIT (default 0).
 *
 * A SIGUSR1 is recorded by a handler and reported as a line "usr1" before
 * the next step. -s keeps a netlink socket open (a socket the engine cannot
 * checkpoint: TCP, UDP and unix sockets inside the tree it can); -t starts a
 * second thread that sleeps forever.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;

static void on_usr1(int sig) {
	(void)sig;
	usr1++;
}

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static uint64_t mix(uint64_t h, uint64_t v) {
	return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

int main(int argc, char **argv) {
	int sock = 0, thread = 0, opt;
	while ((opt = getopt(argc, argv, "st")) != -1) {
		switch (opt) {
		case 's':
			sock = 1;
			break;
		case 't':
			thread = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 3) {
		fprintf(stderr, "usage: ckstep [-s] [-t] OUTFILE STEPS DELAY_MS [EXIT]\n");
		return 2;
	}
	const char *path = argv[optind];
	long steps = atol(argv[optind + 1]);
	long delay = atol(argv[optind + 2]);
	int code = argc - optind > 3 ? atoi(argv[optind + 3]) : 0;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	FILE *out = fopen(path, "w");
	if (!out) {
		perror(path);
		return 1;
	}
	if (sock && socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) < 0) {
		perror("socket");
		return 1;
	}
	pthread_t th;
	if (thread && pthread_create(&th, NULL, sleeper, NULL) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}

	size_t n = 1 << 16;
	uint64_t *heap = malloc(n * sizeof *heap);
	for (size_t i = 0; i < n; i++)
		heap[i] = i * 2654435761u;
	uint64_t h = 1469598103934665603ULL;
	double x = 1.0;
	int seen = 0;
	for (long i = 0; i < steps; i++) {
		while (seen < usr1) {
			seen++;
			fprintf(out, "usr1\n");
		}
		for (size_t j = 0; j < n; j += 61) {
			heap[j] = mix(heap[j], (uint64_t)i);
			h = mix(h, heap[j]);
		}
		x = x * 1.000001 + 1.0 / (double)(i + 1);
		h = mix(h, (uint64_t)(x * 1e6));
		fprintf(out, "step %ld %016llx\n", i, (unsigned long long)h);
		fflush(out);
		struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	while (seen < usr1) {
		seen++;
		fprintf(out, "usr1\n");
	}
	fprintf(out, "done %016llx\n", (unsigned long long)h);
	fclose(out);
	return code;
}
