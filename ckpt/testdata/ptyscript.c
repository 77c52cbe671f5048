/*
 * ptyscript: a script(1)-like relay, for the pseudo terminal tests.
 *
 * usage: ptyscript DIR
 * The parent opens a pty pair, sets its window size (33x111) and forks a
 * "shell": a session leader with the slave as control terminal and as
 * stdin/stdout/stderr, which sets termios of its own (VEOL ';', no ECHOE)
 * and runs a "job" in a process group of its own, in the foreground. The
 * job writes "hello", then waits for DIR/go. Meanwhile the parent types
 * "line1\nline2 partial" (echoed by the slave) and reads nothing until
 * DIR/go: bytes wait in both directions, a complete line and an unfinished
 * one. After DIR/go the job reads its two lines and reports on termios,
 * window size, foreground group, session and ttyname; the parent relays
 * everything the master reads into DIR/out, completes the second line once
 * the first was answered, and ends with the shell's exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char dir[4096];

static void nap(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int exists(const char *name) {
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void touch(const char *name) {
	char p[8192];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	close(open(p, O_WRONLY | O_CREAT, 0644));
}

static void say(const char *s) { write(1, s, strlen(s)); }

static int job(void) {
	say("hello\n");
	touch("jobready");
	while (!exists("go"))
		nap(10);
	char buf[4096], msg[4200];
	for (int i = 0; i < 2; i++) {
		ssize_t n = read(0, buf, sizeof buf - 1);
		if (n <= 0)
			return 3;
		if (buf[n - 1] == '\n')
			n--;
		buf[n] = 0;
		snprintf(msg, sizeof msg, "[%s]\n", buf);
		say(msg);
	}
	struct termios t;
	tcgetattr(0, &t);
	say(t.c_cc[VEOL] == ';' && !(t.c_lflag & ECHOE) && (t.c_lflag & ECHO) && (t.c_lflag & ICANON) && (t.c_oflag & ONLCR) ? "termios ok\n" : "termios WRONG\n");
	struct winsize ws;
	ioctl(0, TIOCGWINSZ, &ws);
	snprintf(msg, sizeof msg, "winsize %dx%d\n", ws.ws_row, ws.ws_col);
	say(msg);
	say(tcgetpgrp(0) == getpid() && getpgrp() == getpid() ? "foreground ok\n" : "foreground WRONG\n");
	say(getsid(0) == getppid() && tcgetsid(0) == getppid() ? "session ok\n" : "session WRONG\n");
	struct stat a, b;
	char *name = ttyname(0);
	say(name && stat(name, &a) == 0 && fstat(0, &b) == 0 && a.st_rdev == b.st_rdev ? "ttyname ok\n" : "ttyname WRONG\n");
	int fd = open("/dev/tty", O_RDWR);
	say(fd >= 0 && tcgetsid(fd) == getsid(0) ? "/dev/tty ok\n" : "/dev/tty WRONG\n");
	return 0;
}

static int shell(int m) {
	setsid();
	int s = open(ptsname(m), O_RDWR); /* the session leader's first terminal: its control terminal */
	close(m);
	dup2(s, 0);
	dup2(s, 1);
	dup2(s, 2);
	if (s > 2)
		close(s);
	struct termios t;
	tcgetattr(0, &t);
	t.c_cc[VEOL] = ';';
	t.c_lflag &= ~ECHOE;
	tcsetattr(0, TCSANOW, &t);
	pid_t j = fork();
	if (j == 0) {
		/* As a shell's child does: a background group that calls
		 * tcsetpgrp before the shell made it the foreground would be
		 * stopped by SIGTTOU. */
		setpgid(0, 0);
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpid());
		signal(SIGTTOU, SIG_DFL);
		_exit(job());
	}
	setpgid(j, j);
	tcsetpgrp(0, j);
	int st;
	while (waitpid(j, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	snprintf(dir, sizeof dir, "%s", argv[1]);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return 4;
	struct winsize ws = {.ws_row = 33, .ws_col = 111};
	ioctl(m, TIOCSWINSZ, &ws);
	pid_t sh = fork();
	if (sh == 0)
		_exit(shell(m));
	while (!exists("jobready"))
		nap(10);
	const char *typed = "line1\nline2 partial";
	write(m, typed, strlen(typed));
	touch("ready");
	while (!exists("go"))
		nap(10);
	char all[65536];
	size_t len = 0;
	int completed = 0;
	for (;;) {
		ssize_t n = read(m, all + len, sizeof all - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EIO: every slave closed */
		len += n;
		all[len] = 0;
		if (!completed && strstr(all, "[line1]")) {
			write(m, " done\n", 6);
			completed = 1;
		}
	}
	int st;
	while (waitpid(sh, &st, 0) < 0 && errno == EINTR)
		;
	char p[8192];
	snprintf(p, sizeof p, "%s/out", dir);
	FILE *out = fopen(p, "w");
	fwrite(all, 1, len, out);
	fprintf(out, "exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 100);
	fclose(out);
	return 0;
}
