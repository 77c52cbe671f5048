/* kobj5a_sigtfdepoll: a signalfd (SIGUSR2 and SIGRTMIN+2 pending, blocked)
 * and timerfds in one epoll set: a one-shot one expired and not read,
 * one armed for an hour, a disarmed one. epoll reports the signalfd and the expired timerfd with their
 * data, not the others; the signalfd gives SIGUSR2 then SIGRTMIN+2. */
#include "kobj.h"
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	int sfd = signalfd(-1, &m, SFD_NONBLOCK);
	kill(getpid(), SIGUSR2);
	union sigval v = {.sival_int = 77};
	sigqueue(getpid(), SIGRTMIN + 2, v);
	int t1 = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int t2 = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	int t3 = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	struct itimerspec once = {.it_value = {0, 1000000}};
	struct itimerspec hour = {.it_value = {3600, 0}};
	timerfd_settime(t1, 0, &once, NULL);
	timerfd_settime(t2, 0, &hour, NULL);
	usleep(20000);
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN};
	int fds[] = {sfd, t1, t2, t3};
	for (int i = 0; i < 4; i++) {
		e.data.u64 = 0xabc0 + i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	kobj_wait();
	struct epoll_event got[8];
	int n = epoll_wait(ep, got, 8, 1000);
	unsigned seen = 0;
	for (int i = 0; i < n; i++) seen |= 1u << (got[i].data.u64 - 0xabc0);
	CHECK(n == 2 && seen == 3, "epoll reports %d events, mask %#x", n, seen);
	uint64_t c = 0;
	CHECK(read(t1, &c, 8) == 8 && c == 1, "t1 count %lu", (unsigned long)c);
	CHECK(read(t2, &c, 8) < 0 && errno == EAGAIN, "t2 expired");
	struct itimerspec cur;
	timerfd_gettime(t2, &cur);
	CHECK(cur.it_value.tv_sec > 3000, "t2 remaining %ld", (long)cur.it_value.tv_sec);
	timerfd_gettime(t3, &cur);
	CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "t3 armed");
	struct signalfd_siginfo si;
	CHECK(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "first signal %d", si.ssi_signo);
	CHECK(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == (unsigned)SIGRTMIN + 2 && si.ssi_int == 77, "second signal %d value %d", si.ssi_signo, si.ssi_int);
	n = epoll_wait(ep, got, 8, 0);
	CHECK(n == 0, "still %d events after reading all", n);
	return kobj_done();
}
