/* kobj4b_sigqmany: 600 queued realtime signals, all blocked: SIGRTMIN+5
 * 500 times with values 0..499 (sigqueue), SIGRTMIN+1 60 times from a
 * child (kill: SI_USER, the child's pid and uid), SIGRTMIN+9 40 times
 * with values. sigwaitinfo takes them lowest number first, each number
 * in its order, with si_code, si_pid and si_value as sent. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 1);
	sigaddset(&m, SIGRTMIN + 5);
	sigaddset(&m, SIGRTMIN + 9);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pid_t me = getpid();
	for (int i = 0; i < 500; i++)
		if (sigqueue(me, SIGRTMIN + 5, (union sigval){.sival_int = i})) DIE("sigqueue %d: %s", i, strerror(errno));
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < 60; i++) kill(getppid(), SIGRTMIN + 1);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	for (int i = 0; i < 40; i++) sigqueue(me, SIGRTMIN + 9, (union sigval){.sival_int = 1000 + i});
	kobj_wait();
	siginfo_t si;
	struct timespec zero = {0, 0};
	for (int i = 0; i < 60; i++) {
		int s = sigtimedwait(&m, &si, &zero);
		if (s != SIGRTMIN + 1 || si.si_code != SI_USER || si.si_pid != c) {
			kobj_fail("take %d: signal %d code %d pid %d, want %d SI_USER from %d", i, s, si.si_code, si.si_pid, SIGRTMIN + 1, c);
			break;
		}
	}
	for (int i = 0; i < 500; i++) {
		int s = sigtimedwait(&m, &si, &zero);
		if (s != SIGRTMIN + 5 || si.si_code != SI_QUEUE || si.si_value.sival_int != i || si.si_pid != me) {
			kobj_fail("take %d: signal %d code %d value %d pid %d, want %d SI_QUEUE %d", 60 + i, s, si.si_code, si.si_value.sival_int, si.si_pid, SIGRTMIN + 5, i);
			break;
		}
	}
	for (int i = 0; i < 40; i++) {
		int s = sigtimedwait(&m, &si, &zero);
		if (s != SIGRTMIN + 9 || si.si_value.sival_int != 1000 + i) {
			kobj_fail("take %d: signal %d value %d, want %d %d", 560 + i, s, si.si_value.sival_int, SIGRTMIN + 9, 1000 + i);
			break;
		}
	}
	CHECK(sigtimedwait(&m, &si, &zero) == -1 && errno == EAGAIN, "a signal more than sent");
	return kobj_done();
}
