/* A POSIX message queue: attributes (O_NONBLOCK, maxmsg, msgsize), three
 * messages queued with priorities, and an mq_notify registration. */
#include "kobj.h"
#include <mqueue.h>
#include <sys/wait.h>

static volatile sig_atomic_t notified;
static void onusr2(int s) { (void)s; notified = 1; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char name[64];
	snprintf(name, sizeof name, "/kobj-mq-%d", getpid());
	mq_unlink(name);
	struct mq_attr at = {.mq_maxmsg = 5, .mq_msgsize = 64};
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_NONBLOCK, 0640, &at);
	if (q < 0) DIE("mq_open: %s", strerror(errno));
	mqd_t n = mq_open(name, O_RDWR);
	if (n < 0) DIE("mq_open 2: %s", strerror(errno));
	mq_send(q, "low", 3, 1);
	mq_send(q, "high", 4, 9);
	mq_send(q, "mid", 3, 5);
	signal(SIGUSR2, onusr2);
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
	/* A registration on an empty queue: a second one. */
	char name2[64];
	snprintf(name2, sizeof name2, "/kobj-mq2-%d", getpid());
	mq_unlink(name2);
	mqd_t e = mq_open(name2, O_RDWR | O_CREAT, 0600, &at);
	if (e < 0 || mq_notify(e, &ev) < 0) DIE("mq_notify: %s", strerror(errno));
	kobj_wait();
	struct mq_attr got;
	if (mq_getattr(q, &got) < 0) kobj_fail("mq_getattr: %s", strerror(errno));
	CHECK(got.mq_flags == O_NONBLOCK, "flags %ld", got.mq_flags);
	CHECK(got.mq_maxmsg == 5 && got.mq_msgsize == 64, "maxmsg %ld msgsize %ld", got.mq_maxmsg, got.mq_msgsize);
	CHECK(got.mq_curmsgs == 3, "curmsgs %ld", got.mq_curmsgs);
	mq_getattr(n, &got);
	CHECK(got.mq_flags == 0, "second descriptor flags %ld", got.mq_flags);
	const char *want[] = {"high", "mid", "low"};
	unsigned wantp[] = {9, 5, 1};
	for (int i = 0; i < 3; i++) {
		char b[64] = {0};
		unsigned pr = 0;
		ssize_t k = mq_receive(q, b, sizeof b, &pr);
		CHECK(k >= 0 && strcmp(b, want[i]) == 0 && pr == wantp[i], "message %d: %zd %s prio %u", i, k, b, pr);
	}
	errno = 0;
	CHECK(mq_receive(q, (char[64]){0}, 64, NULL) < 0 && errno == EAGAIN, "empty nonblocking queue: %s", strerror(errno));
	/* The registration is still there: another is EBUSY, a message signals. */
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	mqd_t other = mq_open(name2, O_RDWR);
	pid_t c = fork();
	if (c == 0) _exit(mq_notify(other, &none) < 0 && errno == EBUSY ? 0 : 1);
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "notification not registered any more (another process could register)");
	sigset_t u2;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	mq_send(e, "x", 1, 0);
	for (int i = 0; i < 200 && !notified; i++) usleep(10000);
	CHECK(notified, "no SIGUSR2 from mq_notify");
	mq_unlink(name);
	mq_unlink(name2);
	return kobj_done();
}
