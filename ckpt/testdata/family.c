/*
 * family: a parent with forked workers, for process-tree tests.
 *
 * usage: family OUTFILE ROUNDS
 * The parent maps an anonymous shared region, makes itself a process group
 * leader, forks WORKERS workers that each add to their own slot of the
 * shared region every few milliseconds, for ROUNDS rounds; one more child
 * that exits at once with status 7 and stays a zombie until the end; and a
 * background child in a process group of its own that waits on a pipe for
 * the parent's final word. The parent reports progress, then reaps
 * everyone and writes what it sees: the shared counters, the zombie's
 * status, the groups, the pids and the pipe message.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3

static void nap(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	int rounds = atoi(argv[2]);
	FILE *out = fopen(argv[1], "w");
	setpgid(0, 0);
	volatile uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t workers[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		workers[w] = fork();
		if (workers[w] == 0) {
			for (int r = 0; r < rounds; r++) {
				shared[w] += w + 1;
				nap(5);
			}
			_exit(0);
		}
	}
	pid_t zombie = fork();
	if (zombie == 0)
		_exit(7);
	int pfd[2];
	pipe(pfd);
	pid_t bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		close(pfd[1]);
		char buf[64] = {0};
		int n = read(pfd[0], buf, sizeof buf - 1);
		FILE *f = fopen(argv[1], "a");
		fprintf(f, "bg got %d bytes: %s pgid-is-self %d\n", n, buf, getpgid(0) == getpid());
		fclose(f);
		_exit(0);
	}
	close(pfd[0]);
	for (int r = 0; r < rounds; r += 10) {
		fprintf(out, "progress %d\n", r);
		fflush(out);
		nap(50);
	}
	for (int w = 0; w < WORKERS; w++)
		waitpid(workers[w], NULL, 0);
	int st;
	pid_t z = waitpid(zombie, &st, 0);
	uint64_t sum = 0;
	for (int w = 0; w < WORKERS; w++)
		sum += shared[w];
	fprintf(out, "shared sum %llu (want %llu)\n", (unsigned long long)sum, (unsigned long long)rounds * 6);
	fprintf(out, "zombie reaped %d status %d\n", z == zombie, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fprintf(out, "bg pgid differs %d, parent pgid-is-self %d\n", getpgid(bg) != getpgid(0), getpgid(0) == getpid());
	fclose(out);
	write(pfd[1], "bye", 3);
	close(pfd[1]);
	waitpid(bg, &st, 0);
	return 0;
}
