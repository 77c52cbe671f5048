/* kobj4b_manythreads: 48 threads, each with a name, a thread-local value,
 * a signal mask (SIGRTMIN+i%8 blocked) and a CPU affinity of its own,
 * each blocked in read on a pipe of its own. After the restart each gets
 * its byte and finds its name, TLS, mask, affinity and tid unchanged. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define N 48
static __thread long tls[4];
static int pipes[N][2];
static pid_t tids[N];
static volatile int ready;
static char errs[N][128];
static int ncpu;

static void *run(void *a) {
	long i = (long)a;
	char name[16];
	snprintf(name, sizeof name, "kthr-%02ld", i);
	prctl(PR_SET_NAME, name);
	for (int k = 0; k < 4; k++) tls[k] = i * 1000 + k;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + i % 8);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	cpu_set_t cs;
	CPU_ZERO(&cs);
	CPU_SET(i % ncpu, &cs);
	sched_setaffinity(0, sizeof cs, &cs);
	tids[i] = syscall(SYS_gettid);
	__sync_fetch_and_add(&ready, 1);
	char b;
	int r = read(pipes[i][0], &b, 1);
	char got[16] = {0};
	prctl(PR_GET_NAME, got);
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	CPU_ZERO(&cs);
	sched_getaffinity(0, sizeof cs, &cs);
	if (r != 1 || b != (char)i) snprintf(errs[i], 128, "read %d byte %d", r, b);
	else if (strcmp(got, name)) snprintf(errs[i], 128, "name %s", got);
	else if (tls[0] != i * 1000 || tls[3] != i * 1000 + 3) snprintf(errs[i], 128, "tls %ld %ld", tls[0], tls[3]);
	else if (!sigismember(&now, SIGRTMIN + i % 8) || sigismember(&now, SIGRTMIN + (i + 1) % 8)) snprintf(errs[i], 128, "mask");
	else if (!CPU_ISSET(i % ncpu, &cs) || CPU_COUNT(&cs) != 1) snprintf(errs[i], 128, "affinity %d cpus", CPU_COUNT(&cs));
	else if (syscall(SYS_gettid) != tids[i]) snprintf(errs[i], 128, "tid %ld, was %d", syscall(SYS_gettid), tids[i]);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[N];
	for (long i = 0; i < N; i++) {
		pipe(pipes[i]);
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 64 << 10);
		if (pthread_create(&th[i], &at, run, (void *)i)) DIE("pthread_create %ld", i);
	}
	while (ready < N) usleep(1000);
	usleep(100000);
	kobj_wait();
	for (int i = 0; i < N; i++) {
		char b = i;
		write(pipes[i][1], &b, 1);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CHECK(!errs[i][0], "thread %d: %s", i, errs[i]);
	}
	return kobj_done();
}
