/* Signal actions with SA_RESTART, SA_SIGINFO, SA_ONSTACK, SA_NODEFER,
 * SA_RESETHAND and masks, ignored and default ones, and an alternate
 * signal stack a handler runs on. */
#include "kobj.h"

static char stack[65536];
static volatile int onstack, calls;
static void h1(int s) { (void)s; }
static void h2(int s, siginfo_t *i, void *u) {
	(void)s; (void)i; (void)u;
	char here;
	onstack = &here >= stack && &here < stack + sizeof stack;
	calls++;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
	if (sigaltstack(&ss, NULL)) DIE("sigaltstack: %s", strerror(errno));
	struct sigaction a = {.sa_handler = h1, .sa_flags = SA_RESTART | SA_NODEFER};
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGINT);
	sigaction(SIGHUP, &a, NULL);
	struct sigaction b = {.sa_sigaction = h2, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND};
	sigemptyset(&b.sa_mask);
	sigaddset(&b.sa_mask, SIGRTMIN + 5);
	sigaction(SIGUSR2, &b, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	struct sigaction c = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDSTOP | SA_NOCLDWAIT};
	sigaction(SIGCHLD, &c, NULL);
	struct sigaction before[65];
	for (int i = 1; i < 65; i++) sigaction(i, NULL, &before[i]);
	kobj_wait();
	for (int i = 1; i < 65; i++) {
		struct sigaction now;
		if (sigaction(i, NULL, &now)) continue;
		if (i == SIGUSR1) continue;
		CHECK(now.sa_handler == before[i].sa_handler && now.sa_flags == before[i].sa_flags &&
		      memcmp(&now.sa_mask, &before[i].sa_mask, 8) == 0 && now.sa_restorer == before[i].sa_restorer,
		      "signal %d: handler %p flags %#x, was %p %#x", i, (void *)now.sa_handler, now.sa_flags, (void *)before[i].sa_handler, before[i].sa_flags);
	}
	stack_t g;
	sigaltstack(NULL, &g);
	CHECK(g.ss_sp == stack && g.ss_size == sizeof stack && g.ss_flags == 0, "altstack %p %zu %d", g.ss_sp, g.ss_size, g.ss_flags);
	raise(SIGUSR2);
	CHECK(calls == 1 && onstack, "handler calls %d on the alternate stack %d", calls, onstack);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	CHECK(now.sa_handler == SIG_DFL, "SA_RESETHAND did not reset");
	return kobj_done();
}
