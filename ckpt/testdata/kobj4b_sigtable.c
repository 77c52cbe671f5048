/* kobj4b_sigtable: every catchable signal with an action of its own: a
 * handler (one of three, with SA_SIGINFO or not), SIG_IGN or SIG_DFL by
 * turns, each with its own mask (the next two signals) and flags
 * (SA_RESTART, SA_NODEFER, SA_ONSTACK, SA_RESETHAND by bits of its
 * number). After the restart sigaction reads back each exactly, and a
 * raised SIGRTMIN+7 runs its handler with its mask in force. */
#include "kobj.h"
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

static volatile int ran[3], maskok = -1;
static void h0(int s) { (void)s; ran[0]++; }
static void h1(int s) { (void)s; ran[1]++; }
static void h2(int s, siginfo_t *si, void *c) {
	(void)si; (void)c;
	ran[2]++;
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	if (s == SIGRTMIN + 7) maskok = sigismember(&now, SIGRTMIN + 8) && sigismember(&now, SIGRTMIN + 9);
}

static void want(int sig, struct sigaction *sa) {
	memset(sa, 0, sizeof *sa);
	switch (sig % 5) {
	case 0: sa->sa_handler = h0; break;
	case 1: sa->sa_handler = h1; break;
	case 2: sa->sa_sigaction = h2; sa->sa_flags = SA_SIGINFO; break;
	case 3: sa->sa_handler = SIG_IGN; break;
	case 4: sa->sa_handler = SIG_DFL; break;
	}
	if (sig & 1) sa->sa_flags |= SA_RESTART;
	if (sig & 2) sa->sa_flags |= SA_NODEFER;
	if (sig & 4) sa->sa_flags |= SA_ONSTACK;
	if ((sig & 8) && sig % 5 < 3 && sig != SIGRTMIN + 7) sa->sa_flags |= SA_RESETHAND;
	sigemptyset(&sa->sa_mask);
	for (int k = 1; k <= 2; k++)
		if (sig + k <= SIGRTMAX && sig + k != SIGKILL && sig + k != SIGSTOP) sigaddset(&sa->sa_mask, sig + k);
	if (sig == SIGRTMIN + 7) {
		sa->sa_sigaction = h2;
		sa->sa_flags = SA_SIGINFO | SA_RESTART;
	}
}

static int skip(int sig) { return sig == SIGKILL || sig == SIGSTOP || sig == SIGUSR1 || (sig > 31 && sig < SIGRTMIN); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		if (skip(sig)) continue;
		struct sigaction sa;
		want(sig, &sa);
		if (sigaction(sig, &sa, NULL)) DIE("sigaction %d: %s", sig, strerror(errno));
	}
	kobj_wait();
	int bad = 0;
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		if (skip(sig)) continue;
		struct sigaction w, g;
		want(sig, &w);
		sigaction(sig, NULL, &g);
		int same = g.sa_handler == w.sa_handler && (g.sa_flags & ~SA_RESTORER) == w.sa_flags;
		for (int k = 1; k <= SIGRTMAX; k++)
			if (k != SIGKILL && k != SIGSTOP && sigismember(&g.sa_mask, k) != sigismember(&w.sa_mask, k)) same = 0;
		if (!same && bad++ < 5) kobj_fail("signal %d: handler %p flags %#x, want %p %#x", sig, (void *)g.sa_handler, g.sa_flags, (void *)w.sa_handler, w.sa_flags);
	}
	CHECK(bad == 0, "%d actions differ", bad);
	raise(SIGRTMIN + 7);
	CHECK(ran[2] == 1 && maskok == 1, "SIGRTMIN+7: handler ran %d, mask in force %d", ran[2], maskok);
	return kobj_done();
}
