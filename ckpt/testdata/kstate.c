/*
 * kstate: kernel state a program cannot see lost until it uses it, for
 * checkpoint/restart tests.
 *
 * usage: kstate OUTFILE
 *
 * SIGTRAP is set to SIG_IGN. Two threads (main and "second") each have
 * glibc's rseq registration. The process registers for
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED (and _SYNC_CORE, _RSEQ where the
 * kernel has them). A timerfd armed for an hour has five expirations
 * counted and not read.
 *
 * Once ready, and every 50 ms after "go" appears in its working
 * directory until "stop" appears, it writes lines "NAME: what":
 *   trap: the SIGTRAP disposition (ign, dfl or handler)
 *   rseq-main, rseq-second: registering the thread's glibc rseq area
 *     again answers EBUSY while it is registered (0 would mean it was not)
 *   membarrier: the result of each registered command (0, or EPERM when
 *     the registration is lost)
 *   timerfd: the expirations counted and not read yet (peeked at in
 *     fdinfo), whether it is still armed, its interval
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static FILE *out;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int tfd;
static int mb_cmds[3], mb_n;

static int exists(const char *p) {
	struct stat st;
	return stat(p, &st) == 0;
}

static void nap(long ms) {
	struct timespec ts = {0, ms * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static void say(const char *name, const char *what) {
	pthread_mutex_lock(&mu);
	fprintf(out, "%s: %s\n", name, what);
	fflush(out);
	pthread_mutex_unlock(&mu);
}

static void rseq_report(const char *name) {
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
	long r = syscall(SYS_rseq, rs, __rseq_size > 32 ? __rseq_size : 32, 0, RSEQ_SIG);
	char buf[64];
	snprintf(buf, sizeof buf, "%s", r == 0 ? "registered-again" : errno == EBUSY ? "EBUSY" : strerror(errno));
	say(name, buf);
}

static void report(void) {
	struct sigaction sa;
	sigaction(SIGTRAP, NULL, &sa);
	say("trap", sa.sa_handler == SIG_IGN ? "ign" : sa.sa_handler == SIG_DFL ? "dfl" : "handler");
	rseq_report("rseq-main");
	char buf[128] = "";
	for (int i = 0; i < mb_n; i++) {
		long r = syscall(SYS_membarrier, mb_cmds[i], 0, 0);
		char one[32];
		snprintf(one, sizeof one, "%s%d=%s", i ? " " : "", mb_cmds[i], r == 0 ? "0" : strerror(errno));
		strncat(buf, one, sizeof buf - strlen(buf) - 1);
	}
	say("membarrier", buf);
	struct itimerspec its;
	timerfd_gettime(tfd, &its);
	/* The count is peeked at through fdinfo, not read: reading would
	 * reset it. */
	char path[64], line[256];
	unsigned long long ticks = 0;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", tfd);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		sscanf(line, "ticks: %llu", &ticks);
	if (f)
		fclose(f);
	snprintf(buf, sizeof buf, "ticks=%llu armed=%d interval=%lds", ticks, its.it_value.tv_sec != 0 || its.it_value.tv_nsec != 0,
		 (long)its.it_interval.tv_sec);
	say("timerfd", buf);
}

static void *second(void *arg) {
	(void)arg;
	rseq_report("rseq-second");
	while (!exists("go"))
		nap(20);
	while (!exists("stop")) {
		rseq_report("rseq-second");
		nap(50);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	out = fopen(argv[1], "a");
	signal(SIGTRAP, SIG_IGN);
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	struct { int reg, cmd; } mb[] = {
		{MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED},
		{MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE},
		{MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ},
	};
	for (int i = 0; i < 3; i++) {
		if (q > 0 && (q & mb[i].reg) && syscall(SYS_membarrier, mb[i].reg, 0, 0) == 0)
			mb_cmds[mb_n++] = mb[i].cmd;
	}
	/* Armed for an hour (interval an hour), with five expirations
	 * counted and not read: the kernel's own TFD_IOC_SET_TICKS makes the
	 * count exact, where real expirations would keep it moving. */
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec slow = {{3600, 0}, {3600, 0}};
	uint64_t five = 5;
	if (timerfd_settime(tfd, 0, &slow, NULL) != 0 || ioctl(tfd, TFD_IOC_SET_TICKS, &five) != 0) {
		perror("timerfd");
		return 2;
	}
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	report();
	while (!exists("go"))
		nap(20);
	while (!exists("stop")) {
		report();
		nap(50);
	}
	pthread_join(th, NULL);
	return 0;
}
