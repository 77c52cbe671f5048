/* kobj4b_nocldwait: SIGCHLD caught with SA_NOCLDWAIT|SA_SIGINFO: a child
 * that ends after the restart leaves no zombie (waitpid ECHILD) and the
 * handler still gets its SIGCHLD with its pid and status. */
#include "kobj.h"
#include <sys/wait.h>

static volatile pid_t from;
static volatile int status = -1;
static void onchld(int s, siginfo_t *si, void *c) {
	(void)s; (void)c;
	from = si->si_pid;
	status = si->si_status;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sigaction sa = {.sa_sigaction = onchld, .sa_flags = SA_SIGINFO | SA_NOCLDWAIT};
	sigaction(SIGCHLD, &sa, NULL);
	pid_t c = fork();
	if (c == 0) {
		kobj_go = 0;
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGUSR1);
		while (!kobj_go) sigsuspend(&cur);
		_exit(21);
	}
	kobj_wait();
	for (int i = 0; i < 300 && !from; i++) usleep(10000);
	CHECK(from == c && status == 21, "SIGCHLD from %d status %d, want %d 21", from, status, c);
	int st;
	errno = 0;
	CHECK(waitpid(-1, &st, 0) == -1 && errno == ECHILD, "a zombie is left (%s)", strerror(errno));
	struct sigaction now;
	sigaction(SIGCHLD, NULL, &now);
	CHECK((now.sa_flags & SA_NOCLDWAIT) && (now.sa_flags & SA_SIGINFO), "flags %#x", now.sa_flags);
	return kobj_done();
}
