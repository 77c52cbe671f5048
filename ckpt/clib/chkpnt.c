/*
 * liblazarus: chkpnt(3), restart(3) and their Fortran forms chkpnt(3f),
 * restart(3f). Like CONVEX's library, each call runs the installed utility
 * (LAZARUS_BINDIR/chkpnt, LAZARUS_BINDIR/restart, fixed when the library
 * is built) and waits for it; no Go runtime enters the caller.
 *
 * The utility reports its outcome as one line on descriptor 3, a pipe the
 * library reads (--status-fd 3): "ok", "ok PID" (restart), or
 * "errno N NAME MESSAGE"; N becomes errno.
 *
 * A program checkpointing itself (pid 0 or getpid()) waits, blocked
 * reading that pipe, while chkpnt checkpoints it; chkpnt is told the
 * descriptor (--self-channel FD) and records it in the image with
 * "restarted" queued in it. The running program reads "ok" (chkpnt
 * returns 0); the one a restart brings back reads "restarted" (chkpnt
 * returns 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chkpnt.h"

#ifndef LAZARUS_BINDIR
#define LAZARUS_BINDIR "/usr/local/bin"
#endif

#define STATUS_FD 3

/* OpenMP's, when the program has it: the guide's caution ("cannot be
 * called from within a multithreaded region") is enforced. */
extern int omp_in_parallel(void) __attribute__((weak));

static int in_parallel_region(void)
{
	return omp_in_parallel != NULL && omp_in_parallel();
}

static int valid_signal(int signo)
{
	return signo > 0 && signo < NSIG;
}

/* put_num writes n in decimal into buf (async-signal-safe). */
static char *put_num(char *buf, long n)
{
	char tmp[24];
	int i = 0;
	if (n < 0) {
		*buf++ = '-';
		n = -n;
	}
	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (i > 0)
		*buf++ = tmp[--i];
	*buf = '\0';
	return buf;
}

/*
 * spawn forks and runs path with argv: the pipe's write end w becomes
 * descriptor 3, stdin and stdout are /dev/null, stderr is the caller's
 * (the utility's error messages), nothing else is inherited. With
 * stop_first, the child stops itself before exec until the caller lets
 * it go (time for PR_SET_PTRACER). Returns the child's pid, or -1.
 */
static pid_t spawn(const char *path, char *const argv[], int w, int stop_first)
{
	pid_t kid = fork();
	if (kid != 0)
		return kid;
	/* Child: only async-signal-safe calls from here. */
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	if (w == STATUS_FD)
		fcntl(w, F_SETFD, 0);
	else if (dup2(w, STATUS_FD) < 0)
		_exit(127);
	if (syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = STATUS_FD + 1; fd < max && fd < 65536; fd++)
			close((int)fd);
	}
	if (stop_first)
		raise(SIGSTOP);
	execv(path, argv);
	char line[64] = "errno ", *p = put_num(line + 6, errno);
	memcpy(p, " exec\n", 7);
	(void)!write(STATUS_FD, line, strlen(line));
	_exit(127);
}

/* read_status reads the utility's line from fd: up to its newline (a
 * process another thread forks meanwhile may hold the write end open),
 * or end of file. */
