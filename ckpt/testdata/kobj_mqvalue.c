/* mq_notify SIGEV_SIGNAL registrations with their sigev_value: an empty
 * queue (SIGRTMIN+1, a pointer-sized value), one holding messages
 * (SIGRTMIN+1, another value) and one with a standard signal (SIGUSR2).
 * After the checkpoint no signal of theirs is pending (the checkpoint
 * fires each registration to read its value and takes its signal back),
 * each registration is still there, and a message arriving in the empty
 * queue brings the signal with SI_MESGQ and the value exactly. With
 * "pending", SIGUSR2 is pending already (raised): the value of its
 * registration cannot be read, the checkpoint is refused. */
#include "kobj.h"
#include <mqueue.h>

#define NQ 3
static const int nmsg[NQ] = {0, 2, 0};

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const int sigs[NQ] = {SIGRTMIN + 1, SIGRTMIN + 1, SIGUSR2};
	const unsigned long vals[NQ] = {0x7ffd12345678UL, 0x1122334455667788UL, 77};
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	char names[NQ][64];
	mqd_t q[NQ];
	for (int i = 0; i < NQ; i++) {
		snprintf(names[i], 64, "/kobj-mqv%d-%d", i, getpid());
		mq_unlink(names[i]);
		struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 32};
		q[i] = mq_open(names[i], O_RDWR | O_CREAT | O_NONBLOCK, 0600, &at);
		if (q[i] < 0) DIE("mq_open %d: %s", i, strerror(errno));
		for (int k = 0; k < nmsg[i]; k++) {
			char b[32];
			snprintf(b, sizeof b, "q%d-%d", i, k);
			if (mq_send(q[i], b, strlen(b), k)) DIE("mq_send: %s", strerror(errno));
		}
		struct sigevent e = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sigs[i]};
		e.sigev_value.sival_ptr = (void *)vals[i];
		if (mq_notify(q[i], &e)) DIE("mq_notify %d: %s", i, strerror(errno));
	}
	int pending = argc > 2 && strcmp(argv[2], "pending") == 0;
	if (pending) raise(SIGUSR2);
	kobj_wait();
	if (pending) {
		sigset_t w;
		sigemptyset(&w);
		sigaddset(&w, SIGUSR2);
		siginfo_t si;
		struct timespec z = {0, 0};
		int s = sigtimedwait(&w, &si, &z);
		CHECK(s == SIGUSR2 && si.si_pid == getpid() && si.si_code <= 0, "the raised SIGUSR2: %d code %d", s, s > 0 ? si.si_code : 0);
	}
	sigset_t pend;
	sigpending(&pend);
	CHECK(!sigismember(&pend, SIGRTMIN + 1) && !sigismember(&pend, SIGUSR2), "a signal of a registration is pending before any message came");
	for (int i = 0; i < NQ; i++) {
		for (int k = nmsg[i] - 1; k >= 0; k--) {
			char b[33] = {0}, want[32];
			unsigned pr;
			snprintf(want, sizeof want, "q%d-%d", i, k);
			ssize_t r = mq_receive(q[i], b, 32, &pr);
			CHECK(r > 0 && strcmp(b, want) == 0, "queue %d message: %s, want %s", i, r > 0 ? b : strerror(errno), want);
		}
		if (mq_send(q[i], "go", 2, 0)) kobj_fail("mq_send %d: %s", i, strerror(errno));
		sigset_t w;
		sigemptyset(&w);
		sigaddset(&w, sigs[i]);
		siginfo_t si;
		struct timespec z = {0, 0};
		int s = sigtimedwait(&w, &si, &z);
		CHECK(s == sigs[i] && si.si_code == SI_MESGQ && (unsigned long)si.si_value.sival_ptr == vals[i],
		      "queue %d: signal %d code %d value %#lx, want %d SI_MESGQ %#lx", i, s, s > 0 ? si.si_code : 0,
		      s > 0 ? (unsigned long)si.si_value.sival_ptr : 0, sigs[i], vals[i]);
		mq_unlink(names[i]);
	}
	return kobj_done();
}
