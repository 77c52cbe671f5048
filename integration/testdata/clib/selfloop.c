/*
 * selfloop OUT DIR N EVERY DIE_AT: sums i*i for i = 1..N and checkpoints
 * itself (chkpnt with pid 0) into DIR/loop.img every EVERY iterations,
 * writing "ckpt I ret R" to OUT after each call. The first time the call
 * returns 0 at iteration DIE_AT it kills itself with SIGKILL (a crash);
 * restarted from that image, the call returns 1 and the loop goes on.
 * Ends writing "sum S" and exits 0.
 */
#include <chkpnt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		exit(3);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: selfloop OUT DIR N EVERY DIE_AT\n");
		return 2;
	}
	int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		perror(argv[1]);
		return 2;
	}
	long n = atol(argv[3]), every = atol(argv[4]), die = atol(argv[5]);
	volatile long long sum = 0;
	char line[128];
	for (long i = 1; i <= n; i++) {
		sum += (long long)i * i;
		if (i % every != 0)
			continue;
		int r = chkpnt(CHKPNT_PROC, 0, argv[2], "loop.img", CHKPNT_FORCE, 0);
		if (r < 0) {
			snprintf(line, sizeof line, "ckpt %ld failed: %s\n", i, strerror(errno));
			say(out, line);
			return 1;
		}
		snprintf(line, sizeof line, "ckpt %ld ret %d\n", i, r);
		say(out, line);
		if (r == 0 && i == die)
			raise(SIGKILL);
	}
	snprintf(line, sizeof line, "sum %lld\n", (long long)sum);
	say(out, line);
	return 0;
}
