/*
 * cowrace: rewrites its memory as fast as it can, so that a checkpoint
 * taken while it runs races its writes; checks that its memory is always
 * the memory of one instant.
 *
 * usage: cowrace MIB OUTFILE STATUSFILE
 *
 * MIB MiB of private anonymous memory, swept page by page: sweep gen
 * writes gen into the first and last word of every page, after checking
 * that both hold gen-1 (what the previous sweep left). Three 1 MiB regions
 * beside it hold gen in every word, rewritten at the start of each sweep:
 * a MAP_SHARED one, a MADV_WIPEONFORK one and a MADV_DONTFORK one (a fork
 * does not copy those as they are). Each region is checked as it is
 * rewritten: its words must hold gen-1. So memory restored from an image
 * that mixes two instants fails a check within two sweeps.
 *
 * It forks one child that sleeps until it dies, and counts SIGCHLD and
 * every child wait(2) reports (WNOHANG, each sweep): a checkpoint must add
 * neither. After each sweep it writes "GEN\n" at offset 0 of STATUSFILE.
 * Prints "addr 0xADDR child PID" (the address of gen) and "ready" to
 * OUTFILE. On SIGUSR1 it writes "errors E sigchld S reaped R gen G" and
 * exits 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIDE (1 << 20)

static volatile sig_atomic_t done, sigchld;
static void on_usr1(int s) { (void)s; done = 1; }
static void on_chld(int s) { (void)s; sigchld++; }

volatile uint64_t gen;

static uint64_t *side(int advice, int shared) {
	uint64_t *p = mmap(NULL, SIDE, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(1);
	if (advice && madvise(p, SIDE, advice) != 0)
		exit(1);
	return p;
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	size_t n = (size_t)atol(argv[1]) << 20, pages = n / 4096;
	volatile uint64_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	volatile uint64_t *sides[3] = {side(0, 1), side(MADV_WIPEONFORK, 0), side(MADV_DONTFORK, 0)};
	struct sigaction sa = {0};
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGUSR1, on_usr1);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	int st = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FILE *out = fopen(argv[2], "w");
	if (st < 0 || !out)
		return 1;
	fprintf(out, "addr %p child %d\nready\n", (void *)&gen, (int)child);
	fflush(out);
	uint64_t errors = 0, reaped = 0;
	while (!done) {
		gen++;
		for (int s = 0; s < 3; s++)
			for (size_t i = 0; i < SIDE / 8; i++) {
				if (sides[s][i] != gen - 1)
					errors++;
				sides[s][i] = gen;
			}
		for (size_t i = 0; i < pages; i++) {
			volatile uint64_t *pg = p + i * 512;
			if (pg[0] != gen - 1 || pg[511] != gen - 1)
				errors++;
			pg[0] = gen;
			pg[511] = gen;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			reaped++;
		char b[32];
		int k = snprintf(b, sizeof b, "%llu\n", (unsigned long long)gen);
		pwrite(st, b, k, 0);
	}
	fprintf(out, "errors %llu sigchld %d reaped %llu gen %llu\n", (unsigned long long)errors, (int)sigchld,
		(unsigned long long)reaped, (unsigned long long)gen);
	fclose(out);
	return 0;
}
