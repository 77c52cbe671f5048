/*
 * attrs: process attributes the kernel keeps outside memory, files and
 * credentials proper, for checkpoint/restart tests.
 *
 * usage: attrs OUTFILE
 *
 * Started as root, the process sets its filesystem ids (fsuid 4321,
 * fsgid 1234, real and effective ids staying 0), its loginuid (4242), its
 * oom_score_adj (345), PR_SET_CHILD_SUBREAPER and PR_SET_THP_DISABLE, and
 * runs five threads with their own scheduling: the main thread SCHED_BATCH
 * at nice 7, then SCHED_IDLE, SCHED_FIFO 5 with SCHED_RESET_ON_FORK,
 * SCHED_RR 3, SCHED_OTHER at nice 3 (this one with the parent-death signal
 * SIGUSR2, which must not come: the restarted root's parent lives on).
 * A child process sets its parent-death
 * signal (SIGUSR1) and its own thread-level one on a second thread
 * (SIGUSR2), and waits.
 *
 * Each of them writes one line "NAME: what it reads of itself" to OUTFILE
 * once everything is set ("before"), then again every 50 ms after the
 * file "go" appears in its working directory, until "stop" appears.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* struct sched_attr (SCHED_ATTR_SIZE_VER1), declared here: glibc and the
 * kernel headers disagree on struct sched_param. */
struct attr {
	unsigned size, sched_policy;
	unsigned long long sched_flags;
	int sched_nice;
	unsigned sched_priority;
	unsigned long long sched_runtime, sched_deadline, sched_period;
	unsigned sched_util_min, sched_util_max;
};
#define SCHED_FLAG_RESET_ON_FORK 0x01

static FILE *out;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t ready;

static int exists(const char *p) {
	struct stat st;
	return stat(p, &st) == 0;
}

static void nap(void) {
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static void say(const char *name, const char *what) {
	pthread_mutex_lock(&mu);
	fprintf(out, "%s: %s\n", name, what);
	fflush(out);
	pthread_mutex_unlock(&mu);
}

static void readfile(const char *path, char *buf, size_t n) {
	int fd = open(path, O_RDONLY);
	ssize_t got = fd < 0 ? -1 : read(fd, buf, n - 1);
	if (fd >= 0)
		close(fd);
	if (got < 0)
		got = 0;
	buf[got] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* sched describes the calling thread's scheduling. */
static void sched(char *buf, size_t n) {
	struct attr a = {0};
	if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) {
		snprintf(buf, n, "sched_getattr: %m");
		return;
	}
	snprintf(buf, n, "policy=%u prio=%u nice=%d reset_on_fork=%d", a.sched_policy, a.sched_priority,
		 a.sched_nice, (a.sched_flags & SCHED_FLAG_RESET_ON_FORK) != 0);
}

static int setsched(int policy, int prio, int nice, int reset) {
	struct attr a = {.size = sizeof a, .sched_policy = policy, .sched_priority = prio, .sched_nice = nice};
	if (reset)
		a.sched_flags = SCHED_FLAG_RESET_ON_FORK;
	return syscall(SYS_sched_setattr, 0, &a, 0);
}

struct th {
	const char *name;
	int policy, prio, nice, reset;
	int pdeath; /* in the child: PR_SET_PDEATHSIG of this thread */
};

static void report(const struct th *t) {
	char buf[256], s[160];
	sched(s, sizeof s);
	int pd = -1;
	prctl(PR_GET_PDEATHSIG, &pd);
	snprintf(buf, sizeof buf, "%s pdeath=%d", s, pd);
	say(t->name, buf);
}

static void loop(const struct th *t) {
	while (!exists("go"))
		nap();
	while (!exists("stop")) {
		report(t);
		nap();
	}
}

static void *thread(void *arg) {
	struct th *t = arg;
	if (t->pdeath)
		prctl(PR_SET_PDEATHSIG, t->pdeath);
	if (setsched(t->policy, t->prio, t->nice, t->reset) != 0) {
		char buf[64];
		snprintf(buf, sizeof buf, "sched_setattr: %m");
		say(t->name, buf);
		exit(2);
	}
	pthread_barrier_wait(&ready);
	report(t);
	loop(t);
	return NULL;
}

/* process reports what is per process. */
static void process(const char *name) {
	char buf[512], login[32], oom[32];
	int sub = -1;
	readfile("/proc/self/loginuid", login, sizeof login);
	readfile("/proc/self/oom_score_adj", oom, sizeof oom);
	prctl(PR_GET_CHILD_SUBREAPER, &sub);
	int thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	int fsuid = setfsuid(-1), fsgid = setfsgid(-1);
	snprintf(buf, sizeof buf, "uid=%d euid=%d fsuid=%d fsgid=%d loginuid=%s oom=%s subreaper=%d thp_disable=%d",
		 getuid(), geteuid(), fsuid, fsgid, login, oom, sub, thp);
	say(name, buf);
}

static void child(void) {
	struct th main = {.name = "child-main", .pdeath = SIGUSR1};
	struct th second = {.name = "child-second", .pdeath = SIGUSR2};
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	pthread_barrier_init(&ready, NULL, 2);
	pthread_t tid;
	pthread_create(&tid, NULL, thread, &second);
	pthread_barrier_wait(&ready);
	report(&main);
	loop(&main);
	pthread_join(tid, NULL);
	exit(0);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: attrs OUTFILE\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	if (!out)
		return 2;
	pid_t c = fork();
	if (c == 0)
		child();
	int fd = open("/proc/self/loginuid", O_WRONLY);
	if (fd < 0 || write(fd, "4242", 4) != 4) {
		perror("loginuid");
		return 2;
	}
	close(fd);
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "345", 3) != 3) {
		perror("oom_score_adj");
		return 2;
	}
	close(fd);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
		perror("prctl");
		return 2;
	}
	setfsgid(1234);
	setfsuid(4321);
	static struct th ths[] = {
		{"idle", SCHED_IDLE, 0, 0, 0},
		{"fifo", SCHED_FIFO, 5, 0, 1},
		{"rr", SCHED_RR, 3, 0, 0},
		{"other", SCHED_OTHER, 0, 3, 0, SIGUSR2},
	};
	struct th main_th = {"main", SCHED_BATCH, 0, 7, 0};
	if (setsched(main_th.policy, main_th.prio, main_th.nice, main_th.reset) != 0) {
		perror("sched_setattr");
		return 2;
	}
	int n = sizeof ths / sizeof ths[0];
	pthread_barrier_init(&ready, NULL, n + 1);
	pthread_t tids[8];
	for (int i = 0; i < n; i++)
		pthread_create(&tids[i], NULL, thread, &ths[i]);
	pthread_barrier_wait(&ready);
	process("process");
	report(&main_th);
	while (!exists("go"))
		nap();
	while (!exists("stop")) {
		process("process");
		report(&main_th);
		nap();
	}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	int st;
	waitpid(c, &st, 0);
	return 0;
}
