/*
 * seccompfilter: a sandboxed program for checkpoint/restart tests.
 *
 * usage: seccompfilter OUTFILE [threads]
 *
 * With "threads" a second thread is started first and the filters are
 * installed for both threads at once (SECCOMP_FILTER_FLAG_TSYNC); the
 * second thread tries mkdir too and its result goes into each line, and
 * before the end a third, permissive filter is installed with TSYNC again,
 * which works only if both threads still share one filter list.
 *
 * It installs two seccomp filters: the first makes mkdir and mkdirat fail
 * with EPERM, the second kills the process on system calls the
 * checkpoint/restart engine injects (rt_sigaction, prctl, mmap, munmap,
 * sigaltstack, getitimer, personality, capset). Then, every 50 ms, it
 * tries mkdir and appends what happened and what /proc/self/status says
 * of its seccomp state to OUTFILE. When the file "stop" appears in its
 * working directory it calls personality, which the second filter
 * punishes: the process ends killed by SIGSYS if the filter is still in
 * force, and exits 3 if it is not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOAD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define CHECK_ARCH BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

static unsigned flags;

static int install(struct sock_filter *f, unsigned short n) {
	struct sock_fprog prog = {.len = n, .filter = f};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static const char *volatile thread_what = "none";
static volatile int filtered; /* the filters are installed */

static void *worker(void *arg) {
	(void)arg;
	struct timespec pause = {0, 20 * 1000 * 1000};
	for (;;) {
		if (!filtered) {
			nanosleep(&pause, NULL);
			continue;
		}
		if (mkdir("probe-thread", 0755) != 0)
			thread_what = errno == EPERM ? "EPERM" : "other";
		else {
			rmdir("probe-thread");
			thread_what = "ok";
		}
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* status returns the value of field key in /proc/self/status. */
static void status(const char *key, char *out, size_t n) {
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	snprintf(out, n, "?");
	if (got <= 0)
		return;
	buf[got] = 0;
	size_t kl = strlen(key);
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
			char *v = l + kl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t i = 0;
			while (v[i] && v[i] != '\n' && i + 1 < n) {
				out[i] = v[i];
				i++;
			}
			out[i] = 0;
			return;
		}
	}
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: seccompfilter OUTFILE [threads]\n");
		return 2;
	}
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		perror(argv[1]);
		return 2;
	}
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("no_new_privs");
		return 2;
	}
	int threads = argc > 2 && strcmp(argv[2], "threads") == 0;
	if (threads) {
		pthread_t th;
		if (pthread_create(&th, NULL, worker, NULL) != 0)
			return 2;
		flags = SECCOMP_FILTER_FLAG_TSYNC;
	}
	struct sock_filter eperm[] = {
		LOAD_ARCH, CHECK_ARCH, LOAD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_filter kill[] = {
		LOAD_ARCH, CHECK_ARCH, LOAD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigaction, 8, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 7, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_munmap, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sigaltstack, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getitimer, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_capset, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	if (install(eperm, sizeof eperm / sizeof eperm[0]) != 0 || install(kill, sizeof kill / sizeof kill[0]) != 0) {
		perror("seccomp");
		return 2;
	}
	filtered = 1;
	struct timespec pause = {0, 50 * 1000 * 1000};
	while (threads && strcmp(thread_what, "none") == 0)
		nanosleep(&pause, NULL);
	for (int step = 0;; step++) {
		const char *what = "ok";
		if (mkdir("probe", 0755) != 0)
			what = errno == EPERM ? "EPERM" : strerror(errno);
		else
			rmdir("probe");
		char mode[32], filters[32], line[160];
		status("Seccomp", mode, sizeof mode);
		status("Seccomp_filters", filters, sizeof filters);
		int n = snprintf(line, sizeof line, "step %d mkdir=%s seccomp=%s filters=%s", step, what, mode, filters);
		if (threads)
			n += snprintf(line + n, sizeof line - n, " thread-mkdir=%s", thread_what);
		line[n++] = '\n';
		if (write(out, line, n) != n)
			return 2;
		if (access("stop", F_OK) == 0) {
			if (threads) {
				struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
				long r = install(allow, 1);
				n = snprintf(line, sizeof line, "tsync=%s\n", r == 0 ? "ok" : "failed");
				write(out, line, n);
			}
			syscall(SYS_personality, 0xffffffff);
			return 3;
		}
		nanosleep(&pause, NULL);
	}
}
