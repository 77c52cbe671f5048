/*
 * pidfds: pidfds of a child that runs and of a child that has exited and
 * been reaped, for checkpoint/restart tests.
 *
 * usage: pidfds OUTFILE [parent]
 *
 * With "parent" it also holds a pidfd of its parent (outside any tree
 * rooted at it).
 *
 * Once ready, and every 50 ms after "go" appears in its working
 * directory until "stop" appears, writes:
 *   member: signal0=R pid=same|other   (pidfd_send_signal 0; fdinfo Pid)
 *   dead: signal0=R poll=P pid=N       (it stays gone: ESRCH, readable, -1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int exists(const char *p) {
	struct stat st;
	return stat(p, &st) == 0;
}

static void nap(long ms) {
	struct timespec ts = {0, ms * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static int fdinfo_pid(int fd) {
	char path[64], line[128];
	int pid = 0;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		sscanf(line, "Pid: %d", &pid);
	if (f)
		fclose(f);
	return pid;
}

static const char *res(long r) { return r == 0 ? "0" : errno == ESRCH ? "ESRCH" : strerror(errno); }

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	FILE *out = fopen(argv[1], "a");
	if (argc > 2 && syscall(SYS_pidfd_open, getppid(), 0) < 0) {
		perror("pidfd_open parent");
		return 2;
	}
	pid_t a = fork();
	if (a == 0) {
		while (!exists("stop"))
			nap(20);
		_exit(0);
	}
	pid_t b = fork();
	if (b == 0)
		_exit(0);
	int pa = syscall(SYS_pidfd_open, a, 0), pb = syscall(SYS_pidfd_open, b, 0);
	waitpid(b, NULL, 0);
	if (pa < 0 || pb < 0) {
		perror("pidfd_open");
		return 2;
	}
	for (int round = 0;; round++) {
		if (round > 0 && exists("stop"))
			break;
		struct pollfd p = {pb, POLLIN, 0};
		int n = poll(&p, 1, 0);
		long sa = syscall(SYS_pidfd_send_signal, pa, 0, NULL, 0);
		const char *ra = res(sa);
		fprintf(out, "member: signal0=%s pid=%s\n", ra, fdinfo_pid(pa) == a ? "same" : "other");
		long sb = syscall(SYS_pidfd_send_signal, pb, 0, NULL, 0);
		fprintf(out, "dead: signal0=%s poll=%s pid=%d\n", res(sb), n == 1 && (p.revents & POLLIN) ? "readable" : "not-readable",
			fdinfo_pid(pb));
		fflush(out);
		while (round == 0 && !exists("go"))
			nap(20);
		nap(50);
	}
	waitpid(a, NULL, 0);
	return 0;
}
