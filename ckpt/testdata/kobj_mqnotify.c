/* POSIX message queues holding messages, each with an mq_notify
 * (SIGEV_NONE) registration, in patterns of priorities: one message; all
 * of priority 0; two groups of two; a queue of two slots with one. The
 * registrations must still be there after the checkpoint (a queue left
 * empty, then given a message, would have fired and lost it) and the
 * messages in their order. */
#include "kobj.h"
#include <mqueue.h>
#include <sys/wait.h>

#define NQ 4
static const unsigned prios[NQ][4] = {{3}, {0, 0, 0}, {7, 7, 2, 2}, {31000}};
static const int count[NQ] = {1, 3, 4, 1};
static const long maxmsg[NQ] = {4, 4, 8, 2};

static int busy_elsewhere(const char *name) {
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	pid_t c = fork();
	if (c == 0) {
		mqd_t o = mq_open(name, O_RDWR);
		_exit(o >= 0 && mq_notify(o, &none) < 0 && errno == EBUSY ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char names[NQ][64];
	mqd_t q[NQ];
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	for (int i = 0; i < NQ; i++) {
		snprintf(names[i], 64, "/kobj-mqn%d-%d", i, getpid());
		mq_unlink(names[i]);
		struct mq_attr at = {.mq_maxmsg = maxmsg[i], .mq_msgsize = 16};
		q[i] = mq_open(names[i], O_RDWR | O_CREAT | O_NONBLOCK, 0600, &at);
		if (q[i] < 0) DIE("mq_open %d: %s", i, strerror(errno));
		for (int k = 0; k < count[i]; k++) {
			char m[16];
			snprintf(m, sizeof m, "q%d-m%d", i, k);
			if (mq_send(q[i], m, strlen(m), prios[i][k])) DIE("mq_send: %s", strerror(errno));
		}
		if (mq_notify(q[i], &none)) DIE("mq_notify %d: %s", i, strerror(errno));
	}
	kobj_wait();
	for (int i = 0; i < NQ; i++) {
		CHECK(busy_elsewhere(names[i]), "queue %d: its registration is gone", i);
		/* Expected order: by priority, then as sent. */
		int order[4], n = 0;
		for (unsigned p = 32768; p-- > 0 && n < count[i];)
			for (int k = 0; k < count[i]; k++)
				if (prios[i][k] == p) order[n++] = k;
		for (int k = 0; k < count[i]; k++) {
			char b[16] = {0}, want[16];
			unsigned pr;
			snprintf(want, sizeof want, "q%d-m%d", i, order[k]);
			ssize_t r = mq_receive(q[i], b, sizeof b, &pr);
			CHECK(r > 0 && strcmp(b, want) == 0 && pr == prios[i][order[k]], "queue %d message %d: %s prio %u, want %s", i, k, b, pr, want);
		}
		CHECK(mq_receive(q[i], (char[16]){0}, 16, NULL) < 0 && errno == EAGAIN, "queue %d: a message more", i);
		mq_unlink(names[i]);
	}
	return kobj_done();
}
