/*
 * heartbeat: holds MIB MiB of touched, non-zero anonymous memory and runs
 * without pause, writing one word into the next page of it at each turn
 * and reading the clock: the longest time between two turns is how long it
 * was stopped. Used by the benchmarks.
 *
 * usage: heartbeat MIB OUTFILE
 * Prints "ready" to OUTFILE once the memory is touched. On SIGUSR1 it
 * writes "gap US at END" (the longest gap since the previous SIGUSR1, in
 * microseconds, and when it ended, CLOCK_MONOTONIC in microseconds: the
 * checkpointer's debugging output gives the same clock) and starts
 * measuring again; on SIGUSR2 it exits.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t report, quit;
static void on_usr1(int s) { (void)s; report = 1; }
static void on_usr2(int s) { (void)s; quit = 1; }

static uint64_t now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20, pages = n / 4096;
	volatile uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL + 1;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	FILE *out = fopen(argv[2], "w");
	fprintf(out, "ready\n");
	fflush(out);
	uint64_t last = now_us(), gap = 0, at = 0;
	size_t i = 0;
	while (!quit) {
		p[i * 512]++;
		i = (i + 1) % pages;
		uint64_t t = now_us();
		if (t - last > gap) {
			gap = t - last;
			at = t;
		}
		last = t;
		if (report) {
			report = 0;
			fprintf(out, "gap %llu at %llu\n", (unsigned long long)gap, (unsigned long long)at);
			fflush(out);
			gap = 0;
			last = now_us();
		}
	}
	return 0;
}
