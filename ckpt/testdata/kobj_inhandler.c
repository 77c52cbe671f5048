/* Checkpointed inside a signal handler running on the alternate stack
 * (SA_ONSTACK, SA_SIGINFO): after the restart the handler sees
 * SS_ONSTACK, its siginfo, and returns to the interrupted code with the
 * mask of before. */
#include "kobj.h"

static char altstack[65536];
static volatile int after;
static int si_ok;

static void handler(int s, siginfo_t *si, void *uc) {
	(void)s; (void)uc;
	kobj_wait();
	stack_t ss;
	sigaltstack(NULL, &ss);
	CHECK(ss.ss_flags == SS_ONSTACK, "in the handler: altstack flags %d, want SS_ONSTACK", ss.ss_flags);
	si_ok = si->si_code == SI_QUEUE && si->si_value.sival_int == 4242;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGUSR2) && sigismember(&cur, SIGWINCH), "handler mask lost SIGUSR2 or its sa_mask");
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGWINCH);
	sigaction(SIGUSR2, &sa, NULL);
	sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 4242});
	after = 1;
	CHECK(si_ok, "siginfo in the handler");
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(!sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGWINCH) && sigismember(&cur, SIGUSR1), "mask after the handler");
	sigaltstack(NULL, &ss);
	CHECK(ss.ss_flags == 0, "after the handler: altstack flags %d", ss.ss_flags);
	return kobj_done();
}
