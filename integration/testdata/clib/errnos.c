/*
 * errnos: calls chkpnt(3) and restart(3) in ways that must fail and
 * prints, for each case, "CASE RESULT ERRNO" (the return value and errno
 * as numbers) for the test to compare with the guide's tables. Run in an
 * empty directory.
 */
#include <chkpnt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r)
{
	printf("%s %ld %d\n", name, r < 0 ? -1L : r, r < 0 ? errno : 0);
	fflush(stdout);
}

/* sleeper forks a child that waits to be killed, with stdout on fd out
 * (-1: /dev/null) and without descriptor shut (-1: none). */
static pid_t sleeper(int out, int shut)
{
	pid_t kid = fork();
	if (kid == 0) {
		if (out >= 0)
			dup2(out, 1);
		if (shut >= 0)
			close(shut);
		for (;;)
			pause();
	}
	return kid;
}

int main(void)
{
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	pid_t kid = sleeper(-1, -1);

	/* ESRCH: a pid nobody has (a child that ended and was reaped). */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	report("esrch", chkpnt(CHKPNT_PROC, gone, NULL, "gone.img", 0, 0));

	/* EEXIST: the image exists and CHKPNT_FORCE is not given. */
	close(open("exists.img", O_WRONLY | O_CREAT, 0644));
	report("eexist", chkpnt(CHKPNT_PROC, kid, NULL, "exists.img", 0, 0));
	report("force", chkpnt(CHKPNT_PROC, kid, NULL, "exists.img", CHKPNT_FORCE, 0));

	/* EINVAL: mutually exclusive options, CHKPNT_PFD, a missing signo,
	 * an unknown class. */
	report("einval-sigs", chkpnt(CHKPNT_PROC, kid, NULL, "b.img", CHKPNT_SIGROOT | CHKPNT_SIGFAMILY, SIGTERM));
	report("einval-kill", chkpnt(CHKPNT_PROC, kid, NULL, "b.img", CHKPNT_KILL | CHKPNT_SIGROOT, SIGTERM));
	report("einval-pfd", chkpnt(CHKPNT_PROC, kid, NULL, "b.img", CHKPNT_PFD, 0));
	report("einval-nosig", chkpnt(CHKPNT_PROC, kid, NULL, "b.img", CHKPNT_SIGROOT, 0));
	report("einval-class", chkpnt(9, kid, NULL, "b.img", 0, 0));
	report("einval-rsigs", restart("exists.img", RESTART_SIGROOT | RESTART_SIGFAMILY, SIGTERM));

	/* ENAMETOOLONG: a name longer than PATH_MAX. */
	char *longname = malloc(5000);
	memset(longname, 'a', 4999);
	longname[4999] = '\0';
	report("enametoolong", chkpnt(CHKPNT_PROC, kid, NULL, longname, 0, 0));

	/* ENOENT: the directory is missing; restart of a missing file. */
	report("enoent-dir", chkpnt(CHKPNT_PROC, kid, "no-such-dir", "c.img", 0, 0));
	report("enoent", restart("no-such.img", 0, 0));

	/* ENOEXEC: restart of a file that is not an image. */
	int junk = open("junk.img", O_WRONLY | O_CREAT, 0644);
	if (write(junk, "not an image\n", 13) != 13)
		return 1;
	close(junk);
	report("enoexec", restart("junk.img", 0, 0));

	/* EPIPE: the target's stdout is a pipe whose other end is ours. */
	int p[2];
	if (pipe(p) < 0)
		return 1;
	pid_t piped = sleeper(p[1], p[0]);
	close(p[1]);
	report("epipe", chkpnt(CHKPNT_PROC, piped, NULL, "d.img", 0, 0));
	kill(piped, SIGKILL);
	waitpid(piped, NULL, 0);

	/* EAGAIN: restart while the process, still running, has the pid. */
	report("live", chkpnt(CHKPNT_PROC, kid, NULL, "live.img", 0, 0));
	report("eagain", restart("live.img", 0, 0));

	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	return 0;
}
