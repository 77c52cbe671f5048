/* kobj3_sarestart: two threads blocked in read on pipes; a SIGUSR2 handler
 * with SA_RESTART and a SIGURG one without. After the restart, the signals
 * reach them: the first read restarts (gets the data later), the second
 * fails with EINTR, exactly as without a checkpoint. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static int p1[2], p2[2];
static volatile int t1, t2, h1, h2;
static ssize_t n1 = -2, n2 = -2;
static int e2;

static void on2(int s) { (void)s; h1++; }
static void onurg(int s) { (void)s; h2++; }
static void *r1(void *a) { (void)a; t1 = syscall(SYS_gettid); char c; n1 = read(p1[0], &c, 1); return NULL; }
static void *r2(void *a) { (void)a; t2 = syscall(SYS_gettid); char c; n2 = read(p2[0], &c, 1); e2 = errno; return NULL; }

static void sleeping(int tid) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 5000; i++) {
		const char *r = strrchr(read_file(p), ')');
		if (r && r[2] == 'S') return;
		usleep(1000);
	}
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on2;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = onurg;
	sa.sa_flags = 0;
	sigaction(SIGURG, &sa, NULL);
	pipe(p1);
	pipe(p2);
	pthread_t a, b;
	pthread_create(&a, NULL, r1, NULL);
	pthread_create(&b, NULL, r2, NULL);
	while (!t1 || !t2) usleep(1000);
	sleeping(t1);
	sleeping(t2);
	kobj_wait();
	syscall(SYS_tgkill, getpid(), t1, SIGUSR2);
	syscall(SYS_tgkill, getpid(), t2, SIGURG);
	pthread_join(b, NULL);
	CHECK(h2 == 1, "SIGURG handler ran %d times", h2);
	CHECK(n2 == -1 && e2 == EINTR, "read without SA_RESTART: %zd errno %d, want EINTR", n2, e2);
	while (!h1) usleep(1000);
	usleep(50000);
	CHECK(n1 == -2, "read with SA_RESTART returned %zd (not restarted)", n1);
	write(p1[1], "d", 1);
	pthread_join(a, NULL);
	CHECK(n1 == 1, "read with SA_RESTART: %zd", n1);
	return kobj_done();
}
