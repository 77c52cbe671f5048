/*
 * debug: restart(3) makes the restored process the caller's own child
 * (restart -W): with RESTART_DEBUG it is left stopped for a debugger, the
 * caller sees the stop with waitpid(WUNTRACED), continues it and collects
 * its exit; with no flag it simply runs to its end. Either way no other
 * child of ours is left over (the process it was cloned from is reaped by
 * the library). Prints one line per outcome.
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

static int parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	int ppid = -1;
	if (fgets(buf, sizeof buf, f) != NULL) {
		char *p = strrchr(buf, ')');
		if (p != NULL)
			sscanf(p + 2, "%*c %d", &ppid);
	}
	fclose(f);
	return ppid;
}

static pid_t worker(void)
{
	unlink("go");
	pid_t kid = fork();
	if (kid == 0) {
		/* Runs until after its restart (the caller creates "go"): a
		 * loaded machine's slow chkpnt must still find it alive. */
		for (int i = 0; i < 3000 && access("go", F_OK) != 0; i++)
			usleep(20000);
		_exit(access("go", F_OK) == 0 ? 7 : 9);
	}
	usleep(100000);
	return kid;
}

static int one(const char *what, int flags)
{
	pid_t kid = worker();
	if (chkpnt(CHKPNT_PROC, kid, NULL, "d.img", CHKPNT_SIGROOT | CHKPNT_FORCE, SIGKILL) != 0) {
		printf("%s chkpnt: %s\n", what, strerror(errno));
		return 1;
	}
	int ws;
	waitpid(kid, &ws, 0);
	pid_t r = restart("d.img", flags, 0);
	if (r < 0) {
		printf("%s restart: %s\n", what, strerror(errno));
		return 1;
	}
	printf("%s %s pid, parent %s\n", what, r == kid ? "same" : "other",
	       parent_of(r) == getpid() ? "us" : "not us");
	if (flags & RESTART_DEBUG) {
		if (waitpid(r, &ws, WUNTRACED) != r || !WIFSTOPPED(ws)) {
			printf("%s: not stopped (%#x)\n", what, ws);
			return 1;
		}
		printf("%s stopped by %d\n", what, WSTOPSIG(ws));
	}
	int fd = open("go", O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	if (flags & RESTART_DEBUG)
		kill(r, SIGCONT);
	if (waitpid(r, &ws, 0) != r) {
		printf("%s waitpid: %s\n", what, strerror(errno));
		return 1;
	}
	printf("%s exit %d\n", what, WIFEXITED(ws) ? WEXITSTATUS(ws) : -WTERMSIG(ws));
	errno = 0;
	pid_t other = waitpid(-1, &ws, WNOHANG);
	printf("%s other children: %s\n", what, other < 0 && errno == ECHILD ? "none" : "some");
	unlink("d.img");
	unlink("go");
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (one("debug", RESTART_DEBUG) != 0)
		return 1;
	return one("plain", 0);
}
