/* Realtime signals queued several times, with values: three to one thread
 * (pthread_sigqueue, pending for that thread only) and two to the process
 * (sigqueue). The thread takes its three first, in order, then the two. */
#include "kobj.h"
#include <pthread.h>

#define SIG (SIGRTMIN + 2)
static pid_t pid0;
static pthread_barrier_t bar;
static volatile int tid;
static int got[5], codes[5], pids[5], n;

static void *run(void *a) {
	(void)a;
	tid = gettid();
	pthread_barrier_wait(&bar); /* queued */
	pthread_barrier_wait(&bar); /* checked */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIG);
	struct timespec ts = {5, 0};
	siginfo_t si;
	while (n < 5 && sigtimedwait(&s, &si, &ts) == SIG) {
		got[n] = si.si_value.sival_int;
		codes[n] = si.si_code;
		pids[n] = si.si_pid;
		n++;
	}
	return NULL;
}

static void pending(const char *key, unsigned long long *v) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
	const char *t = strstr(read_file(p), key);
	*v = t ? strtoull(t + strlen(key), NULL, 16) : ~0ULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIG);
	sigprocmask(SIG_BLOCK, &s, NULL);
	pid0 = getpid();
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	while (!tid) usleep(1000);
	for (int i = 1; i <= 3; i++) pthread_sigqueue(th, SIG, (union sigval){.sival_int = i});
	for (int i = 10; i <= 11; i++) sigqueue(getpid(), SIG, (union sigval){.sival_int = i});
	kobj_wait();
	unsigned long long bit = 1ULL << (SIG - 1), sig, shd;
	pending("SigPnd:\t", &sig);
	pending("ShdPnd:\t", &shd);
	CHECK(sig == bit, "thread SigPnd %llx, want %llx", sig, bit);
	CHECK(shd == bit, "ShdPnd %llx, want %llx", shd, bit);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	int want[5] = {1, 2, 3, 10, 11};
	CHECK(n == 5, "the thread took %d signals, want 5", n);
	for (int i = 0; i < n; i++) {
		CHECK(got[i] == want[i], "signal %d: value %d, want %d", i, got[i], want[i]);
		CHECK(codes[i] == SI_QUEUE, "signal %d: si_code %d, want SI_QUEUE", i, codes[i]);
		CHECK(pids[i] == pid0, "signal %d: si_pid %d, want %d", i, pids[i], pid0);
	}
	return kobj_done();
}
