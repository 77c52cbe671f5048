/* kobj3_sigignpend: a blocked signal whose action is SIG_IGN is still
 * queued (the kernel ignores it only unblocked): SIGUSR2 and SIGRTMIN+1
 * (value 7) pend so; after the restart they still pend, and run the
 * handler installed then. */
#include "kobj.h"

static volatile int got2, gotrt, rtval;

static void h(int s, siginfo_t *si, void *u) {
	(void)u;
	if (s == SIGUSR2) got2++;
	else { gotrt++; rtval = si->si_value.sival_int; }
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGRTMIN + 1, SIG_IGN);
	kill(getpid(), SIGUSR2);
	union sigval v = {.sival_int = 7};
	sigqueue(getpid(), SIGRTMIN + 1, v);
	sigset_t p;
	sigpending(&p);
	if (!sigismember(&p, SIGUSR2) || !sigismember(&p, SIGRTMIN + 1)) DIE("set-up: not pending");
	kobj_wait();
	sigpending(&p);
	CHECK(sigismember(&p, SIGUSR2), "SIGUSR2 no longer pending");
	CHECK(sigismember(&p, SIGRTMIN + 1), "SIGRTMIN+1 no longer pending");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO;
	struct sigaction old;
	sigaction(SIGUSR2, &sa, &old);
	CHECK(old.sa_handler == SIG_IGN, "SIGUSR2 was not SIG_IGN");
	sigaction(SIGRTMIN + 1, &sa, &old);
	CHECK(old.sa_handler == SIG_IGN, "SIGRTMIN+1 was not SIG_IGN");
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	CHECK(got2 == 1, "SIGUSR2 delivered %d times", got2);
	CHECK(gotrt == 1 && rtval == 7, "SIGRTMIN+1 delivered %d times, value %d", gotrt, rtval);
	return kobj_done();
}
