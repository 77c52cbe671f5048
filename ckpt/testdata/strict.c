/*
 * strict: a process in seccomp strict mode, for checkpoint/restart tests.
 *
 * usage: strict OUTFILE
 *
 * The parent forks a child that enters SECCOMP_MODE_STRICT and from then
 * on only reads a byte from one pipe and writes it back, plus one, on
 * another; 'q' makes it _exit(0) (SYS_exit, the one exit strict mode
 * allows). Every 50 ms the parent sends a byte, checks the answer and
 * appends a line with the child's Seccomp: field to OUTFILE. When the
 * file "stop" appears in its working directory it sends 'q', waits for
 * the child and writes its exit status as the last line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void child_status(int pid, char *out, size_t n) {
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	snprintf(out, n, "?");
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = 0;
	char *l = strstr(buf, "\nSeccomp:");
	if (!l)
		return;
	l += strlen("\nSeccomp:");
	while (*l == ' ' || *l == '\t')
		l++;
	snprintf(out, n, "%.*s", (int)strcspn(l, "\n"), l);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: strict OUTFILE\n");
		return 2;
	}
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int down[2], up[2];
	if (out < 0 || pipe(down) != 0 || pipe(up) != 0) {
		perror("setup");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(out);
		close(down[1]);
		close(up[0]);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
			syscall(SYS_exit, 4);
		for (;;) {
			char c;
			if (read(down[0], &c, 1) != 1)
				syscall(SYS_exit, 5);
			if (c == 'q')
				syscall(SYS_exit, 0);
			c++;
			if (write(up[1], &c, 1) != 1)
				syscall(SYS_exit, 6);
		}
	}
	close(down[0]);
	close(up[1]);
	struct timespec pause = {0, 50 * 1000 * 1000};
	for (int step = 0;; step++) {
		if (access("stop", F_OK) == 0)
			break;
		char c = 'a' + step % 20, back = 0, mode[32], line[128];
		if (write(down[1], &c, 1) != 1 || read(up[0], &back, 1) != 1)
			return 7;
		child_status(pid, mode, sizeof mode);
		int n = snprintf(line, sizeof line, "step %d answer=%s child-seccomp=%s\n", step, back == c + 1 ? "ok" : "wrong", mode);
		if (write(out, line, n) != n)
			return 2;
		nanosleep(&pause, NULL);
	}
	if (write(down[1], "q", 1) != 1)
		return 7;
	int ws;
	if (waitpid(pid, &ws, 0) != pid)
		return 8;
	char line[64];
	int n = snprintf(line, sizeof line, "child %s %d\n", WIFEXITED(ws) ? "exited" : "killed by", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
	write(out, line, n);
	return 0;
}
