/* Threads blocked in calls with a timeout: FUTEX_WAIT (relative),
 * FUTEX_WAIT_BITSET (absolute CLOCK_MONOTONIC), rt_sigtimedwait,
 * epoll_wait, semtimedop and recv on a socket with SO_RCVTIMEO (the last
 * four end with EINTR on a plain stop, signal(7)). Each must end as it would have without the checkpoint:
 * ETIMEDOUT / EAGAIN / 0 events, never EINTR, never before its time. */
#include "kobj.h"
#include <sched.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define WAIT_S 12
#define NW 6
static int semid, sock;
static int word;
static struct timespec t0;
static volatile int rc[NW], err[NW], started[NW];
static double took[NW];

static double since0(void) {
	struct timespec n;
	clock_gettime(CLOCK_MONOTONIC, &n);
	return (n.tv_sec - t0.tv_sec) + (n.tv_nsec - t0.tv_nsec) / 1e9;
}

static void *w(void *a) {
	long i = (long)a;
	struct timespec rel = {WAIT_S, 0};
	struct timespec abs = {t0.tv_sec + WAIT_S, t0.tv_nsec};
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 3);
	int ep = epoll_create1(0);
	started[i] = 1;
	switch (i) {
	case 0: rc[i] = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0); break;
	case 1: rc[i] = syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY); break;
	case 2: rc[i] = sigtimedwait(&s, NULL, &rel); break;
	case 3: {
		struct epoll_event ev;
		rc[i] = epoll_wait(ep, &ev, 1, WAIT_S * 1000);
		break;
	}
	case 4: {
		struct sembuf op = {0, -1, 0};
		rc[i] = semtimedop(semid, &op, 1, &rel);
		break;
	}
	case 5: {
		char b;
		rc[i] = recv(sock, &b, 1, 0);
		break;
	}
	}
	err[i] = errno;
	took[i] = since0();
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &s, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* An IPC namespace of its own: the restart brings its semaphores back. */
	if (unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	semid = semget(IPC_PRIVATE, 1, 0600);
	if (semid < 0) DIE("semget: %s", strerror(errno));
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) DIE("socketpair");
	sock = sv[0];
	struct timeval tv = {WAIT_S, 0};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pthread_t th[NW];
	for (long i = 0; i < NW; i++) pthread_create(&th[i], NULL, w, (void *)i);
	for (int i = 0; i < NW; i++)
		while (!started[i]) usleep(1000);
	usleep(100000);
	kobj_wait();
	for (int i = 0; i < NW; i++) pthread_join(th[i], NULL);
	const char *names[] = {"FUTEX_WAIT", "FUTEX_WAIT_BITSET", "sigtimedwait", "epoll_wait", "semtimedop", "recv SO_RCVTIMEO"};
	int wanterr[] = {ETIMEDOUT, ETIMEDOUT, EAGAIN, 0, EAGAIN, EAGAIN};
	for (int i = 0; i < NW; i++) {
		if (i == 3)
			CHECK(rc[i] == 0, "%s returned %d (%s)", names[i], rc[i], strerror(err[i]));
		else
			CHECK(rc[i] == -1 && err[i] == wanterr[i], "%s returned %d (%s)", names[i], rc[i], strerror(err[i]));
		/* Never before its time (later is the checkpoint's pause). */
		CHECK(took[i] >= WAIT_S - 0.05, "%s ended after %.2f s of %d", names[i], took[i], WAIT_S);
	}
	return kobj_done();
}
