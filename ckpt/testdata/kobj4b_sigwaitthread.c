/* kobj4b_sigwaitthread: threads blocked waiting for signals across the
 * checkpoint: one in sigwaitinfo for SIGRTMIN+3, one in sigtimedwait for
 * SIGUSR2 with an hour's timeout, one in sigsuspend with SIGWINCH
 * unblocked. After the restart each gets its own signal (with its value)
 * and nothing else. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

static volatile pid_t tids[3];
static volatile int got[3] = {-1, -1, -1}, val[3], winch;
static void onwinch(int s) { (void)s; winch++; }

static void *run(void *a) {
	long i = (long)a;
	sigset_t m;
	sigemptyset(&m);
	tids[i] = syscall(SYS_gettid);
	siginfo_t si;
	if (i == 0) {
		sigaddset(&m, SIGRTMIN + 3);
		got[0] = sigwaitinfo(&m, &si);
		val[0] = si.si_value.sival_int;
	} else if (i == 1) {
		sigaddset(&m, SIGUSR2);
		struct timespec t = {3600, 0};
		got[1] = sigtimedwait(&m, &si, &t);
		val[1] = si.si_value.sival_int;
	} else {
		pthread_sigmask(SIG_BLOCK, NULL, &m);
		sigdelset(&m, SIGWINCH);
		sigsuspend(&m);
		got[2] = winch ? SIGWINCH : 0;
	}
	return NULL;
}

static int sendq(int tid, int sig, int v) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = v;
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGWINCH, onwinch);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 3);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	pthread_t th[3];
	for (long i = 0; i < 3; i++) pthread_create(&th[i], NULL, run, (void *)i);
	while (!tids[0] || !tids[1] || !tids[2]) usleep(1000);
	usleep(200000);
	kobj_wait();
	usleep(100000);
	CHECK(got[0] == -1 && got[1] == -1 && got[2] == -1, "a wait ended before its signal: %d %d %d", got[0], got[1], got[2]);
	sendq(tids[0], SIGRTMIN + 3, 33);
	sendq(tids[1], SIGUSR2, 22);
	syscall(SYS_tgkill, getpid(), tids[2], SIGWINCH);
	for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
	CHECK(got[0] == SIGRTMIN + 3 && val[0] == 33, "sigwaitinfo %d value %d", got[0], val[0]);
	CHECK(got[1] == SIGUSR2 && val[1] == 22, "sigtimedwait %d value %d", got[1], val[1]);
	CHECK(got[2] == SIGWINCH && winch == 1, "sigsuspend: %d, %d SIGWINCH", got[2], winch);
	return kobj_done();
}
