/* kobj3_altinuse: the checkpoint comes while a SIGUSR2 handler runs on the
 * alternate stack (SA_ONSTACK|SA_NODEFER): sigaltstack says SS_ONSTACK, the
 * handler's frame is on it, and it returns to the interrupted code. */
#include "kobj.h"

static char alt[65536];
static volatile int inside, returned, onstack;
static volatile int depth;

static void h(int s) {
	(void)s;
	char here;
	onstack = &here >= alt && &here < alt + sizeof alt;
	stack_t cur;
	sigaltstack(NULL, &cur);
	inside = cur.ss_flags & SS_ONSTACK;
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	CHECK(!sigismember(&m, SIGUSR2), "SA_NODEFER: SIGUSR2 blocked in its handler");
	kobj_wait();
	sigaltstack(NULL, &cur);
	CHECK(cur.ss_flags & SS_ONSTACK, "after the restart not SS_ONSTACK");
	CHECK(cur.ss_sp == alt && cur.ss_size == sizeof alt, "alt stack %p/%zu", cur.ss_sp, cur.ss_size);
	CHECK(&here >= alt && &here < alt + sizeof alt, "frame off the alt stack");
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	if (sigaltstack(&ss, NULL)) DIE("sigaltstack");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	sigaction(SIGUSR2, &sa, NULL);
	volatile int before = 12345;
	raise(SIGUSR2);
	returned = 1;
	CHECK(onstack && inside, "the handler was not on the alt stack");
	CHECK(before == 12345, "the interrupted frame");
	stack_t cur;
	sigaltstack(NULL, &cur);
	CHECK(!(cur.ss_flags & SS_ONSTACK), "still SS_ONSTACK after the handler");
	return kobj_done();
}
