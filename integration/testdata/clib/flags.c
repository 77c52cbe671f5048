/*
 * flags: chkpnt(3) and restart(3) options on a tree of two (a child of
 * ours and its child, both waiting in pause): CHKPNT_FAMILY with
 * CHKPNT_SIGFAMILY SIGKILL kills both; restart(RESTART_SUSPEND) leaves
 * the restored root stopped; restart(RESTART_SIGFAMILY, SIGTERM) ends
 * both with SIGTERM. We are a child subreaper, so the grandchild, orphaned,
 * is ours to reap. Prints one line per outcome.
 */
#include <chkpnt.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *how(int ws)
{
	static char buf[32];
	if (WIFSIGNALED(ws))
		snprintf(buf, sizeof buf, "signal %d", WTERMSIG(ws));
	else if (WIFEXITED(ws))
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(ws));
	else
		snprintf(buf, sizeof buf, "status %#x", ws);
	return buf;
}

static char state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '-';
	char c = '?';
	if (fgets(buf, sizeof buf, f) != NULL) {
		char *p = strrchr(buf, ')');
		if (p != NULL)
			c = p[2];
	}
	fclose(f);
	return c;
}

static void reap(const char *what, pid_t pid)
{
	int ws;
	if (waitpid(pid, &ws, 0) != pid)
		printf("%s: waitpid %d: %s\n", what, (int)pid, strerror(errno));
	else
		printf("%s %s\n", what, how(ws));
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	int p[2];
	if (pipe(p) < 0)
		return 2;
	pid_t kid = fork();
	if (kid == 0) {
		close(p[0]);
		pid_t g = fork();
		if (g == 0) {
			close(p[1]);
			for (;;)
				pause();
		}
		if (write(p[1], &g, sizeof g) != sizeof g)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	pid_t gkid;
	if (read(p[0], &gkid, sizeof gkid) != sizeof gkid)
		return 2;
	close(p[0]);

	int r = chkpnt(CHKPNT_FAMILY, kid, NULL, "fam.img", CHKPNT_SIGFAMILY, SIGKILL);
	printf("chkpnt %d %d\n", r, r < 0 ? errno : 0);
	reap("root", kid);
	reap("grandchild", gkid);

	pid_t pid = restart("fam.img", RESTART_SUSPEND, 0);
	printf("suspend %s state %c\n", pid == kid ? "same pid" : "other pid", pid > 0 ? state(pid) : '-');
	if (pid > 0) {
		kill(pid, SIGKILL);
		reap("suspended root", pid);
		/* Orphaned: ours now. */
		kill(gkid, SIGKILL);
		reap("suspended grandchild", gkid);
	}

	pid = restart("fam.img", RESTART_SIGFAMILY, SIGTERM);
	printf("sigfamily %s\n", pid == kid ? "same pid" : "other pid");
	if (pid > 0) {
		reap("sigfamily root", pid);
		reap("sigfamily grandchild", gkid);
	}
	fflush(stdout);
	return 0;
}
