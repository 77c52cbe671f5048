/*
 * famself OUT: a program checkpoints itself with its child
 * (CHKPNT_FAMILY, pid 0) and CHKPNT_KILL: the tree dies once the images
 * are written. Restarted, the call returns 1 in the parent, which sends
 * its child, still blocked reading a pipe from it, a number, waits for
 * it and exits 0. OUT gets "parent restarted", "child got 42",
 * "child exit 0".
 */
#include <chkpnt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		exit(3);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	int p[2];
	if (out < 0 || pipe(p) < 0)
		return 2;
	pid_t kid = fork();
	if (kid == 0) {
		close(p[1]);
		char buf[16] = "";
		ssize_t n = read(p[0], buf, sizeof buf - 1);
		char line[64];
		snprintf(line, sizeof line, "child got %s\n", n > 0 ? buf : "nothing");
		say(out, line);
		_exit(0);
	}
	close(p[0]);
	int r = chkpnt(CHKPNT_FAMILY, 0, NULL, "fam.img", CHKPNT_KILL, 0);
	if (r != 1) {
		char line[128];
		snprintf(line, sizeof line, "chkpnt returned %d: %s\n", r, strerror(errno));
		say(out, line);
		return 1;
	}
	say(out, "parent restarted\n");
	say(p[1], "42");
	close(p[1]);
	int ws;
	if (waitpid(kid, &ws, 0) != kid)
		return 1;
	char line[64];
	snprintf(line, sizeof line, "child exit %d\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	say(out, line);
	return 0;
}
