/* Per-thread signal masks and pending signals: a thread blocks SIGUSR2
 * and has it pending (tgkill), the process has SIGRTMIN+4 queued three
 * times with values and SIGTERM pending, blocked everywhere. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static pid_t tid2;
static volatile int check, result;
static char msg2[512];

static void *second(void *a) {
	(void)a;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	tid2 = syscall(SYS_gettid);
	while (!check) usleep(1000);
	sigset_t p, cur;
	sigpending(&p);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	int ok = sigismember(&p, SIGUSR2) && sigismember(&cur, SIGWINCH) && sigismember(&cur, SIGUSR2);
	snprintf(msg2, sizeof msg2, "thread: SIGUSR2 pending %d, blocked %d %d", sigismember(&p, SIGUSR2), sigismember(&cur, SIGUSR2), sigismember(&cur, SIGWINCH));
	siginfo_t si;
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGUSR2);
	struct timespec z = {0};
	int s = sigtimedwait(&w, &si, &z);
	ok = ok && s == SIGUSR2 && si.si_pid == getpid();
	snprintf(msg2 + strlen(msg2), sizeof msg2 - strlen(msg2), ", sigtimedwait %d code %d", s, si.si_code);
	result = ok ? 1 : 2;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 4);
	sigaddset(&m, SIGTERM);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	syscall(SYS_tgkill, getpid(), tid2, SIGUSR2);
	for (int i = 0; i < 3; i++) sigqueue(getpid(), SIGRTMIN + 4, (union sigval){.sival_int = 100 + i});
	kill(getpid(), SIGTERM);
	kobj_wait();
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGRTMIN + 4) && sigismember(&cur, SIGTERM) && !sigismember(&cur, SIGUSR2), "main thread mask");
	sigset_t p;
	sigpending(&p);
	CHECK(!sigismember(&p, SIGUSR2), "SIGUSR2 pending for the main thread");
	check = 1;
	pthread_join(th, NULL);
	CHECK(result == 1, "%s", msg2);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 4);
	struct timespec z = {0};
	for (int i = 0; i < 3; i++) {
		siginfo_t si;
		int s = sigtimedwait(&w, &si, &z);
		CHECK(s == SIGRTMIN + 4 && si.si_code == SI_QUEUE && si.si_value.sival_int == 100 + i && si.si_pid == getpid(),
		      "queued %d: sig %d code %d value %d pid %d", i, s, si.si_code, si.si_value.sival_int, si.si_pid);
	}
	siginfo_t si;
	CHECK(sigtimedwait(&w, &si, &z) < 0, "a fourth SIGRTMIN+4");
	sigemptyset(&w);
	sigaddset(&w, SIGTERM);
	CHECK(sigtimedwait(&w, &si, &z) == SIGTERM && si.si_code == SI_USER, "SIGTERM not pending");
	return kobj_done();
}
