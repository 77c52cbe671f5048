/* A child stopped and continued whose continue the parent has not waited
 * for yet: waitpid(WCONTINUED) reports it once. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pid_t c = fork();
	if (c == 0) {
		/* Ends when the parent has checked, on SIGUSR2: ended on the
		 * SIGUSR1 sent to the group, it could be a zombie by then, whose
		 * exit waitpid would report instead of the continue. */
		signal(SIGUSR1, SIG_IGN);
		kobj_go = 0;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = kobj_onusr1;
		sigaction(SIGUSR2, &sa, NULL);
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR2);
		while (!kobj_go) sigsuspend(&cur);
		_exit(0);
	}
	int st;
	kill(c, SIGSTOP);
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st)) DIE("not stopped: %#x", st);
	kill(c, SIGCONT);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, c, &si, WCONTINUED | WNOWAIT) < 0 || si.si_code != CLD_CONTINUED) DIE("not continued: %d", si.si_code);
	kobj_wait();
	CHECK(waitpid(c, &st, WCONTINUED | WNOHANG) == c && WIFCONTINUED(st), "the continue is not reported (%#x)", st);
	kill(c, SIGUSR2);
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	return kobj_done();
}
