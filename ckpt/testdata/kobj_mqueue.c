/* POSIX message queues: attributes (O_NONBLOCK of each description,
 * maxmsg, msgsize), owner and mode, three messages queued with priorities
 * (two of one priority, in their order), an unlinked queue still open with
 * a message, an mq_notify SIGEV_SIGNAL registration on an empty queue and
 * a SIGEV_NONE one on another. Argument "ns": all in an IPC namespace of
 * the program's own. "busy": a registration also on the queue holding
 * messages (the checkpoint must read them without firing it). "full": the
 * same on a full queue (refused). "thread": a SIGEV_THREAD registration
 * (refused). */
#include "kobj.h"
#include <mqueue.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t notified;
static siginfo_t notinfo;
static void onusr2(int s, siginfo_t *si, void *u) { (void)s; (void)u; notinfo = *si; notified = 1; }
static void onthread(union sigval v) { (void)v; }

/* busy_elsewhere: another process cannot register on the queue name
 * (someone holds the registration). */
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
	const char *mode = argc > 2 ? argv[2] : "";
	int ns = strcmp(mode, "ns") == 0;
	if (ns && unshare(CLONE_NEWIPC) < 0) DIE("unshare ipc: %s", strerror(errno));
	/* In its own namespace: limits of its own, and a queue above the
	 * default msg_max (10). */
	mqd_t big = -1;
	if (ns) {
		FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "w");
		if (!f || fprintf(f, "64\n") < 0 || fclose(f)) DIE("msg_max: %s", strerror(errno));
		struct mq_attr bat = {.mq_maxmsg = 50, .mq_msgsize = 32};
		big = mq_open("/kobj-mq-big", O_RDWR | O_CREAT, 0600, &bat);
		if (big < 0) DIE("mq_open big: %s", strerror(errno));
		for (int i = 0; i < 20; i++) mq_send(big, (char *)&i, sizeof i, i % 3);
	}
	char name[64], name2[64], name3[64], name4[64];
	snprintf(name, sizeof name, "/kobj-mq-%d", getpid());
	snprintf(name2, sizeof name2, "/kobj-mq2-%d", getpid());
	snprintf(name3, sizeof name3, "/kobj-mq3-%d", getpid());
	snprintf(name4, sizeof name4, "/kobj-mq4-%d", getpid());
	mq_unlink(name), mq_unlink(name2), mq_unlink(name3), mq_unlink(name4);
	umask(0);
	struct mq_attr at = {.mq_maxmsg = 5, .mq_msgsize = 64};
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_NONBLOCK, 0640, &at);
	if (q < 0) DIE("mq_open: %s", strerror(errno));
	if (fchown(q, 1234, 4321) < 0) DIE("fchown: %s", strerror(errno));
	mqd_t n = mq_open(name, O_RDWR);
	if (n < 0) DIE("mq_open 2: %s", strerror(errno));
	mq_send(q, "low", 3, 1);
	mq_send(q, "high", 4, 9);
	mq_send(q, "mid", 3, 5);
	mq_send(q, "mid2", 4, 5);
	struct sigaction sa = {.sa_sigaction = onusr2, .sa_flags = SA_SIGINFO};
	sigaction(SIGUSR2, &sa, NULL);
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
	mqd_t e = mq_open(name2, O_RDWR | O_CREAT, 0600, &at);
	if (e < 0 || mq_notify(e, &ev) < 0) DIE("mq_notify: %s", strerror(errno));
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	mqd_t s = mq_open(name3, O_RDWR | O_CREAT, 0600, &at);
	if (s < 0 || mq_notify(s, &none) < 0) DIE("mq_notify none: %s", strerror(errno));
	/* An unlinked queue, still open, with a message; a queue of its name
	 * made again, with another. */
	struct mq_attr at2 = {.mq_maxmsg = 3, .mq_msgsize = 16};
	mqd_t u = mq_open(name4, O_RDWR | O_CREAT, 0600, &at2);
	if (u < 0 || mq_send(u, "gone", 4, 3) < 0) DIE("unlinked queue: %s", strerror(errno));
	mq_unlink(name4);
	mqd_t u2 = mq_open(name4, O_RDWR | O_CREAT, 0600, &at);
	if (u2 < 0 || mq_send(u2, "new", 3, 2) < 0) DIE("queue of the same name: %s", strerror(errno));
	int busy = strcmp(mode, "busy") == 0 || strcmp(mode, "full") == 0;
	if (strcmp(mode, "full") == 0) mq_send(q, "fill", 4, 1);
	if (busy && mq_notify(q, &ev) < 0) DIE("mq_notify busy: %s", strerror(errno));
	if (strcmp(mode, "thread") == 0) {
		struct sigevent th = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = onthread};
		if (mq_notify(u2, &th) < 0) DIE("mq_notify thread: %s", strerror(errno));
	}
	kobj_wait();
	struct mq_attr got;
	if (mq_getattr(q, &got) < 0) kobj_fail("mq_getattr: %s", strerror(errno));
	CHECK(got.mq_flags == O_NONBLOCK, "flags %ld", got.mq_flags);
	CHECK(got.mq_maxmsg == 5 && got.mq_msgsize == 64, "maxmsg %ld msgsize %ld", got.mq_maxmsg, got.mq_msgsize);
	CHECK(got.mq_curmsgs == 4 + (strcmp(mode, "full") == 0), "curmsgs %ld", got.mq_curmsgs);
	struct stat st;
	fstat(q, &st);
	CHECK((st.st_mode & 07777) == 0640 && st.st_uid == 1234 && st.st_gid == 4321, "mode %o owner %d:%d", st.st_mode & 07777, st.st_uid, st.st_gid);
	mq_getattr(n, &got);
	CHECK(got.mq_flags == 0, "second descriptor flags %ld", got.mq_flags);
	CHECK(!notified, "SIGUSR2 from mq_notify before any message");
	{
		const char *want[] = {"high", "mid", "mid2", "low", "fill"};
		unsigned wantp[] = {9, 5, 5, 1, 1};
		for (int i = 0; i < 4 + (strcmp(mode, "full") == 0); i++) {
			char b[64] = {0};
			unsigned pr = 0;
			ssize_t k = mq_receive(q, b, sizeof b, &pr);
			CHECK(k >= 0 && strcmp(b, want[i]) == 0 && pr == wantp[i], "message %d: %zd %s prio %u", i, k, b, pr);
		}
		errno = 0;
		CHECK(mq_receive(q, (char[64]){0}, 64, NULL) < 0 && errno == EAGAIN, "empty nonblocking queue: %s", strerror(errno));
	}
	if (busy) {
		/* The registration on the queue that held messages is there,
		 * unfired: a message in the now empty queue fires it. */
		CHECK(busy_elsewhere(name), "the registration of the queue with messages is gone");
		CHECK(!notified, "SIGUSR2 from the registration of the queue with messages, early");
		mq_send(q, "z", 1, 0);
		for (int i = 0; i < 500 && !notified; i++) usleep(10000);
		CHECK(notified, "no SIGUSR2 from the registration of the queue with messages");
		notified = 0;
		mq_receive(q, (char[64]){0}, 64, NULL);
	}
	if (ns) {
		CHECK(atoi(read_file("/proc/sys/fs/mqueue/msg_max")) == 64, "msg_max %s", read_file("/proc/sys/fs/mqueue/msg_max"));
		mq_getattr(big, &got);
		CHECK(got.mq_maxmsg == 50 && got.mq_curmsgs == 20, "big queue: maxmsg %ld curmsgs %ld", got.mq_maxmsg, got.mq_curmsgs);
		for (int i = 0; i < 20; i++) {
			int want = i < 6 ? 2 + 3 * i : i < 13 ? 1 + 3 * (i - 6) : 3 * (i - 13), v = -1;
			unsigned p2;
			mq_receive(big, (char *)&v, 32, &p2);
			if (v != want) {
				kobj_fail("big queue message %d: %d, want %d", i, v, want);
				break;
			}
		}
	}
	char b[64] = {0};
	unsigned pr = 0;
	/* Bounded, so that a message that did not come back fails, not hangs. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	mq_getattr(u, &got);
	CHECK(got.mq_maxmsg == 3 && got.mq_msgsize == 16 && got.mq_curmsgs == 1, "unlinked queue: maxmsg %ld msgsize %ld curmsgs %ld", got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs);
	CHECK(mq_timedreceive(u, b, sizeof b, &pr, &dl) == 4 && strcmp(b, "gone") == 0 && pr == 3, "unlinked queue's message %s prio %u", b, pr);
	memset(b, 0, sizeof b);
	CHECK(mq_timedreceive(u2, b, sizeof b, &pr, &dl) == 3 && strcmp(b, "new") == 0 && pr == 2, "second queue of the name: message %s prio %u", b, pr);
	/* The registrations are still there: another is EBUSY, a message
	 * signals (SIGEV_SIGNAL), none is sent and it goes (SIGEV_NONE). */
	CHECK(busy_elsewhere(name2), "SIGEV_SIGNAL notification not registered any more (another process could register)");
	CHECK(busy_elsewhere(name3), "SIGEV_NONE notification not registered any more");
	CHECK(!notified, "SIGUSR2 from mq_notify before any message");
	mq_send(e, "x", 1, 0);
	for (int i = 0; i < 500 && !notified; i++) usleep(10000);
	CHECK(notified && notinfo.si_code == SI_MESGQ, "no SIGUSR2 from mq_notify (code %d)", notinfo.si_code);
	mq_send(s, "y", 1, 0);
	CHECK(!busy_elsewhere(name3), "SIGEV_NONE registration still there after a message");
	mq_unlink(name);
	mq_unlink(name2);
	mq_unlink(name3);
	mq_unlink(name4);
	return kobj_done();
}
