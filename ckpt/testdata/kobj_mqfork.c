/* A POSIX message queue shared with a forked child: the child holds the
 * queue's SIGEV_SIGNAL registration (to its own pid) and a second, empty
 * queue it waits on in a blocking mq_receive. After SIGUSR1 the parent
 * sends to the second queue (the child must get it), then to the first
 * (the child must be notified). The child says what it saw through a
 * pipe. */
#include "kobj.h"
#include <mqueue.h>
#include <sys/wait.h>

static volatile sig_atomic_t notified;
static void onusr2(int s) { (void)s; notified = 1; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char n1[64], n2[64];
	snprintf(n1, sizeof n1, "/kobj-mqf1-%d", getpid());
	snprintf(n2, sizeof n2, "/kobj-mqf2-%d", getpid());
	mq_unlink(n1), mq_unlink(n2);
	struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 32};
	mqd_t q1 = mq_open(n1, O_RDWR | O_CREAT, 0600, &at);
	mqd_t q2 = mq_open(n2, O_RDWR | O_CREAT, 0600, &at);
	if (q1 < 0 || q2 < 0) DIE("mq_open: %s", strerror(errno));
	int p[2], r[2];
	if (pipe(p) || pipe(r)) DIE("pipe: %s", strerror(errno));
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR2, onusr2);
		sigset_t u;
		sigemptyset(&u);
		sigaddset(&u, SIGUSR2);
		sigprocmask(SIG_UNBLOCK, &u, NULL);
		struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
		char ok = mq_notify(q1, &ev) == 0 ? 'r' : 'R';
		write(r[1], &ok, 1);
		char b[32] = {0};
		unsigned pr = 0;
		ssize_t k;
		do k = mq_receive(q2, b, sizeof b, &pr); /* blocking, across the checkpoint */
		while (k < 0 && errno == EINTR);
		char res[64];
		for (int i = 0; i < 1000 && !notified; i++) usleep(10000);
		snprintf(res, sizeof res, "%zd:%s:%u:%d", k, b, pr, (int)notified);
		write(p[1], res, strlen(res));
		_exit(0);
	}
	char ok = 0;
	if (read(r[0], &ok, 1) != 1 || ok != 'r') DIE("child's mq_notify failed");
	/* Wait until the child is in its blocking receive. */
	char st[256];
	snprintf(st, sizeof st, "/proc/%d/wchan", c);
	for (int i = 0; i < 1000; i++) {
		const char *w = read_file(st);
		if (strstr(w, "mq") || strstr(w, "hrtimeout") || strstr(w, "schedule")) break;
		usleep(1000);
	}
	kobj_wait();
	CHECK(mq_send(q2, "wake", 4, 7) == 0, "mq_send q2: %s", strerror(errno));
	CHECK(mq_send(q1, "note", 4, 1) == 0, "mq_send q1: %s", strerror(errno));
	char res[64] = {0};
	ssize_t k = read(p[0], res, sizeof res - 1);
	CHECK(k > 0 && strcmp(res, "4:wake:7:1") == 0, "child saw %s (want 4:wake:7:1)", res);
	int ws;
	waitpid(c, &ws, 0);
	mq_unlink(n1);
	mq_unlink(n2);
	return kobj_done();
}
