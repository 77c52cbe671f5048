/* Time namespaces (timens.go), CLOCK_MONOTONIC 10000 s and CLOCK_BOOTTIME
 * 2000.5 s ahead. Modes:
 *   made     the process unshares CLONE_NEWTIME and forks: its child is in
 *            the namespace (its clocks, and an absolute CLOCK_MONOTONIC
 *            timerfd armed there), the process is not; the offsets are
 *            frozen; a child the child forks after the restart is in it.
 *   entered  the process unshares and enters it (setns, as unshare --time
 *            does by execve): its own clocks are ahead.
 *   open     the process unshares and writes the offsets but no process
 *            entered the namespace: it may still change them (after the
 *            checkpoint too), and its first child then sees the new ones
 *            (with "big", 64 MiB more: a twin would be forked into it).
 *   before   a child forked before the unshare: refused.
 *   tool MONO BOOT HOSTMONO HOSTBOOT
 *            run by unshare --time --monotonic MONO --boottime BOOT (in
 *            the namespace from the start), the host's clocks given: its
 *            clocks, and those of a child forked after the restart, are
 *            ahead. */
#include "kobj.h"
#include <sched.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#define MONO 10000
#define BOOT 2000

static void write_offsets(long mono, long boot) {
	FILE *f = fopen("/proc/self/timens_offsets", "w");
	if (!f || fprintf(f, "monotonic %ld 0\nboottime %ld 500000000\n", mono, boot) < 0 || fclose(f))
		DIE("timens_offsets: %s", strerror(errno));
}

static long now(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec;
}

static unsigned long ns_ino(const char *path) {
	struct stat st;
	if (stat(path, &st)) return 0;
	return st.st_ino;
}

/* The host's clocks: our parent's (the test's) are not in the namespace. */
static long host_mono, host_boot;

static void host_clocks(void) {
	host_mono = now(CLOCK_MONOTONIC);
	host_boot = now(CLOCK_BOOTTIME);
}

/* in_ns checks that this process's clocks are ahead by the offsets (plus
 * whatever time passed since host_clocks: at most an hour). */
static void in_ns(const char *who, long mono, long boot) {
	long m = now(CLOCK_MONOTONIC), b = now(CLOCK_BOOTTIME);
	CHECK(m >= host_mono + mono && m < host_mono + mono + 3600, "%s: monotonic %ld, host's was %ld", who, m, host_mono);
	CHECK(b >= host_boot + boot && b < host_boot + boot + 3600, "%s: boottime %ld, host's was %ld", who, b, host_boot);
}

static void not_in_ns(const char *who) {
	long m = now(CLOCK_MONOTONIC);
	CHECK(m >= host_mono && m < host_mono + 3600, "%s: monotonic %ld, host's was %ld", who, m, host_mono);
}

/* grandchild forks a process that checks its clocks and exits with 0 if
 * they are ahead by mono and boot. */
static void grandchild(const char *who, long mono, long boot) {
	pid_t g = fork();
	if (g == 0) {
		kobj_bad = 0;
		in_ns(who, mono, boot);
		_exit(kobj_bad ? 1 : 0);
	}
	int st;
	CHECK(g > 0 && waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: its clocks are not the namespace's", who);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "made";
	host_clocks();
	if (strcmp(mode, "tool") == 0) {
		if (argc < 7) DIE("tool MONO BOOT HOSTMONO HOSTBOOT");
		long mono = atol(argv[3]), boot = atol(argv[4]);
		host_mono = atol(argv[5]);
		host_boot = atol(argv[6]);
		in_ns("before", mono, boot);
		kobj_wait();
		in_ns("process", mono, boot);
		grandchild("child", mono, boot);
		return kobj_done();
	}
	if (strcmp(mode, "before") == 0) {
		pid_t c = fork();
		if (c == 0) {
			kobj_wait();
			exit(kobj_done());
		}
		if (unshare(CLONE_NEWTIME)) DIE("unshare: %s", strerror(errno));
		write_offsets(MONO, BOOT);
		kobj_wait();
		kill(c, SIGUSR1);
		int st;
		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (unshare(CLONE_NEWTIME)) DIE("unshare: %s", strerror(errno));
	write_offsets(MONO, BOOT);
	if (strcmp(mode, "entered") == 0) {
		int fd = open("/proc/self/ns/time_for_children", O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWTIME)) DIE("setns: %s", strerror(errno));
		close(fd);
		in_ns("before", MONO, BOOT);
		kobj_wait();
		in_ns("process", MONO, BOOT);
		CHECK(ns_ino("/proc/self/ns/time") == ns_ino("/proc/self/ns/time_for_children"), "not in the namespace it made");
		grandchild("child", MONO, BOOT);
		return kobj_done();
	}
	if (strcmp(mode, "open") == 0) {
		if (argc > 3) { /* big: memory enough for a twin or a snapshot */
			size_t n = 64 << 20;
			char *m = malloc(n);
			for (size_t i = 0; m && i < n; i += 4096) m[i] = (char)i;
		}
		kobj_wait();
		not_in_ns("process");
		CHECK(ns_ino("/proc/self/ns/time") != ns_ino("/proc/self/ns/time_for_children"), "no namespace for its children");
		long ms, mn, bs, bn;
		CHECK(sscanf(read_file("/proc/self/timens_offsets"), "monotonic %ld %ld boottime %ld %ld", &ms, &mn, &bs, &bn) == 4 && ms == MONO && mn == 0 && bs == BOOT && bn == 500000000,
		      "offsets %s", read_file("/proc/self/timens_offsets"));
		write_offsets(2 * MONO, 2 * BOOT); /* still open: no process entered */
		grandchild("child", 2 * MONO, 2 * BOOT);
		return kobj_done();
	}
	/* made */
	pid_t c = fork();
	if (c == 0) {
		int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
		struct itimerspec its = {{0, 0}, {now(CLOCK_MONOTONIC) + 600, 0}};
		if (tfd < 0 || timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL)) DIE("timerfd: %s", strerror(errno));
		in_ns("child before", MONO, BOOT);
		kobj_wait();
		in_ns("child", MONO, BOOT);
		char link[64];
		snprintf(link, sizeof link, "/proc/%d/ns/time_for_children", getppid());
		CHECK(ns_ino("/proc/self/ns/time") == ns_ino(link), "the child is not in its parent's namespace for children");
		struct itimerspec left;
		timerfd_gettime(tfd, &left);
		CHECK(left.it_value.tv_sec > 300 && left.it_value.tv_sec <= 600, "the absolute timer has %ld s left, want about 600", (long)left.it_value.tv_sec);
		grandchild("grandchild", MONO, BOOT);
		exit(kobj_done());
	}
	while (!kobj_go) sigsuspend(&kobj_old);
	not_in_ns("parent");
	FILE *f = fopen("/proc/self/timens_offsets", "w");
	int frozen = f && fprintf(f, "monotonic 1 0\n") >= 0 && fclose(f) != 0 && errno == EACCES;
	kill(c, SIGUSR1);
	int st;
	waitpid(c, &st, 0);
	if (!frozen) {
		/* The child wrote OUT: say it there. */
		kobj_fail("the offsets could still be written after the child entered");
		return kobj_done();
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
