/*
 * cowfork MIB N THREADS DIR [DEEP]: fills MIB MiB of private anonymous
 * memory with a pattern, then forks N children that share it copy on
 * write; child k rewrites its own 64 KiB slice (and its own small heap
 * block). With THREADS 1 every process also runs a second thread. With
 * DEEP 1 child 0 forks a grandchild (number N) that rewrites slice N too. Once all are ready
 * it writes DIR/ready; on SIGUSR1 (to the parent, which passes it on)
 * every process checks every word of its memory, child k writing
 * DIR/child.K "ok" or "bad WORD"; the parent exits 0 when its own memory
 * and every child's are right, 1 otherwise.
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
static uint64_t f(size_t i) { return i * 0x9e3779b97f4a7c15ULL + 1; }
static uint64_t g(int k, size_t i) { return (i ^ 0x5bd1e995ULL * (uint64_t)(k + 1)) + 7; }

#define SLICE (64 << 10)

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void wait_go(void) {
	sigset_t none;
	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
}

static int in(int k, size_t i) { return k >= 0 && i >= (size_t)k * 2 * SLICE / 8 && i < (size_t)k * 2 * SLICE / 8 + SLICE / 8; }

/* check returns -1 when every word is as process k (-1: the parent) left
 * it, after its parent k0 (-1: none) changed its own slice. */
static long check(const uint64_t *p, size_t words, int k, int k0) {
	for (size_t i = 0; i < words; i++) {
		uint64_t want = in(k, i) ? g(k, i) : in(k0, i) ? g(k0, i) : f(i);
		if (p[i] != want)
			return (long)i;
	}
	return -1;
}

static void slice(uint64_t *p, int k) {
	size_t lo = (size_t)k * 2 * SLICE / 8;
	for (size_t i = lo; i < lo + SLICE / 8; i++)
		p[i] = g(k, i);
}

static int report(const char *dir, int k, long bad) {
	char name[4096];
	snprintf(name, sizeof name, "%s/child.%d", dir, k);
	FILE *out = fopen(name, "w");
	if (bad < 0)
		fprintf(out, "ok\n");
	else
		fprintf(out, "bad %ld\n", bad);
	fclose(out);
	return bad < 0 ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc < 5)
		return 2;
	size_t size = (size_t)atol(argv[1]) << 20, words = size / 8;
	int n = atoi(argv[2]), threads = atoi(argv[3]);
	const char *dir = argv[4];
	int deep = argc > 5 && atoi(argv[5]);
	if ((size_t)(n + 1) * 2 * SLICE > size)
		return 2;
	uint64_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < words; i++)
		p[i] = f(i);
	char *heap = malloc(4096);
	memset(heap, 'P', 4096);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGUSR1, on_usr1);
	pthread_t th;
	if (threads)
		pthread_create(&th, NULL, sleeper, NULL);
	pid_t kids[64];
	int rd[2];
	if (n > 64 || pipe(rd) < 0)
		return 2;
	for (int k = 0; k < n; k++) {
		pid_t c = fork();
		if (c < 0)
			return 1;
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (threads)
				pthread_create(&th, NULL, sleeper, NULL);
			slice(p, k);
			memset(heap, 'a' + k % 26, 4096);
			close(rd[0]);
			pid_t gc = -1;
			if (deep && k == 0) {
				gc = fork();
				if (gc == 0) {
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					slice(p, n);
					write(rd[1], "r", 1);
					wait_go();
					_exit(report(dir, n, check(p, words, n, 0)));
				}
			}
			write(rd[1], "r", 1);
			close(rd[1]);
			wait_go();
			if (gc > 0)
				kill(gc, SIGUSR1);
			long bad = check(p, words, k, -1);
			for (int i = 0; i < 4096 && bad < 0; i++)
				if (heap[i] != 'a' + k % 26)
					bad = (long)words + i;
			int ws = 0;
			if (gc > 0 && (waitpid(gc, &ws, 0) != gc || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) && bad < 0)
				bad = (long)words + 4096;
			_exit(report(dir, k, bad));
		}
		kids[k] = c;
	}
	close(rd[1]);
	char c;
	for (int k = 0; k < n + deep; k++)
		if (read(rd[0], &c, 1) != 1)
			return 1;
	close(rd[0]);
	char name[4096];
	snprintf(name, sizeof name, "%s/ready", dir);
	close(open(name, O_CREAT | O_WRONLY, 0644));
	wait_go();
	for (int k = 0; k < n; k++)
		kill(kids[k], SIGUSR1);
	int ok = check(p, words, -1, -1) < 0;
	for (int i = 0; i < 4096; i++)
		ok = ok && heap[i] == 'P';
	for (int k = 0; k < n; k++) {
		int ws = 0;
		if (waitpid(kids[k], &ws, 0) != kids[k] || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			ok = 0;
	}
	return ok ? 0 : 1;
}
