/* sigaltstack with SS_AUTODISARM kept, and an SA_ONSTACK handler that
 * runs on it (and disarms it while it runs). */
#include "kobj.h"
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static char stk[65536];
static volatile char *where;
static volatile int inflags = -1;
static void onusr2(int s) {
	(void)s;
	char c;
	where = &c;
	stack_t o;
	sigaltstack(NULL, &o);
	inflags = o.ss_flags;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	stack_t ss = {.ss_sp = stk, .ss_size = sizeof stk, .ss_flags = SS_AUTODISARM};
	if (sigaltstack(&ss, NULL) < 0) DIE("sigaltstack: %s", strerror(errno));
	struct sigaction sa = {.sa_handler = onusr2, .sa_flags = SA_ONSTACK};
	sigaction(SIGUSR2, &sa, NULL);
	kobj_wait();
	stack_t o;
	sigaltstack(NULL, &o);
	CHECK(o.ss_sp == stk && o.ss_size == sizeof stk, "altstack %p+%zu", o.ss_sp, o.ss_size);
	CHECK(o.ss_flags == SS_AUTODISARM, "altstack flags %#x, want SS_AUTODISARM", o.ss_flags);
	raise(SIGUSR2);
	CHECK(where >= stk && where < stk + sizeof stk, "handler ran at %p, not on the alt stack", (void *)where);
	CHECK(inflags == SS_DISABLE, "in the handler flags %#x, want SS_DISABLE (disarmed)", inflags);
	sigaltstack(NULL, &o);
	CHECK(o.ss_flags == SS_AUTODISARM, "after the handler flags %#x", o.ss_flags);
	return kobj_done();
}
