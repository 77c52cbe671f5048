/* kobj5a_ctty: a controlling terminal: a child made a session (setsid),
 * took the pty slave as its controlling terminal (TIOCSCTTY) and opened
 * /dev/tty; its own child is a process group of its own, put in the
 * foreground (tcsetpgrp) and blocked reading the terminal. After the
 * restart: the session, the foreground group, /dev/tty is that terminal,
 * and a line typed on the master reaches the foreground reader. */
#include "kobj.h"
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

static void waitgo(void) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

static int statline(pid_t p, int field) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", p);
	const char *s = strrchr(read_file(path), ')');
	if (!s) return -1;
	int v = 0;
	for (int i = 3; i <= field && s; i++) {
		s = strchr(s + 1, ' ');
		if (i == field && s) v = atoi(s + 1);
	}
	return v;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) DIE("ptmx: %s", strerror(errno));
	char sname[64];
	strcpy(sname, ptsname(m));
	int rep[2];
	pipe(rep);
	pid_t leader = fork();
	if (leader == 0) {
		close(rep[0]);
		setsid();
		int s = open(sname, O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0)) _exit(10);
		int tty = open("/dev/tty", O_RDWR);
		if (tty < 0) _exit(11);
		int go[2];
		pipe(go);
		pid_t fg = fork();
		if (fg == 0) {
			setpgid(0, 0);
			char c;
			read(go[0], &c, 1);
			char b[32] = {0};
			ssize_t n = read(s, b, sizeof b);
			_exit(n == 5 && memcmp(b, "line\n", 5) == 0 ? 0 : 20);
		}
		setpgid(fg, fg);
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, fg)) _exit(12);
		write(go[1], "g", 1);
		waitgo();
		int bad = 0;
		struct stat a, b;
		fstat(tty, &a);
		fstat(s, &b);
		if (a.st_rdev != makedev(5, 0) || tcgetsid(tty) != getpid()) bad |= 1;
		if (tcgetpgrp(tty) != fg) bad |= 2;
		if (tcgetsid(s) != getpid() || getsid(0) != getpid()) bad |= 4;
		if (statline(getpid(), 7) != (int)b.st_rdev) bad |= 8;
		if (statline(fg, 8) != fg || statline(getpid(), 8) != fg) bad |= 16;
		if (getpgid(fg) != fg || getsid(fg) != getpid()) bad |= 32;
		write(rep[1], &bad, sizeof bad);
		int st;
		waitpid(fg, &st, 0);
		bad = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
		write(rep[1], &bad, sizeof bad);
		_exit(0);
	}
	close(rep[1]);
	usleep(300000);
	kobj_wait();
	int bad = -1;
	CHECK(read(rep[0], &bad, sizeof bad) == sizeof bad && bad == 0, "the session leader found %#x", bad);
	write(m, "line\n", 5);
	bad = -1;
	CHECK(read(rep[0], &bad, sizeof bad) == sizeof bad && bad == 0, "the foreground reader: %d", bad);
	int st;
	waitpid(leader, &st, 0);
	return kobj_done();
}
