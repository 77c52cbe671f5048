/* Two zombie children, one exited 42 and one killed by SIGTERM, not yet
 * reaped; their SIGCHLDs pending (blocked) with their siginfo. */
#include "kobj.h"
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigprocmask(SIG_BLOCK, &s, NULL);
	pid_t a = fork();
	if (a == 0) _exit(42);
	pid_t b = fork();
	if (b == 0) {
		for (;;) pause();
	}
	kill(b, SIGTERM);
	siginfo_t si;
	/* Wait until both are zombies, without reaping them. */
	for (int i = 0; i < 2; i++) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, i ? b : a, &si, WEXITED | WNOWAIT) < 0) DIE("waitid: %s", strerror(errno));
	}
	kobj_wait();
	int st;
	CHECK(waitpid(b, &st, WNOHANG) == b, "the killed child %d: no zombie", b);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "killed child status %#x", st);
	CHECK(waitpid(a, &st, WNOHANG) == a, "the exited child %d: no zombie", a);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "exited child status %#x", st);
	CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child left");
	struct timespec ts = {0, 0};
	int r = sigtimedwait(&s, &si, &ts);
	CHECK(r == SIGCHLD, "no SIGCHLD pending");
	return kobj_done();
}
