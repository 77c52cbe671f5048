/* kobj5b_sigqchild: signals a child queued before it ended: the child
 * (real uid 4321 by then) sigqueues SIGRTMIN+3 three times with values 5, 6,
 * 7 and exits with status 7, unreaped. The parent blocks SIGRTMIN+3 and
 * SIGCHLD. After the restart sigwaitinfo gives SIGCHLD (CLD_EXITED,
 * status 7, the child's pid and uid), then the three in order with
 * SI_QUEUE, the child's pid and uid 4321, and the child is still there
 * to reap with status 7. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 3);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, NULL);
	pid_t c = fork();
	if (c == 0) {
		/* Real uid 4321 (si_uid says it), effective 0: may signal root. */
		if (setresuid(4321, 0, 0)) _exit(3);
		for (int i = 0; i < 3; i++) sigqueue(getppid(), SIGRTMIN + 3, (union sigval){.sival_int = 5 + i});
		_exit(7);
	}
	siginfo_t si;
	if (waitid(P_PID, c, &si, WEXITED | WNOWAIT) || si.si_status != 7) DIE("child: status %d", si.si_status);
	kobj_wait();
	struct timespec z = {0, 0};
	int s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 7 && si.si_pid == c && si.si_uid == 4321,
	      "SIGCHLD: %d code %d status %d pid %d (child %d) uid %d", s, si.si_code, si.si_status, si.si_pid, c, si.si_uid);
	for (int i = 0; i < 3; i++) {
		s = sigtimedwait(&m, &si, &z);
		CHECK(s == SIGRTMIN + 3 && si.si_code == SI_QUEUE && si.si_pid == c && si.si_uid == 4321 && si.si_value.sival_int == 5 + i,
		      "queued %d: %d code %d pid %d uid %d value %d", i, s, si.si_code, si.si_pid, si.si_uid, si.si_value.sival_int);
	}
	CHECK(sigtimedwait(&m, &si, &z) < 0, "more pending");
	int st;
	CHECK(waitpid(c, &st, WNOHANG) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "reap: status %#x", st);
	return kobj_done();
}
