/*
 * uffdthreads: a multithreaded writer for checkpoints taken while it runs.
 * THREADS threads each sweep their own part of MIB MiB of private memory
 * as cowrace does (sweep gen writes gen into the first and last word of
 * every page after checking that both hold gen-1), one more thread reads
 * a file into a buffer and checks it (the kernel writes that memory: a
 * write fault taken in kernel mode, which a userfaultfd made with
 * UFFD_USER_MODE_ONLY would fail with EFAULT), and one maps, fills and
 * unmaps 1 MiB over and over (memory unmapped while an image is written).
 *
 * usage: uffdthreads THREADS MIB OUTFILE STATUSFILE [churn]
 *
 * The thread that unmaps runs only with "churn".
 *
 * After each round it writes the lowest sweep of the sweepers, "GEN\n", at
 * offset 0 of STATUSFILE. Prints "ready" to OUTFILE. On SIGUSR1 it writes
 * "errors E gen G" and exits 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXT 16
#define BUF (256 << 10)

static volatile sig_atomic_t done;
static void on_usr1(int s) { (void)s; done = 1; }

static volatile uint64_t gens[MAXT], errs[MAXT + 2];
static size_t part;
static int datafd;

static void *sweeper(void *arg) {
	long t = (long)arg;
	volatile uint64_t *p = mmap(NULL, part, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(1);
	size_t pages = part / 4096;
	while (!done) {
		uint64_t g = gens[t] + 1;
		for (size_t i = 0; i < pages; i++) {
			volatile uint64_t *pg = p + i * 512;
			if (pg[0] != g - 1 || pg[511] != g - 1)
				errs[t]++;
			pg[0] = g;
			pg[511] = g;
		}
		gens[t] = g;
	}
	return NULL;
}

static void *reader(void *arg) {
	(void)arg;
	unsigned char *b = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		exit(1);
	while (!done) {
		memset(b, 0, BUF);
		if (pread(datafd, b, BUF, 0) != BUF)
			errs[MAXT]++;
		for (int i = 0; i < BUF; i++)
			if (b[i] != (unsigned char)(i % 251)) {
				errs[MAXT]++;
				break;
			}
	}
	return NULL;
}

static void *churner(void *arg) {
	(void)arg;
	while (!done) {
		char *q = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED) {
			errs[MAXT + 1]++;
			continue;
		}
		memset(q, 1, 1 << 20);
		munmap(q, 1 << 20);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 5)
		return 2;
	int n = atoi(argv[1]);
	if (n < 1 || n > MAXT)
		return 2;
	part = ((size_t)atol(argv[2]) << 20) / n;
	part &= ~(size_t)4095;
	datafd = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (datafd < 0)
		return 1;
	static unsigned char d[BUF];
	for (int i = 0; i < BUF; i++)
		d[i] = (unsigned char)(i % 251);
	if (write(datafd, d, BUF) != BUF)
		return 1;
	signal(SIGUSR1, on_usr1);
	pthread_t th[MAXT + 2];
	for (long t = 0; t < n; t++)
		pthread_create(&th[t], NULL, sweeper, (void *)t);
	pthread_create(&th[n], NULL, reader, NULL);
	int churn = argc > 5 && strcmp(argv[5], "churn") == 0;
	if (churn)
		pthread_create(&th[n + 1], NULL, churner, NULL);
	int st = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FILE *out = fopen(argv[3], "w");
	if (st < 0 || !out)
		return 1;
	fprintf(out, "ready\n");
	fflush(out);
	while (!done) {
		uint64_t low = UINT64_MAX;
		for (int t = 0; t < n; t++)
			if (gens[t] < low)
				low = gens[t];
		char b[32];
		int k = snprintf(b, sizeof b, "%llu\n", (unsigned long long)low);
		pwrite(st, b, k, 0);
		usleep(10000);
	}
	for (int t = 0; t < n + 1 + churn; t++)
		pthread_join(th[t], NULL);
	uint64_t e = 0, low = UINT64_MAX;
	for (int t = 0; t < MAXT + 2; t++)
		e += errs[t];
	for (int t = 0; t < n; t++)
		if (gens[t] < low)
			low = gens[t];
	fprintf(out, "errors %llu gen %llu\n", (unsigned long long)e, (unsigned long long)low);
	fclose(out);
	return 0;
}
