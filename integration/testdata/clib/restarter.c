/*
 * restarter IMAGE: restarts IMAGE with restart(3), waits for the restored
 * process (the caller's child, as the guide's Figure 3-1 expects) and
 * exits with its exit status; prints "restarted PID parent PPID status S".
 */
#include <chkpnt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: restarter IMAGE\n");
		return 2;
	}
	pid_t pid = restart(argv[1], 0, 0);
	if (pid < 0) {
		fprintf(stderr, "restart failed: %s\n", strerror(errno));
		return 1;
	}
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int ppid = -1;
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL) {
			char *p = strrchr(buf, ')');
			if (p != NULL)
				sscanf(p + 2, "%*c %d", &ppid);
		}
		fclose(f);
	}
	int ws;
	if (waitpid(pid, &ws, 0) < 0) {
		fprintf(stderr, "waitpid %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	printf("restarted %d parent %s status %d\n", (int)pid, ppid == getpid() ? "me" : "other",
	       WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
}
