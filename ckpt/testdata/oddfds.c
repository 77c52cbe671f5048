// oddfds MODE RESULT: holds one kind of descriptor or state a restart finds
// hard to reopen, writes RESULT.ready, and on SIGUSR1 checks that what it
// holds is as it was, writing "ok" (or what is wrong) to RESULT.
//
// opath:   an O_PATH descriptor on a regular file
// symlink: an O_PATH|O_NOFOLLOW descriptor on a symlink
// nofd:    no open descriptor at all
// zombie:  a child killed by SIGKILL, not yet reaped
// ns:      a descriptor of /proc/self/ns/net
// deaddir: a working directory that was removed
// dirfd:   a descriptor of a removed directory
// devnode: a descriptor of a device node that was removed
// deadproc: a descriptor of /proc/PID/status of a process that has ended
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int sig) { (void)sig; go = 1; }

static char result[4096];
static void finish(const char *msg) {
	FILE *f = fopen(result, "w");
	if (!f)
		exit(2);
	fprintf(f, "%s\n", msg);
	fclose(f);
	exit(0);
}

int main(int argc, char **argv) {
	if (argc != 3)
		return 2;
	const char *mode = argv[1];
	snprintf(result, sizeof result, "%s", argv[2]);
	signal(SIGUSR1, on_usr1);
	// Blocked but in sigsuspend: a SIGUSR1 sent at any moment is seen.
	sigset_t usr1, none;
	sigemptyset(&usr1);
	sigemptyset(&none);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	int fd = -1;
	pid_t child = -1;
	char want[4096] = "";
	if (!strcmp(mode, "opath")) {
		fd = open("/etc/passwd", O_PATH);
	} else if (!strcmp(mode, "symlink")) {
		unlink("lnk");
		if (symlink("/etc/passwd", "lnk"))
			return 3;
		fd = open("lnk", O_PATH | O_NOFOLLOW);
	} else if (!strcmp(mode, "nofd")) {
		for (int i = 0; i < 1024; i++)
			close(i);
	} else if (!strcmp(mode, "zombie")) {
		child = fork();
		if (child == 0)
			for (;;)
				pause();
		kill(child, SIGKILL);
		siginfo_t si;
		waitid(P_PID, child, &si, WEXITED | WNOWAIT); // dead, not reaped
	} else if (!strcmp(mode, "ns")) {
		fd = open("/proc/self/ns/net", O_RDONLY);
	} else if (!strcmp(mode, "deaddir")) {
		mkdir("gone", 0755);
		if (chdir("gone") || rmdir("../gone"))
			return 3;
	} else if (!strcmp(mode, "dirfd")) {
		mkdir("gone", 0755);
		fd = open("gone", O_RDONLY | O_DIRECTORY);
		rmdir("gone");
	} else if (!strcmp(mode, "devnode")) {
		if (mknod("nullnode", S_IFCHR | 0666, makedev(1, 3)))
			return 3;
		fd = open("nullnode", O_RDWR);
		unlink("nullnode");
	} else if (!strcmp(mode, "deadproc")) {
		pid_t c = fork();
		if (c == 0)
			for (;;)
				pause();
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/status", c);
		fd = open(p, O_RDONLY);
		kill(c, SIGKILL);
		waitpid(c, 0, 0);
	} else {
		return 2;
	}
	if (fd >= 0) {
		char link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, want, sizeof want - 1);
		want[n > 0 ? n : 0] = 0;
	}
	struct stat before;
	if (fd >= 0 && fstat(fd, &before))
		return 3;
	char ready[4200];
	snprintf(ready, sizeof ready, "%s.ready", result);
	int r = open(ready, O_WRONLY | O_CREAT, 0644);
	close(r);

	while (!go)
		sigsuspend(&none);

	char msg[8400];
	if (fd >= 0) {
		char link[64], got[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, got, sizeof got - 1);
		if (n < 0)
			finish("closed");
		got[n] = 0;
		struct stat st;
		int fl = fcntl(fd, F_GETFL);
		if (fstat(fd, &st) || st.st_ino != before.st_ino || st.st_mode != before.st_mode) {
			snprintf(msg, sizeof msg, "fd %d %s: not the same file", fd, got);
			finish(msg);
		}
		if (strcmp(got, want)) {
			snprintf(msg, sizeof msg, "fd %d is %s, want %s", fd, got, want);
			finish(msg);
		}
		if ((!strcmp(mode, "opath") || !strcmp(mode, "symlink")) && !(fl & O_PATH)) {
			snprintf(msg, sizeof msg, "fd %d flags %#o: no O_PATH", fd, fl);
			finish(msg);
		}
		if (!strcmp(mode, "symlink") && !S_ISLNK(st.st_mode))
			finish("not the symlink");
	}
	if (!strcmp(mode, "zombie")) {
		int st;
		if (waitpid(child, &st, WNOHANG) != child || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			snprintf(msg, sizeof msg, "child %d: status %#x, want killed by SIGKILL", child, st);
			finish(msg);
		}
	}
	if (!strcmp(mode, "nofd")) {
		int n = 0;
		for (int i = 0; i < 1024; i++)
			if (fcntl(i, F_GETFD) >= 0)
				n++;
		if (n != 0) {
			snprintf(msg, sizeof msg, "%d descriptors open, want none", n);
			finish(msg);
		}
	}
	finish("ok");
}
