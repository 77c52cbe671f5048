/* Threads blocked with a timeout across the checkpoint: one in ppoll on a
 * pipe that stays empty, one in select, one in pselect, one in epoll_wait,
 * each for 3 s from the set-up. Each must come back with a timeout (0), not
 * an error, and not before its time (measured on CLOCK_MONOTONIC, which the
 * restart may move forward but never back: only a lower bound is
 * checked). epoll_wait is never restarted: after a stop, ptrace's as
 * SIGSTOP's, it fails with EINTR (signal(7)), which it may do here. */
#include "kobj.h"
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

static int pfd[2];
static struct timespec t0;
struct res { long ret; int err; double took; };
static struct res res[4];

static double since(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void *waiter(void *a) {
	long k = (long)a;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	long r = -1;
	do {
		errno = 0;
		switch (k) {
		case 0: {
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};
			struct timespec ts = {3, 0};
			r = ppoll(&p, 1, &ts, NULL);
			break;
		}
		case 1: {
			fd_set s;
			FD_ZERO(&s);
			FD_SET(pfd[0], &s);
			struct timeval tv = {3, 0};
			r = select(pfd[0] + 1, &s, NULL, NULL, &tv);
			break;
		}
		case 2: {
			fd_set s;
			FD_ZERO(&s);
			FD_SET(pfd[0], &s);
			struct timespec ts = {3, 0};
			r = pselect(pfd[0] + 1, &s, NULL, NULL, &ts, NULL);
			break;
		}
		case 3: {
			int ep = epoll_create1(0);
			struct epoll_event ev = {.events = EPOLLIN};
			epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
			r = epoll_wait(ep, &ev, 1, 3000);
			break;
		}
		}
	} while (0);
	res[k] = (struct res){r, errno, since()};
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (pipe(pfd)) DIE("pipe: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th[4];
	for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, waiter, (void *)i);
	kobj_wait();
	const char *name[] = {"ppoll", "select", "pselect", "epoll_wait"};
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (i == 3 && res[i].ret < 0 && res[i].err == EINTR) continue;
		CHECK(res[i].ret == 0, "%s returned %ld (%s)", name[i], res[i].ret, strerror(res[i].err));
		CHECK(res[i].took >= 2.999, "%s returned after %.3f s of its 3 s", name[i], res[i].took);
	}
	return kobj_done();
}
