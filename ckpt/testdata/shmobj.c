/*
 * shmobj: shared memory objects between a parent and its child:
 * MAP_SHARED|MAP_ANONYMOUS memory (shown as /dev/zero (deleted)) and a
 * memfd "lzmem" both open (fd 5) and mapped, in both processes.
 *
 * usage: shmobj OUTFILE
 * Prints "ready" once the child runs. On SIGUSR1 the parent writes a new
 * value into the shared anonymous memory and one through the memfd's
 * descriptor, and tells the child (SIGUSR1), which checks that it sees
 * both in its mappings; the parent checks the descriptor's write in its
 * own mapping and prints "anon A memfd M child C" (each 1 when right).
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

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

static void wait_go(void) {
	while (!go) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	go = 0;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	size_t n = 1 << 20;
	volatile uint64_t *a = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int mfd = memfd_create("lzmem", 0);
	if (a == MAP_FAILED || mfd < 0 || dup2(mfd, 5) < 0 || ftruncate(5, n) < 0)
		return 1;
	close(mfd);
	volatile uint64_t *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, 5, 0);
	if (m == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++) {
		a[i] = i + 1;
		m[i] = 2 * i + 1;
	}
	signal(SIGUSR1, on_usr1);
	pid_t c = fork();
	if (c == 0) {
		wait_go();
		int ok = a[8] == 0xabcdef && m[16] == 0x123456;
		for (size_t i = 32; i < n / 8; i++)
			if (a[i] != i + 1 || m[i] != 2 * i + 1)
				ok = 0;
		_exit(ok ? 0 : 1);
	}
	FILE *out = fopen(argv[1], "w");
	fprintf(out, "ready\n");
	fflush(out);
	wait_go();
	a[8] = 0xabcdef;
	uint64_t v = 0x123456;
	pwrite(5, &v, 8, 16 * 8);
	int memfd = m[16] == 0x123456;
	kill(c, SIGUSR1);
	int ws = 0;
	waitpid(c, &ws, 0);
	int child = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
	fprintf(out, "anon %d memfd %d child %d\n", a[8] == 0xabcdef, memfd, child);
	fclose(out);
	return 0;
}
