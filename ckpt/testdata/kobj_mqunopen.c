/* Named POSIX message queues of the job's own IPC namespace that no
 * process has open: one with messages of several priorities, one empty
 * with mode 0640. Both must still exist, same sizes, mode, messages in
 * order, after the checkpoint and after the restart. */
#include "kobj.h"
#include <mqueue.h>
#include <sched.h>
#include <sys/stat.h>

static const unsigned prio[] = {2, 9, 2, 0};

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWIPC)) DIE("unshare: %s", strerror(errno));
	struct mq_attr a = {.mq_maxmsg = 6, .mq_msgsize = 40};
	mqd_t q = mq_open("/kobj-unopen-full", O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	if (q < 0) DIE("mq_open: %s", strerror(errno));
	for (int i = 0; i < 4; i++) {
		char m[40];
		snprintf(m, sizeof m, "msg-%d", i);
		if (mq_send(q, m, strlen(m), prio[i])) DIE("mq_send: %s", strerror(errno));
	}
	mq_close(q);
	umask(0);
	struct mq_attr b = {.mq_maxmsg = 3, .mq_msgsize = 100};
	q = mq_open("/kobj-unopen-empty", O_RDWR | O_CREAT | O_EXCL, 0640, &b);
	if (q < 0) DIE("mq_open: %s", strerror(errno));
	mq_close(q);
	kobj_wait();
	q = mq_open("/kobj-unopen-empty", O_RDONLY);
	if (q < 0) {
		kobj_fail("empty queue: %s", strerror(errno));
	} else {
		struct mq_attr g;
		struct stat st;
		mq_getattr(q, &g);
		fstat(q, &st);
		CHECK(g.mq_maxmsg == 3 && g.mq_msgsize == 100 && g.mq_curmsgs == 0 && (st.st_mode & 0777) == 0640,
		      "empty queue: maxmsg %ld msgsize %ld curmsgs %ld mode %o", g.mq_maxmsg, g.mq_msgsize, g.mq_curmsgs, st.st_mode & 0777);
	}
	q = mq_open("/kobj-unopen-full", O_RDONLY | O_NONBLOCK);
	if (q < 0) {
		kobj_fail("queue with messages: %s", strerror(errno));
	} else {
		struct mq_attr g;
		mq_getattr(q, &g);
		CHECK(g.mq_maxmsg == 6 && g.mq_msgsize == 40 && g.mq_curmsgs == 4, "queue: maxmsg %ld msgsize %ld curmsgs %ld", g.mq_maxmsg, g.mq_msgsize, g.mq_curmsgs);
		const int order[] = {1, 0, 2, 3};
		for (int i = 0; i < 4; i++) {
			char m[41] = {0}, want[40];
			unsigned p = 99;
			ssize_t n = mq_receive(q, m, 40, &p);
			snprintf(want, sizeof want, "msg-%d", order[i]);
			CHECK(n > 0 && strcmp(m, want) == 0 && p == prio[order[i]], "message %d: %s prio %u, want %s", i, n > 0 ? m : strerror(errno), p, want);
		}
	}
	return kobj_done();
}