static ssize_t read_status(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n < size - 1 && (n == 0 || buf[n - 1] != '\n')) {
		ssize_t k = read(fd, buf + n, size - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* reap waits for the utility; returns its wait status, or -1. */
static int reap(pid_t kid)
{
	int ws;
	while (waitpid(kid, &ws, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return ws;
}

/*
 * outcome turns the status line into a result: ok (optionally a pid)
 * returns *value; errno N sets errno and returns -1. Without a line, the
 * utility's wait status decides: EIO.
 */
static int outcome(const char *line, long *value)
{
	if (strncmp(line, "ok", 2) == 0 && (line[2] == '\n' || line[2] == ' ')) {
		*value = line[2] == ' ' ? strtol(line + 3, NULL, 10) : 0;
		return 0;
	}
	if (strncmp(line, "errno ", 6) == 0) {
		long e = strtol(line + 6, NULL, 10);
		errno = e > 0 ? (int)e : EIO;
		return -1;
	}
	errno = EIO;
	return -1;
}

/*
 * status_pipe makes the pipe of the utility's status line, both ends
 * above 2 even when the caller closed its standard descriptors (the child
 * puts /dev/null there; the self-checkpoint channel is never 0, 1 or 2).
 */
static int status_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, STATUS_FD);
		int saved = errno;
		close(p[i]);
		p[i] = fd;
		if (fd < 0) {
			if (p[1 - i] >= 0)
				close(p[1 - i]);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

static int check_path(const char *s)
{
	if (s == NULL || *s == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (strlen(s) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int chkpnt(int class, pid_t pid, const char *dir, const char *name, int options, int signo)
{
	const int known = CHKPNT_FORCE | CHKPNT_PFD | CHKPNT_KILL | CHKPNT_SIGFAMILY | CHKPNT_SIGROOT | CHKPNT_COMPRESS;
	const int sigs = options & (CHKPNT_SIGFAMILY | CHKPNT_SIGROOT);
	if ((class != 0 && class != CHKPNT_PROC && class != CHKPNT_FAMILY) || (options & ~known) ||
	    (options & CHKPNT_PFD) || sigs == (CHKPNT_SIGFAMILY | CHKPNT_SIGROOT) ||
	    (sigs && !valid_signal(signo)) || (sigs && (options & CHKPNT_KILL)) || pid < 0 ||
	    in_parallel_region()) {
		errno = EINVAL;
		return -1;
	}
	if (check_path(name) < 0 || (dir != NULL && check_path(dir) < 0))
		return -1;
	const int self = pid == 0 || pid == getpid();
	if (pid == 0)
		pid = getpid();

	int p[2];
	if (status_pipe(p) < 0)
		return -1;

	char path[PATH_MAX], pidbuf[24], sigbuf[24], chanbuf[24], statusbuf[24];
	snprintf(path, sizeof path, "%s/chkpnt", LAZARUS_BINDIR);
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	snprintf(sigbuf, sizeof sigbuf, "%d", (options & CHKPNT_KILL) ? SIGKILL : signo);
	snprintf(chanbuf, sizeof chanbuf, "%d", p[0]);
	snprintf(statusbuf, sizeof statusbuf, "%d", STATUS_FD);
	char *argv[24];
	int n = 0;
	argv[n++] = "chkpnt";
	argv[n++] = "-q";
	argv[n++] = class == CHKPNT_FAMILY ? "-r" : "-p";
	if (options & CHKPNT_FORCE)
		argv[n++] = "-F";
	if (options & CHKPNT_COMPRESS)
		argv[n++] = "-z";
	if (options & (CHKPNT_KILL | CHKPNT_SIGFAMILY)) {
		argv[n++] = "-K";
		argv[n++] = sigbuf;
	} else if (options & CHKPNT_SIGROOT) {
		argv[n++] = "-k";
		argv[n++] = sigbuf;
	}
	if (dir != NULL) {
		argv[n++] = "-d";
		argv[n++] = (char *)dir;
	}
	argv[n++] = "-f";
	argv[n++] = (char *)name;
	argv[n++] = "--status-fd";
	argv[n++] = statusbuf;
	if (self) {
		argv[n++] = "--self-channel";
		argv[n++] = chanbuf;
	}
	argv[n++] = pidbuf;
	argv[n] = NULL;

	/* Self: chkpnt starts only once our copy of the write end is closed
	 * (the channel's only writer must be chkpnt), and, for an ordinary
	 * user, once we allow it to trace us (Yama); it waits stopped. */
	const int ask = self;
	pid_t kid = spawn(path, argv, p[1], ask);
	int saved = errno;
	close(p[1]);
	if (kid < 0) {
		close(p[0]);
		errno = saved;
		return -1;
	}
	if (ask) {
		int ws;
		while (waitpid(kid, &ws, WUNTRACED) < 0 && errno == EINTR)
			;
		if (geteuid() != 0)
			prctl(PR_SET_PTRACER, (unsigned long)kid, 0, 0, 0);
		kill(kid, SIGCONT);
	}

	/* Self: chkpnt checkpoints us while we are blocked here. */
	char line[512];
	read_status(p[0], line, sizeof line);
	close(p[0]);
	if (self && strcmp(line, "restarted\n") == 0)
		return 1; /* restored: chkpnt is not our child any more */
	int ws = reap(kid);
	if (ask && geteuid() != 0)
		prctl(PR_SET_PTRACER, 0, 0, 0, 0);
	long v;
	if (line[0] == '\0') {
		/* No line: the utility died or could not start. */
		errno = (ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 2) ? EINVAL : EIO;
		return -1;
	}
	return outcome(line, &v) < 0 ? -1 : 0;
}

pid_t restart(const char *path, int flags, int signo)
{
	const int known = RESTART_SIGFAMILY | RESTART_SIGROOT | RESTART_FORCE | RESTART_DEBUG | RESTART_SUSPEND;
	const int sigs = flags & (RESTART_SIGFAMILY | RESTART_SIGROOT);
	if ((flags & ~known) || sigs == (RESTART_SIGFAMILY | RESTART_SIGROOT) ||
	    (sigs && !valid_signal(signo)) || (!sigs && signo != 0 && !valid_signal(signo)) ||
	    ((flags & RESTART_SUSPEND) && (sigs || signo != 0)) ||
	    ((flags & RESTART_DEBUG) && (flags & RESTART_SUSPEND || sigs || signo != 0)) || in_parallel_region()) {
		errno = EINVAL;
		return -1;
	}
	if (check_path(path) < 0)
		return -1;

	int p[2];
	if (status_pipe(p) < 0)
		return -1;
	char exe[PATH_MAX], sigbuf[24], statusbuf[24];
	snprintf(exe, sizeof exe, "%s/restart", LAZARUS_BINDIR);
	snprintf(sigbuf, sizeof sigbuf, "%d", signo);
	snprintf(statusbuf, sizeof statusbuf, "%d", STATUS_FD);
	char *argv[16];
	int n = 0;
	argv[n++] = "restart";
	argv[n++] = "-q";
	argv[n++] = "-W";
	if (flags & RESTART_FORCE)
		argv[n++] = "-F";
	if (flags & RESTART_SUSPEND)
		argv[n++] = "-z";
	if (flags & RESTART_DEBUG)
		argv[n++] = "-t";
	if (flags & RESTART_SIGFAMILY) {
		argv[n++] = "-K";
		argv[n++] = sigbuf;
	} else if (signo != 0) {
		/* RESTART_SIGROOT, or neither: the root gets signo (SIGCONT
		 * when 0, restart's default). */
		argv[n++] = "-k";
		argv[n++] = sigbuf;
	}
	argv[n++] = "--status-fd";
	argv[n++] = statusbuf;
	argv[n++] = (char *)path;
	argv[n] = NULL;

	/* restart -W makes the restored root our child in restart's place:
	 * the caller waits for it, as for a child it forked. The process it
	 * was cloned from (STUB in "ok PID STUB") was our child too and has
	 * ended: reap it here, so the caller never sees it. */
	pid_t kid = spawn(exe, argv, p[1], 0);
	int saved = errno;
	close(p[1]);
	if (kid < 0) {
		close(p[0]);
		errno = saved;
		return -1;
	}
	char line[512];
	read_status(p[0], line, sizeof line);
	close(p[0]);
	int ws = reap(kid);
	if (strncmp(line, "ok ", 3) == 0) {
		char *end;
		strtol(line + 3, &end, 10);
		long stub = strtol(end, NULL, 10);
		if (stub > 0)
			while (waitpid((pid_t)stub, NULL, 0) < 0 && errno == EINTR)
				;
	}
	long v;
	if (line[0] == '\0') {
		errno = (ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 2) ? EINVAL : EIO;
		return -1;
	}
	if (outcome(line, &v) < 0)
		return -1;
	return (pid_t)v;
}

/* fstring copies a Fortran CHARACTER argument, trailing blanks removed. */
static char *fstring(const char *s, size_t len)
{
	while (len > 0 && s[len - 1] == ' ')
		len--;
	char *c = malloc(len + 1);
	if (c == NULL)
		return NULL;
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

/* Fortran (gfortran): integer function chkpnt(class, pid, name, options,
 * signo); the hidden length of name comes last. */
int chkpnt_(const int *class, const int *pid, const char *name, const int *options, const int *signo,
	    size_t name_len)
{
	char *c = fstring(name, name_len);
	if (c == NULL)
		return -1;
	int r = chkpnt(*class, (pid_t)*pid, NULL, c, *options, *signo);
	int saved = errno;
	free(c);
	errno = saved;
	return r;
}

/* Fortran: integer function restart(path, flags, signo). */
int restart_(const char *path, const int *flags, const int *signo, size_t path_len)
{
	char *c = fstring(path, path_len);
	if (c == NULL)
		return -1;
	int r = (int)restart(c, *flags, *signo);
	int saved = errno;
	free(c);
	errno = saved;
	return r;
}
