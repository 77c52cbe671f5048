/* killsafe_job: the job a checkpoint killed midway must leave unharmed
 * (integration/killsafe_test.go). A parent with a second thread and a
 * forked child; each of the three computes over an array of its own
 * until SIGUSR1, checking on every round that its signal mask and its
 * SIGUSR1 action are what it set, then appends one line to the file
 * argv[1]: "NAME ROUNDS CHECKSUM MASKOK ACTOK", which the test recomputes.
 * There is no SIGTRAP handler: a trap left by a tracer kills it. A
 * read-only page and a PROT_NONE page give /proc/PID/maps permissions
 * that an mprotect left behind would change. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORDS 16384 /* 128 KiB a worker */

static volatile sig_atomic_t stop;
static const char *out;

static void on_usr1(int sig) {
	(void)sig;
	stop = 1;
}

/* mask_ok: the thread's mask is exactly {SIGUSR2} (set in main, inherited
 * by the thread and the child). */
static int mask_ok(void) {
	sigset_t m;
	if (pthread_sigmask(SIG_BLOCK, NULL, &m) != 0)
		return 0;
	for (int s = 1; s < 65; s++) {
		if (s == 32 || s == 33)
			continue; /* glibc's own */
		if (sigismember(&m, s) != (s == SIGUSR2))
			return 0;
	}
	return 1;
}

static int act_ok(void) {
	struct sigaction sa;
	if (sigaction(SIGUSR1, NULL, &sa) != 0)
		return 0;
	return sa.sa_handler == on_usr1;
}

/* work runs rounds over a until stop, with a short sleep in each (so the
 * checkpoint finds it in user code or in an interrupted system call); the
 * test's killsafeSum mirrors it. Every array is allocated before the
 * test looks at the maps. */
static void work(const char *name, uint64_t *a, uint64_t seed) {
	struct timespec nap = {0, 200000};
	for (uint64_t j = 0; j < WORDS; j++)
		a[j] = seed + j;
	uint64_t rounds = 0;
	int maskok = 1, actok = 1;
	while (!stop) {
		for (uint64_t j = 0; j < WORDS; j++)
			a[j] = a[j] * 6364136223846793005ULL + (rounds ^ j);
		rounds++;
		maskok &= mask_ok();
		actok &= act_ok();
		nanosleep(&nap, NULL);
	}
	uint64_t sum = 0;
	for (uint64_t j = 0; j < WORDS; j++)
		sum = (sum ^ a[j]) * 1099511628211ULL;
	char line[160];
	int n = snprintf(line, sizeof line, "%s %llu %016llx %d %d\n", name,
			 (unsigned long long)rounds, (unsigned long long)sum, maskok, actok);
	int fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || write(fd, line, n) != n)
		exit(3);
	close(fd);
}

static uint64_t *arrays[3];

static void *thread_main(void *arg) {
	(void)arg;
	work("thread", arrays[1], 2000);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: killsafe_job OUT\n");
		return 2;
	}
	out = argv[1];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_SETMASK, &m, NULL);
	char *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED || none == MAP_FAILED)
		return 4;
	ro[0] = 1;
	for (int i = 0; i < 3; i++)
		if (!(arrays[i] = malloc(WORDS * sizeof(uint64_t))))
			return 4;
	mprotect(ro, 4096, PROT_READ);
	pid_t child = fork();
	if (child < 0)
		return 5;
	if (child == 0) {
		work("child", arrays[2], 3000);
		return 0;
	}
	pthread_t th;
	if (pthread_create(&th, NULL, thread_main, NULL) != 0)
		return 6;
	work("main", arrays[0], 1000);
	pthread_join(th, NULL);
	int st;
	if (waitpid(child, &st, 0) != child)
		return 7;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 8;
	return ro[0] == 1 ? 0 : 9;
}
