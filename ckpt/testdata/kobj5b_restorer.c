/* kobj5b_restorer: actions set by the raw rt_sigaction: SIGUSR2 with
 * SA_RESTORER and a restorer of the program's, SIGHUP with a handler and
 * no SA_RESTORER at all, SIGTERM with flags 0x04000000|SA_SIGINFO and a
 * mask with SIGRTMAX. After the restart the raw rt_sigaction reads back
 * each handler, flags, restorer and mask exactly. */
#include "kobj.h"
#include <sys/syscall.h>

struct ksa {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

static void h1(int s) { (void)s; }
static void h2(int s) { (void)s; }
static void my_restorer(void) { syscall(SYS_rt_sigreturn); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct ksa a[3] = {
		{(void *)h1, 0x04000000 | SA_RESTART, (void *)my_restorer, 1UL << (SIGINT - 1)},
		{(void *)h2, SA_NODEFER, NULL, 0},
		{(void *)h1, 0x04000000 | SA_SIGINFO, (void *)my_restorer, 1UL << (SIGRTMAX - 1)},
	};
	int sigs[3] = {SIGUSR2, SIGHUP, SIGTERM};
	for (int i = 0; i < 3; i++)
		if (syscall(SYS_rt_sigaction, sigs[i], &a[i], NULL, 8)) DIE("rt_sigaction %d: %s", sigs[i], strerror(errno));
	struct ksa b[3];
	for (int i = 0; i < 3; i++) syscall(SYS_rt_sigaction, sigs[i], NULL, &b[i], 8);
	kobj_wait();
	for (int i = 0; i < 3; i++) {
		struct ksa g;
		syscall(SYS_rt_sigaction, sigs[i], NULL, &g, 8);
		CHECK(g.handler == b[i].handler && g.flags == b[i].flags && g.restorer == b[i].restorer && g.mask == b[i].mask,
		      "signal %d: %p %#lx %p %#lx, was %p %#lx %p %#lx", sigs[i], g.handler, g.flags, g.restorer, g.mask,
		      b[i].handler, b[i].flags, b[i].restorer, b[i].mask);
	}
	return kobj_done();
}
