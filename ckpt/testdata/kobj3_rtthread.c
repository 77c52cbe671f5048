/* kobj3_rtthread: realtime signals queued to one thread (pthread_sigqueue)
 * and to the process (sigqueue), all blocked, keep their order, si_value,
 * si_code and si_pid, and stay directed to the thread or to the process.
 * The thread waits in read on a pipe across the checkpoint. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static int pfd[2];
static pid_t me;
static volatile int tid;

static void want(int sig, int val, int code, const char *who) {
	sigset_t s;
	siginfo_t si;
	struct timespec z = {0, 0};
	sigemptyset(&s);
	sigaddset(&s, sig);
	int r = sigtimedwait(&s, &si, &z);
	if (r != sig) { kobj_fail("%s: want signal %d value %d, got %d (%s)", who, sig, val, r, strerror(errno)); return; }
	CHECK(si.si_value.sival_int == val, "%s: signal %d value %d, want %d", who, sig, si.si_value.sival_int, val);
	CHECK(si.si_code == code, "%s: signal %d code %d, want %d", who, sig, si.si_code, code);
	CHECK(si.si_pid == me, "%s: si_pid %d, want %d", who, si.si_pid, me);
	CHECK(si.si_uid == getuid(), "%s: si_uid %d", who, si.si_uid);
}

static void none(int sig, const char *who) {
	sigset_t s;
	siginfo_t si;
	struct timespec z = {0, 0};
	sigemptyset(&s);
	sigaddset(&s, sig);
	int r = sigtimedwait(&s, &si, &z);
	CHECK(r < 0 && errno == EAGAIN, "%s: signal %d still pending (value %d)", who, sig, r == sig ? si.si_value.sival_int : -1);
}

static void *thread(void *a) {
	(void)a;
	tid = syscall(SYS_gettid);
	char c;
	ssize_t n = read(pfd[0], &c, 1);
	CHECK(n == 1 && c == 'g', "the thread's read on the pipe: %zd (%s)", n, strerror(errno));
	/* thread-directed: only this thread sees them */
	want(SIGRTMIN + 2, 201, SI_QUEUE, "thread");
	want(SIGRTMIN + 2, 202, SI_QUEUE, "thread");
	want(SIGRTMIN + 2, 203, SI_QUEUE, "thread");
	/* process-directed, taken by the thread */
	want(SIGRTMIN + 3, 301, SI_QUEUE, "thread");
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	me = getpid();
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 2);
	sigaddset(&s, SIGRTMIN + 3);
	sigaddset(&s, SIGRTMIN + 5);
	sigprocmask(SIG_BLOCK, &s, NULL);
	if (pipe(pfd)) DIE("pipe");
	pthread_t t;
	pthread_create(&t, NULL, thread, NULL);
	while (!tid) usleep(1000);
	for (int i = 1; i <= 3; i++) {
		union sigval v = {.sival_int = 200 + i};
		if (pthread_sigqueue(t, SIGRTMIN + 2, v)) DIE("pthread_sigqueue");
	}
	union sigval v = {.sival_int = 301};
	if (sigqueue(me, SIGRTMIN + 3, v)) DIE("sigqueue");
	v.sival_int = 501;
	sigqueue(me, SIGRTMIN + 5, v);
	v.sival_int = 502;
	sigqueue(me, SIGRTMIN + 5, v);
	/* the thread is in read(): wait until it sleeps there */
	char p[64], st[64];
	for (int i = 0; i < 2000; i++) {
		snprintf(p, sizeof p, "/proc/self/task/%d/stat", tid);
		const char *b = read_file(p);
		const char *r = strrchr(b, ')');
		if (r && r[2] == 'S') break;
		usleep(1000);
	}
	(void)st;
	kobj_wait();
	/* the main thread sees none of the thread's */
	none(SIGRTMIN + 2, "main");
	want(SIGRTMIN + 5, 501, SI_QUEUE, "main");
	want(SIGRTMIN + 5, 502, SI_QUEUE, "main");
	none(SIGRTMIN + 5, "main");
	if (write(pfd[1], "g", 1) != 1) kobj_fail("write");
	pthread_join(t, NULL);
	none(SIGRTMIN + 3, "main");
	return kobj_done();
}
